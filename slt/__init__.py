"""Gloss-free sign language translation from body keypoints."""

__version__ = "0.1.0"
