"""Landmark extraction with MediaPipe Holistic (the legacy `mp.solutions.holistic` graph).

Only `model_complexity=1` is supported: its pose model is the one whose weights ship inside the
mediapipe wheel, so extraction never downloads anything. The legacy graph stamps the i-th frame it is
given at i x 33,333 µs, so timestamps come from the frame index, never from the container; the graph
is reset between clips, which makes each clip's landmarks depend only on its own frames: the same
clip gives the same numbers whatever was processed before it.

With `threads` > 1, a long clip is cut into that many stretches, each extracted by a graph of its own in
a thread (a graph releases the GIL while it runs): for the latency of one clip, as in `slt translate`.
Each stretch starts by detecting the person afresh where one graph would track them from the frame
before, so the first frames of a stretch can differ slightly from a one-graph extraction.

Without `face`, the graph is Holistic's own (read from the wheel) minus its face-mesh branch: the pose and
hand landmarks come out the same, and each frame costs about a tenth less CPU time.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

import mediapipe as mp
import numpy as np
from mediapipe.framework.calculator_pb2 import CalculatorGraphConfig
from mediapipe.python.solution_base import SolutionBase

from slt.keypoints import schema
from slt.keypoints.frames import ClipSource, FrameReader, UnreadableClip
from slt.keypoints.io import Keypoints

EXTRACTOR = "mediapipe-holistic"
# A stretch shorter than this (2 s at 25 fps) would spend too much of its time starting and detecting.
MIN_STRETCH_FRAMES = 50
HOLISTIC_GRAPH = Path(mp.__file__).parent / "modules" / "holistic_landmark" / "holistic_landmark_cpu.binarypb"

# Holistic's result field for each landmark part.
RESULT_FIELDS = {
    "pose": "pose_landmarks",
    "left_hand": "left_hand_landmarks",
    "right_hand": "right_hand_landmarks",
    "face": "face_landmarks",
}


def holistic_graph(face: bool) -> CalculatorGraphConfig:
    """MediaPipe's Holistic graph; without `face`, minus the nodes, outputs and options of its face branch."""
    graph = CalculatorGraphConfig.FromString(HOLISTIC_GRAPH.read_bytes())
    if not face:
        # The face branch's streams are the ones named face_* (a stream is "TAG:name" or "name").
        nodes = [n for n in graph.node if not any(s.split(":")[-1].startswith("face_") for s in n.output_stream)]
        outputs = [s for s in graph.output_stream if not s.split(":")[-1].startswith("face_")]
        side_packets = [s for s in graph.input_side_packet if "face" not in s.split(":")[-1]]
        for field, kept in ((graph.node, nodes), (graph.output_stream, outputs), (graph.input_side_packet, side_packets)):
            del field[:]
            field.extend(kept)
    return graph


