"""`slt translate` latency on a 5-second clip and peak memory on a long video (issue 7: < 5 s end to end on CPU).

The model is the shared stage-2 run on an LLM made by `slt make-llm` (`bench.workspace`). The 5-second
clip is the real signing clip (../shared/testdata/signing, or $SLT_TEST_DATA/signing) played forwards and
backwards until it lasts 5 s, or jittered photographs when that clip is absent. `slt translate --json` runs
as a user runs it, in a fresh process, four times (the first also warms the disk cache); the run with
the median end-to-end time of the last three is split into the stages the command reports (model
loading, extraction, encoder, generation) and the rest: process start-up and exit. Between those runs,
the floor under any number of cores: fresh processes that only import torch, transformers and peft, and
that only load the run (medians of three). Then the peak
resident memory of `slt translate` on a synthetic long video, and a pyinstrument profile of the
extraction of the 5-second clip (`read_clips`, what the command's child process runs). Results go to BENCHMARKS.md, section "## Translation".

    python -m bench.translate [--long-minutes 10]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path

from bench.measure import SIGNING_CLIP, Measured, code_block, cores, load, profiled, run_measured, slt_command
from bench.preprocess import jittered, photos, write_video
from bench.report import write_section
from bench.workspace import Workspace
from slt.keypoints.frames import ClipSource, FrameReader

SECTION = "## Translation"
SECONDS = 5.0


def five_second_clip(folder: Path) -> tuple[Path, str]:
    """A 5-second video and a line saying what it shows."""
    if SIGNING_CLIP.is_file():
        reader = FrameReader(ClipSource(SIGNING_CLIP))
        frames = [frame[:, :, ::-1] for frame in reader]  # RGB -> BGR for the writer
        wanted, played = round(SECONDS * reader.fps), []
        while len(played) < wanted:
            played += frames if len(played) // len(frames) % 2 == 0 else frames[::-1]
        what = f"the real signing clip ({reader.width}x{reader.height}, {reader.fps:.0f} fps) played forwards and backwards"
        return write_video(folder / "signing-5s.mp4", played[:wanted], reader.fps), what
    what = "jittered photographs, 320x320, 25 fps (the real signing clip was not found)"
    return write_video(folder / "photos-5s.mp4", jittered(photos((320, 320))[0], round(SECONDS * 25), seed=0), 25.0), what


def translate_measured(video: Path, run: Path) -> tuple[Measured, dict]:
    """`slt translate VIDEO --model RUN --json` in a fresh process: (measures, the run-wide seconds it reports)."""
    measured = run_measured(slt_command("translate", str(video), "--model", str(run), "--json"))
    return measured, json.loads(measured.stdout)["seconds"]


def floor_commands(run: Path) -> list[list[str]]:
    """What `slt translate` must do before it can translate anything, as fresh processes: import torch,
    transformers and peft (nothing of slt); load the run (`Translator.from_pretrained`: slt's imports and the model). Both
    with the garbage collector paused and their objects frozen before exit, as in `slt translate`."""
    return [
        [sys.executable, "-c", "import gc; gc.disable(); import torch, transformers.modeling_utils, peft; gc.freeze()"],
        [
            sys.executable,
            "-c",
            f"import gc\nfrom slt import Translator\nTranslator.from_pretrained({str(run)!r})\ngc.freeze()",
        ],
    ]


def run(report: Path, workspace: Workspace, long_minutes: float = 10.0, long_fps: float = 2.0) -> None:
    """Measure everything in the module docstring and rewrite the report's section."""
    from slt.translate import read_clips

    model = workspace.stage2_run
    load_before = load()
    with tempfile.TemporaryDirectory() as tmp:
        clip, what = five_second_clip(Path(tmp))
        frames = FrameReader(ClipSource(clip)).expected_frames
        cold, _ = translate_measured(clip, model)
        warm_runs, floors = [], []
        for _ in range(3):  # in turn, so that a busy spell of the machine does not fall on one of them alone
            warm_runs.append(translate_measured(clip, model))
            floors.append([run_measured(command).seconds for command in floor_commands(model)])
        warm, parts = sorted(warm_runs, key=lambda run: run[0].seconds)[1]
        imports, loading = (statistics.median(seconds) for seconds in zip(*floors))
        long_frames = round(long_minutes * 60 * long_fps)
        long_video = write_video(Path(tmp) / "long.mp4", jittered(photos((320, 240))[0], long_frames, seed=0), long_fps)
        long, long_parts = translate_measured(long_video, model)
        _, profile = profiled(lambda: read_clips([str(clip)]))

    rest = warm.seconds - parts["total"]
    threads = cores()
    verdict = "met" if warm.seconds < SECONDS else "missed"
    text = f"""{SECTION}

`python -m bench.translate --long-minutes {long_minutes:g}` (bench/translate.py): `slt translate CLIP --model RUN --json`
in a fresh process, as a user runs it, on a {SECONDS:g}-second clip: {what}. RUN is a stage-2 run
(encoder of `configs/stage1_cpu.yaml`, MLP adapter, an LLM made by `slt make-llm --arch seq2seq` with LoRA;
beam {json.loads((model / "config.json").read_text())["eval"]["num_beams"]}), on the CPU; load average
{load_before:.1f} before, {load():.1f} after. Issue 7's target: under {SECONDS:g} s end to end.

| stage (median of runs 2-4: {", ".join(f"{run.seconds:.1f}" for run, _ in warm_runs)} s; the first took {cold.seconds:.1f} s) | seconds |
|---|---:|
| process start-up and exit | {rest:.2f} |
| model loading, torch and transformers imports included | {parts["load_model"]:.2f} |
| extraction, in a child process, at the same time as model loading | {parts["extraction"]:.2f} |
| encoder | {parts["encoder"]:.2f} |
| generation | {parts["generation"]:.2f} |
| **end to end** (target < {SECONDS:g}) | **{warm.seconds:.2f}** |
| for reference, a process that only imports torch, transformers and peft (no slt; garbage collector paused) | {imports:.2f} |
| for reference, a process that only loads the run (`Translator.from_pretrained`, as `slt translate` does) | {loading:.2f} |

**Latency: target {verdict}.** The clip is extracted in a child process while the command imports torch
and transformers and loads the model; the extraction cuts the clip into {threads} stretches extracted at
once, one Holistic graph per core in threads ({frames} frames at {frames / parts["extraction"]:.1f} frames/s while
sharing the cores with the imports). Both are CPU work: the command used {warm.cpu_seconds:.1f} s of CPU time in
{warm.seconds:.1f} s ({warm.cpu_seconds / warm.seconds:.2f} of its {threads} cores busy), importing torch, transformers and MediaPipe
and running Holistic, which needs about 50 ms of a core per frame of signing (Preprocessing section). With
more cores, extraction and imports no longer compete, and the latency falls towards that of a process that
only loads the run: {loading:.1f} s here, in one thread whatever the cores; importing torch, transformers
and peft alone, before slt runs a line, takes {imports:.1f} s{"; on this CPU that alone is over the target" if imports >= SECONDS else ""}.
More clips in one command share the start-up and the model loading.

Output: "{json.loads(warm.stdout)["translations"][0]["text"]}". Peak resident memory of that command:
{warm.peak_rss / 2**20:.0f} MiB. On a {long_minutes:g}-minute video (320x240, {long_fps:g} fps: {long_frames:,} frames):
peak {long.peak_rss / 2**20:.0f} MiB, {long.seconds:.0f} s ({long_parts["extraction"]:.0f} s extraction,
{long_parts["encoder"]:.1f} s encoder, {long_parts["generation"]:.1f} s generation).

Where the extraction's time goes: what the child process runs, on the same clip, in this process
(pyinstrument; MediaPipe's C++ graph appears as `process`, and the stretches run in threads):

{code_block(profile)}
"""
    write_section(report, SECTION, text)
    print(text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--long-minutes", type=float, default=10.0, help="length of the long video (memory)")
    parser.add_argument("--long-fps", type=float, default=2.0, help="its frame rate (keeps the run short)")
    parser.add_argument("--run-clips", type=int, default=100, help="training clips of the stage-1 and stage-2 runs")
    parser.add_argument("--llm-steps", type=int, default=300, help="pre-training steps of the made LLM")
    parser.add_argument("--report", type=Path, default=Path("BENCHMARKS.md"))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        run(args.report, Workspace(Path(tmp), args.run_clips, args.run_clips, args.llm_steps), args.long_minutes, args.long_fps)


if __name__ == "__main__":
    main()
