"""Hostile and careless input: each case must end in one line that says what is wrong, before any long
work, without touching what slt did not write (issue 16). The classes: never destroy what slt did not
write, nothing escapes its folder, any clip length, every bad setting found before work starts, damaged
run folders, preprocess going on past one bad file, and no traceback without --debug."""

from __future__ import annotations

import csv
import os
import shutil
import stat
import sys
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from conftest import photo_frames
from helpers import folder_contents, slt_process
from helpers import slt as invoke
from slt.cli import app
from slt.config import resolve
from slt.data.annotations import read_annotations
from slt.files import atomic_write
from slt.keypoints.io import Keypoints, read_parquet, write_parquet

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def slt(*args):
    """Run the command in this process: (exit code, stdout + stderr)."""
    result = invoke(*args)
    return result.exit_code, result.output


def one_error_line(output: str, *words: str) -> None:
    lines = [line for line in output.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and "Traceback" not in output, output
    for word in words:
        assert word in lines[0], (word, lines[0])


@pytest.fixture
def user_folder(tmp_path) -> Path:
    """A folder of a user's own files, none of them written by slt."""
    folder = tmp_path / "mine"
    (folder / "notes").mkdir(parents=True)
    (folder / "config.json").write_text('{"theme": "dark"}')
    (folder / "metrics.json").write_text("[1, 2, 3]")
    (folder / "notes" / "todo.txt").write_text("buy milk")
    return folder


def train_args(tiny_corpus: Path, out: Path, *extra) -> list:
    return ["train", "--data", tiny_corpus / "keypoints", "--annotations", tiny_corpus / "annotations.csv",
            "--config", tiny_corpus / "tiny.yaml", "--out", out, *extra]  # fmt: skip


# --- Never destroy what slt did not write ------------------------------------------------------------


@pytest.mark.parametrize("overwrite", [(), ("--overwrite",)])
def test_make_llm_never_replaces_a_folder_it_did_not_write(user_folder, tiny_corpus, overwrite):
    before = folder_contents(user_folder)
    code, output = slt("make-llm", user_folder, "--corpus", tiny_corpus / "annotations.csv", "--steps", 1, *overwrite)
    assert code == 1
    one_error_line(output, str(user_folder), "is not an LLM made by `slt make-llm`")
    assert folder_contents(user_folder) == before


@pytest.mark.slow
def test_make_llm_into_the_current_folder_is_refused(user_folder, tiny_corpus):
    before = folder_contents(user_folder)
    result = slt_process("make-llm", ".", "--corpus", str(tiny_corpus / "annotations.csv"), "--overwrite", cwd=user_folder)
    assert result.returncode == 1 and "is not an LLM made by" in result.stderr and "Traceback" not in result.stderr
    assert folder_contents(user_folder) == before


def test_make_llm_replaces_its_own_folder_only_with_overwrite(tmp_path, tiny_corpus):
    out = tmp_path / "llm"
    small = ["--corpus", tiny_corpus / "annotations.csv", "--steps", 2, "--dim", 16, "--layers", 1]
    assert slt("make-llm", out, *small)[0] == 0
    first = folder_contents(out)
    code, output = slt("make-llm", out, *small, "--seed", 1)
    assert code == 1
    one_error_line(output, "already holds an LLM made by `slt make-llm`", "--overwrite")
    assert folder_contents(out) == first
    assert slt("make-llm", out, *small, "--seed", 1, "--overwrite")[0] == 0
    assert folder_contents(out) != first and not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_train_never_writes_into_a_folder_that_is_not_a_run(user_folder, tiny_corpus):
    before = folder_contents(user_folder)
    for extra in ((), ("--overwrite",)):
        code, output = slt(*train_args(tiny_corpus, user_folder, *extra))
        assert code == 1
        one_error_line(output, str(user_folder), "is not an slt run")
    assert folder_contents(user_folder) == before


def test_train_out_pointing_at_the_data_is_refused(tiny_corpus):
    keypoints = tiny_corpus / "keypoints"
    count = len(list(keypoints.rglob("*.parquet")))
    code, output = slt(*train_args(tiny_corpus, keypoints))
    assert code == 1
    one_error_line(output, "is not an slt run")
    assert len(list(keypoints.rglob("*.parquet"))) == count


def test_train_into_an_existing_run_needs_resume_or_overwrite(stage1_run, tiny_corpus, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(stage1_run, run)
    before = folder_contents(run)
    code, output = slt(*train_args(tiny_corpus, run))
    assert code == 1
    one_error_line(output, "already holds a run", "--resume", "--overwrite")
    code, output = slt(*train_args(tiny_corpus, run, "--resume", "--overwrite"))
    assert code == 1
    one_error_line(output, "pass one of them")
    assert folder_contents(run) == before


def test_synth_never_replaces_a_folder_it_did_not_write(user_folder, tmp_path):
    before = folder_contents(user_folder)
    sizes = ["--train", 10, "--dev", 2, "--test", 2, "--signers", 1]
    for extra in ((), ("--overwrite",)):
        code, output = slt("synth", user_folder, *sizes, *extra)
        assert code == 1
        one_error_line(output, "is not a corpus written by `slt synth`")
    assert folder_contents(user_folder) == before

    corpus = tmp_path / "corpus"
    assert slt("synth", corpus, *sizes)[0] == 0
    code, output = slt("synth", corpus, *sizes, "--seed", 1)
    assert code == 1
    one_error_line(output, "already holds a corpus", "--overwrite")
    assert slt("synth", corpus, *sizes, "--seed", 1, "--overwrite")[0] == 0
    assert read_parquet(next((corpus / "keypoints").rglob("*.parquet"))).info["seed"] == 1


def test_written_files_and_folders_get_the_umask_permissions(tmp_path):
    old = os.umask(0o022)
    try:
        atomic_write(tmp_path / "file.txt", lambda tmp: Path(tmp).write_text("x"))
        atomic_write(tmp_path / "folder", lambda tmp: (Path(tmp) / "inside.txt").write_text("x"), folder=True)
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "file.txt").stat().st_mode) == 0o644
    assert stat.S_IMODE((tmp_path / "folder").stat().st_mode) == 0o755


