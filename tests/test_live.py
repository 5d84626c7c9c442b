"""`slt live`: the segmenter on constructed keypoint streams (rest pauses, long signing, windows, nobody in
view), the resampler, and the command on the real signing clip played at its real pace with a tiny trained run."""

from __future__ import annotations

import json

import numpy as np
import pytest

from helpers import slt, slt_process
from slt.data.normalize import LEFT_SHOULDER, LEFT_WRIST, RIGHT_SHOULDER, RIGHT_WRIST
from slt.live import FrameSource, LiveConfig, LiveSession, Resampler, Segmenter, resting, run
from slt.translate import Translator

FPS = 25.0


def pose(wrist_depth: float) -> np.ndarray:
    """A frame of 75 points: shoulders 0.2 apart at y = 0.4, both wrists `wrist_depth` shoulder widths lower."""
    points = np.full((75, 3), 0.5, np.float32)
    points[[LEFT_SHOULDER, RIGHT_SHOULDER], :2] = [[0.6, 0.4], [0.4, 0.4]]
    points[[LEFT_WRIST, RIGHT_WRIST], 1] = 0.4 + 0.2 * wrist_depth
    return points


SIGN, REST, NOBODY = pose(0.3), pose(1.6), np.full((75, 3), np.nan, np.float32)


def stream(*runs: tuple[np.ndarray, int]) -> list[np.ndarray]:
    return [frame for frame, count in runs for _ in range(count)]


def cuts(config: LiveConfig, frames: list[np.ndarray], max_frames: int | None = None) -> list[tuple[int, int]]:
    segmenter = Segmenter(config, FPS, max_frames)
    spans = [span for frame in frames for span in segmenter.push(resting(frame))]
    return spans + segmenter.flush()


def test_resting_needs_both_wrists_low_or_nobody_in_view():
    one_up = REST.copy()
    one_up[RIGHT_WRIST] = SIGN[RIGHT_WRIST]
    assert resting(REST) and resting(NOBODY) and not resting(SIGN) and not resting(one_up)


def test_rest_pauses_cut_sentences_with_their_margins():
    # pause 0.32 s = 8 frames, margin 0.16 s = 4 frames at 25 fps
    frames = stream((REST, 10), (SIGN, 30), (REST, 10), (SIGN, 20), (REST, 3), (SIGN, 10), (NOBODY, 12), (SIGN, 5))
    # The 3-frame rest is too short to end a sentence; the stream ends while the last one is signed.
    assert cuts(LiveConfig(), frames) == [(6, 44), (46, 87), (91, 100)]
    # A pause of 0.44 s (11 frames): the 10-frame rest no longer ends the first one; the 12 frames without anybody do.
    assert cuts(LiveConfig(pause=0.44), frames) == [(6, 87), (91, 100)]


def test_a_sentence_is_cut_at_the_longest_the_model_reads_and_the_next_does_not_repeat_its_frames():
    frames = stream((REST, 10), (SIGN, 50), (REST, 10))
    assert cuts(LiveConfig(), frames, max_frames=24) == [(6, 30), (30, 54), (54, 64)]
    assert cuts(LiveConfig(max_sentence=1.0), frames) == [(6, 31), (31, 56), (56, 64)]


def test_windows_with_and_without_overlap_skip_windows_where_nobody_signs():
    frames = stream((SIGN, 30), (REST, 60), (SIGN, 15))  # 105 frames; windows of 1.2 s = 30 frames
    assert cuts(LiveConfig(cut="window", window=1.2), frames) == [(0, 30), (90, 105)]
    # Stride 20: windows start at 0, 20, 40, 60 (only rest in those two) and 80, which ends with the stream.
    assert cuts(LiveConfig(cut="window", window=1.2, overlap=0.4), frames) == [(0, 30), (20, 50), (80, 105)]


