"""A `holistic_landmarker.task` assembled offline from the legacy models inside the mediapipe 0.10.21 wheel,
for the tests and benchmarks of `slt preprocess --extractor tasks` on a machine that cannot download
Google's own bundle (docs/mediapipe-tasks.md).

The Tasks graphs refuse a float model without input-normalization metadata, which the legacy models lack:
each gets it here from the wheel's own metadata writer, with the input range its legacy graph gives it.

Usage: python -m bench.tasks_bundle OUT.task
"""

from __future__ import annotations

import sys
from pathlib import Path

MINUS_ONE_TO_ONE, ZERO_TO_ONE = (127.5, 127.5), (0.0, 255.0)  # (mean, std) that map 0..255 there
# Name in the bundle (what the HolisticLandmarker graph reads) -> (legacy model under mediapipe/modules,
# the input range its legacy graph's ImageToTensorCalculator gives it).
MODELS = {
    "pose_detector.tflite": ("pose_detection/pose_detection.tflite", MINUS_ONE_TO_ONE),
    "pose_landmarks_detector.tflite": ("pose_landmark/pose_landmark_full.tflite", ZERO_TO_ONE),
    "hand_landmarks_detector.tflite": ("hand_landmark/hand_landmark_full.tflite", ZERO_TO_ONE),
    "hand_roi_refinement.tflite": ("holistic_landmark/hand_recrop.tflite", ZERO_TO_ONE),
    "face_detector.tflite": ("face_detection/face_detection_short_range.tflite", MINUS_ONE_TO_ONE),
    "face_landmarks_detector.tflite": ("face_landmark/face_landmark.tflite", ZERO_TO_ONE),
}


def build_bundle(out: Path) -> Path:
    """Write the bundle to `out` (~16 MB) from the installed mediapipe's legacy models; returns `out`."""
    import mediapipe
    from mediapipe.tasks.python.metadata.metadata_writers import metadata_writer, model_asset_bundle_utils, writer_utils

    modules = Path(mediapipe.__file__).parent / "modules"
    models = {}
    for name, (legacy, (mean, std)) in MODELS.items():
        model = bytearray((modules / legacy).read_bytes())
        writer = metadata_writer.MetadataWriter.create(model).add_general_info(name, f"mediapipe/modules/{legacy}")
        writer.add_image_input([mean], [std])
        for output in writer_utils.get_output_tensor_names(model):
            writer.add_feature_output(name=output)
        models[name], _ = writer.populate()
    model_asset_bundle_utils.create_model_asset_bundle(models, str(out))
    return out


if __name__ == "__main__":
    print(build_bundle(Path(sys.argv[1])))
