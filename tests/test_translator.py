"""The Python API, `slt.Translator`: a run loaded once translates files, `Keypoints` and arrays, from
several threads; runs of both stages move and zip whole; `slt evaluate --json`; the README's example."""

from __future__ import annotations

import csv
import json
import logging
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from helpers import slt
from slt import Translator
from slt.keypoints.io import read_parquet, write_parquet
from slt.metrics import score

README = Path(__file__).resolve().parents[1] / "README.md"


def hypotheses(run: Path) -> dict[str, str]:
    """The sentences the run's own test evaluation decoded, by clip file stem."""
    rows = csv.DictReader((run / "test.hypotheses.tsv").open(), delimiter="\t")
    return {Path(row["name"]).name: row["hypothesis"] for row in rows}


def clips_of(tiny_corpus) -> list[Path]:
    return sorted((tiny_corpus / "keypoints" / "test").glob("*.parquet"))


@pytest.mark.parametrize("run_name", ["stage1_run", "stage2_run"])
def test_files_keypoints_and_arrays_give_the_runs_own_sentences(run_name, request, tiny_corpus):
    run = request.getfixturevalue(run_name)
    expected = hypotheses(run)
    clips = clips_of(tiny_corpus)
    translator = Translator.from_pretrained(run, device="auto")
    results = translator(clips)
    assert [r.text for r in results] == [expected[c.stem] for c in clips]
    assert all(r.error is None and set(r.seconds) == {"extraction", "encoder", "generation"} for r in results)

    kp = read_parquet(clips[0])
    assert translator(kp).text == expected[clips[0].stem]
    array = translator(kp.points, fps=kp.fps)
    assert array.text == expected[clips[0].stem] and array.input == "ndarray"
    assert array.detected == kp.detection_rates() and 0 < array.detected["right_hand"] <= 1
    # Per call: the run's settings are not changed by it.
    assert len(translator(clips[0], beams=1, max_new_tokens=1).text.split()) <= 1
    assert translator(str(clips[0])).text == expected[clips[0].stem]


def test_bad_inputs_raise_alone_and_are_errors_in_a_list(stage1_run, tiny_corpus, tmp_path):
    translator = Translator.from_pretrained(stage1_run)
    good = clips_of(tiny_corpus)[0]
    with pytest.raises(ValueError, match="missing.parquet: no such file"):
        translator(tmp_path / "missing.parquet")
    with pytest.raises(ValueError, match="fps="):
        translator(read_parquet(good).points)
    with pytest.raises(ValueError, match=r"points must be \[frames, 75, 3\]"):
        translator(read_parquet(good).points[:, :10], fps=25)
    bad, ok = translator([tmp_path / "missing.parquet", good])
    assert bad.error == "no such file or folder" and bad.text is None
    assert ok.error is None and ok.text == hypotheses(stage1_run)[good.stem]
    with pytest.raises(FileNotFoundError, match="no config.json"):
        Translator.from_pretrained(tmp_path)
    with pytest.raises(ValueError, match="device"):
        Translator.from_pretrained(stage1_run, device="tpu")


