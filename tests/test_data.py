import gzip

import numpy as np
import pytest
import torch

from pretrain.data import (
    ShardedBatches,
    balanced_subset,
    find_fashion_mnist,
    read_idx,
    synthetic_images,
    train_val_split,
)


def test_split_disjoint_covering_deterministic():
    train, val = train_val_split(1000, 100, seed=3)
    assert len(val) == 100 and len(train) == 900
    assert set(train.tolist()).isdisjoint(val.tolist())
    assert set(train.tolist()) | set(val.tolist()) == set(range(1000))
    again_train, again_val = train_val_split(1000, 100, seed=3)
    assert torch.equal(train, again_train) and torch.equal(val, again_val)
    assert not torch.equal(val, train_val_split(1000, 100, seed=4)[1])


def test_balanced_subset_balanced_and_seeded():
    labels = torch.arange(500) % 5
    picks = balanced_subset(labels, 7, seed=0)
    assert torch.bincount(labels[picks]).tolist() == [7] * 5
    assert len(set(picks.tolist())) == 35
    assert torch.equal(picks, balanced_subset(labels, 7, seed=0))
    assert not torch.equal(picks, balanced_subset(labels, 7, seed=1))
    with pytest.raises(ValueError, match="fewer"):
        balanced_subset(labels, 101, seed=0)


def test_read_idx_roundtrip(tmp_path):
    images = np.random.default_rng(0).integers(0, 256, (3, 4, 5), dtype=np.uint8)
    header = bytes([0, 0, 8, 3]) + np.array([3, 4, 5], ">i4").tobytes()
    path = tmp_path / "x-idx3-ubyte.gz"
    with gzip.open(path, "wb") as f:
        f.write(header + images.tobytes())
    assert np.array_equal(read_idx(path), images)


def test_missing_dataset_says_how_to_get_it(tmp_path):
    with pytest.raises(FileNotFoundError, match="make data"):
        find_fashion_mnist(str(tmp_path))


def test_synthetic_images_shape_and_determinism():
    a, b = synthetic_images(50, seed=1), synthetic_images(50, seed=1)
    assert a.images.shape == (50, 1, 28, 28) and a.images.dtype == torch.uint8
    assert torch.equal(a.images, b.images) and torch.equal(a.labels, b.labels)


def test_sharded_batches_disjoint_across_ranks_and_repeatable():
    shards = [ShardedBatches(103, 5, seed=2, rank=r, world=3) for r in range(3)]
    assert shards[0].steps_per_epoch == 6
    epoch = [s.epoch_positions(0) for s in shards]
    flat = torch.cat([e.flatten() for e in epoch]).tolist()
    assert len(flat) == len(set(flat)) == 90
    assert torch.equal(shards[1].positions(7), ShardedBatches(103, 5, 2, 1, 3).positions(7))
    assert not torch.equal(shards[0].epoch_positions(0), shards[0].epoch_positions(1))


def test_holdout_classes_leave_pretraining_and_validation():
    from pretrain.config import DataConfig
    from pretrain.data import load_splits

    splits = load_splits(DataConfig(name="synthetic", synthetic_size=300, val_size=60, holdout_classes=[2, 7]))
    for part in (splits.train, splits.val, splits.test):
        assert not set(part.labels.tolist()) & {2, 7}
    assert set(splits.outliers.labels.tolist()) == {2, 7}
    assert len(splits.outliers) + len(splits.test) == 300
    plain = load_splits(DataConfig(name="synthetic", synthetic_size=300, val_size=60))
    assert plain.outliers is None
