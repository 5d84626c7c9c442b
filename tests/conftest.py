"""Shared pytest fixtures. Several test modules add fixtures here: keep edits small and targeted."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from helpers import slt_process

PROJECT_ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True, scope="session")
def one_torch_thread():
    """The test models are tiny: thread synchronization costs more than they compute, a lot more on a
    busy 2-core machine."""
    import torch

    torch.set_num_threads(1)


# --- Real media for keypoint extraction (tests/test_extract.py, tests/test_preprocess.py) ---------


def photo_frames(frames_per_photo: int = 12, size: int = 256, seed: int = 0):
    """BGR frames of two real photographs shipped in PyPI packages (matplotlib's Grace Hopper,
    scikit-image's astronaut), each shown with per-frame jitter like a handheld camera."""
    import cv2
    import matplotlib
    import numpy as np
    from skimage import data

    hopper = cv2.imread(os.path.join(matplotlib.get_data_path(), "sample_data", "grace_hopper.jpg"))
    astronaut = cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR)
    rng = np.random.default_rng(seed)
    frames = []
    for photo in (hopper[:512], astronaut):  # square crops: face and shoulders of each subject
        photo = cv2.resize(photo, (size, size), interpolation=cv2.INTER_AREA)
        for _ in range(frames_per_photo):
            angle, scale = rng.uniform(-3, 3), rng.uniform(0.96, 1.04)
            matrix = cv2.getRotationMatrix2D((size / 2, size / 2), angle, scale)
            matrix[:, 2] += rng.uniform(-8, 8, 2)
            frame = cv2.warpAffine(photo, matrix, (size, size), borderMode=cv2.BORDER_REFLECT)
            frames.append(np.clip(frame.astype(np.int16) + rng.integers(-6, 7), 0, 255).astype(np.uint8))
    return frames


def write_video(path: Path, frames, fps: float = 25.0) -> Path:
    import cv2

    path.parent.mkdir(parents=True, exist_ok=True)
    height, width = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (width, height))
    for frame in frames:
        writer.write(frame)
    writer.release()
    return path


@pytest.fixture(scope="session")
def signing_clip() -> Path:
    """The real signing clip (see ../shared/testdata/signing/README.md); SLT_TEST_DATA overrides where."""
    root = Path(os.environ.get("SLT_TEST_DATA", PROJECT_ROOT.parent / "shared" / "testdata"))
    path = root / "signing" / "webcam_signer.mp4"
    if not path.is_file():
        pytest.fail(
            f"test data missing: {path} (the real signing clip; set SLT_TEST_DATA to the folder holding signing/)"
        )
    return path


@pytest.fixture(scope="session")
def photo_video(tmp_path_factory) -> Path:
    """24 frames at 25 fps, 256x256: 12 jittered frames of each photograph."""
    return write_video(tmp_path_factory.mktemp("photo") / "photos.mp4", photo_frames())


