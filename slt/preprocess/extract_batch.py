"""`slt preprocess`: many videos to keypoint Parquet files, in parallel worker processes, safe to rerun.

`plan_jobs` turns the user's inputs (video files, folders searched recursively, frame folders, an
optional segments table) into one `Job` per output file, checking everything that can be checked
before any work starts. `run_batch` extracts them with one MediaPipe graph per worker process (or per
Ray actor, see `slt.preprocess.ray_extract`), each doing what `slt.preprocess.worker` says for a clip, and
writes every file atomically, so a killed run leaves only whole files and a rerun skips them.
"""

from __future__ import annotations

import csv
import io
import multiprocessing
import multiprocessing.util
import os
import queue
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from slt.files import atomic_write
from slt.keypoints import schema
from slt.keypoints.frames import IMAGE_EXTENSIONS, VIDEO_EXTENSIONS, ClipSource, is_video
from slt.keypoints.io import clip_name_problem, read_parquet
from slt.preprocess.worker import (
    MANIFEST_COLUMNS,
    ExtractorSettings,
    Job,
    Result,
    default_workers,
    extract_clip,
    manifest_record,
    open_worker_extractor,
)

logger = logging.getLogger(__name__)
console = Console(stderr=True)  # the progress bar's
# A worker process is replaced after this many clips, so that anything MediaPipe or FFmpeg leaks over
# a long batch is given back.
RECYCLE_AFTER = 50
ERROR_COLUMNS = ["input", "reason"]  # warnings too, their reason starting with "warning: "
# How2Sign's column names for a segments table, next to the plain ones.
SEGMENT_COLUMNS = {
    "name": ("name", "sentence_name"),
    "video": ("video", "video_name"),
    "start": ("start", "start_realigned"),
    "end": ("end", "end_realigned"),
}


@dataclass
class Summary:
    extracted: int = 0
    skipped: int = 0
    frames: int = 0
    seconds: float = 0.0
    failures: list[tuple[str, str]] = field(default_factory=list)  # (input, reason)
    warnings: list[tuple[str, str]] = field(default_factory=list)  # (input, "warning: ..."): written, but check them


def plan_jobs(
    inputs: list[Path], segments: Path | None = None, fps: float = 25.0
) -> tuple[list[Job], list[tuple[str, str]]]:
    """The jobs for `inputs`, and the (input, reason) failures already known (explicit non-video files).

    Raises ValueError, before any work, for a missing input, a bad segments table or two inputs that
    would write the same output file.
    """
    clips: list[tuple[str, Path]] = []
    failures = []
    for root in inputs:
        if not root.exists():
            raise ValueError(f"input {root} does not exist")
        if root.is_file():
            if is_video(root):
                clips.append((root.stem, root))
            else:
                failures.append((str(root), f"not a video file (expected {', '.join(VIDEO_EXTENSIONS)})"))
            continue
        for folder, dirs, files in os.walk(root):
            dirs[:] = sorted(d for d in dirs if not d.startswith("."))
            folder = Path(folder)
            relative = folder.relative_to(root)
            files = sorted(f for f in files if not f.startswith("."))
            if any(Path(f).suffix.lower() in IMAGE_EXTENSIONS for f in files):
                name = relative.as_posix() if relative != Path(".") else root.resolve().name
                clips.append((name, folder))
            clips += [((relative / Path(f).stem).as_posix(), folder / f) for f in files if is_video(Path(f))]

    if segments is None:
        jobs = [Job(name, ClipSource(path, fps=fps), str(path)) for name, path in clips]
    else:
        jobs = _segment_jobs(segments, [(name, path) for name, path in clips if path.is_file()])

    owners: dict[str, Job] = {}
    for job in jobs:
        if job.name in owners:
            raise ValueError(
                f"{owners[job.name].input} and {job.input} would both be written to {job.name}.parquet; "
                "rename one or preprocess them into different output folders"
            )
        owners[job.name] = job
    return sorted(jobs, key=lambda j: j.name), failures