class HolisticExtractor:
    """MediaPipe Holistic that turns clips into `Keypoints`, one clip after another.

    `face=True` adds the 468 face-mesh points after the pose and hand points. `threads` > 1 keeps that
    many graphs and extracts a whole clip of at least 2 x MIN_STRETCH_FRAMES frames in stretches, one
    per graph, at the same time (see the module docstring).
    """

    def __init__(self, face: bool = False, model_complexity: int = schema.SUPPORTED_MODEL_COMPLEXITY, threads: int = 1):
        schema.check_model_complexity(model_complexity)
        # The other graphs are made when a clip first needs them (each takes ~0.5 s and ~150 MB).
        self._graphs = [HolisticGraph(face, model_complexity)] + [None] * (threads - 1)
        self.parts, self.settings = self._graphs[0].parts, self._graphs[0].settings
        self._face, self._model_complexity = face, model_complexity

    def __call__(
        self, clip: FrameReader | ClipSource | str | Path, on_frame: Callable[[], None] | None = None
    ) -> Keypoints:
        """Extract the landmarks of one clip; `on_frame()` is called after each frame (for progress).

        Pass an open `FrameReader` to see its `warnings`; a path or `ClipSource` is opened here.
        """
        reader = clip if isinstance(clip, FrameReader) else FrameReader(as_source(clip))
        source = reader.source
        stretches = min(len(self._graphs), reader.expected_frames // MIN_STRETCH_FRAMES)
        if stretches > 1 and source.start is None:
            bounds = [round(i * reader.expected_frames / stretches) for i in range(stretches)] + [None]
            sources = [
                replace(source, start=first / reader.fps, end=None if stop is None else stop / reader.fps)
                for first, stop in zip(bounds, bounds[1:])
            ]
            with ThreadPoolExecutor(stretches) as pool:
                points = np.concatenate(list(pool.map(self._stretch, range(stretches), sources, [on_frame] * stretches)))
        else:
            points = self._graphs[0].landmarks(reader, on_frame)
        info = {
            "source": str(source.path),
            "extractor": EXTRACTOR,
            "extractor_version": mp.__version__,
            "settings": dict(self.settings),
        }
        if source.start is not None:
            info["segment"] = {"start": source.start, "end": source.end}
        return Keypoints(points, reader.fps, self.parts, reader.width, reader.height, info)

    def _stretch(self, index: int, source: ClipSource, on_frame: Callable[[], None] | None) -> np.ndarray:
        """The landmarks of one stretch, by graph `index` (made here, in its own thread, if new)."""
        if self._graphs[index] is None:
            self._graphs[index] = HolisticGraph(self._face, self._model_complexity)
        try:
            return self._graphs[index].landmarks(FrameReader(source), on_frame)
        except UnreadableClip:
            if index == 0:
                raise
            # The stretches were cut by the container's frame count, which some videos overstate: a
            # stretch past the last real frame holds no frame.
            return np.empty((0, self._graphs[index].joints, 3), np.float32)

    def close(self) -> None:
        for graph in self._graphs:
            if graph is not None:
                graph.close()

    def __enter__(self) -> HolisticExtractor:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class HolisticGraph:
    """One MediaPipe Holistic graph (without `face`, minus its face branch) and the settings it was made with.

    With `trace_dir`, MediaPipe's own profiler records how long each of the graph's calculators (models,
    image crops...) runs and writes it there as a `GraphProfile` proto when the graph closes (read by
    `bench.preprocess`).
    """

    def __init__(self, face: bool, model_complexity: int, trace_dir: Path | None = None):
        self.parts = schema.DEFAULT_PARTS + (("face",) if face else ())
        self.settings = {
            "model_complexity": model_complexity,
            "smooth_landmarks": True,
            "refine_face_landmarks": False,
            "min_detection_confidence": 0.5,
            "min_tracking_confidence": 0.5,
        }
        # The side inputs and options `mp.solutions.holistic.Holistic(static_image_mode=False)` gives its graph.
        side_inputs = {
            "model_complexity": model_complexity,
            "smooth_landmarks": self.settings["smooth_landmarks"],
            "enable_segmentation": False,
            "smooth_segmentation": True,
            "use_prev_landmarks": True,  # video: track from the previous frame instead of detecting again
        }
        if face:
            side_inputs["refine_face_landmarks"] = self.settings["refine_face_landmarks"]
        graph = holistic_graph(face)
        if trace_dir is not None:
            profiler = graph.profiler_config
            profiler.enable_profiler = profiler.trace_enabled = True
            profiler.trace_log_path = f"{trace_dir}/"  # MediaPipe appends file names to it
            # One write, when the graph closes: MediaPipe's periodic writes (every 0.5 s by default) can lose a
            # frame's timings, counted between copying its totals and resetting them, or dropped with a write
            # it skips because the window's trace events were still in flight.
            profiler.trace_log_interval_usec = -1
        pose = "poselandmarkcpu__"
        self._holistic = SolutionBase(
            graph_config=graph,
            side_inputs=side_inputs,
            calculator_params={
                f"{pose}posedetectioncpu__TensorsToDetectionsCalculator.min_score_thresh": self.settings[
                    "min_detection_confidence"
                ],
                f"{pose}poselandmarkbyroicpu__tensorstoposelandmarksandsegmentation__ThresholdingCalculator.threshold": (
                    self.settings["min_tracking_confidence"]
                ),
            },
            outputs=[RESULT_FIELDS[part] for part in self.parts],
        )
        self._sizes = schema.part_sizes(self.parts)
        self.joints = sum(self._sizes.values())
        self._tracking = False  # whether the graph may hold state from a clip it was given

    def landmarks(self, reader: FrameReader, on_frame: Callable[[], None] | None = None) -> np.ndarray:
        """`[T, J, 3]` landmarks of every frame `reader` yields, tracked from the first frame on."""
        if self._tracking:
            self._holistic.reset()  # no tracking state from the previous clip
        frames = []
        for frame in reader:
            frames.append(self.frame(frame))
            if on_frame:
                on_frame()
        return np.stack(frames) if frames else np.empty((0, self.joints, 3), np.float32)

    def frame(self, image: np.ndarray) -> np.ndarray:
        """The `[J, 3]` landmarks of one RGB frame, tracked from the frames given before it (a stream's next
        frame); NaN for every part Holistic did not find."""
        self._tracking = True
        results = self._holistic.process(image)
        rows = []
        for part, size in self._sizes.items():
            found = getattr(results, RESULT_FIELDS[part])
            if found is None:
                rows.append(np.full((size, 3), np.nan, np.float32))
            else:
                rows.append(np.array([(p.x, p.y, p.z) for p in found.landmark[:size]], np.float32))
        return np.concatenate(rows)

    def close(self) -> None:
        self._holistic.close()


def as_source(clip: ClipSource | str | Path) -> ClipSource:
    return clip if isinstance(clip, ClipSource) else ClipSource(Path(clip))


def extract(
    source: ClipSource | str | Path, face: bool = False, model_complexity: int = schema.SUPPORTED_MODEL_COMPLEXITY
) -> Keypoints:
    """Extract one clip's landmarks with a fresh Holistic graph (for many clips keep a `HolisticExtractor`)."""
    with HolisticExtractor(face, model_complexity) as extractor:
        return extractor(source)
