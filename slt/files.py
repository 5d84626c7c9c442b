"""Writing files and folders so that a reader, or a rerun after a kill, never sees half of one.

`atomic_write` builds a file or a whole folder under a hidden temporary name beside its place and renames
it there; `write_into` adds files to a folder that stays (a run folder) the same way, one file at a time.
`check_output_folder` decides beforehand whether an existing folder may be replaced at all; `copy_folder`
copies a folder cheaply.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")


def atomic_write(path: str | Path, write: Callable[[str], T], folder: bool = False) -> T:
    """Call `write(tmp)` on a temp file beside `path` (with `folder`: a fresh temp folder), then rename it
    onto `path`: readers never see half of it, and a killed write leaves only a hidden `.NAME.*.tmp`.
    Returns what `write` returned.

    A folder replaces an existing one at `path` only after the new one is complete; callers decide first,
    with `check_output_folder`, that the existing one may go. Files and folders get the permissions the
    umask gives, not the owner-only ones of `mkstemp` and `mkdtemp`.
    """
    path = Path(os.path.abspath(path))  # "." and "out/" have a parent and a name too
    path.parent.mkdir(parents=True, exist_ok=True)
    if folder:
        tmp = tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    else:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        os.close(fd)
    try:
        result = write(tmp)
        os.chmod(tmp, (0o777 if folder else 0o666) & ~_umask())
        if folder and path.exists():
            old = f"{tmp}.old"  # unique as `tmp` is; removed once the new folder is in place
            os.replace(path, old)
            os.replace(tmp, path)
            os.unlink(old) if os.path.islink(old) else shutil.rmtree(old)  # a link to a folder: the link only
        else:
            os.replace(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True) if folder else Path(tmp).unlink(missing_ok=True)
        raise
    return result


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def check_output_folder(path: str | Path, kind: str, is_own: Callable[[Path], bool], overwrite: bool) -> None:
    """Refuse (ValueError, one line) to write `kind` into `path` when that would destroy something slt
    did not write: `path` may be absent, an empty folder, or, with `overwrite`, slt's own `kind` there
    before (`is_own(path)` recognises it by its marker files)."""
    path = Path(path)
    if not path.exists() or path.is_dir() and not any(path.iterdir()):
        return
    if not path.is_dir() or not is_own(path):
        raise ValueError(f"{path} exists and is not {kind}; choose another folder")
    if not overwrite:
        raise ValueError(f"{path} already holds {kind}; pass --overwrite to replace it, or choose another folder")


def write_into(run_dir: Path, write: Callable[[Path], None]) -> None:
    """Let `write(folder)` fill a fresh temporary folder, then move each file into `run_dir` atomically."""
    tmp = Path(tempfile.mkdtemp(dir=run_dir, prefix=".write."))
    try:
        write(tmp)
        for path in tmp.iterdir():
            target = run_dir / path.name
            if path.is_dir():
                shutil.rmtree(target, ignore_errors=True)
            os.replace(path, target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def copy_folder(source: Path, target: Path) -> None:
    """Copy the folder `source` to `target` (new), hard-linking files where the file system allows: a run
    saves a local base model at every checkpoint, and a link costs no space or time. A link is safe
    because slt replaces files by renaming new ones into place, never by writing into them."""

    def link_or_copy(src: str, dst: str) -> None:
        try:
            os.link(src, dst)
        except OSError:  # another file system, or one without links
            shutil.copy2(src, dst)

    shutil.copytree(source, target, copy_function=link_or_copy)