def test_a_failed_folder_write_leaves_the_old_folder_whole(tmp_path):
    folder = tmp_path / "out"
    atomic_write(folder, lambda tmp: (Path(tmp) / "a.txt").write_text("old"), folder=True)

    def fails(tmp: str) -> None:
        (Path(tmp) / "a.txt").write_text("half")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        atomic_write(folder, fails, folder=True)
    assert folder_contents(tmp_path) == {"out/a.txt": b"old"}


def test_a_folder_replaced_through_a_link_leaves_the_linked_folder_alone(tmp_path):
    target = tmp_path / "target"
    atomic_write(target, lambda tmp: (Path(tmp) / "a.txt").write_text("old"), folder=True)
    (tmp_path / "link").symlink_to(target)
    atomic_write(tmp_path / "link", lambda tmp: (Path(tmp) / "a.txt").write_text("new"), folder=True)
    assert (tmp_path / "link" / "a.txt").read_text() == "new" and not (tmp_path / "link").is_symlink()
    assert folder_contents(tmp_path) == {"link/a.txt": b"new", "target/a.txt": b"old"}


def test_render_never_draws_over_the_video_it_reads(tiny_corpus, photo_video, tmp_path):
    video = tmp_path / "source.mp4"
    shutil.copy(photo_video, video)
    clip = next((tiny_corpus / "keypoints" / "dev").glob("*.parquet"))
    code, output = slt("render", clip, "-o", video, "--video", video, "--overwrite")
    assert code == 1
    one_error_line(output, "is the video drawn over")
    assert video.read_bytes() == photo_video.read_bytes()


def test_render_replaces_an_existing_file_only_with_overwrite(tiny_corpus, tmp_path):
    clip = next((tiny_corpus / "keypoints" / "dev").glob("*.parquet"))
    output = tmp_path / "holiday.gif"
    output.write_bytes(b"GIF89a my holiday")
    code, text = slt("render", clip, "-o", output)
    assert code == 1
    one_error_line(text, "exists; pass --overwrite")
    assert output.read_bytes() == b"GIF89a my holiday"
    assert slt("render", clip, "-o", output, "--overwrite", "--width", 64)[0] == 0
    assert output.read_bytes() != b"GIF89a my holiday"


# --- Nothing escapes its folder ------------------------------------------------------------------------

BAD_NAMES = ["../escape", "/etc/passwd", "a/../../b", "bad\\name", "nul\x00byte", "nan", "train/.hidden", "a//b", "tab\tname"]


