"""One clip's extraction, as every worker of `slt preprocess` does it: a local worker process
(`slt.preprocess.extract_batch`) or a Ray actor (`slt.preprocess.ray_extract`).

A worker opens one MediaPipe extractor (`open_worker_extractor`) and turns each `Job` into a `Result` with
`extract_clip`: the clip's keypoint file written atomically, or read back when it exists, and its manifest
row; any failure becomes the result's error, so one bad clip never stops a batch.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from slt.keypoints import schema
from slt.keypoints.frames import ClipSource, FrameReader, UnreadableClip, silence_native_logs
from slt.keypoints.io import Keypoints, read_parquet, write_parquet

if TYPE_CHECKING:  # MediaPipe is imported by the workers only
    from slt.keypoints.extract import HolisticExtractor
    from slt.keypoints.tasks import TasksExtractor

MANIFEST_COLUMNS = ["clip", "source", "frames", "fps"]  # then one detection rate per part


@dataclass(frozen=True)
class Job:
    """One clip to extract: `name` is its output path under the output folder, without `.parquet`."""

    name: str
    source: ClipSource
    input: str  # the input as reported in errors.csv


@dataclass
class Result:
    job: Job
    record: dict | None = None  # manifest row, when the clip has an output file
    error: str | None = None
    warnings: list[str] = field(default_factory=list)
    frames: int = 0  # frames extracted in this run (0 when skipped)


def manifest_record(name: str, kp: Keypoints) -> dict:
    """The manifest row of one output file."""
    record = dict(zip(MANIFEST_COLUMNS, (name, kp.info.get("source", ""), kp.num_frames, kp.fps)))
    record.update({f"{part}_rate": round(rate, 4) for part, rate in kp.detection_rates().items()})
    return record


@dataclass(frozen=True)
class ExtractorSettings:
    """What every worker makes its extractor with: the legacy Holistic graph (`face`, `model_complexity`),
    or with `model_asset` (a `holistic_landmarker.task`) MediaPipe Tasks' HolisticLandmarker."""

    face: bool = False
    model_complexity: int = schema.SUPPORTED_MODEL_COMPLEXITY
    model_asset: Path | None = None


def open_worker_extractor(settings: ExtractorSettings) -> HolisticExtractor | TasksExtractor:
    """The MediaPipe extractor of one worker process (a local worker or a Ray actor), quiet and single-threaded."""
    import cv2

    # One process per core already keeps the machine busy; OpenCV's own threads would only compete.
    cv2.setNumThreads(1)
    silence_native_logs()  # they would tear through the progress bar; a worker reports in its `Result`
    if settings.model_asset is not None:
        from slt.keypoints.tasks import TasksExtractor

        return TasksExtractor(settings.model_asset)
    from slt.keypoints.extract import HolisticExtractor

    return HolisticExtractor(settings.face, settings.model_complexity)


def extract_clip(
    job: Job, extractor: HolisticExtractor | TasksExtractor, out_dir: Path, overwrite: bool, on_frame: Callable[[], None] | None = None
) -> Result:
    """Extract one job into `out_dir` (or read back its finished file); every failure becomes `Result.error`."""
    out = out_dir / f"{job.name}.parquet"
    if out.exists() and not overwrite:
        try:
            return Result(job, record=manifest_record(job.name, read_parquet(out)))
        except Exception as error:  # pyarrow raises several types; one damaged file must not stop the batch
            return Result(job, error=f"its output {out} is unreadable ({error}); delete it or pass --overwrite to extract it again")
    try:
        reader = FrameReader(job.source)
        kp = extractor(reader, on_frame=on_frame)
        if not np.isfinite(kp.points).any():
            return Result(job, error=f"no person detected in any of its {kp.num_frames} frames", frames=kp.num_frames)
        write_parquet(kp, out)
    except UnreadableClip as error:
        return Result(job, error=str(error))
    except Exception as error:  # an unexpected decoder or disk failure must not stop the rest of the batch
        return Result(job, error=f"{type(error).__name__}: {error}")
    # Cut short (or a container that overstates): more than a container's usual estimation error missing.
    if reader.expected_frames - kp.num_frames > max(1, reader.expected_frames // 100):
        reader.warnings.append(f"the video ended after {kp.num_frames} of the {reader.expected_frames} frames its container announces")
    return Result(job, manifest_record(job.name, kp), warnings=reader.warnings, frames=kp.num_frames)


def default_workers() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