def _segment_jobs(table_path: Path, videos: list[tuple[str, Path]]) -> list[Job]:
    """One job per row of a segments table (name, video, start, end in seconds; How2Sign's own columns work)."""
    import pandas as pd  # here: every worker process imports this module, and none reads a table

    try:
        table = pd.read_csv(table_path, sep=None, engine="python", dtype=str)
    except (OSError, ValueError, csv.Error) as error:
        raise ValueError(f"cannot read segments table {table_path}: {error}") from error
    by_lower = {c.strip().lower(): c for c in table.columns}
    columns = {}
    for key, aliases in SEGMENT_COLUMNS.items():
        found = [by_lower[a] for a in aliases if a in by_lower]
        if not found:
            raise ValueError(f"segments table {table_path} has no {' or '.join(aliases)} column")
        columns[key] = found[0]

    by_name = {name: path for name, path in videos}
    by_stem: dict[str, list[Path]] = {}
    for _, path in videos:
        by_stem.setdefault(path.stem, []).append(path)
    jobs = []
    for line, row in enumerate(table.itertuples(index=False), start=2):
        row = dict(zip(table.columns, row))
        where = f"segments table {table_path} line {line}"
        name, video = str(row[columns["name"]]).strip(), str(row[columns["video"]]).strip()
        if problem := clip_name_problem(name):  # the name becomes an output path under --out
            raise ValueError(f"{where}: {problem}")
        video = video[: -len(Path(video).suffix)] if is_video(Path(video)) else video
        path = by_name.get(video)
        if path is None:
            candidates = by_stem.get(Path(video).name, [])
            if len(candidates) != 1:
                found = "is not among the inputs" if not candidates else f"matches {len(candidates)} input videos"
                raise ValueError(f"{where}: video {video!r} {found}")
            path = candidates[0]
        try:
            start, end = float(row[columns["start"]]), float(row[columns["end"]])
        except ValueError:
            raise ValueError(f"{where}: start and end must be numbers of seconds") from None
        if not 0 <= start < end < float("inf"):
            raise ValueError(f"{where}: needs 0 <= start < end (finite), got {start:g} and {end:g}")
        jobs.append(Job(name, ClipSource(path, start, end), f"{path} [{start:g}s-{end:g}s]"))
    return jobs


def core_slots(workers: int) -> list[set[int]]:
    """The cores each of `workers` processes keeps to: this process's cores dealt out in turn, or no
    slots (no pinning) when there are more workers than cores.

    A Holistic graph runs a few threads of its own and, alone, keeps about 1.3 cores busy; one graph per
    core, each held to its own, spends less of every core on threads competing for it (measured here:
    two pinned workers extract 5-7% more frames per second than two free ones on 2 cores).
    """
    cores = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    return [set(cores[i :: workers]) for i in range(workers)] if 1 < workers <= len(cores) else []


# Worker process state: one extractor per process, created by `_start_worker` inside the process.
_extractor = None
_frames_done = None


def _start_worker(settings: ExtractorSettings, frames_done, free_slots) -> None:
    global _extractor, _frames_done
    if free_slots is not None:
        try:
            cores = free_slots.get(timeout=10)
            os.sched_setaffinity(0, cores)  # before MediaPipe starts its threads, which inherit it
            # Given back when this worker exits, for the worker the pool starts in its place.
            multiprocessing.util.Finalize(None, free_slots.put, args=(cores,), exitpriority=0)
        except queue.Empty:  # a crashed worker never gave its slot back: run unpinned
            pass
    _extractor = open_worker_extractor(settings)
    _frames_done = frames_done


def _count_frame() -> None:
    with _frames_done.get_lock():
        _frames_done.value += 1


def _run_job(job: Job, out_dir: Path, overwrite: bool) -> Result:
    return extract_clip(job, _extractor, out_dir, overwrite, on_frame=_count_frame)


def _local_results(
    jobs: list[Job], out_dir: Path, settings: ExtractorSettings, workers: int, overwrite: bool
) -> Iterator[tuple[int, Result | None]]:
    """Extract `jobs` in worker processes. Yields (frames extracted so far, the next finished clip's
    `Result`), and (frames so far, None) every quarter second while no clip finishes."""
    # Spawned, not forked: MediaPipe and OpenCV keep threads that do not survive a fork.
    context = multiprocessing.get_context("spawn")
    frames_done = context.Value("q", 0)
    free_slots = None
    if slots := core_slots(workers):
        free_slots = context.Queue()
        for cores in slots:
            free_slots.put(cores)
    with context.Pool(
        workers, _start_worker, (settings, frames_done, free_slots), maxtasksperchild=RECYCLE_AFTER
    ) as pool:
        results = pool.imap_unordered(partial(_run_job, out_dir=out_dir, overwrite=overwrite), jobs)
        for _ in jobs:
            while True:
                try:
                    result = results.next(timeout=0.25)
                    break
                except multiprocessing.TimeoutError:
                    yield frames_done.value, None
            yield frames_done.value, result


def _remove_stale_temp_files(paths: list[Path]) -> None:
    """Delete the temp files a killed run left next to `paths` (see `atomic_write`)."""
    for path in paths:
        if path.parent.is_dir():
            for tmp in path.parent.glob(f".{path.name}.*.tmp"):
                tmp.unlink(missing_ok=True)


def _write_csv(path: Path, rows: list[dict], columns: list[str]) -> None:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    atomic_write(path, lambda tmp: Path(tmp).write_text(buffer.getvalue()))


def write_manifest(out_dir: Path, records: dict[str, dict]) -> list[tuple[str, str]]:
    """Write `out_dir/manifest.csv` over every keypoint file under `out_dir`, sorted by clip.

    `records` holds the rows already known by clip name; other files are read for theirs. Returns the
    (file, reason) of those that cannot be read, left out of the manifest.
    """
    rows, unreadable = [], []
    for path in sorted(out_dir.rglob("*.parquet")):
        name = path.relative_to(out_dir).with_suffix("").as_posix()
        if name.startswith(".") or "/." in name:
            continue
        try:
            rows.append(records.get(name) or manifest_record(name, read_parquet(path)))
        except Exception as error:  # pyarrow raises several types for files that are not keypoint Parquet
            unreadable.append((str(path), f"unreadable keypoint file, left out of manifest.csv ({error})"))
    rows.sort(key=lambda r: r["clip"])
    parts = [p for p in schema.PARTS if any(f"{p}_rate" in r for r in rows)] or list(schema.DEFAULT_PARTS)
    _write_csv(out_dir / "manifest.csv", rows, MANIFEST_COLUMNS + [f"{p}_rate" for p in parts])
    return unreadable