@pytest.mark.parametrize("name", BAD_NAMES)
def test_annotation_names_that_leave_the_data_folder_are_refused_with_file_and_line(tmp_path, name):
    table = tmp_path / "annotations.csv"
    with table.open("w", newline="") as f:
        csv.writer(f).writerows([["name", "text", "split"], ["train/ok", "hello", "train"], [name, "bye", "train"]])
    with pytest.raises(ValueError, match=rf"^{table}:3: "):
        read_annotations(table)


def test_annotation_names_may_name_subfolders(tmp_path):
    table = tmp_path / "annotations.csv"
    table.write_text("name,text,split\ntrain/signer 1/clip01,hello,train\n")
    assert [s.name for s in read_annotations(table)] == ["train/signer 1/clip01"]


def test_train_with_an_escaping_annotation_name_fails_before_any_work(tiny_corpus, tmp_path):
    table = tmp_path / "annotations.csv"
    table.write_text((tiny_corpus / "annotations.csv").read_text() + "../../outside,a sentence,train,s1,A\n")
    args = train_args(tiny_corpus, tmp_path / "run")
    args[args.index(tiny_corpus / "annotations.csv")] = table
    code, output = slt(*args)
    assert code == 1
    one_error_line(output, f"{table}:", "'../../outside'")
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("name", ["../../escaped", "/tmp/absolute", "", "a/../../b"])
def test_segment_names_that_leave_out_are_refused_before_any_work(tmp_path, name):
    videos = tmp_path / "videos"
    videos.mkdir()
    (videos / "v.mp4").write_bytes(b"not decoded: planning fails first")
    table = tmp_path / "segments.csv"
    with table.open("w", newline="") as f:
        csv.writer(f).writerows([["name", "video", "start", "end"], ["fine", "v", 0, 1], [name, "v", 0, 1]])
    code, output = slt("preprocess", videos, "--segments", table, "--out", tmp_path / "out")
    assert code == 1
    one_error_line(output, f"segments table {table} line 3")
    assert not (tmp_path / "out").exists() and not (tmp_path / "escaped").exists()


@pytest.mark.parametrize("start, end", [("0", "inf"), ("nan", "1"), ("-1", "1"), ("2", "1"), ("", "1")])
def test_segment_times_must_be_finite_and_ordered(tmp_path, start, end):
    (tmp_path / "v.mp4").write_bytes(b"x")
    (tmp_path / "segments.csv").write_text(f"name,video,start,end\nclip,v,{start},{end}\n")
    code, output = slt("preprocess", tmp_path / "v.mp4", "--segments", tmp_path / "segments.csv", "--out", tmp_path / "out")
    assert code == 1
    one_error_line(output, "line 2")
    assert not (tmp_path / "out").exists()


def test_segments_never_write_through_a_linked_subfolder(tmp_path):
    videos, out, outside = tmp_path / "videos", tmp_path / "out", tmp_path / "outside"
    for folder in (videos, out, outside):
        folder.mkdir()
    (videos / "v.mp4").write_bytes(b"x")
    (out / "link").symlink_to(outside)
    (outside / "victim.parquet").write_text("precious")
    (tmp_path / "segments.csv").write_text("name,video,start,end\nlink/victim,v,0,1\n")
    code, output = slt("preprocess", videos, "--segments", tmp_path / "segments.csv", "--out", out, "--overwrite")
    assert code == 1
    one_error_line(output, "would be written outside --out")
    assert (outside / "victim.parquet").read_text() == "precious"


def test_preprocess_never_replaces_a_manifest_it_did_not_write(photo_video, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "manifest.csv").write_text("invoice,amount\n1,100\n")
    code, output = slt("preprocess", photo_video, "--out", out)
    assert code == 1
    one_error_line(output, "manifest.csv was not written by `slt preprocess`")
    assert (out / "manifest.csv").read_text() == "invoice,amount\n1,100\n"


def test_synth_from_table_refuses_an_escaping_name(tmp_path):
    table = tmp_path / "glosses.csv"
    table.write_text("name,text,gloss,split\n../../evil,hello,HELLO,train\n")
    code, output = slt("synth", tmp_path / "out", "--from-table", table)
    assert code == 1
    one_error_line(output, f"{table}:2")
    assert not (tmp_path / "evil.parquet").exists() and not (tmp_path / "out").exists()


