"""`slt live` measured, side by side in one run: how sentences are cut, what dropping frames costs, and
whether it keeps up with the real signing clip played at its real pace.

1. The built-in corpus as streams: `--streams` streams of `--clips` consecutive test clips each, their
   keypoints end to end at 25 fps, fed to a `LiveSession` frame by frame (no MediaPipe: this part
   measures cutting). Each way of cutting is scored by document BLEU-4 (a stream's sentences joined against
   its clips' references joined) and by the clip boundaries it finds (a cut within 0.3 s of one); each
   clip translated whole is the ceiling. Dropping frames: the extractor keeping only 60 % or 40 % of them,
   evenly, the rest filled in by the resampler.
2. The real signing clip (`webcam_signer.mp4`, 30 fps), played `--repeats` times with 0.6 s of an empty
   picture after each (nobody in view: a pause), as one video, read by `slt live`'s `FrameSource` at its
   real pace: frames processed and dropped, the real-time factor (seconds spent extracting and decoding /
   seconds of stream), and the delay from the end of each sentence to its text; and once more with every
   frame processed, not paced, for what a frame costs.

    python -m bench.live --run runs/s1 --corpus data/toy
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pandas as pd

from bench.measure import SIGNING_CLIP, cores, load
from bench.report import write_section
from slt.keypoints.io import read_parquet
from slt.live import FrameSource, LiveConfig, LiveSession, Sentence, run
from slt.metrics import score
from slt.translate import Translator

SECTION = "## Live translation"
FPS = 25.0
NEAR = 0.3  # seconds: a cut this close to a clip boundary finds it
GAP = 0.6  # seconds of an empty picture after each play of the real clip


@dataclass
class Stream:
    points: np.ndarray  # [T, 75, 3] at FPS
    references: list[str]
    boundaries: list[float]  # seconds where one clip ends and the next begins


def corpus_streams(corpus: Path, streams: int, clips: int) -> list[Stream]:
    table = pd.read_csv(corpus / "annotations.csv")
    test = table[table["split"] == "test"].head(streams * clips)
    result = []
    for first in range(0, len(test) - clips + 1, clips):
        rows = test.iloc[first : first + clips]
        points = [read_parquet(corpus / "keypoints" / f"{name}.parquet").points for name in rows["name"]]
        ends = np.cumsum([len(p) for p in points])[:-1] / FPS
        result.append(Stream(np.concatenate(points), list(rows["text"]), list(ends)))
    return result


def cut_stream(translator: Translator, stream: Stream, config: LiveConfig, keep: float, beams: int | None = None) -> list[Sentence]:
    """The sentences of `stream` through a `LiveSession`, keeping a `keep` share of its frames, evenly."""
    session, sentences, kept = LiveSession(translator, config, beams, extract=False), [], -1
    for i, frame in enumerate(stream.points):
        if int(i * keep) > kept:
            kept = int(i * keep)
            sentences += session.keypoints(i / FPS, frame)
    return sentences + session.finish()


def boundaries_found(stream: Stream, sentences: list[Sentence]) -> tuple[int, int]:
    """(clip boundaries with a cut within NEAR seconds, cuts that are near none)."""
    cuts = [(a.end + b.start) / 2 for a, b in zip(sentences, sentences[1:])]
    found = sum(any(abs(c - b) <= NEAR for c in cuts) for b in stream.boundaries)
    return found, sum(not any(abs(c - b) <= NEAR for b in stream.boundaries) for c in cuts)


def corpus_rows(translator: Translator, streams: list[Stream], corpus: Path) -> list[str]:
    references = [" ".join(s.references) for s in streams]
    boundaries = sum(len(s.boundaries) for s in streams)
    # The ceiling: each clip translated whole, as the run was evaluated.
    names = pd.read_csv(corpus / "annotations.csv").query("split == 'test'")["name"].head(len(streams) * len(streams[0].references))
    whole = [t.text for t in translator([read_parquet(corpus / "keypoints" / f"{n}.parquet") for n in names])]
    per = len(streams[0].references)
    documents = [" ".join(whole[i : i + per]) for i in range(0, len(whole), per)]
    rows = [f"| each clip whole (the clip boundaries known) | 100% | {score(documents, references).bleu4:.1f} | {len(whole)} | {boundaries} / {boundaries} | 0 |"]
    ways = [
        (f"rest pauses of {LiveConfig.pause} s (the default)", LiveConfig(), 1.0, None),
        ("rest pauses of 0.24 s", LiveConfig(pause=0.24), 1.0, None),
        ("rest pauses of 0.4 s", LiveConfig(pause=0.4), 1.0, None),
        ("rest pauses, 60 % of frames kept", LiveConfig(), 0.6, None),
        ("rest pauses, 40 % of frames kept", LiveConfig(), 0.4, None),
        ("rest pauses, beam size 1", LiveConfig(), 1.0, 1),
        ("windows of 4 s", LiveConfig(cut="window", window=4.0), 1.0, None),
        ("windows of 4 s overlapping by 2 s", LiveConfig(cut="window", window=4.0, overlap=2.0), 1.0, None),
        ("windows of 2 s", LiveConfig(cut="window", window=2.0), 1.0, None),
    ]
    for name, config, keep, beams in ways:
        cut = [cut_stream(translator, stream, config, keep, beams) for stream in streams]
        documents = [" ".join(s.text for s in sentences) for sentences in cut]
        found, extra = (sum(x) for x in zip(*(boundaries_found(s, c) for s, c in zip(streams, cut))))
        rows.append(
            f"| {name} | {keep:.0%} | {score(documents, references).bleu4:.1f} | {sum(map(len, cut))} | {found} / {boundaries} | {extra} |"
        )
        print(rows[-1], flush=True)
    return rows


def stream_video(clip: Path, repeats: int, folder: Path) -> Path:
    """`clip` `repeats` times, each followed by GAP seconds of an empty grey picture, as one video."""
    capture = cv2.VideoCapture(str(clip))
    fps, frames = capture.get(cv2.CAP_PROP_FPS), []
    while (read := capture.read())[0]:
        frames.append(read[1])
    capture.release()
    path = folder / "stream.mp4"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, frames[0].shape[1::-1])
    for _ in range(repeats):
        for frame in frames + [np.full_like(frames[0], 128)] * round(GAP * fps):
            writer.write(frame)
    writer.release()
    return path


def live_row(translator: Translator, video: Path, name: str, config: LiveConfig, realtime: bool, beams: int | None = None) -> str:
    sentences = []
    summary = run(FrameSource(str(video), realtime), LiveSession(translator, config, beams), sentences.append)
    delays = [s.delay for s in sentences if s.delay is not None]
    delay = f"{statistics.mean(delays):.2f} / {max(delays):.2f}" if delays else "-"
    kept = summary.processed / summary.stream_seconds
    row = (
        f"| {name} | {summary.frames} ({summary.stream_seconds:.1f} s) | {summary.processed} ({kept:.1f}/s) | {summary.dropped} | "
        f"{summary.processing_seconds / summary.processed * 1000:.0f} | {summary.realtime_factor:.2f} | {summary.sentences} | {delay} |"
    )
    print(row, flush=True)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", type=Path, required=True, help="a trained run of the built-in corpus")
    parser.add_argument("--corpus", type=Path, required=True, help="its corpus: keypoints/ and annotations.csv")
    parser.add_argument("--streams", type=int, default=10)
    parser.add_argument("--clips", type=int, default=10, help="clips in each stream")
    parser.add_argument("--repeats", type=int, default=4, help="plays of the real clip in its stream")
    parser.add_argument("--clip", type=Path, default=SIGNING_CLIP)
    parser.add_argument("--report", type=Path, default=Path("BENCHMARKS.md"))
    args = parser.parse_args()

    load_before, start = load(), time.perf_counter()
    translator = Translator.from_pretrained(args.run)
    streams = corpus_streams(args.corpus, args.streams, args.clips)
    corpus = corpus_rows(translator, streams, args.corpus)
    with tempfile.TemporaryDirectory() as tmp:
        video = stream_video(args.clip, args.repeats, Path(tmp))
        real = [
            live_row(translator, video, "rest pauses, real pace", LiveConfig(), True),
            live_row(translator, video, "rest pauses, real pace, beam size 1", LiveConfig(), True, beams=1),
            live_row(translator, video, "windows of 2 s, real pace", LiveConfig(cut="window", window=2.0), True),
            live_row(translator, video, "rest pauses, every frame (not paced)", LiveConfig(), False),
        ]
    minutes = (time.perf_counter() - start) / 60
    metrics = args.run / "metrics.json"
    scores = json.loads(metrics.read_text()).get("test", {}) if metrics.is_file() else {}
    text = f"""{SECTION}

