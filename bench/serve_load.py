"""`slt serve` under a bounded load: latency, throughput, failures and the server's memory.

Starts `slt serve --model RUN` as its own process on a free port of 127.0.0.1, waits for `/health`, then
sends two phases of `POST /translate` uploads, each from a few client threads at once (every request with a
timeout): a keypoint file of the run's data (`--requests` from `--clients`), then the real signing clip as
a video (`--video-requests` from `--video-clients`). The service runs one translation at a time, so a
latency includes the wait in its queue. The server's resident memory is sampled every 0.1 s; it is flat
when the memory at the end of a phase is within a few % of the memory half-way through it (after its
first requests it grows once, while the allocator settles).
Every request that times out, fails to connect or answers other than 200 is counted as failed; `/health`
must still answer after. The server is stopped at the end. Results go to BENCHMARKS.md, section
"## Serving: slt serve under load".

    python -m bench.serve_load --run demo/stage2
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx2
import psutil

from bench.browser import free_port
from bench.measure import SIGNING_CLIP, cores, load, slt_command
from bench.report import write_section

SECTION = "## Serving: slt serve under load"
MB = 2**20
FLAT = 5  # % of change in memory from the middle of a phase to its end that still counts as flat


@contextmanager
def serving(run: Path, log: Path) -> Iterator[tuple[str, psutil.Process]]:
    """`slt serve --model RUN` on 127.0.0.1 once `/health` answers (within 180 s): its URL and process.

    Its output goes to `log` (a pipe nobody reads would fill and stall the server); offline, so nothing downloads.
    """
    port = free_port()
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    with log.open("w") as out:
        server = psutil.Popen(slt_command("serve", "--model", str(run), "--port", str(port)), stdout=out, stderr=out, env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while True:
            if server.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"slt serve did not answer /health:\n{log.read_text()[-3000:]}")
            try:
                if httpx2.get(f"{url}/health", timeout=2).status_code == 200:
                    break
            except httpx2.TransportError:
                time.sleep(0.5)
        yield url, server
    finally:
        server.terminate()
        server.wait(timeout=30)


@dataclass
class Phase:
    """One phase's requests: latency and status (or the exception's name) of each, and the server's memory."""

    name: str
    seconds: list[float] = field(default_factory=list)
    statuses: list[str] = field(default_factory=list)
    wall: float = 0.0
    rss_after_first: int = 0
    rss_middle: int = 0
    rss_peak: int = 0
    rss_end: int = 0
    texts: set[str] = field(default_factory=set)

    @property
    def failed(self) -> int:
        return sum(s != "200" for s in self.statuses)


def send(url: str, server: psutil.Process, upload: Path, requests: int, clients: int, timeout: float, name: str) -> Phase:
    """`requests` uploads of `upload` from `clients` threads at once; the server's memory sampled throughout."""
    phase, lock, done = Phase(name), threading.Lock(), threading.Event()
    content = upload.read_bytes()

    def sample() -> None:
        while not done.is_set():
            phase.rss_peak = max(phase.rss_peak, server.memory_info().rss)
            time.sleep(0.1)

    def one(_: int) -> None:
        start = time.perf_counter()
        try:
            answer = httpx2.post(f"{url}/translate", files={"file": (upload.name, content)}, timeout=timeout)
            status = str(answer.status_code)
            text = answer.json().get("text") if status == "200" else None
        except Exception as exc:  # a timeout or a dropped connection is a failed request, not a crash of the bench
            status, text = type(exc).__name__, None
        with lock:
            phase.seconds.append(time.perf_counter() - start)
            phase.statuses.append(status)
            if text is not None:
                phase.texts.add(text)
            if len(phase.statuses) == clients:  # the first requests have warmed whatever they warm
                phase.rss_after_first = server.memory_info().rss
            if len(phase.statuses) == requests // 2:
                phase.rss_middle = server.memory_info().rss

    sampler = threading.Thread(target=sample)
    sampler.start()
    start = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(one, range(requests)))
    phase.wall = time.perf_counter() - start
    done.set()
    sampler.join()
    phase.rss_end = server.memory_info().rss
    return phase


