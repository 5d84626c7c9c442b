"""`slt preprocess` end to end: good and bad inputs in one batch, reruns, a killed run, segments, CLI errors."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from helpers import folder_contents, slt_process
from typer.testing import CliRunner

from slt.cli import app
from slt.keypoints.io import read_parquet
from slt.preprocess import extract_batch
from slt.preprocess.extract_batch import core_slots, plan_jobs
from slt.preprocess.worker import ExtractorSettings

pytestmark = pytest.mark.slow  # left out of `make test-fast` (see pyproject.toml)

GOOD = {"frames_clip": 6, "nested/signer": 58, "photos": 24}  # output name -> frames
BAD = {  # input -> what its errors.csv line must say
    "bad/broken_frames": "unreadable frame image 1.png",
    "bad/corrupt.mkv": "cannot be opened as a video",
    "bad/empty.mp4": "empty file",
    "bad/nobody.mp4": "no person detected in any of its 6 frames",
    "bad/truncated.mp4": "cannot be opened as a video",
    "notes.txt": "not a video file",
}


def test_plan_mirrors_relative_paths(media):
    jobs, failures = plan_jobs([media / "videos", media / "notes.txt"])
    assert [job.name for job in jobs] == sorted(GOOD)
    assert failures == [(str(media / "notes.txt"), failures[0][1])] and "not a video" in failures[0][1]
    (frame_folder,), _ = plan_jobs([media / "videos" / "frames_clip"], fps=50)
    assert frame_folder.name == "frames_clip" and frame_folder.source.fps == 50


def test_batch_extracts_good_clips_and_reports_each_bad_input(batch):
    out, result, _ = batch
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert "3 extracted" in result.stderr and "6 failed" in result.stderr
    assert "preprocess" not in result.stderr  # the progress bar's label: a pipe gets no bar
    outputs = {p.relative_to(out).with_suffix("").as_posix() for p in out.rglob("*.parquet")}
    assert outputs == set(GOOD)

    errors = pd.read_csv(out / "errors.csv")
    assert list(errors["input"]) == sorted(BAD)
    for input, reason in zip(errors["input"], errors["reason"]):
        assert BAD[input] in reason, (input, reason)

    manifest = pd.read_csv(out / "manifest.csv")
    assert list(manifest.columns) == ["clip", "source", "frames", "fps", "pose_rate", "left_hand_rate", "right_hand_rate"]
    assert dict(zip(manifest["clip"], manifest["frames"])) == GOOD
    photos = manifest.set_index("clip").loc["photos"]
    assert photos["source"] == "videos/photos.mp4" and photos["fps"] == 25 and photos["pose_rate"] >= 0.9
    kp = read_parquet(out / "photos.parquet")
    assert kp.detection_rates()["pose"] == pytest.approx(photos["pose_rate"], abs=1e-4)


def test_rerun_skips_finished_clips_and_changes_nothing(batch, media):
    out, _, args = batch
    before = folder_contents(out)
    result = slt_process(*args, "--allow-failures", cwd=media)
    assert result.returncode == 0, result.stderr
    assert "0 extracted" in result.stderr and "3 already done" in result.stderr
    assert folder_contents(out) == before


def test_killed_run_rerun_gives_identical_files(batch, media, tmp_path):
    reference, _, _ = batch
    out = tmp_path / "out"
    # A subset of the batch's inputs (same output names), one worker: results must not depend on either.
    args = ["preprocess", "videos/frames_clip", "videos/photos.mp4", "bad/nobody.mp4", "--out", str(out), "--workers", "1"]
    process = subprocess.Popen(
        [sys.executable, "-m", "slt.cli", *args],
        cwd=media,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # its own process group: the kill takes the workers too
    )
    deadline = time.monotonic() + 120
    while not any(out.rglob("*.parquet")) and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    assert not (out / "manifest.csv").exists(), "the run finished before it could be killed"

    result = slt_process(*args, cwd=media)
    assert result.returncode == 1, result.stderr  # nobody.mp4 still fails
    files, expected = folder_contents(out), folder_contents(reference)
    assert sorted(files) == ["errors.csv", "frames_clip.parquet", "manifest.csv", "photos.parquet"]
    for name in ("frames_clip.parquet", "photos.parquet"):
        assert files[name] == expected[name]
    for table, kept in (("manifest.csv", ("clip,", "frames_clip,", "photos,")), ("errors.csv", ("input,", "bad/nobody"))):
        lines = [line for line in expected[table].decode().splitlines(keepends=True) if line.startswith(kept)]
        assert files[table].decode() == "".join(lines)


def test_segments_cut_named_clips_from_a_video(media, tmp_path):
    table = pd.DataFrame(
        {  # How2Sign's own columns, tab-separated
            "VIDEO_ID": ["p", "p"],
            "VIDEO_NAME": ["photos", "photos"],
            "SENTENCE_ID": ["p_0", "p_1"],
            "SENTENCE_NAME": ["sentences/first", "sentences/second"],
            "START_REALIGNED": [0.2, 0.8],
            "END_REALIGNED": [0.6, 9.0],
            "SENTENCE": ["Hello.", "Past the end."],
        }
    )
    table.to_csv(tmp_path / "how2sign.csv", sep="\t", index=False)
    out = tmp_path / "out"
    result = slt_process("preprocess", "videos", "--segments", str(tmp_path / "how2sign.csv"), "--out", str(out), cwd=media)
    assert result.returncode == 0, result.stderr
    assert "segment end 9s is past the video's end; clamped to 0.96s" in result.stderr
    manifest = pd.read_csv(out / "manifest.csv")
    assert dict(zip(manifest["clip"], manifest["frames"])) == {"sentences/first": 10, "sentences/second": 4}
    kp = read_parquet(out / "sentences" / "first.parquet")
    assert kp.info["segment"] == {"start": 0.2, "end": 0.6} and kp.info["source"] == "videos/photos.mp4"


def test_only_the_workers_import_mediapipe(media, tmp_path):
    """The main process plans, shows progress and writes the manifest: MediaPipe (a second or so of imports
    before any worker could start) is loaded by the workers alone."""
    script = (
        "import sys\n"
        "from typer.testing import CliRunner\n"
        "from slt.cli import app\n"
        "if __name__ == '__main__':\n"
        "    result = CliRunner().invoke(app, sys.argv[1:])\n"
        "    assert result.exit_code == 0, result.output\n"
        "    print('mediapipe' in sys.modules)\n"
    )
    (tmp_path / "main.py").write_text(script)
    out = tmp_path / "out"
    args = ["preprocess", str(media / "videos" / "photos.mp4"), "--out", str(out), "--workers", "1"]
    result = subprocess.run([sys.executable, tmp_path / "main.py", *args], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[-1] == "False"
    assert read_parquet(out / "photos.parquet").detection_rates()["pose"] > 0.9


@pytest.mark.parametrize(
    "extra, message",
    [
        (["videos/photos.mp4"], "would both be written to photos.parquet"),
        (["missing.mp4"], "input missing.mp4 does not exist"),
        (["--model-complexity", "2"], "model complexity 2 is not supported"),
        (["--fps", "0"], "--fps must be positive"),
        (["--workers", "0"], "--workers must be at least 1"),
        (["--segments", "nothing.csv"], "no segments table nothing.csv"),
        (["--segments", "segments.csv"], "line 2: video 'lecture' is not among the inputs"),
        (["--extractor", "tasks"], "--extractor tasks and --model-asset holistic_landmarker.task go together"),
        (["--model-asset", "notes.txt"], "--extractor tasks and --model-asset holistic_landmarker.task go together"),
        (["--extractor", "tasks", "--model-asset", "notes.txt", "--face"], "--face works with the legacy extractor only"),
        (["--extractor", "tasks", "--model-asset", "missing.task"], "cannot read --model-asset missing.task"),
        (["--extractor", "tasks", "--model-asset", "notes.txt"], "notes.txt is not a MediaPipe holistic landmarker bundle"),
    ],
)
def test_bad_arguments_fail_in_one_line_before_any_work(media, tmp_path, monkeypatch, extra, message):
    monkeypatch.chdir(media)
    Path("segments.csv").write_text("name,video,start,end\nclip,lecture,0,1\n")
    result = CliRunner().invoke(app, ["preprocess", "videos", *extra, "--out", str(tmp_path / "out")])
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [result.stderr.strip()] and result.stderr.startswith("error: ")
    assert message in result.stderr
    assert not (tmp_path / "out").exists()


def test_workers_are_dealt_cores_in_turn(monkeypatch):
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1, 2, 3, 5})
    assert core_slots(2) == [{0, 2, 5}, {1, 3}]
    assert core_slots(5) == [{0}, {1}, {2}, {3}, {5}]
    assert core_slots(1) == [] and core_slots(6) == []  # one worker keeps every core; too many: none pinned


@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="pinning needs 2 cores")
def test_recycled_workers_keep_one_slot_each_and_outputs_match(batch, media, tmp_path, monkeypatch):
    """Workers replaced after every clip still each hold a slot of cores of their own, and write the same files."""
    import multiprocessing

    out, _, _ = batch
    monkeypatch.setattr(extract_batch, "RECYCLE_AFTER", 1)
    jobs, _ = plan_jobs([media / "videos"])
    slots, seen, pinned_workers = sorted(map(sorted, core_slots(2))), [], set()
    for _, result in extract_batch._local_results(jobs, tmp_path, ExtractorSettings(), workers=2, overwrite=False):
        pinned = {p.pid: sorted(os.sched_getaffinity(p.pid)) for p in multiprocessing.active_children()}
        pinned = {pid: cores for pid, cores in pinned.items() if cores in slots}
        seen.append(sorted(pinned.values()))
        pinned_workers |= set(pinned)
        assert result is None or result.error is None, result.error
    assert slots in seen  # both slots held by live workers at once
    assert len(pinned_workers) >= len(jobs)  # a worker per clip at least: the replacements were pinned too
    for name in GOOD:  # (the batch ran on relative paths: compare the landmarks, not the recorded source)
        np.testing.assert_array_equal(read_parquet(tmp_path / f"{name}.parquet").points, read_parquet(out / f"{name}.parquet").points)


def test_a_mediapipe_without_the_legacy_graph_is_one_line_unless_tasks(monkeypatch):
    from slt.keypoints import schema

    monkeypatch.setattr(schema, "version", lambda package: "1.2.3")
    assert schema.mediapipe_version() == (1, 2, 3)
    with pytest.raises(ValueError, match="mediapipe 1.2.3 has no legacy Holistic graph"):
        schema.check_extractor()
    schema.check_extractor(tasks=True)
    monkeypatch.setattr(schema, "version", lambda package: "0.10.21")
    schema.check_extractor()