# --- Any clip length --------------------------------------------------------------------------------------


def long_clip(tiny_corpus: Path, frames: int) -> Keypoints:
    """A real clip of the tiny corpus, looped to `frames` frames."""
    kp = read_parquet(next((tiny_corpus / "keypoints" / "dev").glob("*.parquet")))
    return Keypoints(np.resize(kp.points, (frames, *kp.points.shape[1:])), kp.fps, kp.parts, kp.width, kp.height)


def test_translate_reads_a_clip_past_the_model_limit_in_parts(stage1_run, tiny_corpus, tmp_path):
    from slt.run import load_model

    model, config = load_model(stage1_run)
    limit = model.max_frames(config.eval.max_new_tokens)
    assert limit == 1024 * config.model.encoder.downsample  # Light-T's positions, 4 frames each
    path = tmp_path / "long.parquet"
    write_parquet(long_clip(tiny_corpus, int(2.5 * limit)), path)
    result = CliRunner().invoke(app, ["translate", str(path), "--model", str(stage1_run), "--beams", "1"])
    assert result.exit_code == 0, result.output
    assert result.stderr == f"warning: {path}: {int(2.5 * limit)} frames, more than the {limit} the model reads at once: " \
        "translated in 3 consecutive parts, their sentences joined\n"
    assert len(result.stdout.splitlines()) == 1  # one sentence, however many parts


def test_a_decoder_only_llm_keeps_positions_for_its_prompt_and_the_sentence(made_llms):
    from slt.model.llm import load_llm

    causal = load_llm(str(made_llms["causal"]), "frozen", prompt="Translate the signing:")
    prompt = len(causal.tokenizer(causal.prompt, add_special_tokens=False)["input_ids"])
    assert prompt > 0 and causal.input_positions(24) == 1024 - prompt - 24
    assert load_llm(str(made_llms["seq2seq"]), "frozen").input_positions(24) == 1024  # the encoder reads the clip alone


def test_translate_windows_are_consecutive_and_fit():
    from slt.translate import windows

    assert windows(100, None) == [(0, 100)] and windows(100, 100) == [(0, 100)]
    parts = windows(10_001, 4096)
    assert len(parts) == 3 and parts[0][0] == 0 and parts[-1][1] == 10_001
    assert all(b - a <= 4096 and b == c for (a, b), (c, _) in zip(parts, parts[1:] + [(parts[-1][1], 0)]))


def test_training_leaves_out_and_evaluation_cuts_clips_past_the_limit(tiny_corpus, tmp_path, capsys):
    """Downsampling 1 makes the limit 1,024 frames; one train and one dev clip of 3,000 frames."""
    from slt import stage1

    data = tmp_path / "keypoints"
    shutil.copytree(tiny_corpus / "keypoints", data, ignore=shutil.ignore_patterns(".slt_cache"))
    for split in ("train", "dev"):
        write_parquet(long_clip(tiny_corpus, 3000), data / split / "long.parquet")
    table = tmp_path / "annotations.csv"
    table.write_text((tiny_corpus / "annotations.csv").read_text() + "train/long,a long sentence,train,s1,A\ndev/long,another,dev,s1,B\n")
    overrides = {"data.data": str(data), "data.annotations": [str(table)], "model.encoder.downsample": 1, "optim.epochs": 1}
    metrics = stage1.train(resolve(tiny_corpus / "tiny.yaml", overrides), tmp_path / "run")
    err = " ".join(capsys.readouterr().err.split())
    assert "train clips: the longest has 3000 frames; the model reads at most 1024" in err
    assert "1 of 17 clip(s) longer than that are left out of training" in err
    assert "1 of 5 dev clip(s) are longer than the 1024 frames" in err
    assert metrics["dev"]["clips"] == 5  # the long dev clip is scored too