def percentile(values: list[float], p: float) -> float:
    """The `p`-th percentile, by the nearest rank."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))]


def first_keypoint_file(run: Path) -> Path:
    """A test clip's keypoint file from the run's data (its config's data folder, from here or from the run's project)."""
    data = Path(json.loads((run / "config.json").read_text())["data"]["data"])
    for root in (Path.cwd(), run.resolve().parents[1]):
        files = sorted((root / data).rglob("test*.parquet")) or sorted((root / data).rglob("*.parquet"))
        if files:
            return files[0]
    raise SystemExit(f"no keypoint file under {data}: pass --keypoints")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", type=Path, required=True, help="a run folder of either stage")
    parser.add_argument("--keypoints", type=Path, help="a .parquet keypoint file (default: a test clip of the run's data)")
    parser.add_argument("--video", type=Path, default=SIGNING_CLIP)
    parser.add_argument("--requests", type=int, default=40)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--video-requests", type=int, default=24)
    parser.add_argument("--video-clients", type=int, default=2)
    parser.add_argument("--timeout", type=float, default=120, help="seconds one request may take")
    parser.add_argument("--report", type=Path, default=Path("BENCHMARKS.md"))
    args = parser.parse_args()
    keypoints = args.keypoints or first_keypoint_file(args.run)

    load_before = load()
    with tempfile.TemporaryDirectory() as tmp, serving(args.run, Path(tmp) / "serve.log") as (url, server):
        rss_loaded = server.memory_info().rss
        phases = [
            send(url, server, keypoints, args.requests, args.clients, args.timeout, "keypoint file"),
            send(url, server, args.video, args.video_requests, args.video_clients, args.timeout, "video"),
        ]
        alive = httpx2.get(f"{url}/health", timeout=10).status_code == 200

    rows = []
    for p, upload, clients in zip(phases, (keypoints, args.video), (args.clients, args.video_clients)):
        drift = (p.rss_end - p.rss_middle) / p.rss_middle * 100
        rows.append(
            f"| {p.name} (`{upload.name}`, {upload.stat().st_size / 1024:.0f} KB) | {len(p.statuses)} from {clients} | "
            f"{statistics.median(p.seconds):.2f} | {percentile(p.seconds, 95):.2f} | {max(p.seconds):.2f} | "
            f"{len(p.seconds) / p.wall:.2f} | {p.failed} | {p.rss_after_first / MB:.0f} / {p.rss_middle / MB:.0f} / {p.rss_peak / MB:.0f} / "
            f"{p.rss_end / MB:.0f} ({drift:+.1f} %, {'flat' if abs(drift) < FLAT else 'grew'}) |"
        )
    failed = sum(p.failed for p in phases)
    defaults = {"requests": 40, "clients": 4, "video_requests": 24, "video_clients": 2}
    options = "".join(f" --{k.replace('_', '-')} {getattr(args, k)}" for k, v in defaults.items() if getattr(args, k) != v)
    others = sorted({s for p in phases for s in p.statuses} - {"200"})
    text = f"""{SECTION}

`python -m bench.serve_load --run {args.run}{options}` (bench/serve_load.py), CPU, {cores()} cores; load average
{load_before:.1f} before, {load():.1f} after. `slt serve --model {args.run}` (a stage-{'2' if (args.run / 'llm').is_dir() else '1'} run) in its own
process on 127.0.0.1; the clients are threads of the bench's process uploading with `POST /translate`,
each request with a {args.timeout:g} s timeout. The service translates one upload at a time, so latency
includes the wait in its queue. Memory: the server's resident set, {rss_loaded / MB:.0f} MB once the model was loaded;
per phase after its first requests / after half of them / peak / at the end; "flat" when the end is within
{FLAT} % of the half-way point (the first requests grow it once: MediaPipe's graphs, the allocator's arenas).

| phase | requests | p50 s | p95 s | max s | requests/s | failed | RSS MB: after first / half / peak / end |
|---|---:|---:|---:|---:|---:|---:|---|
{chr(10).join(rows)}

Failed requests: {failed}{" (" + ", ".join(others) + ")" if others else ""}; `/health` answered after the load:
{"yes" if alive else "NO"}. Sentences: {"; ".join(f'{p.name} "{" / ".join(sorted(p.texts))}"' for p in phases)}
(one per phase: the same upload gives the same sentence under load).
"""
    write_section(args.report, SECTION, text)
    print(text)
    if failed or not alive:
        raise SystemExit(f"{failed} failed requests; /health after: {alive}")


if __name__ == "__main__":
    main()
