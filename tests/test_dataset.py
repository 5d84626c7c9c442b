import numpy as np
import pytest
import torch
from keypoint_fixtures import write_clip

from slt.data.annotations import Sample
from slt.data.augment import AugmentConfig
from slt.data.dataset import KeypointDataset, LengthBucketSampler, make_loader
import slt.data.dataset as dataset_module
from slt.data.normalize import NormalizeConfig, Normalizer
from slt.keypoints.io import read_parquet

LENGTHS = [12, 30, 7, 25, 18, 40, 9, 33, 21, 15, 28, 11]


@pytest.fixture
def corpus(tmp_path):
    """A data folder of clips of varied lengths (one with a face mesh) and their samples."""
    data = tmp_path / "keypoints"
    samples = []
    for i, frames in enumerate(LENGTHS):
        name = f"signer{i % 2}/clip{i:02d}"
        write_clip(data / f"{name}.parquet", frames, seed=i, with_face=i == 3)
        samples.append(Sample(name, f"sentence {i}", "train", gloss=f"GLOSS{i}" if i % 3 else None))
    return data, samples


def cache_files(data):
    return sorted(p.name for p in (data / ".slt_cache").glob("*.npy"))


def test_items_are_normalized_clips(corpus):
    data, samples = corpus
    normalizer = Normalizer()
    dataset = KeypointDataset(data, samples, normalizer)
    assert len(dataset) == len(LENGTHS) and dataset.lengths.tolist() == LENGTHS
    item = dataset[3]
    expected = normalizer(read_parquet(data / f"{samples[3].name}.parquet"))
    np.testing.assert_allclose(item["features"].numpy(), expected, atol=1e-6)
    assert (item["text"], item["gloss"], item["name"]) == ("sentence 3", "", samples[3].name)
    assert dataset[1]["gloss"] == "GLOSS1"


def test_cache_built_once_then_reused(corpus, monkeypatch):
    data, samples = corpus
    first = KeypointDataset(data, samples, Normalizer())
    files = cache_files(data)
    assert len(files) == 2
    mtimes = [p.stat().st_mtime_ns for p in (data / ".slt_cache").iterdir()]

    def no_reading(*args, **kwargs):
        raise AssertionError("a keypoint file read although the cache is valid")

    monkeypatch.setattr(dataset_module, "read_keypoints", no_reading)
    second = KeypointDataset(data, samples, Normalizer())
    assert cache_files(data) == files
    assert [p.stat().st_mtime_ns for p in (data / ".slt_cache").iterdir()] == mtimes
    for i in range(len(samples)):
        assert torch.equal(first[i]["features"], second[i]["features"])


def test_cache_rebuilt_when_input_or_settings_change(corpus):
    data, samples = corpus
    KeypointDataset(data, samples, Normalizer())
    write_clip(data / f"{samples[0].name}.parquet", 50, seed=99)
    changed = KeypointDataset(data, samples, Normalizer())
    assert changed.lengths[0] == 50 and len(cache_files(data)) == 4
    with_depth = KeypointDataset(data, samples, Normalizer(NormalizeConfig(use_z=True)))
    assert with_depth[0]["features"].shape == (50, 65, 7) and len(cache_files(data)) == 6


def test_loader_batches_pad_mask_and_bucket(corpus):
    data, samples = corpus
    dataset = KeypointDataset(data, samples, Normalizer())
    loader = make_loader(dataset, batch_size=4, shuffle=True, seed=1)
    assert len(loader) == 3
    by_name = {s.name: (s, frames) for s, frames in zip(samples, LENGTHS)}
    names = []
    for batch in loader:
        features, mask = batch["features"], batch["frame_mask"]
        lengths = [by_name[n][1] for n in batch["name"]]
        assert features.shape == (len(lengths), max(lengths), 65, 5) and mask.dtype == torch.bool
        assert mask.sum(1).tolist() == lengths
        assert (features[~mask] == 0).all() and (features[mask][..., -1] > 0).any()
        assert batch["text"] == [by_name[n][0].text for n in batch["name"]]
        names += batch["name"]
    assert sorted(names) == sorted(s.name for s in samples)


