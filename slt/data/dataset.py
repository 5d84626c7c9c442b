"""Keypoint clips as training batches, read from Parquet once and from a memory-mapped cache after.

The first time a split is loaded, every clip is read, normalized to body-frame coordinates
(`Normalizer.transform`) and packed into one contiguous float32 array `[total frames, J', D]` plus
clip offsets, two `.npy` files memory-mapped by every later load and every DataLoader worker, so
epochs never touch Parquet. The cache is keyed by a hash of the keypoint files (paths, sizes,
modification times), the sample order and the normalization settings: change any and a new cache is
built (old ones stay until the cache folder, by default `DATA/.slt_cache`, is deleted). The cache
holds body-frame coordinates rather than final features so that augmentation, which works on them,
stays possible; building the feature channels per clip is cheap.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import time
from concurrent.futures import ProcessPoolExecutor
from contextlib import nullcontext
from dataclasses import asdict
from functools import partial
from pathlib import Path

import numpy as np
import torch
from rich.console import Console
from rich.progress import track
from torch.utils.data import DataLoader, Dataset, Sampler

from slt.files import atomic_write
from slt.keypoints.formats import read_keypoints
from slt.data.annotations import Sample, check_keypoints, keypoint_path
from slt.data.augment import AugmentConfig, augment
from slt.data.normalize import PARTS, Normalizer, clip_aspect

CACHE_VERSION = 1  # bump when the packed layout changes, so old caches are not reused
PROGRESS_MIN_CLIPS = 200  # packing fewer clips than this takes a second or two: no progress bar
PARALLEL_MIN_CLIPS = 500  # below this, starting worker processes costs about what they save
MAX_PACKING_WORKERS = 8
console = Console(stderr=True)  # the packing bar's; messages go to `logger`
logger = logging.getLogger(__name__)


class KeypointDataset(Dataset):
    """Map-style dataset of (features, text) pairs; `dataset[i]` or `dataset[i, epoch]`.

    Each item is a dict: "features" FloatTensor `[T, J', C]`, "text", "gloss" ("" when none) and
    "name". With an `augment` config every item is augmented with a generator seeded by
    (seed, epoch, index), so a run reproduces whatever the number of workers; the epoch comes from
    the sampler of `make_loader`.
    """

    def __init__(
        self,
        data_dir: str | Path,
        samples: list[Sample],
        normalizer: Normalizer,
        augment: AugmentConfig | None = None,
        seed: int = 0,
        cache_dir: str | Path | None = None,
    ):
        if not samples:
            raise ValueError(f"no samples to load from {data_dir}")
        check_keypoints(data_dir, samples)
        self.data_dir = Path(data_dir)
        self.samples = list(samples)
        self.normalizer = normalizer
        self.augment = augment
        self.seed = seed
        cache_dir = Path(cache_dir) if cache_dir is not None else self.data_dir / ".slt_cache"
        key = self._cache_key()
        self.points_path = cache_dir / f"{key}.points.npy"
        offsets_path = cache_dir / f"{key}.offsets.npy"
        if not (self.points_path.is_file() and offsets_path.is_file()):
            self._pack(offsets_path)
        self.offsets = np.load(offsets_path)
        self.lengths = np.diff(self.offsets)
        self._points = None  # opened on first use in each process (workers included)

    def _cache_key(self) -> str:
        files = []
        for sample in self.samples:
            path = keypoint_path(self.data_dir, sample.name).resolve()
            stat = path.stat()
            files.append([str(path), stat.st_size, stat.st_mtime_ns])
        inputs = {"version": CACHE_VERSION, "normalize": asdict(self.normalizer.config), "files": files}
        return hashlib.sha256(json.dumps(inputs).encode()).hexdigest()[:24]

    def _pack(self, offsets_path: Path) -> None:
        start = time.perf_counter()
        paths = [keypoint_path(self.data_dir, sample.name) for sample in self.samples]
        read = partial(read_clip, normalizer=self.normalizer)
        # Reading Parquet dominates packing: large splits read in parallel, one process per core.
        workers = min(os.cpu_count() or 1, MAX_PACKING_WORKERS) if len(paths) >= PARALLEL_MIN_CLIPS else 1
        with ProcessPoolExecutor(workers) if workers > 1 else nullcontext() as pool:
            clips = list(
                track(
                    pool.map(read, paths, chunksize=16) if pool else map(read, paths),
                    total=len(paths),
                    description=f"Packing {len(paths)} clips",
                    console=console,
                    transient=True,
                    disable=len(paths) < PROGRESS_MIN_CLIPS,
                )
            )
        offsets = np.cumsum([0] + [len(c) for c in clips], dtype=np.int64)

        def write_points(tmp: str) -> None:
            # A plain int in the shape: numpy 2 would write np.int64(...) into the .npy header and fail to read it.
            packed = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.float32, shape=(int(offsets[-1]), *clips[0].shape[1:]))
            for clip, start in zip(clips, offsets):
                packed[start : start + len(clip)] = clip
            packed.flush()

        def write_offsets(tmp: str) -> None:
            with open(tmp, "wb") as f:
                np.save(f, offsets)

        # Offsets last: a cache whose offsets file exists is complete.
        atomic_write(self.points_path, write_points)
        atomic_write(offsets_path, write_offsets)
        if len(paths) >= PROGRESS_MIN_CLIPS:
            seconds = time.perf_counter() - start
            summary = f"Packed {len(paths)} clips ({offsets[-1]:,} frames) into {self.points_path.parent} in {seconds:.0f} s"
            logger.info(summary)

    @property
    def points(self) -> np.ndarray:
        """The packed body-frame coordinates of the whole split, memory-mapped read-only."""
        if self._points is None:
            self._points = np.load(self.points_path, mmap_mode="r")
        return self._points

    def __getstate__(self) -> dict:
        # Workers reopen the memory map instead of receiving a pickled copy of the array.
        return {**self.__dict__, "_points": None}

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, item: int | tuple[int, int]) -> dict:
        index, epoch = item if isinstance(item, tuple) else (item, 0)
        body = np.array(self.points[self.offsets[index] : self.offsets[index + 1]])
        if self.augment is not None:
            rng = np.random.default_rng((self.seed, epoch, index))
            body = augment(body, self.augment, rng, self.normalizer.hands.values())
        sample = self.samples[index]
        return {
            "features": torch.from_numpy(self.normalizer.features(body)),
            "text": sample.text,
            "gloss": sample.gloss or "",
            "name": sample.name,
        }


def read_clip(path: Path, normalizer: Normalizer) -> np.ndarray:
    """Body-frame coordinates of one keypoint file (`Normalizer.transform`), ValueError naming it if unreadable."""
    try:
        kp = read_keypoints(path, parts=PARTS)
    except (KeyError, ValueError, OSError) as error:  # not Parquet or .pose, no frames, a part missing
        raise ValueError(f"{path}: unreadable keypoint file ({error.args[0] if error.args else error})") from error
    return normalizer.transform(kp.points, clip_aspect(kp))


class LengthBucketSampler(Sampler):
    """Batches of clips of similar length, to waste little compute on padding.

    Shuffled: each epoch permutes the clips, sorts them within windows of `window` batches by length
    times a random factor within 1 +- `padding_noise` (as AllenNLP's bucket sampler does, so batches
    are not made of the same clips every epoch) and shuffles the batch order, all seeded by
    (seed, epoch). Not shuffled: batches in order of length. Yields lists of (index, epoch) keys, so
    the dataset can seed augmentation per epoch.
    """

    def __init__(
        self,
        lengths: np.ndarray,
        batch_size: int,
        shuffle: bool,
        seed: int = 0,
        window: int = 50,
        padding_noise: float = 0.05,
        indices: np.ndarray | None = None,
    ):
        if batch_size < 1:
            raise ValueError(f"batch size must be at least 1, got {batch_size}")
        # The dataset indices to draw from (default: all), and their clip lengths.
        self.indices = np.arange(len(lengths)) if indices is None else np.asarray(indices)
        self.lengths = np.asarray(lengths)[self.indices]
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.seed = seed
        self.window = window
        self.padding_noise = padding_noise
        self.epoch = 0

    def __len__(self) -> int:
        return math.ceil(len(self.lengths) / self.batch_size)

    def __iter__(self):
        epoch, self.epoch = self.epoch, self.epoch + 1
        if self.shuffle:
            rng = np.random.default_rng((self.seed, epoch))
            order = rng.permutation(len(self.lengths))
            noisy = self.lengths * rng.uniform(1 - self.padding_noise, 1 + self.padding_noise, len(self.lengths))
            size = self.batch_size * self.window  # a multiple of the batch size: only the last batch is short
            windows = np.split(order, range(size, len(order), size))
            batches = self._batches(np.concatenate([w[np.argsort(noisy[w], kind="stable")] for w in windows]))
            rng.shuffle(batches)
        else:
            batches = self._batches(np.argsort(self.lengths, kind="stable"))
        for batch in batches:
            yield [(int(self.indices[i]), epoch) for i in batch]

    def _batches(self, order: np.ndarray) -> list[np.ndarray]:
        return np.split(order, range(self.batch_size, len(order), self.batch_size))


def collate(items: list[dict], max_frames: int | None = None) -> dict:
    """Stack items into a batch, zero-padding features in time (and cutting them to `max_frames`); see `make_loader`."""
    items = [{**item, "features": item["features"][:max_frames]} for item in items]
    lengths = [len(item["features"]) for item in items]
    # Padded in NumPy: torch's multi-threaded copies stall badly when the cores are busy with other work.
    features = np.zeros((len(items), max(lengths), *items[0]["features"].shape[1:]), np.float32)
    for row, item in enumerate(items):
        features[row, : lengths[row]] = item["features"].numpy()
    frame_mask = torch.arange(features.shape[1])[None] < torch.tensor(lengths)[:, None]
    batch = {key: [item[key] for item in items] for key in ("text", "gloss", "name")}
    return {"features": torch.from_numpy(features), "frame_mask": frame_mask, **batch}


def make_loader(
    dataset: KeypointDataset, batch_size: int, shuffle: bool, seed: int = 0, num_workers: int = 0, max_frames: int | None = None
) -> DataLoader:
    """A DataLoader over `dataset` with length bucketing. Every batch is a dict:

    "features" FloatTensor `[B, T, J', C]` zero-padded in time, "frame_mask" BoolTensor `[B, T]`
    (True on real frames), "text", "gloss" and "name" lists of strings.

    Clips longer than `max_frames` (the most the model reads, `SignTranslator.max_frames`) are left out of
    training (`shuffle`), where their sentence would not match a cut clip, and cut to their first
    `max_frames` frames for evaluation, so that every clip is scored; either is logged.
    """
    split = dataset.samples[0].split or "the"
    longest = int(dataset.lengths.max())
    long = np.flatnonzero(dataset.lengths > max_frames) if max_frames is not None else np.array([], int)
    say = int(os.environ.get("RANK", "0")) == 0  # once, not per process
    if shuffle and max_frames is not None:
        message = f"{split} clips: the longest has {longest} frames; the model reads at most {max_frames}"
        if say and len(long):
            logger.warning(f"{message}; {len(long)} of {len(dataset)} clip(s) longer than that are left out of training")
        elif say:
            logger.info(message)
        if len(long) == len(dataset):
            raise ValueError(f"every {split} clip is longer than the {max_frames} frames the model reads")
    elif say and len(long):
        logger.warning(
            f"{len(long)} of {len(dataset)} {split} clip(s) are longer than the {max_frames} frames the model "
            f"reads (the longest: {longest}): each is scored on its first {max_frames} frames"
        )
    keep = np.setdiff1d(np.arange(len(dataset)), long) if shuffle else None
    return DataLoader(
        dataset,
        batch_sampler=LengthBucketSampler(dataset.lengths, batch_size, shuffle, seed, indices=keep),
        # Cut in training too: augmentation may slow a clip that fits down to one that does not.
        collate_fn=partial(collate, max_frames=max_frames),
        num_workers=num_workers,
        persistent_workers=num_workers > 0,
    )
