"""A warm `Translator` call against a cold `slt translate`, side by side, on the same 5-second clip and run.

`slt translate` pays for its imports, the model and the MediaPipe graphs on every call; a `Translator`
(`from slt import Translator`) pays once and then only extracts, encodes and decodes. Each round runs the
command in a fresh process, then one call of a Translator loaded before the first round (its first call,
untimed, made its graphs); medians of `--rounds`. Results go to BENCHMARKS.md, section
"## Translation: warm Translator vs cold command".

    python -m bench.translator_warm --run demo/stage2
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from bench.measure import cores, load
from bench.report import write_section
from bench.translate import SECONDS, five_second_clip, translate_measured

SECTION = "## Translation: warm Translator vs cold command"


def main() -> None:
    from slt import Translator

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", type=Path, required=True, help="a run folder of either stage")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--report", type=Path, default=Path("BENCHMARKS.md"))
    args = parser.parse_args()

    load_before = load()
    with tempfile.TemporaryDirectory() as tmp:
        clip, what = five_second_clip(Path(tmp))
        translator = Translator.from_pretrained(args.run)
        translator(clip)  # makes the MediaPipe graphs
        cold, warm = [], []
        for _ in range(args.rounds):
            cold.append(translate_measured(clip, args.run)[0].seconds)
            start = time.perf_counter()
            sentence = translator(clip).text
            warm.append(time.perf_counter() - start)
    cold_s, warm_s = statistics.median(cold), statistics.median(warm)
    text = f"""{SECTION}

`python -m bench.translator_warm --run {args.run} --rounds {args.rounds}` (bench/translator_warm.py), CPU,
{cores()} cores; load average {load_before:.1f} before, {load():.1f} after. The {SECONDS:g}-second clip is {what};
the run a stage-{'2' if (args.run / 'llm').is_dir() else '1'} run. Each round: `slt translate CLIP --model RUN --json` in a fresh
process, then one call of a `Translator` loaded once before the rounds.

| | seconds (median of {args.rounds}) | each round |
|---|---:|---|
| cold: `slt translate` (imports, model, graphs, extraction, decoding) | {cold_s:.2f} | {", ".join(f"{s:.2f}" for s in cold)} |
| warm: `Translator` call (extraction, encoder, decoding) | {warm_s:.2f} | {", ".join(f"{s:.2f}" for s in warm)} |

The warm call takes {warm_s / cold_s:.2f} of the cold command's time (target for the warm call: under
{SECONDS:g} s on 2 cores: {"met" if warm_s < SECONDS else "missed"}); MediaPipe's extraction of the clip is its floor. It wrote "{sentence}".
"""
    write_section(args.report, SECTION, text)
    print(text)


if __name__ == "__main__":
    main()
