"""Gloss-free sign language translation from body keypoints.

`from slt import Translator` is the Python API (`slt.translate.Translator`). It is imported on first use,
so that `import slt`, and every `slt` command that starts with it, does not wait for torch.
"""

__version__ = "0.1.0"
__all__ = ["Translator"]


def __getattr__(name: str):
    if name == "Translator":
        from slt.translate import Translator

        return Translator
    raise AttributeError(f"module 'slt' has no attribute {name!r}")
