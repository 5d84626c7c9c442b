"""Annotation tables: which clip says which sentence, read from the formats datasets publish.

One reader covers them all, because they differ only in delimiter and column names:

- generic CSV/TSV (this project's own, also written by `slt synth`): `name`, `text`, optional
  `split`, `signer`, `gloss`;
- PHOENIX-2014T corpus files, pipe-separated, one per split (`PHOENIX-2014-T.train.corpus.csv`):
  `name|video|start|end|speaker|orth|translation`;
- CSL-Daily label exports, pipe-separated: `name|signer|num_frames|gloss|text`;
- How2Sign realigned CSVs, tab-separated, one per split (`how2sign_realigned_val.csv`):
  `VIDEO_ID ... SENTENCE_NAME ... SENTENCE`.

`name` is the clip id: its keypoint file relative to the data folder, without `.parquet` (or `.pose`). A table
without a `split` column takes the split from its file name (`train`, `dev`/`val`, `test`).
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

from slt.keypoints.formats import KEYPOINT_SUFFIXES
from slt.keypoints.io import clip_name_problem

SPLITS = ("train", "dev", "test")
SPLIT_ALIASES = {"train": "train", "dev": "dev", "val": "dev", "validation": "dev", "test": "test"}

# Sample field -> the column names that hold it (matched ignoring case), in the order they are looked for.
COLUMNS = {
    "name": ("name", "sentence_name"),
    "text": ("text", "translation", "sentence"),
    "split": ("split",),
    "signer": ("signer", "speaker"),
    "gloss": ("gloss", "orth"),
}


@dataclass
class Sample:
    """One (clip, sentence) pair."""

    name: str
    text: str
    split: str | None
    signer: str | None = None
    gloss: str | None = None


def read_annotations(paths: str | Path | list[str | Path]) -> list[Sample]:
    """Read one or more annotation tables into samples, in file then row order.

    Raises ValueError naming the file and line for an empty text, a name that is empty or would leave
    the data folder (`clip_name_problem`), a name seen before (in any of the files), an unknown split, or
    a table without name and text columns.
    """
    paths = [paths] if isinstance(paths, (str, Path)) else paths
    samples: list[Sample] = []
    seen: dict[str, str] = {}  # name -> "file:line" where it first appeared
    for path in map(Path, paths):
        try:
            rows = list(_read_table(path))
        except UnicodeDecodeError:
            raise ValueError(f"{path} is not UTF-8 text; an annotation table is a CSV/TSV file") from None
        for line, sample in rows:
            where = f"{path}:{line}"
            if sample.name in seen:
                raise ValueError(f"{where}: duplicate clip name {sample.name!r} (first at {seen[sample.name]})")
            seen[sample.name] = where
            samples.append(sample)
    return samples


def read_table(path: str | Path) -> Iterator[tuple[int, list[str]]]:
    """The rows of a comma-, tab- or pipe-separated table as (line number, cells), blank rows left out: first
    its header (cells stripped), then its data rows. The delimiter is the one the header line holds most of.

    Raises ValueError naming the file and line for a data row whose number of fields is not the header's.
    """
    with open(path, newline="", encoding="utf-8-sig") as f:
        first = f.readline()
        delimiter = max("|\t,", key=first.count)
        # The published pipe- and tab-separated corpora are not quoted, and How2Sign sentences may
        # start with a quotation mark, which a quoting reader would take as an opening quote.
        quoting = csv.QUOTE_MINIMAL if delimiter == "," else csv.QUOTE_NONE
        f.seek(0)
        reader = csv.reader(f, delimiter=delimiter, quoting=quoting)
        header = [h.strip() for h in next(reader, [])]
        yield 1, header
        for row in reader:
            if not any(cell.strip() for cell in row):
                continue
            if len(row) != len(header):
                raise ValueError(f"{path}:{reader.line_num}: {len(row)} fields where the header has {len(header)}")
            yield reader.line_num, row


def _read_table(path: Path):
    """Yield (line number, Sample) for each data row of one annotation table."""
    rows = read_table(path)
    _, header = next(rows)
    lower = [h.lower() for h in header]
    column = {field: next((lower.index(c) for c in names if c in lower), None) for field, names in COLUMNS.items()}
    if column["name"] is None or column["text"] is None:
        raise ValueError(
            f"{path}:1: no name and text columns in header {header}; expected a generic table "
            "(name, text[, split, signer, gloss]), a PHOENIX-2014T corpus file, a CSL-Daily label "
            "export or a How2Sign realigned CSV"
        )
    file_split = split_from_filename(path)
    for line, row in rows:
        value = {field: row[i].strip() if i is not None else None for field, i in column.items()}
        problem = clip_name_problem(value["name"])
        if problem:
            raise ValueError(f"{path}:{line}: {problem}")
        if not value["text"]:
            raise ValueError(f"{path}:{line}: empty text for clip {value['name']!r}")
        if value["split"] is None:
            split = file_split
        elif value["split"].lower() in SPLIT_ALIASES:
            split = SPLIT_ALIASES[value["split"].lower()]
        else:
            raise ValueError(f"{path}:{line}: unknown split {value['split']!r}; use one of {list(SPLITS)}")
        yield line, Sample(value["name"], value["text"], split, value["signer"] or None, value["gloss"] or None)


def split_from_filename(path: str | Path) -> str | None:
    """The split a file name announces (`PHOENIX-2014-T.dev.corpus.csv` -> dev), or None."""
    words = re.split(r"[^a-z]+", Path(path).name.lower())
    found = {SPLIT_ALIASES[w] for w in words if w in SPLIT_ALIASES}
    return found.pop() if len(found) == 1 else None


def keypoint_path(data_dir: str | Path, name: str) -> Path:
    """Where the keypoint file of clip `name` lives under `data_dir`: NAME.parquet, or NAME.pose where only
    that exists (pose-format datasets); NAME.parquet when neither does, for the message that it is missing."""
    paths = [Path(data_dir) / f"{name}{suffix}" for suffix in KEYPOINT_SUFFIXES]
    return next((path for path in paths if path.is_file()), paths[0])


def check_keypoints(
    data_dir: str | Path, samples: list[Sample], skip_missing: bool = False
) -> tuple[list[Sample], list[Sample]]:
    """Split `samples` into those whose keypoint file exists under `data_dir` and those missing.

    Raises FileNotFoundError with the count and the first few names when any is missing, unless
    `skip_missing`, in which case the caller goes on with the present ones and reports the others.
    """
    present, missing = [], []
    for sample in samples:
        (present if keypoint_path(data_dir, sample.name).is_file() else missing).append(sample)
    if missing and not skip_missing:
        first = ", ".join(s.name for s in missing[:5]) + (", ..." if len(missing) > 5 else "")
        raise FileNotFoundError(
            f"{len(missing)} of {len(samples)} keypoint files missing under {data_dir} ({first}); "
            "extract them first or pass --skip-missing to go on without them"
        )
    return present, missing


def hold_out(samples: list[Sample], signers: list[str], test_split: str) -> list[Sample]:
    """The signer-independent protocol: every clip of `signers` moves to `test_split`, whatever its split,
    so that the model is scored on people it has never seen; the other signers' clips keep theirs (their
    test clips stay too, so per-signer scores set seen and unseen signers side by side)."""
    known = {s.signer for s in samples if s.signer}
    unknown = [signer for signer in signers if signer not in known]
    if unknown:
        raise ValueError(
            f"data.holdout_signers: no clips of {', '.join(unknown)}; the annotations name {', '.join(sorted(known)) or 'no signers'}"
        )
    held = set(signers)
    return [replace(s, split=test_split) if s.signer in held else s for s in samples]
