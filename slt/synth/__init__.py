"""The built-in example corpus: a toy sign language signed by synthetic MediaPipe-style skeletons.

`slt synth OUT` needs no download, so the demo and the tests run offline. One file per layer:

1. `language`: ~200 signs and a small grammar whose sign order differs from English the way real sign
   languages do. `sentence(rng)` draws a (gloss, English) pair.
2. `motion`: each gloss gets a deterministic motion from its SHA-256 (handshape, palm orientation,
   location, movement, hand mode).
3. `signers`: a clip chains sign motions, performed by a `Signer` with their own body, speed, jitter and
   habits (in a `Style`: clean or realistic), framed by a `Camera`, rendered as landmarks at `FPS`.
4. `clips` and `writer`: the corpus's rows (the toy language, or a gloss/text table), more toy-language
   text for a made LLM (`toy_text`), and `write_corpus`, which synthesizes the rows into keypoint files
   and an annotation table.

Geometry is computed in "body units" (shoulder width = 1, origin at the shoulder midpoint, x to the
image right, y down, z away from the camera), then mapped into the signer's frame. A hand's state is
described in its own side's coordinates (the left hand mirrors x), so one model drives both hands.

This package's namespace is what the command and the benchmarks use: the rows and the writer.
"""

from slt.synth.clips import SPLITS, Clip, table_clips, toy_clips, toy_text
from slt.synth.signers import FPS, STYLES
from slt.synth.writer import Summary, write_corpus

__all__ = ["FPS", "SPLITS", "STYLES", "Clip", "Summary", "table_clips", "toy_clips", "toy_text", "write_corpus"]