def test_a_split_of_only_over_long_clips_is_one_error(tiny_corpus, tmp_path):
    from slt.data.dataset import make_loader
    from slt.run import dataset, load_samples

    config = resolve(tiny_corpus / "tiny.yaml", {"data.data": str(tiny_corpus / "keypoints"), "data.annotations": [str(tiny_corpus / "annotations.csv")]})
    samples = [s for s in load_samples(config) if s.split == "train"][:3]
    with pytest.raises(ValueError, match="every train clip is longer than the 5 frames the model reads"):
        make_loader(dataset(config, samples, train=True), 2, True, max_frames=5)
    batch = next(iter(make_loader(dataset(config, samples, train=False), 3, False, max_frames=5)))
    assert batch["features"].shape[1] == 5 and len(batch["name"]) == 3  # evaluation: cut, not dropped


# --- Every bad setting found before work starts --------------------------------------------------------


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"data.normalize": {"centre": True}}, "data.normalize.centre"),
        ({"data.normalize": ["upper_body"]}, "data.normalize must be a mapping"),
        ({"data.normalize": {"use_z": "maybe"}}, "data.normalize.use_z must be bool"),
        ({"data.augment": {"rotate": 5}}, "data.augment.rotate"),
        ({"data.augment": 3}, "data.augment must be a mapping"),
        ({"data.augment": {"speed": 1.0}}, "data.augment.speed must be a number in [0, 1)"),
        ({"data.augment": {"frame_drop": -0.1}}, "data.augment.frame_drop"),
        ({"model.encoder.channels": 64}, "model.encoder.channels must be a non-empty list"),
        ({"model.encoder.channels": "64"}, "model.encoder.channels must be a non-empty list"),
        ({"model.encoder.channels": [64, 0]}, "model.encoder.channels"),
        ({"model.encoder.temporal_kernel": 0}, "model.encoder.temporal_kernel must be a positive odd integer"),
        ({"model.encoder.local_kernel": 4}, "model.encoder.local_kernel must be a positive odd integer"),
        ({"model.encoder.dim": -1}, "model.encoder.dim must be a positive integer"),
        ({"model.encoder.downsample": 3}, "model.encoder.downsample must be 1, 2, 4 or 8"),
        ({"model.label_smoothing": 1.0}, "model.label_smoothing must be in [0, 1)"),
        ({"model.label_smoothing": -0.1}, "model.label_smoothing"),
        ({"model.dropout": 1.5}, "model.dropout"),
        ({"model.preset": "huge"}, "model.preset must be one of"),
        ({"eval.every": 0}, "eval.every must be at least 1"),
        ({"eval.num_beams": 0}, "eval.num_beams must be at least 1"),
        ({"eval.max_new_tokens": 0}, "eval.max_new_tokens"),
        ({"eval.patience": -1}, "eval.patience"),
        ({"eval.tokenize": "spaces"}, "eval.tokenize must be one of"),
        ({"optim.warmup": -0.1}, "optim.warmup"),
        ({"optim.warmup": 2}, "optim.warmup"),
        ({"optim.grad_clip": -1}, "optim.grad_clip"),
        ({"optim.lr": 0}, "optim.lr must be a positive number"),
        ({"optim.lr": float("nan")}, "optim.lr must be a positive number"),
        ({"optim.momentum": 1}, "optim.momentum"),
        ({"optim.batch_size": 0}, "optim.batch_size must be at least 1"),
        ({"data.vocab_size": 0}, "data.vocab_size must be at least 8"),
        ({"data.num_workers": -2}, "data.num_workers"),
        ({"data.annotations": [3]}, "data.annotations must be a list"),
        ({"stage2.lora_rank": 0}, "stage2.lora_rank"),
        ({"stage2.lora_dropout": 1}, "stage2.lora_dropout"),
        ({"stage2.lr_llm": -1}, "stage2.lr_llm"),
        ({"stage2.lora_targets": "q_proj"}, "stage2.lora_targets must be a list"),
        ({"seed": -1}, "seed must be in [0, 2**32)"),
    ],
)
def test_bad_settings_name_the_key_and_the_allowed_range(overrides, message):
    with pytest.raises(ValueError) as error:
        resolve(None, overrides)
    assert message in str(error.value) and "\n" not in str(error.value)


@pytest.mark.parametrize("flags, message", [(("--dim", 0), "dim must be"), (("--dim", 30), "multiple of heads"),
                                            (("--layers", 0), "layers must be"), (("--steps", -1), "steps must be")])  # fmt: skip
def test_bad_make_llm_sizes_are_one_line(tmp_path, tiny_corpus, flags, message):
    code, output = slt("make-llm", tmp_path / "llm", "--corpus", tiny_corpus / "annotations.csv", *flags)
    assert code == 1
    one_error_line(output, message)
    assert not (tmp_path / "llm").exists()


