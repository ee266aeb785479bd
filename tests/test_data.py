import gzip

import numpy as np
import pytest
import torch
import torchvision.datasets

from pretrain.core.batches import ShardedBatches
from pretrain.core.config import ConfigError, DataConfig
from pretrain.core.data import DATASETS, DataError, Dataset, load_splits, register_dataset, train_val_split
from pretrain.core.datasets.download import download
from pretrain.core.datasets.fashion_mnist import find_fashion_mnist, read_idx
from pretrain.core.datasets.synthetic import synthetic_images
from pretrain.core.samples import ImageSet, balanced_subset


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


@pytest.mark.parametrize("cut", [2, 9, 40])  # inside the magic, inside the dims, inside the pixels
def test_a_truncated_idx_file_is_a_clear_error(tmp_path, cut):
    images = np.zeros((3, 4, 5), dtype=np.uint8)
    whole = bytes([0, 0, 8, 3]) + np.array([3, 4, 5], ">i4").tobytes() + images.tobytes()
    path = tmp_path / "train-images-idx3-ubyte"
    path.write_bytes(whole[:cut])
    with pytest.raises(DataError, match=f"{path}.*(truncated|not an unsigned-byte IDX)"):
        read_idx(path)


def test_a_truncated_gzip_is_a_clear_error(tmp_path):
    path = tmp_path / "x-idx3-ubyte.gz"
    with gzip.open(path, "wb") as f:
        f.write(bytes([0, 0, 8, 1]) + np.array([1000], ">i4").tobytes() + bytes(1000))
    path.write_bytes(path.read_bytes()[:-20])
    with pytest.raises(DataError, match="download it again"):
        read_idx(path)


def test_missing_dataset_says_how_to_get_it(tmp_path):
    with pytest.raises(FileNotFoundError, match="make data"):
        find_fashion_mnist(str(tmp_path))


def test_synthetic_images_shape_and_determinism():
    a, b = synthetic_images(50, seed=1), synthetic_images(50, seed=1)
    assert a.x.shape == (50, 1, 28, 28) and a.x.dtype == torch.uint8
    assert torch.equal(a.x, b.x) and torch.equal(a.y, b.y)


def test_sharded_batches_disjoint_across_ranks_and_repeatable():
    shards = [ShardedBatches(103, 5, seed=2, rank=r, world=3) for r in range(3)]
    assert shards[0].steps_per_epoch == 6
    epoch = [s.epoch_positions(0) for s in shards]
    flat = torch.cat([e.flatten() for e in epoch]).tolist()
    assert len(flat) == len(set(flat)) == 90
    assert torch.equal(shards[1].positions(7), ShardedBatches(103, 5, 2, 1, 3).positions(7))
    assert not torch.equal(shards[0].epoch_positions(0), shards[0].epoch_positions(1))


def test_holdout_classes_leave_pretraining_and_validation():
    splits = load_splits(
        DataConfig.from_mapping({"name": "synthetic", "synthetic_size": 300, "val_size": 60, "holdout_classes": [2, 7]})
    )
    for part in (splits.train, splits.val, splits.test):
        assert not set(part.y.tolist()) & {2, 7}
    assert set(splits.outliers.y.tolist()) == {2, 7}
    assert len(splits.outliers) + len(splits.test) == 300
    plain = load_splits(DataConfig.from_mapping({"name": "synthetic", "synthetic_size": 300, "val_size": 60}))
    assert plain.outliers is None


def test_registry_lists_the_built_in_datasets_and_names_an_unknown_one():
    assert {"fashion_mnist", "synthetic"} <= set(DATASETS.names())
    with pytest.raises(ConfigError, match="unknown dataset 'no_such_set'; registered: .*fashion_mnist"):
        load_splits(DataConfig(name="no_such_set"))


@pytest.fixture
def counting_dataset():
    """A dataset plugged in by a test: 40 training and 20 test images of 4 classes whose
    pixels all equal their position, so every split can be traced back to its source."""
    name = "counting_test_dataset"

    def build(cfg: DataConfig) -> Dataset:
        def part(n):
            images = torch.arange(n, dtype=torch.uint8).view(n, 1, 1, 1).expand(n, 1, 4, 4).contiguous()
            return ImageSet(images, torch.arange(n) % 4, torch.arange(n))

        return Dataset(part(40), part(20), ("a", "b", "c", "d"))

    register_dataset(name)(build)
    yield name
    DATASETS.unregister(name)


def test_a_registered_dataset_flows_through_load_splits(counting_dataset):
    splits = load_splits(DataConfig(name=counting_dataset, val_size=8, test_subset=8, holdout_classes=[3]))
    assert splits.classes == ("a", "b", "c", "d") and splits.num_classes == 4
    assert len(splits.train) + len(splits.val) == 30  # class 3 (10 of 40) held out
    assert set(splits.train.index.tolist()).isdisjoint(splits.val.index.tolist())
    for part in (splits.train, splits.val, splits.test):
        assert torch.equal(part.x[:, 0, 0, 0].long(), part.index) and 3 not in part.y.tolist()
    assert set(splits.outliers.y.tolist()) == {3}
    pixels = splits.train.x.float() / 255
    assert splits.mean == pytest.approx((pixels.mean().item(),))  # one value per channel
    assert splits.std == pytest.approx((pixels.std(unbiased=False).item(),))


def test_a_validation_split_that_does_not_fit_is_a_clear_error(counting_dataset):
    with pytest.raises(ConfigError, match=r"data.val_size must be between 1 and 39 .* got 40"):
        load_splits(DataConfig(name=counting_dataset, val_size=40))


def test_subsample_is_seeded_and_keeps_small_sets_whole():
    images = synthetic_images(30, seed=0)
    picked = images.subsample(10, seed=3)
    assert len(picked) == 10 and torch.equal(picked.index, images.subsample(10, seed=3).index)
    assert not torch.equal(picked.index, images.subsample(10, seed=4).index)
    assert set(picked.index.tolist()) <= set(images.index.tolist())
    assert images.subsample(0, seed=3) is images and images.subsample(30, seed=3) is images


def test_download_fetches_every_split_through_torchvision_and_names_a_failure(tmp_path, monkeypatch):
    calls = []

    def fetch(root, download, **split):
        calls.append((root, download, split))
        if split.get("split") == "test":
            raise RuntimeError("no network")

    monkeypatch.setattr(torchvision.datasets, "FashionMNIST", fetch)
    monkeypatch.setattr(torchvision.datasets, "SVHN", fetch)
    download("fashion_mnist", str(tmp_path / "fm"))
    assert calls == [(str(tmp_path / "fm"), True, {"train": True}), (str(tmp_path / "fm"), True, {"train": False})]
    assert (tmp_path / "fm").is_dir()
    with pytest.raises(DataError, match="downloading svhn .* failed: no network"):
        download("svhn", str(tmp_path / "svhn"))
    with pytest.raises(DataError, match="needs data.root"):
        download("svhn", "")