def check_out(out_dir: Path, jobs: list[Job]) -> None:
    """Refuse (ValueError), before any work, an `out_dir` whose manifest.csv or errors.csv slt did not
    write (a rerun replaces them), and a job whose file would land outside `out_dir` through a linked
    subfolder."""
    for name, columns in (("manifest.csv", MANIFEST_COLUMNS), ("errors.csv", ERROR_COLUMNS)):
        path = out_dir / name
        if path.exists():
            with open(path, encoding="utf-8", errors="replace") as f:
                if not f.readline().startswith(",".join(columns)):
                    raise ValueError(f"{path} was not written by `slt preprocess`; choose another --out")
    root = out_dir.resolve()
    for job in jobs:
        folder = (out_dir / job.name).parent
        if not folder.resolve().is_relative_to(root):
            raise ValueError(f"{job.input} would be written outside --out {out_dir}: {folder} links to {folder.resolve()}")


def run_batch(
    jobs: list[Job],
    out_dir: Path,
    *,
    failures: list[tuple[str, str]] = (),
    extractor: ExtractorSettings = ExtractorSettings(),
    workers: int | None = None,
    overwrite: bool = False,
    ray: str | None = None,
) -> Summary:
    """Extract every job into `out_dir`, then write `manifest.csv` and `errors.csv` there.

    `failures` are (input, reason) pairs found while planning; they go to errors.csv with the rest.
    `extractor` says what every worker extracts with.
    `ray` is a Ray address (local, auto or host:port): extract on that Ray cluster,
    `workers` actors (default: all its CPUs), instead of in local worker processes; ValueError, before
    anything is written, if it cannot be reached. The progress bar is drawn on a terminal's stderr;
    warnings and the summary are logged.
    """
    if ray is not None and jobs:
        from slt.preprocess import ray_extract  # Ray is an optional extra

        workers = ray_extract.connect(ray, workers)
    check_out(out_dir, jobs)
    workers = min(workers or default_workers(), len(jobs))
    out_dir.mkdir(parents=True, exist_ok=True)
    outputs = [out_dir / f"{job.name}.parquet" for job in jobs]
    _remove_stale_temp_files(outputs + [out_dir / "manifest.csv", out_dir / "errors.csv"])
    if not jobs:
        results = iter(())
    elif ray is None:
        results = _local_results(jobs, out_dir, extractor, workers, overwrite)
    else:
        results = ray_extract.results(jobs, out_dir, extractor, workers, overwrite)
    summary = Summary(failures=list(failures))
    records: dict[str, dict] = {}
    start = time.perf_counter()
    progress = Progress(
        TextColumn("[bold]preprocess"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("clips · {task.fields[speed]} frames/s · ETA"),
        TimeRemainingColumn(),
        console=console,
        disable=not console.is_terminal,  # a log file gets the warnings and the summary, not a bar's last frame
    )
    with progress:
        task = progress.add_task("clips", total=len(jobs), speed="-")
        for frames_done, result in results:
            speed = f"{frames_done / (time.perf_counter() - start):.1f}"
            if result is None:
                progress.update(task, speed=speed)
                continue
            for warning in result.warnings:
                logger.warning("%s: %s", result.job.input, warning)
                summary.warnings.append((result.job.input, f"warning: {warning}"))
            if result.error:
                summary.failures.append((result.job.input, result.error))
            elif result.frames:
                summary.extracted += 1
            else:
                summary.skipped += 1
            summary.frames += result.frames
            if result.record:
                records[result.job.name] = result.record
            progress.update(task, advance=1, speed=speed)
    summary.seconds = time.perf_counter() - start

    summary.failures += write_manifest(out_dir, records)
    summary.failures.sort()
    problems = summary.failures + sorted(summary.warnings)
    _write_csv(out_dir / "errors.csv", [dict(zip(ERROR_COLUMNS, row)) for row in problems], ERROR_COLUMNS)
    speed = summary.frames / summary.seconds if summary.seconds else 0.0
    clips = len(jobs) + len(failures)
    logger.info(
        f"{clips} clip{'s' if clips != 1 else ''}: {summary.extracted} extracted ({summary.frames} frames, "
        f"{speed:.1f} frames/s, {summary.seconds:.0f}s), {summary.skipped} already done, "
        f"{len(summary.failures)} failed" + (f", {len(summary.warnings)} with warnings" if summary.warnings else "")
        + (f" (see {out_dir / 'errors.csv'})" if summary.failures or summary.warnings else ""),
    )
    return summary