def test_a_bad_setting_in_a_config_file_fails_before_training(tiny_corpus, tmp_path):
    config = tmp_path / "bad.yaml"
    config.write_text((tiny_corpus / "tiny.yaml").read_text().replace("num_beams: 2", "num_beams: 2, every: 0"))
    args = train_args(tiny_corpus, tmp_path / "run")
    args[args.index(tiny_corpus / "tiny.yaml")] = config
    code, output = slt(*args)
    assert code == 1
    one_error_line(output, "eval.every must be at least 1")
    assert not (tmp_path / "run").exists()


# --- Damaged run folders ---------------------------------------------------------------------------------


@pytest.fixture
def damaged(stage1_run, tmp_path) -> Path:
    run = tmp_path / "run"
    shutil.copytree(stage1_run, run)
    return run


def evaluate_fails(run: Path, *words: str) -> None:
    code, output = slt("evaluate", run, "--split", "dev")
    assert code == 1
    one_error_line(output, *words)
    assert "safetensors_rust" not in output and "state_dict" not in output


def test_a_truncated_checkpoint_is_one_line(damaged):
    weights = damaged / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
    evaluate_fails(damaged, str(weights), "damaged or not a safetensors file")


def test_a_foreign_checkpoint_is_one_line(damaged):
    weights = damaged / "model.safetensors"
    weights.write_bytes(np.random.default_rng(0).bytes(4096))
    evaluate_fails(damaged, str(weights), "damaged or not a safetensors file")


def test_weights_that_do_not_match_config_json_are_one_line(damaged):
    config = damaged / "config.json"
    config.write_text(config.read_text().replace('"dim": 32', '"dim": 48'))
    evaluate_fails(damaged, "model.safetensors does not match the model its config.json describes")


def test_weights_of_another_run_are_one_line(damaged, tmp_path):
    from safetensors.torch import save_file
    import torch

    save_file({"encoder.something": torch.zeros(2)}, str(damaged / "model.safetensors"))
    evaluate_fails(damaged, "does not match", "missing", "encoder.something")


def test_a_config_json_that_is_not_json_is_one_line(damaged):
    (damaged / "config.json").write_text('{"stage": 1, "seed": ')
    evaluate_fails(damaged, "config.json is damaged or not an slt run config")


@pytest.mark.parametrize("file", ["model.safetensors", "state.pt"])
def test_a_damaged_resume_state_is_one_line(damaged, tiny_corpus, file):
    path = damaged / "resume" / (damaged / "resume" / "latest").read_text() / file
    path.write_bytes(path.read_bytes()[:100])
    code, output = slt(*train_args(tiny_corpus, damaged, "--resume"))
    assert code == 1
    one_error_line(output, str(path), "damaged")


def test_a_missing_base_llm_folder_is_named_not_the_hub(stage1_run, tmp_path):
    from slt.model.llm import CONFIG_NAME, LLMUnavailableError, VisualLM, load_llm

    llm = tmp_path / "llm"
    llm.mkdir()
    for name in ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"):
        if (stage1_run / name).exists():
            shutil.copy(stage1_run / name, llm / name)
    gone = tmp_path / "moved-away"
    (llm / CONFIG_NAME).write_text(f'{{"prompt": "", "base": "{gone}", "finetune": "lora"}}')
    with pytest.raises(LLMUnavailableError) as error:
        VisualLM.from_pretrained(llm)
    assert str(gone) in str(error.value) and "no longer exists" in str(error.value) and "Hub" not in str(error.value)
    with pytest.raises(LLMUnavailableError, match="no model folder") as error:
        load_llm(str(gone))
    assert "Hub" not in str(error.value)


# --- preprocess goes on past one bad file ------------------------------------------------------------------


