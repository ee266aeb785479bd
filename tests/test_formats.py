"""Standard dataset files read from local folders: CIFAR pickles, STL-10 binaries, SVHN .mat,
IDX quadruples; every registered dataset is loadable from files this test writes."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch
from imagefiles import write_cifar, write_idx_set, write_stl10
from scipy.io import loadmat, savemat

from pretrain.core.config import DataConfig
from pretrain.core.data import DATASETS, DataError, load_dataset, load_splits


def test_cifar10_pickles(tmp_path):
    folder = write_cifar(tmp_path / "cifar-10-batches-py")
    dataset = load_dataset(DataConfig(name="cifar10", root=str(tmp_path)))  # the folder above works too
    assert dataset.train.x.shape == (30, 3, 32, 32) and dataset.test.x.shape == (6, 3, 32, 32)
    assert dataset.classes == tuple(f"c{i}" for i in range(10))
    raw = pickle.loads((folder / "data_batch_1").read_bytes())
    # channel-major rows: the first 1024 bytes are the red plane
    assert torch.equal(dataset.train.x[0, 0].flatten(), torch.from_numpy(raw[b"data"][0, :1024]))
    assert dataset.train.y[:6].tolist() == raw[b"labels"]


def test_cifar100_fine_labels_and_conversion(tmp_path):
    write_cifar(tmp_path, fine=True)
    cfg = DataConfig(name="cifar100", root=str(tmp_path), channels=1, image_size=16, val_size=2)
    splits = load_splits(cfg)
    assert splits.num_classes == 20 and splits.train.image_shape == (1, 16, 16)
    assert len(splits.mean) == 1


def test_a_damaged_cifar_batch_is_a_data_error(tmp_path):
    write_cifar(tmp_path)
    (tmp_path / "data_batch_3").write_bytes(b"\x80\x04garbage")
    with pytest.raises(DataError, match="data_batch_3 is not a readable CIFAR batch"):
        load_dataset(DataConfig(name="cifar10", root=str(tmp_path)))


def test_stl10_binaries_are_upright_and_the_unlabelled_split_is_cached(tmp_path):
    written = write_stl10(tmp_path / "stl10_binary")
    cfg = DataConfig(name="stl10", root=str(tmp_path), cache_dir=str(tmp_path / "cache"), val_size=2)
    dataset = load_dataset(cfg)
    assert torch.equal(dataset.train.x, torch.from_numpy(written["train"]))
    assert dataset.train.y.tolist() == [c % 10 for c in range(10)]  # 1..10 on disk
    assert dataset.classes[0] == "name0"
    assert torch.equal(dataset.unlabelled.x[torch.arange(30)], torch.from_numpy(written["unlabeled"]))
    assert list((tmp_path / "cache").glob("stl10-unlabelled-*/images.u8"))
    splits = load_splits(cfg)
    assert len(splits.pretrain_images) == 8 + 30  # training split (less validation) + unlabelled
    small = load_splits(DataConfig(name="stl10", root=str(tmp_path), unlabelled=False, image_size=32, val_size=2))
    assert small.unlabelled is None and small.train.image_shape == (3, 32, 32)


def test_svhn_mat_files(tmp_path):
    rng = np.random.default_rng(0)
    for part, n in (("train", 12), ("test", 5)):
        x = rng.integers(0, 256, (32, 32, 3, n), dtype=np.uint8)
        y = (np.arange(n) % 10 + 1).reshape(-1, 1)  # SVHN writes the digit 0 as 10
        savemat(tmp_path / f"{part}_32x32.mat", {"X": x, "y": y})
    dataset = load_dataset(DataConfig(name="svhn", root=str(tmp_path)))
    assert dataset.train.x.shape == (12, 3, 32, 32)
    assert dataset.train.y.tolist() == [(i + 1) % 10 for i in range(12)]
    raw = loadmat(tmp_path / "train_32x32.mat")["X"]
    assert torch.equal(dataset.train.x[3, 1], torch.from_numpy(raw[:, :, 1, 3]))  # image 3, green plane


def test_idx_quadruple_with_a_prefix_and_emnist_orientation(tmp_path):
    images = write_idx_set(tmp_path / "kmnist", prefix="k49-")
    dataset = load_dataset(DataConfig(name="mnist_idx", root=str(tmp_path / "kmnist")))
    assert torch.equal(dataset.train.x[:, 0], torch.from_numpy(images))
    emnist = write_idx_set(tmp_path / "gzip", prefix="emnist-letters-")
    write_idx_set(tmp_path / "gzip", prefix="emnist-digits-")
    with pytest.raises(DataError, match="holds 2 IDX sets; set data.root to one of"):
        load_dataset(DataConfig(name="mnist_idx", root=str(tmp_path / "gzip")))
    letters = load_dataset(DataConfig(name="mnist_idx", root=str(tmp_path / "gzip" / "emnist-letters")))
    assert torch.equal(letters.train.x[:, 0], torch.from_numpy(emnist).transpose(1, 2))  # EMNIST is stored transposed


def test_missing_files_say_where_they_were_looked_for(tmp_path):
    for name, message in (("cifar10", "data_batch_1 not found"), ("svhn", "train_32x32.mat is missing"),
                          ("mnist_idx", "no IDX quadruple"), ("stl10", "train_X.bin is missing")):  # fmt: skip
        with pytest.raises(DataError, match=message):
            load_dataset(DataConfig(name=name, root=str(tmp_path)))


def test_every_registered_dataset_has_a_format_test():
    tested = {"cifar10", "cifar100", "stl10", "svhn", "mnist_idx", "fashion_mnist", "image_folder", "synthetic"}
    assert set(DATASETS) <= tested, f"add a test for {set(DATASETS) - tested}"