def test_calls_from_two_threads_run_one_at_a_time(stage1_run, tiny_corpus):
    translator = Translator.from_pretrained(stage1_run)
    clips = clips_of(tiny_corpus)
    expected = hypotheses(stage1_run)
    inside, most = 0, 0
    embed = translator.model.embed

    def watched(batch):  # how many calls are inside the model at once
        nonlocal inside, most
        inside += 1
        most = max(most, inside)
        time.sleep(0.2)  # long enough for the other thread to come in, were it let in
        try:
            return embed(batch)
        finally:
            inside -= 1

    translator.model.embed = watched
    results: dict[int, list[str]] = {}

    def work(i: int) -> None:
        results[i] = [translator(clip).text for clip in clips[i::2]]

    threads = [threading.Thread(target=work, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert most == 1
    assert results == {i: [expected[c.stem] for c in clips[i::2]] for i in range(2)}


def test_a_keypoint_file_from_another_extractor_gets_a_warning(stage1_run, tiny_corpus, tmp_path):
    """The run records that its keypoints came from `slt synth`; a file that says rtmlib made it is flagged."""
    assert json.loads((stage1_run / "keypoints.json").read_text())["extractor"] == "slt synth"
    kp = read_parquet(clips_of(tiny_corpus)[0])
    same = tmp_path / "same.parquet"
    write_parquet(kp, same)
    kp.info = {"extractor": "rtmlib", "extractor_version": "0.0.13"}
    other = tmp_path / "other.parquet"
    write_parquet(kp, other)
    translator = Translator.from_pretrained(stage1_run)
    assert translator(same).warning is None
    assert "made with rtmlib" in translator(other).warning and "slt synth" in translator(other).warning

    result = slt("translate", other, "--model", stage1_run)
    assert result.exit_code == 0 and result.stdout == f"{hypotheses(stage1_run)[clips_of(tiny_corpus)[0].stem]}\n"
    assert result.stderr.count("\n") == 1 and result.stderr.startswith(f"warning: {other}: its keypoints were made with rtmlib")


def test_evaluate_json_prints_the_scores_on_stdout(stage1_run):
    result = slt("evaluate", stage1_run, "--split", "test", "--json")
    assert result.exit_code == 0, result.output
    scores = json.loads(result.stdout)
    metrics = json.loads((stage1_run / "metrics.json").read_text())["test"]
    assert scores == {"split": "test", **metrics} and scores["clips"] == 4 and "BLEU" in scores["signature"]
    assert "sacrebleu" in result.stderr  # the table as before


def test_the_library_logs_and_a_silenced_logger_prints_nothing(stage1_run, caplog, capfd):
    """A Python user gets the scores as `logging` records of "slt.*", which they can silence or redirect."""
    translator = Translator.from_pretrained(stage1_run)
    with caplog.at_level(logging.INFO, logger="slt"):
        name, scores = translator.evaluate("test")
    messages = [record.getMessage() for record in caplog.records if record.name == "slt.run"]
    assert messages[0] == f"sacrebleu: {scores.signature}"
    title, header, row = messages[1].splitlines()
    assert title == f"{stage1_run}: 4 test clips" and header.split()[4] == "BLEU-4" and float(row.split()[4]) == round(scores.bleu4, 2)
    capfd.readouterr()
    with caplog.at_level(logging.CRITICAL, logger="slt"):
        translator.evaluate("test")
    assert capfd.readouterr() == ("", "")


def test_evaluate_by_signer_scores_each_signer(stage1_run, tiny_corpus, tmp_path):
    result = slt("evaluate", stage1_run, "--split", "test", "--by", "signer", "--json")
    assert result.exit_code == 0, result.output
    by = json.loads(result.stdout)["by_signer"]
    signer_of = {row["name"]: row["signer"] for row in csv.DictReader(open(tiny_corpus / "annotations.csv"))}
    rows = list(csv.DictReader(open(stage1_run / "test.hypotheses.tsv"), delimiter="\t"))
    assert sorted(by["groups"]) == sorted({signer_of[r["name"]] for r in rows}) and len(by["groups"]) == 2
    for signer, scores in by["groups"].items():
        mine = [r for r in rows if signer_of[r["name"]] == signer]
        assert scores["clips"] == len(mine)
        assert scores["bleu4"] == score([r["hypothesis"] for r in mine], [r["reference"] for r in mine]).bleu4
    assert by["worst"] == min(by["groups"], key=lambda s: by["groups"][s]["bleu4"]) and "by signer; worst" in result.stderr
    # annotations that name no signers: one line, before decoding anything
    table = tmp_path / "no_signers.csv"
    with open(tiny_corpus / "annotations.csv") as f, open(table, "w", newline="") as out:
        reader = csv.DictReader(f)
        writer = csv.DictWriter(out, [c for c in reader.fieldnames if c != "signer"])
        writer.writeheader()
        writer.writerows({k: v for k, v in row.items() if k != "signer"} for row in reader)
    result = slt("evaluate", stage1_run, "--annotations", table, "--split", "test", "--by", "signer")
    assert result.exit_code == 1 and "name no signers" in result.stderr and result.stderr.count("\n") == 1


def translations(run: Path, clips: list[Path]) -> list[str]:
    return [r.text for r in Translator.from_pretrained(run)(clips)]


@pytest.mark.parametrize("stage", [1, 2])
def test_a_run_moves_and_zips_whole(stage, tiny_corpus, stage1_run, made_llms, tmp_path):
    """A stage-2 run with a LoRA on a local base LLM copies the base in: it loads after the base folder is
    gone, after `mv` and after a zip round trip, and translates the same sentences."""
    from slt import stage2
    from slt.config import resolve

    clips = clips_of(tiny_corpus)
    if stage == 1:
        run = shutil.copytree(stage1_run, tmp_path / "run")
    else:
        base = shutil.copytree(made_llms["seq2seq"], tmp_path / "base_llm")
        run = tmp_path / "run"
        overrides = {"stage2.init": str(stage1_run), "stage2.llm": str(base), "optim.epochs": 1}
        stage2.train(resolve(tiny_corpus / "tiny.yaml", overrides), run)
        source = json.loads((run / "llm" / "visual_lm.json").read_text())
        assert source["base"] == "./base" and (run / "llm" / "base" / "config.json").is_file()
        shutil.rmtree(base)
    before = translations(run, clips)
    assert before == [hypotheses(run)[c.stem] for c in clips]

    moved = tmp_path / "elsewhere" / "moved"
    moved.parent.mkdir()
    shutil.move(run, moved)
    assert translations(moved, clips) == before

    archive = shutil.make_archive(str(tmp_path / "run"), "zip", moved)
    shutil.rmtree(moved)
    unpacked = tmp_path / "unzipped"
    shutil.unpack_archive(archive, unpacked)
    assert translations(unpacked, clips) == before


def test_a_stage2_run_that_names_its_base_by_absolute_path_still_loads(stage2_run, tiny_corpus, tmp_path):
    """Runs saved before bases were copied in name the base folder by its absolute path."""
    run = shutil.copytree(stage2_run, tmp_path / "run")
    base = shutil.move(run / "llm" / "base", tmp_path / "base")
    config = run / "llm" / "visual_lm.json"
    config.write_text(json.dumps({**json.loads(config.read_text()), "base": str(base)}))
    clips = clips_of(tiny_corpus)
    assert translations(run, clips) == translations(stage2_run, clips)


@pytest.mark.slow
def test_the_readme_python_example_runs_as_written(stage2_run, signing_clip, tmp_path):
    """The README's "Python" section, run as written in a fresh process on a real video."""
    section = README.read_text().split("\n## Python\n", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    assert len(code.strip().splitlines()) == 3
    (tmp_path / "runs").mkdir()
    (tmp_path / "runs" / "s2").symlink_to(stage2_run)
    shutil.copy(signing_clip, tmp_path / "clip.mp4")
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=300,
        env={**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"},
    )
    assert result.returncode == 0, result.stderr
    # The tiny model may well say nothing about real signing; what it says is this process's translation.
    assert result.stdout == Translator.from_pretrained(stage2_run)(signing_clip).text + "\n"