def test_an_unreadable_file_already_in_out_does_not_stop_the_batch(photo_video, tmp_path):
    from slt.keypoints.frames import ClipSource
    from slt.preprocess.extract_batch import write_manifest
    from slt.preprocess.worker import Job, extract_clip

    out = tmp_path / "out"
    out.mkdir()
    (out / "garbage.parquet").write_bytes(b"PAR1 this is not parquet")
    result = extract_clip(Job("garbage", ClipSource(photo_video), str(photo_video)), None, out, overwrite=False)
    assert "is unreadable" in result.error and "--overwrite" in result.error
    write_parquet(Keypoints(np.zeros((3, 75, 3)), 25.0), out / "good.parquet")
    unreadable = write_manifest(out, {})
    assert [file for file, _ in unreadable] == [str(out / "garbage.parquet")]
    assert (out / "manifest.csv").read_text().splitlines()[1].startswith("good,")


@pytest.mark.slow
def test_a_video_that_ends_early_is_a_warning_and_the_manifest_has_the_frames_read(tmp_path):
    """An MJPG AVI cut at 70%: its header still says 24 frames; fewer can be decoded."""
    import cv2

    path = tmp_path / "videos" / "cut.avi"
    path.parent.mkdir()
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 25, (256, 256))
    for frame in photo_frames():
        writer.write(frame)
    writer.release()
    path.write_bytes(path.read_bytes()[: int(path.stat().st_size * 0.7)])
    out = tmp_path / "out"
    result = slt_process("preprocess", str(path.parent), "--out", str(out), "--workers", "1")
    assert result.returncode == 0, result.stderr
    frames = int(next(csv.DictReader((out / "manifest.csv").open()))["frames"])
    assert 0 < frames < 24 and f"the video ended after {frames} of the 24 frames" in result.stderr
    errors = list(csv.DictReader((out / "errors.csv").open()))
    assert len(errors) == 1 and errors[0]["reason"].startswith(f"warning: the video ended after {frames}")
    assert "1 with warnings" in result.stderr


# --- No traceback for bad input -----------------------------------------------------------------------------


def test_an_unexpected_failure_is_one_line_and_the_traceback_is_for_debug(monkeypatch, capsys, stage1_run, tmp_path):
    import slt.translate
    from slt.cli import main

    def crash(*args, **kwargs):
        raise RuntimeError("something unforeseen\nwith a second line")

    monkeypatch.setattr(slt.translate, "translate", crash)
    monkeypatch.setattr("gc.freeze", lambda: None)  # main() freezes what is alive: fine at exit, not in pytest
    monkeypatch.delenv("SLT_DEBUG", raising=False)
    monkeypatch.setattr(sys, "argv", ["slt", "translate", str(tmp_path / "x.parquet"), "--model", str(stage1_run)])
    with pytest.raises(SystemExit) as exit:
        main()
    assert exit.value.code == 1
    err = capsys.readouterr().err
    assert err == "error: RuntimeError: something unforeseen (rerun with --debug for the traceback)\n"
    monkeypatch.setattr(sys, "argv", ["slt", "translate", str(tmp_path / "x.parquet"), "--model", str(stage1_run), "--debug"])
    with pytest.raises(RuntimeError, match="something unforeseen"):
        main()
    monkeypatch.setenv("SLT_DEBUG", "1")
    monkeypatch.setattr(sys, "argv", ["slt", "translate", str(tmp_path / "x.parquet"), "--model", str(stage1_run)])
    with pytest.raises(RuntimeError, match="something unforeseen"):
        main()


@pytest.mark.parametrize(
    "args, words",
    [
        (["inspect", "{tmp}/garbage.parquet"], ["cannot read"]),
        (["preprocess", "{tmp}/v.mp4", "--out", "{tmp}/garbage.parquet"], ["garbage.parquet"]),
        (["evaluate", "{tmp}", "--beams", "0"], ["--beams must be at least 1"]),
        (["evaluate", "{tmp}"], ["is not a run folder"]),
        (["make-llm", "{tmp}/llm", "--corpus", "{tmp}/garbage.parquet"], ["garbage.parquet", "not UTF-8 text"]),
        (["train", "--data", "{tmp}", "--annotations", "{tmp}/garbage.parquet", "--out", "{tmp}/run"], ["garbage.parquet", "not UTF-8 text"]),
    ],
)
def test_binary_garbage_where_text_or_keypoints_belong_is_one_line(tmp_path, args, words):
    (tmp_path / "garbage.parquet").write_bytes(np.random.default_rng(1).bytes(2000))
    (tmp_path / "v.mp4").write_bytes(b"never decoded")
    code, output = slt(*[a.format(tmp=tmp_path) for a in args])
    assert code != 0
    one_error_line(output, *words)
