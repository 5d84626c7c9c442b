"""`slt preprocess --ray ADDRESS`: the same extraction on a Ray cluster, through Ray Data.

The clip list becomes a Ray dataset of one job per block; an actor pool, each actor holding one
MediaPipe Holistic graph, maps every job to its `Result` with the local path's `extract_clip`. Only
paths travel: each actor reads its clips and writes their Parquet files itself, so the inputs and the
output folder must be on storage every node sees at the same path, and `slt[ray]` must be installed on
every node. The results stream back to `run_batch`, which writes the manifest and the errors table as
for a local run.

Unlike local workers, actors are not replaced every `RECYCLE_AFTER` clips (Ray Data's actor pools
cannot): one graph extracting 300 clips in a row grew from 422 to 597 MiB over its first 75 and then
stayed below that, so a long-lived actor holds no more than a recycled worker.
"""

from __future__ import annotations

import logging
import os
import socket
import warnings
from collections.abc import Iterator
from pathlib import Path

from slt.preprocess.worker import ExtractorSettings, Job, Result, default_workers, extract_clip, open_worker_extractor

# How long to wait for a cluster's head node to accept a connection before saying it cannot be reached
# (Ray itself would keep retrying for minutes).
CONNECT_TIMEOUT_S = 5.0


def connect(address: str, workers: int | None) -> int:
    """Start a Ray instance on this machine (`local`) or connect to a cluster (`auto`, `host:port`);
    return the actor pool size: `workers`, at most the CPUs Ray has (by default all).

    Raises ValueError with one line when Ray is not installed or the cluster cannot be reached, and for
    a Ray Client address (`ray://`), through which Ray Data does not run (ray-project/ray#42739).
    """
    try:
        import ray
        import ray.data
    except ImportError:
        raise ValueError("--ray needs Ray, which is not installed: pip install 'slt[ray]'") from None
    if address.startswith("ray://"):
        raise ValueError(
            f"--ray {address}: Ray Data does not run through Ray Client (ray://); run slt on a node of the "
            "cluster with --ray auto, or submit it there: ray job submit -- slt preprocess ... --ray auto"
        )
    if address not in ("local", "auto"):
        _check_reachable(address)
    # Ray would otherwise report usage statistics to its developers over the network.
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    local = {"num_cpus": workers or default_workers()} if address == "local" else {}
    try:
        ray.init(
            address,
            include_dashboard=False,
            log_to_driver=False,  # the actors' MediaPipe logs stay in the session's log files
            logging_level=logging.ERROR,
            **local,
        )
    except (ConnectionError, RuntimeError, ValueError) as error:
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise ValueError(f"cannot use the Ray cluster at {address}: {reason}") from None
    context = ray.data.DataContext.get_current()
    context.enable_progress_bars = False  # `run_batch` shows its own
    context.print_on_execution_start = False
    context.enable_fallback_to_arrow_object_ext_type = True  # jobs and results travel as Python objects
    # Ray Data also logs each execution to the console, which would tear through the progress bar.
    logging.getLogger("ray.data").setLevel(logging.CRITICAL)
    # An actor per CPU: more could never be scheduled, and Ray Data would wait for them.
    cpus = int(ray.cluster_resources().get("CPU", 1))
    return min(workers or cpus, cpus)


def _check_reachable(address: str) -> None:
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit():
        raise ValueError(f"--ray expects local, auto or host:port, got {address!r}")
    try:
        socket.create_connection((host, int(port)), timeout=CONNECT_TIMEOUT_S).close()
    except OSError as error:
        raise ValueError(
            f"cannot reach a Ray cluster at {address} ({error.strerror or error}); "
            "start one with `ray start --head`, or use --ray local"
        ) from None


class ClipExtractor:
    """A Ray actor: one MediaPipe extractor that extracts the jobs it is given into `out_dir`."""

    def __init__(self, cwd: str, out_dir: Path, settings: ExtractorSettings, overwrite: bool):
        # Relative inputs and output folder mean on every node what they mean on the driver.
        os.chdir(cwd)
        self.extractor = open_worker_extractor(settings)
        self.out_dir = out_dir
        self.overwrite = overwrite

    def __call__(self, row: dict) -> dict:
        return {"result": extract_clip(row["job"], self.extractor, self.out_dir, self.overwrite)}


def results(
    jobs: list[Job], out_dir: Path, settings: ExtractorSettings, workers: int, overwrite: bool
) -> Iterator[tuple[int, Result]]:
    """Extract `jobs` with `workers` actors on the connected Ray cluster; yields (frames extracted so
    far, each clip's `Result`) as clips finish, then disconnects (stopping a `local` Ray)."""
    import ray
    import ray.data

    # One job per block, so that each result streams back as soon as its clip is done.
    dataset = ray.data.from_items([{"job": job} for job in jobs], override_num_blocks=len(jobs))
    with warnings.catch_warnings():
        # Ray 2.60 deprecates passing actor options as keywords but has no other way for this one.
        warnings.simplefilter("ignore", DeprecationWarning)
        extracted = dataset.map(
            ClipExtractor,
            fn_constructor_kwargs={
                "cwd": os.getcwd(),
                "out_dir": out_dir,
                "settings": settings,
                "overwrite": overwrite,
            },
            compute=ray.data.ActorPoolStrategy(size=workers),
            num_cpus=1,
            # Ray Data restarts dead actors by default, and then warns on stderr for every actor that
            # a restart may fail. A dead actor (a crashed graph, a lost node) fails the run instead;
            # finished clips are kept and a rerun resumes.
            max_restarts=0,
        )
    frames = 0
    try:
        for row in extracted.iter_rows():
            result = row["result"]
            frames += result.frames
            yield frames, result
    except ray.exceptions.RayError as error:  # an actor that died, a lost node: the cause is its last line
        cause = str(error).strip().splitlines()[-1]
        raise ValueError(f"the Ray run stopped: {cause} (finished clips are kept: rerun to resume)") from None
    finally:
        ray.shutdown()
