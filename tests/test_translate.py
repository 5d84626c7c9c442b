"""`slt translate` end to end: a real video (MediaPipe extraction), a frame folder and keypoint files,
with a stage-2 and a stage-1 run; inputs that cannot be used get their own error line."""

from __future__ import annotations

import csv
import gc
import json
import multiprocessing
import os
import signal

import numpy as np
import pytest

from conftest import photo_frames, write_video
from helpers import slt, slt_process
from slt.translate import clips_read_in_child



@pytest.mark.parametrize("run_name", ["stage1_run", "stage2_run"])
def test_parquet_files(run_name, request, tiny_corpus):
    """Translations of the test clips equal the sentences the run's own evaluation decoded for them."""
    run = request.getfixturevalue(run_name)
    expected = {row["name"]: row["hypothesis"] for row in csv.DictReader((run / "test.hypotheses.tsv").open(), delimiter="\t")}
    files = [tiny_corpus / "keypoints" / f"{name}.parquet" for name in sorted(expected)]
    result = slt("translate", *files, "--model", run)
    assert result.exit_code == 0, result.output
    assert gc.isenabled()  # paused while the model loaded
    assert result.stdout.splitlines() == [f"{file}: {expected[name]}" for file, name in zip(files, sorted(expected))]


@pytest.mark.slow
def test_a_fresh_process_prints_the_sentence_alone(stage2_run, tiny_corpus):
    """As a user runs it: the translation on stdout, nothing on stderr (no library progress bar or warning)."""
    clip = sorted((tiny_corpus / "keypoints" / "test").glob("*.parquet"))[0]
    hypotheses = {row["name"]: row["hypothesis"] for row in csv.DictReader((stage2_run / "test.hypotheses.tsv").open(), delimiter="\t")}
    result = slt_process("translate", str(clip), "--model", str(stage2_run))
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert result.stdout == hypotheses[f"test/{clip.stem}"] + "\n"


@pytest.mark.slow
def test_without_mediapipe_keypoint_files_translate_and_videos_say_what_to_install(stage1_run, tiny_corpus, photo_video, tmp_path, monkeypatch):
    """The keypoint-only install (no `extract` extra), as processes in which mediapipe cannot be imported:
    keypoint files translate, a video and `slt preprocess` get one line naming what to install."""
    (tmp_path / "site").mkdir()
    (tmp_path / "site" / "sitecustomize.py").write_text("import sys\nsys.modules['mediapipe'] = None  # as if not installed\n")
    monkeypatch.setenv("PYTHONPATH", str(tmp_path / "site"))  # the translate command's child process too
    clip = sorted((tiny_corpus / "keypoints" / "test").glob("*.parquet"))[0]
    hypotheses = {row["name"]: row["hypothesis"] for row in csv.DictReader((stage1_run / "test.hypotheses.tsv").open(), delimiter="\t")}
    install = "need MediaPipe, which is not installed: pip install 'slt[extract]'"
    result = slt_process("translate", clip, photo_video, "--model", stage1_run)
    assert result.returncode == 1 and result.stdout == f"{clip}: {hypotheses[f'test/{clip.stem}']}\n", result.stderr
    assert result.stderr.count("\n") == 1 and result.stderr.startswith(f"error: {photo_video}: keypoints from videos") and install in result.stderr
    result = slt_process("preprocess", photo_video, "--out", tmp_path / "keypoints")
    assert result.returncode == 1 and result.stderr.count("\n") == 1 and install in result.stderr, result.stderr
    assert not (tmp_path / "keypoints").exists()


@pytest.mark.slow
def test_video_and_frame_folder_with_json_timings(stage2_run, photo_video, tmp_path):
    import cv2

    frames = tmp_path / "frames"
    frames.mkdir()
    for i, frame in enumerate(photo_frames(frames_per_photo=6)):
        cv2.imwrite(str(frames / f"frame{i}.png"), frame)
    result = slt("translate", photo_video, frames, "--model", stage2_run, "--json", "--beams", "3")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert [t["input"] for t in report["translations"]] == [str(photo_video), str(frames)]
    for translation in report["translations"]:
        # A barely trained model may well say nothing about photographs; what matters is that they got through.
        assert translation["error"] is None and isinstance(translation["text"], str)
        assert set(translation["seconds"]) == {"extraction", "encoder", "generation"}
    assert report["seconds"]["extraction"] > 0 and report["seconds"]["generation"] > 0


@pytest.mark.slow
def test_bad_inputs_get_one_line_each_and_the_rest_is_translated(stage2_run, tiny_corpus, tmp_path):
    good = sorted((tiny_corpus / "keypoints" / "test").glob("*.parquet"))[0]
    nobody = write_video(tmp_path / "empty_room.mp4", [np.full((128, 128, 3), 90, np.uint8)] * 8)
    broken = tmp_path / "broken.parquet"
    broken.write_bytes(b"not parquet")
    notes = tmp_path / "notes.txt"
    notes.write_text("hello\n")
    result = slt("translate", nobody, good, broken, notes, tmp_path / "missing.mp4", "--model", stage2_run)
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    hypotheses = {row["name"]: row["hypothesis"] for row in csv.DictReader((stage2_run / "test.hypotheses.tsv").open(), delimiter="\t")}
    assert lines == [f"{good}: {hypotheses['test/' + good.stem]}"]
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]  # not library logs
    assert len(errors) == 4
    assert "no person" in errors[0] and "broken.parquet" in errors[1] and "notes.txt" in errors[2] and "missing.mp4" in errors[3]


def test_not_a_run_folder(tmp_path, tiny_corpus):
    result = slt("translate", tiny_corpus / "annotations.csv", "--model", tmp_path)
    assert result.exit_code == 1 and result.stderr.count("\n") == 1 and "config.json" in result.stderr


@pytest.mark.slow
def test_clips_are_read_in_a_child_that_is_killed_when_not_waited_for(photo_video):
    """`translate` loads the model while a child process extracts; if loading fails, nobody waits for the child."""
    before = set(multiprocessing.active_children())
    with clips_read_in_child([str(photo_video)]):
        (child,) = set(multiprocessing.active_children()) - before  # still starting: spawning alone takes a second
    assert child.exitcode == -signal.SIGKILL


@pytest.mark.slow
def test_a_crashed_extraction_is_an_error_of_each_input(photo_video, tiny_corpus):
    keypoints = sorted((tiny_corpus / "keypoints" / "test").glob("*.parquet"))[0]
    before = set(multiprocessing.active_children())
    with clips_read_in_child([str(photo_video), str(keypoints)]) as outcomes:
        (child,) = set(multiprocessing.active_children()) - before
        os.kill(child.pid, signal.SIGSEGV)
        (kp, error, _), second = outcomes()
    assert kp is None and error.startswith("the extraction crashed (exit code -11)")
    assert second == (kp, error, 0.0)


@pytest.mark.slow
def test_a_run_that_cannot_load_is_one_error_line_and_leaves_no_child(photo_video, tmp_path):
    (tmp_path / "config.json").write_text("{not json")
    result = slt("translate", photo_video, "--model", tmp_path)
    assert result.exit_code == 1 and result.stderr.startswith("error: cannot use the model")
    assert multiprocessing.active_children() == []
    assert gc.isenabled()  # paused while the model loaded, whether it loaded or not
