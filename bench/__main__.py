"""Every benchmark in one run, each rewriting its own section of BENCHMARKS.md (what `make bench` runs).

    python -m bench                      # the full suite, about 40 minutes on 2 cores
    python -m bench --quick              # tiny sizes: checks that everything runs, numbers meaningless
    python -m bench --only translate     # some of: preprocess, data, training, translate

The "## Machine" section records where and when the numbers were measured, and how busy the machine
was. The stage-1 oracle and ablation sections take hours and have commands of their own
(bench/stage1_oracle.py, bench/ablation.py); this leaves them as they are.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import tempfile
import time
from pathlib import Path

import cv2
import mediapipe
import psutil
import torch
import transformers

from bench import data, preprocess, training, translate
from bench.measure import cores, cpu_model, load
from bench.report import write_section
from bench.workspace import Workspace

SIZES = {
    "full": {
        "preprocess": {"clips": 16, "frames": 100, "long_minutes": 10.0},
        "data": {"clips": 600, "steps": 4},
        "training": {"sizes": [100, 200, 400]},
        "translate": {"long_minutes": 10.0},
        "workspace": {"train_clips": 400, "run_clips": 100, "llm_steps": 300},
    },
    "quick": {
        "preprocess": {"clips": 2, "frames": 20, "rounds": 1, "long_minutes": 0.5},
        "data": {"clips": 32, "steps": 1},
        "training": {"sizes": [16, 32]},
        "translate": {"long_minutes": 0.5},
        "workspace": {"train_clips": 32, "run_clips": 16, "llm_steps": 20},
    },
}
BENCHMARKS = ("preprocess", "data", "training", "translate")


def machine_section(args: argparse.Namespace, load_before: float, minutes: dict[str, float]) -> str:
    took = ", ".join(f"{name} {m:.1f} min" for name, m in minutes.items())
    # On a machine that other jobs share, torch's default (a thread per core) waits on descheduled threads.
    threads_note = f" (OMP_NUM_THREADS={os.environ['OMP_NUM_THREADS']})" if "OMP_NUM_THREADS" in os.environ else ""
    return f"""## Machine

`python -m bench{" --quick" if args.quick else ""}{" --only " + " ".join(args.only) if args.only else ""}` (`make bench`) on
{datetime.date.today().isoformat()}: {cpu_model()}, {cores()} cores, {psutil.virtual_memory().total / 2**30:.0f} GiB RAM,
{"GPU " + torch.cuda.get_device_name() if torch.cuda.is_available() else "no GPU"}; Python {platform.python_version()},
torch {torch.__version__}, mediapipe {mediapipe.__version__}, OpenCV {cv2.__version__}, transformers
{transformers.__version__}; {torch.get_num_threads()} torch threads{threads_note}. Load average (1 min) {load_before:.1f}
before the run, {load():.1f} after; took {took}. Every ratio below compares two figures measured in the
same run on this machine; a busy machine lowers the absolute rates more than the ratios.
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes: a smoke run, not a measurement")
    parser.add_argument("--only", nargs="+", choices=BENCHMARKS, help="run only these benchmarks")
    parser.add_argument("--report", type=Path, default=Path("BENCHMARKS.md"))
    args = parser.parse_args()
    sizes = SIZES["quick" if args.quick else "full"]
    load_before, minutes = load(), {}
    with tempfile.TemporaryDirectory() as tmp:
        workspace = Workspace(Path(tmp), **sizes["workspace"])
        runs = {
            "preprocess": lambda: preprocess.run(args.report, **sizes["preprocess"]),
            "data": lambda: data.run(args.report, **sizes["data"]),
            "training": lambda: training.run(args.report, workspace, **sizes["training"]),
            "translate": lambda: translate.run(args.report, workspace, **sizes["translate"]),
        }
        for name in args.only or BENCHMARKS:
            start = time.perf_counter()
            runs[name]()
            minutes[name] = (time.perf_counter() - start) / 60
    write_section(args.report, "## Machine", machine_section(args, load_before, minutes))


if __name__ == "__main__":
    main()