@pytest.fixture(scope="session")
def media(tmp_path_factory, photo_video, signing_clip) -> Path:
    """Good clips under `videos/` and every kind of bad input under `bad/`, plus `notes.txt`."""
    import cv2
    import numpy as np

    root = tmp_path_factory.mktemp("media")
    (root / "videos" / "nested").mkdir(parents=True)
    shutil.copy(photo_video, root / "videos" / "photos.mp4")
    shutil.copy(signing_clip, root / "videos" / "nested" / "signer.mp4")
    (root / "videos" / "frames_clip").mkdir()
    for i, frame in enumerate(photo_frames(frames_per_photo=3)):  # a frame folder, as PHOENIX ships them
        cv2.imwrite(str(root / "videos" / "frames_clip" / f"{i}.png"), frame)

    bad = root / "bad"
    bad.mkdir()
    (bad / "empty.mp4").touch()
    (bad / "corrupt.mkv").write_bytes(np.random.default_rng(0).bytes(5000))
    (bad / "truncated.mp4").write_bytes(photo_video.read_bytes()[: photo_video.stat().st_size // 3])
    write_video(bad / "nobody.mp4", [np.full((128, 128, 3), 128, np.uint8)] * 6)
    (bad / "broken_frames").mkdir()
    cv2.imwrite(str(bad / "broken_frames" / "0.png"), photo_frames(frames_per_photo=1)[0])
    (bad / "broken_frames" / "1.png").write_bytes(b"not a png")
    (root / "notes.txt").write_text("not a video\n")
    return root


@pytest.fixture(scope="session")
def batch(media, tmp_path_factory):
    """One `slt preprocess` run over every good and bad input: (output folder, completed process)."""
    out = tmp_path_factory.mktemp("batch") / "out"
    args = ["preprocess", "videos", "bad", "notes.txt", "--out", str(out), "--workers", "2"]
    return out, slt_process(*args, cwd=media), args


@pytest.fixture(scope="session")
def tasks_bundle(tmp_path_factory) -> Path:
    """A `holistic_landmarker.task` assembled from the mediapipe wheel's own models (bench/tasks_bundle.py)."""
    from bench.tasks_bundle import build_bundle

    return build_bundle(tmp_path_factory.mktemp("tasks") / "holistic_landmarker.task")


# --- Trained runs for stage 2 and translation (tests/test_stage2.py, tests/test_translate.py) --------

TINY_STAGE1 = """
model:
  preset: tiny
  dropout: 0.0
  encoder: {channels: [8], temporal_kernel: 3, dim: 32, dropout: 0.0}
data: {augment: null, vocab_size: 300}
optim: {lr: 3.0e-3, batch_size: 8, warmup: 0.1, epochs: 2}
eval: {num_beams: 2, max_new_tokens: 24, patience: 0}
"""


@pytest.fixture(scope="session")
def tiny_corpus(tmp_path_factory) -> Path:
    """16 train, 4 dev and 4 test clips of the built-in toy language, plus `tiny.yaml` (a tiny stage-1 config)."""
    from slt import synth

    root = tmp_path_factory.mktemp("tiny_corpus")
    synth.write_corpus(root, synth.toy_clips(16, 4, 4, signers=2, seed=0))
    (root / "tiny.yaml").write_text(TINY_STAGE1)
    return root


@pytest.fixture(scope="session")
def stage1_run(tiny_corpus, tmp_path_factory) -> Path:
    """A stage-1 run trained for two epochs on `tiny_corpus`."""
    from slt import stage1
    from slt.config import resolve

    run = tmp_path_factory.mktemp("stage1") / "run"
    overrides = {"data.data": str(tiny_corpus / "keypoints"), "data.annotations": [str(tiny_corpus / "annotations.csv")]}
    stage1.train(resolve(tiny_corpus / "tiny.yaml", overrides), run)
    return run


@pytest.fixture(scope="session")
def made_llms(tiny_corpus, tmp_path_factory) -> dict[str, Path]:
    """A tiny `slt make-llm` model of each architecture, pre-trained on the train sentences of `tiny_corpus`."""
    from slt.model.make_llm import MakeLLMConfig, make_llm, read_corpus

    root = tmp_path_factory.mktemp("llms")
    sentences = read_corpus([tiny_corpus / "annotations.csv"])
    size = dict(dim=32, layers=1, heads=2, ffn=64, steps=40, warmup=5, batch_size=8, vocab_size=300)
    for arch in ("causal", "seq2seq"):
        make_llm(root / arch, sentences, MakeLLMConfig(arch=arch, **size), show_progress=False)
    return {"causal": root / "causal", "seq2seq": root / "seq2seq"}


@pytest.fixture(scope="session")
def stage2_run(tiny_corpus, stage1_run, made_llms, tmp_path_factory) -> Path:
    """A stage-2 run (LoRA on the seq2seq `made_llms`) trained for one epoch from `stage1_run`."""
    from slt import stage2
    from slt.config import resolve

    run = tmp_path_factory.mktemp("stage2") / "run"
    overrides = {"stage2.init": str(stage1_run), "stage2.llm": str(made_llms["seq2seq"]), "optim.epochs": 1}
    stage2.train(resolve(tiny_corpus / "tiny.yaml", overrides), run)
    return run