@pytest.mark.parametrize(
    "settings, words",
    [
        ({"cut": "words"}, "cut must be pause or window"),
        ({"pause": 0}, "pause, window and max_sentence must be positive"),
        ({"margin": 0.5}, "margin must be"),
        ({"overlap": 4.0}, "overlap must be"),
    ],
)
def test_bad_settings_say_which(settings, words):
    with pytest.raises(ValueError, match=words):
        LiveConfig(**settings)


def test_resampler_interpolates_a_30_fps_stream_with_dropped_frames_to_25():
    resample = Resampler(25.0)
    kept = [i for i in range(31) if i % 3 != 1]  # a third of the frames of one second dropped
    made = [frame for i in kept for frame in resample(i / 30, np.full((2, 3), i / 30, np.float32))]
    # Every 1/25 s from the first frame to the last (the value is the time: a linear ramp stays exact).
    assert len(made) == 26 and np.allclose([m[0, 0] for m in made], np.arange(26) / 25, atol=1e-6)
    assert resample.time(25) == pytest.approx(1.0)
    # A part missing in one of two frames: the nearer frame's value.
    gap = Resampler(10.0)
    made = gap(0.0, np.ones((1, 3), np.float32)) + gap(0.3, np.full((1, 3), np.nan, np.float32))
    assert [m[0, 0] for m in made][:2] == [1, 1] and np.isnan(made[2:]).all() and len(made) == 4


@pytest.mark.slow
def test_slt_live_plays_the_real_clip_in_real_time_and_prints_json_sentences(stage1_run, signing_clip):
    done = slt_process("live", "--model", stage1_run, signing_clip, "--realtime", "--json")
    assert done.returncode == 0, done.stderr
    sentences = [json.loads(line) for line in done.stdout.splitlines()]
    assert sentences and all(set(s) == {"start", "end", "text", "seconds", "delay"} for s in sentences)
    duration = 58 / 30
    bounds = [t for s in sentences for t in (s["start"], s["end"])]
    assert bounds == sorted(bounds) and 0 <= bounds[0] and bounds[-1] <= duration + 0.05
    assert all(isinstance(s["text"], str) and s["delay"] is not None and s["delay"] > -0.1 for s in sentences)
    summary = done.stderr.strip().splitlines()[-1]
    assert summary.startswith("58 frames (1.9 s)") and "dropped" in summary and "real-time factor" in summary


@pytest.mark.slow
def test_every_frame_of_a_file_in_windows_gives_consecutive_sentences(stage1_run, signing_clip):
    translator = Translator.from_pretrained(stage1_run)
    sentences = []
    config = LiveConfig(cut="window", window=0.8)
    summary = run(FrameSource(str(signing_clip)), LiveSession(translator, config), sentences.append)
    # 58 frames at 30 fps, without --realtime: every frame processed, none dropped; 48 frames at 25 fps.
    assert (summary.frames, summary.processed, summary.dropped, summary.sentences) == (58, 58, 0, len(sentences))
    assert [(s.start, s.end) for s in sentences] == [(0.0, 0.8), (0.8, 1.6), (1.6, 1.92)]
    assert all(s.delay is None and s.seconds > 0 for s in sentences)


def test_bad_sources_get_one_line_before_the_model_loads(tmp_path):
    (tmp_path / "notes.txt").write_text("not a video\n")
    for source, words in [
        (tmp_path / "missing.mp4", "no such file"),
        (tmp_path / "notes.txt", "cannot read a frame from source"),
        ("7", "cannot read a frame from camera 7"),
        ("http://127.0.0.1:9/stream.mp4", "cannot read a frame from source http://127.0.0.1:9/stream.mp4"),
    ]:
        result = slt("live", "--model", tmp_path / "no-run", source)
        assert result.exit_code == 1 and words in result.output and len(result.output.strip().splitlines()) == 1
    result = slt("live", "--model", tmp_path, "--cut", "window", "--overlap", "5")
    assert result.exit_code == 1 and "overlap must be" in result.output
