"""Sharing runs (`slt.hub`), offline: the model card, a run loaded by hub id from a local Hub cache, and
`slt push` against a test server on 127.0.0.1 that records what it is sent."""

from __future__ import annotations

import base64
import csv
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from huggingface_hub import ModelCard

from helpers import slt, slt_process
from slt.hub import model_card


def test_the_model_card_parses_and_says_what_the_run_is(stage2_run, tmp_path):
    card = ModelCard(model_card(stage2_run, "me/slt-tiny", datasets=["me/signs"]))
    metadata = card.data.to_dict()
    assert metadata["library_name"] == "slt" and "sign-language-translation" in metadata["tags"]
    assert metadata["datasets"] == ["me/signs"] and metadata["metrics"] == ["bleu", "rouge", "chrf"]
    metrics = json.loads((stage2_run / "metrics.json").read_text())
    assert metrics["test"]["signature"] in card.text and "| test | 4 |" in card.text
    assert 'Translator.from_pretrained("me/slt-tiny")' in card.text and "FLa-LLM" in card.text
    assert "@inproceedings{chen2024factorized" in card.text and "synthetic signing" in card.text
    assert "Its stage-1 run" in card.text  # both stages' configs
    assert str(tmp_path.parent.parent) not in card.text  # no path of this machine
    training = json.loads((stage2_run / "training.json").read_text())
    assert training["epochs"] >= 1 and training["seconds"] > 0 and training["hardware"].startswith("CPU")
    assert f"Trained on {training['train_clips']:,} clips" in card.text and "minutes on CPU" in card.text


def hub_cache(home: Path, repo: str, run: Path) -> None:
    """`run` as huggingface_hub's cache holds a downloaded snapshot of the model repo `repo`."""
    commit = "0123456789abcdef0123456789abcdef01234567"
    folder = home / "hub" / f"models--{repo.replace('/', '--')}"
    shutil.copytree(run, folder / "snapshots" / commit, ignore=shutil.ignore_patterns("resume"))
    (folder / "refs").mkdir()
    (folder / "refs" / "main").write_text(commit)


def test_a_run_loads_by_hub_id_from_the_cache_offline(stage2_run, tiny_corpus, tmp_path, monkeypatch):
    hub_cache(tmp_path / "hf", "me/slt-tiny", stage2_run)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    clip = sorted((tiny_corpus / "keypoints" / "test").glob("*.parquet"))[0]
    rows = csv.DictReader((stage2_run / "test.hypotheses.tsv").open(), delimiter="\t")
    expected = {row["name"]: row["hypothesis"] for row in rows}[f"test/{clip.stem}"]
    code = f"from slt import Translator\nprint(Translator.from_pretrained('me/slt-tiny')({str(clip)!r}).text)"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stdout == expected + "\n"

    start = time.monotonic()
    result = slt_process("translate", clip, "--model", "me/not-cached")
    assert time.monotonic() - start < 60  # a fresh process's imports included
    assert result.returncode == 1 and result.stderr.count("\n") == 1
    assert "me/not-cached is neither a run folder nor a model in the Hub cache" in result.stderr


class RecordingHub(BaseHTTPRequestHandler):
    """Just enough of the Hub's API for `create_repo` and `upload_folder`; records every request."""

    requests: list[tuple[str, str, bytes]] = []

    def log_message(self, *args) -> None:
        pass

    def answer(self, value: dict, code: int = 200) -> None:
        data = json.dumps(value).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.requests.append(("POST", self.path, body))
        if len(self.requests) > 10:
            return self.answer({"error": "too many requests for this test"}, 429)
        if self.path == "/api/repos/create":
            return self.answer({"url": "http://127.0.0.1/me/slt-tiny", "name": "me/slt-tiny"})
        if self.path == "/api/validate-yaml":  # huggingface_hub checks a README's metadata before uploading it
            return self.answer({})
        if "/preupload/" in self.path:
            files = json.loads(body)["files"]
            return self.answer({"files": [{"path": f["path"], "uploadMode": "regular", "shouldIgnore": False} for f in files]})
        if "/commit/" in self.path:
            return self.answer({"commitUrl": "http://127.0.0.1/me/slt-tiny/commit/1", "commitOid": "1" * 40})
        self.answer({"error": "not in this test's Hub"}, 404)

    def do_GET(self) -> None:
        self.requests.append(("GET", self.path, b""))
        self.answer({"error": "not in this test's Hub"}, 404)


def push_process(run: Path, endpoint: str, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "HF_HUB_OFFLINE"}
    env.update(HF_ENDPOINT=endpoint, HF_TOKEN="hf_test", OMP_NUM_THREADS="1")
    command = [sys.executable, "-m", "slt.cli", "push", str(run), "--repo", "me/slt-tiny", *args]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)


def test_push_uploads_the_run_and_its_card(stage2_run, tmp_path):
    run = shutil.copytree(stage2_run, tmp_path / "run")
    server = ThreadingHTTPServer(("127.0.0.1", 0), RecordingHub)
    server.timeout = 5
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        result = push_process(run, f"http://127.0.0.1:{server.server_port}", "--private")
    finally:
        server.shutdown()
        server.server_close()
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"uploaded {run} to http://127.0.0.1/me/slt-tiny\n"
    # POSTs only: huggingface_hub also GETs things of its own (e.g. /api/agent-harnesses), which this Hub 404s.
    create, validate, preupload, commit = [request for request in RecordingHub.requests if request[0] == "POST"]
    assert validate[1] == "/api/validate-yaml" and "library_name: slt" in json.loads(validate[2])["content"]
    assert create[:2] == ("POST", "/api/repos/create")
    assert json.loads(create[2]) == {"name": "slt-tiny", "organization": "me", "visibility": "private"}
    assert preupload[1] == "/api/models/me/slt-tiny/preupload/main" and commit[1] == "/api/models/me/slt-tiny/commit/main"
    sent = {}
    for line in commit[2].decode().splitlines()[1:]:
        value = json.loads(line)["value"]
        sent[value["path"]] = base64.b64decode(value["content"])
    wanted = {
        p.relative_to(run).as_posix(): p.read_bytes()
        for p in run.rglob("*")
        if p.is_file() and "resume" not in p.relative_to(run).parts and not p.name.startswith(".")
    }
    assert "README.md" in wanted and "llm/base/config.json" in wanted and "visual.safetensors" in wanted
    assert sent == wanted
    assert ModelCard(wanted["README.md"].decode()).data.library_name == "slt"


def test_push_without_a_network_fails_in_one_line_within_seconds(stage1_run, monkeypatch):
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    start = time.monotonic()
    result = push_process(stage1_run, f"http://127.0.0.1:{port}")
    assert time.monotonic() - start < 30  # a fresh process's start included
    assert result.returncode == 1 and result.stderr.count("\n") == 1 and "cannot be reached" in result.stderr
    assert not (stage1_run / "README.md").exists()

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    result = slt("push", stage1_run, "--repo", "me/slt-tiny")
    assert result.exit_code == 1 and "HF_HUB_OFFLINE" in result.stderr
    result = slt("push", stage1_run.parent, "--repo", "me/slt-tiny")
    assert result.exit_code == 1 and "not a run folder" in result.stderr


@pytest.mark.parametrize("repo", ["no-slash", "a/b/c"])
def test_push_refuses_a_repo_that_is_not_user_slash_name(stage1_run, repo):
    result = slt("push", stage1_run, "--repo", repo)
    assert result.exit_code == 1 and "USER/NAME" in result.stderr