def test_bucketing_groups_similar_lengths_and_varies_batches():
    lengths = np.random.default_rng(0).integers(10, 300, 400)

    def padded(batches):  # frames computed, padding included, per real frame
        return sum(lengths[[i for i, _ in b]].max() * len(b) for b in batches) / lengths.sum()

    sampler = LengthBucketSampler(lengths, batch_size=16, shuffle=True, seed=0)
    first, second = list(sampler), list(sampler)
    assert sorted(i for b in first for i, _ in b) == list(range(400)) and len(first) == len(sampler) == 25
    assert {e for b in second for _, e in b} == {1}
    assert padded(first) < 1.1 < 1.5 < padded([[(i, 0) for i in b] for b in np.split(np.arange(400), 25)])
    # Different clips share a batch from one epoch to the next (padding noise, random windows).
    assert not {frozenset(i for i, _ in b) for b in first} & {frozenset(i for i, _ in b) for b in second}
    # Without noise, one window holding every clip gives runs of the length-sorted clips.
    exact = LengthBucketSampler(lengths[:48], batch_size=16, shuffle=True, padding_noise=0)
    runs = sorted(sorted(lengths[i] for i, _ in b) for b in exact)
    assert sum(runs, []) == sorted(lengths[:48])


def test_loader_order_is_seeded_and_changes_per_epoch(corpus):
    data, samples = corpus
    dataset = KeypointDataset(data, samples, Normalizer())

    def orders(seed):
        loader = make_loader(dataset, batch_size=2, shuffle=True, seed=seed)
        return [[n for b in loader for n in b["name"]] for _ in range(2)]

    epochs = orders(seed=0)
    assert epochs == orders(seed=0)
    assert epochs[0] != epochs[1] and epochs != orders(seed=1)
    unshuffled = make_loader(dataset, batch_size=5, shuffle=False)
    assert [len(b["name"]) for b in unshuffled] == [5, 5, 2]
    assert torch.cat([b["frame_mask"].sum(1) for b in unshuffled]).tolist() == sorted(LENGTHS)


def test_augmentation_seeded_per_epoch_and_off_at_eval(corpus):
    data, samples = corpus
    train = KeypointDataset(data, samples, Normalizer(), augment=AugmentConfig(), seed=3)
    assert torch.equal(train[2, 0]["features"], train[2, 0]["features"])
    assert not torch.equal(train[2, 0]["features"], train[2, 1]["features"])
    other_seed = KeypointDataset(data, samples, Normalizer(), AugmentConfig(), seed=4)
    assert not torch.equal(train[2, 0]["features"], other_seed[2, 0]["features"])
    evaluation = KeypointDataset(data, samples, Normalizer())
    assert torch.equal(evaluation[2, 0]["features"], evaluation[2, 1]["features"])
    assert not torch.equal(train[2, 0]["features"], evaluation[2, 0]["features"])


def test_workers_give_the_same_batches(corpus):
    data, samples = corpus
    dataset = KeypointDataset(data, samples, Normalizer(), augment=AugmentConfig(), seed=5)
    serial = list(make_loader(dataset, batch_size=3, shuffle=True, seed=2))
    parallel = list(make_loader(dataset, batch_size=3, shuffle=True, seed=2, num_workers=2))
    assert [b["name"] for b in serial] == [b["name"] for b in parallel]
    for a, b in zip(serial, parallel):
        assert torch.equal(a["features"], b["features"]) and torch.equal(a["frame_mask"], b["frame_mask"])


def test_bad_inputs(corpus, tmp_path):
    data, samples = corpus
    with pytest.raises(FileNotFoundError, match="1 of 13 keypoint files missing"):
        KeypointDataset(data, samples + [Sample("nowhere/clip", "x", "train")], Normalizer())
    write_clip(data / "empty.parquet", 0)
    (data / "broken.parquet").write_text("not parquet")
    for name in ("empty", "broken"):
        with pytest.raises(ValueError, match=f"{name}.parquet: unreadable keypoint file"):
            KeypointDataset(data, [Sample(name, "x", "train")], Normalizer())


def test_parallel_packing_matches_serial(corpus, tmp_path, monkeypatch):
    data, samples = corpus
    serial = KeypointDataset(data, samples, Normalizer(), cache_dir=tmp_path / "serial")
    monkeypatch.setattr(dataset_module, "PARALLEL_MIN_CLIPS", 1)
    monkeypatch.setattr(dataset_module, "MAX_PACKING_WORKERS", 2)
    monkeypatch.setattr(dataset_module.os, "cpu_count", lambda: 2)
    parallel = KeypointDataset(data, samples, Normalizer(), cache_dir=tmp_path / "parallel")
    np.testing.assert_array_equal(np.load(parallel.points_path), np.load(serial.points_path))
    (data / "broken.parquet").write_text("not parquet")
    with pytest.raises(ValueError, match="broken.parquet: unreadable keypoint file"):
        KeypointDataset(data, samples + [Sample("broken", "x", "train")], Normalizer(), cache_dir=tmp_path / "parallel")