`nice -n 19 python -m bench.live --run {args.run} --corpus {args.corpus}` (bench/live.py), CPU, {cores()} cores,
shared with other jobs: load average {load_before:.1f} before, {load():.1f} after; took {minutes:.1f} min. The run: a stage-{translator.config.stage}
run of the built-in corpus, test BLEU-4 {scores.get("bleu4", "?")} translating clip by clip (its metrics.json); beam size
{translator.config.eval.num_beams} (its own) unless a row says otherwise. Sentences are decoded one at a time, as they are cut.

Cutting sentences from a stream, on the built-in corpus: {len(streams)} streams of {args.clips} consecutive test clips,
their keypoints end to end at 25 fps ({sum(len(s.points) for s in streams) / FPS / 60:.1f} min in all), fed frame by
frame to a `LiveSession` (no MediaPipe here). BLEU-4 of each stream's sentences joined against its clips'
references joined; a clip boundary is found when a cut (half-way between two sentences) is within {NEAR} s
of it; extra cuts are near none. "Frames kept": the extractor keeping up by dropping the rest evenly,
the resampler filling them in by interpolation.

| cut | frames kept | document BLEU-4 | sentences | boundaries found | extra cuts |
|---|---:|---:|---:|---:|---:|
{chr(10).join(corpus)}

Keeping up, on the real signing clip (`{args.clip.name}`, 540x720, 30 fps) played {args.repeats} times with {GAP} s of an
empty picture after each (nobody in view: a pause), as one video read by `slt live`'s `FrameSource`: at
its real pace (as `slt live --realtime`), frames that come while one is being processed are dropped.
ms/frame: extraction and decoding per frame processed; the real-time factor: the seconds spent on them
over the seconds of stream. At real pace there is nearly always a newer frame waiting, so the factor is
close to 1 by construction and the frames dropped say how far it keeps up; the last row processes every
frame, unpaced: a factor over 1 there is the work that dropping saves. Delay: from the stream reaching a
sentence's end to its text, mean / max. The run was trained on synthetic keypoints, so the words are not
meaningful here; the timing is.

| source | frames (stream) | processed (per s of stream) | dropped | ms/frame | real-time factor | sentences | delay s |
|---|---:|---:|---:|---:|---:|---:|---|
{chr(10).join(real)}
"""
    write_section(args.report, SECTION, text)
    print(text)


if __name__ == "__main__":
    main()
