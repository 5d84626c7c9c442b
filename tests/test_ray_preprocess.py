"""`slt preprocess --ray`: the same files as the local path on a local Ray instance with 2 workers, resume, errors."""

from __future__ import annotations

import logging
import os
import sys

import pytest
from helpers import folder_contents, slt_process
from typer.testing import CliRunner

from slt.cli import app

pytestmark = pytest.mark.slow  # left out of `make test-fast` (see pyproject.toml)


@pytest.fixture(scope="module")
def ray_address():
    """A Ray instance with 2 CPUs, started once for this module; the CLI runs connect to it as to a cluster."""
    import ray

    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level=logging.ERROR)
    yield ray.get_runtime_context().gcs_address
    ray.shutdown()


@pytest.fixture(scope="module")
def ray_batch(media, ray_address, tmp_path_factory):
    """The `batch` fixture's run (every good and bad input), on Ray with 2 actors: (output folder, process)."""
    out = tmp_path_factory.mktemp("ray_batch") / "out"
    args = ["preprocess", "videos", "bad", "notes.txt", "--out", str(out), "--workers", "2", "--ray", ray_address]
    return out, slt_process(*args, cwd=media)


def test_ray_writes_the_same_files_as_the_local_path(ray_batch, batch):
    out, result = ray_batch
    assert result.returncode == 1, result.stderr  # some inputs are bad, as for the local run
    assert "3 extracted" in result.stderr and "6 failed" in result.stderr
    # Only our own progress, warnings and summary: Ray's logging stays out of the terminal.
    assert all(line.startswith(("preprocess ", "warning: ", "9 clips: ")) for line in result.stderr.splitlines()), result.stderr
    # Parquet files, manifest.csv and errors.csv, byte for byte (and no temp file left behind).
    assert folder_contents(out) == folder_contents(batch[0])


def test_ray_rerun_on_a_local_ray_resumes(ray_batch, media):
    out, _ = ray_batch
    before = folder_contents(out)
    (out / "photos.parquet").unlink()  # as if the run had been killed before this clip
    (out / "manifest.csv").unlink()
    args = ["preprocess", "videos", "bad", "notes.txt", "--out", str(out), "--workers", "2", "--allow-failures"]
    result = slt_process(*args, "--ray", "local", cwd=media)
    assert result.returncode == 0, result.stderr
    assert "1 extracted" in result.stderr and "2 already done" in result.stderr and "6 failed" in result.stderr
    assert folder_contents(out) == before


@pytest.mark.parametrize(
    "address, message",
    [
        ("127.0.0.1:1", "cannot reach a Ray cluster at 127.0.0.1:1"),
        ("head-node", "--ray expects local, auto or host:port, got 'head-node'"),
        ("ray://head-node:10001", "Ray Data does not run through Ray Client (ray://); run slt on a node of the cluster"),
    ],
)
def test_unusable_ray_address_fails_in_one_line_before_any_work(media, tmp_path, monkeypatch, address, message):
    monkeypatch.chdir(media)
    result = CliRunner().invoke(app, ["preprocess", "videos", "--out", str(tmp_path / "out"), "--ray", address])
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [result.stderr.strip()] and result.stderr.startswith("error: ")
    assert message in result.stderr
    assert not (tmp_path / "out").exists()


def test_ray_without_the_extra_says_what_to_install(media, tmp_path, monkeypatch):
    monkeypatch.chdir(media)
    monkeypatch.setitem(sys.modules, "ray", None)  # what `import ray` finds when Ray is not installed
    result = CliRunner().invoke(app, ["preprocess", "videos", "--out", str(tmp_path / "out"), "--ray", "local"])
    assert result.exit_code == 1
    assert result.stderr == "error: --ray needs Ray, which is not installed: pip install 'slt[ray]'\n"
    assert not (tmp_path / "out").exists()
