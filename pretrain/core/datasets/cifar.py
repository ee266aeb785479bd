"""CIFAR-10 and CIFAR-100 (Krizhevsky 2009) from their python pickle batches.

``data.root`` is the folder holding ``data_batch_1..5``/``test_batch``/``batches.meta``
(CIFAR-10) or ``train``/``test``/``meta`` (CIFAR-100), or the folder above it
(``cifar-10-batches-py``, ``cifar-100-python``). Each batch is a dict with ``data``
(N, 3072) uint8, channel-major 32x32 images, and the labels.
"""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import torch

from pretrain.core.config import DataConfig
from pretrain.core.data import DataError, Dataset, register_dataset
from pretrain.core.datasets.download import dataset_root
from pretrain.core.samples import ImageSet

LAYOUTS = {  # name -> (subfolder, training batches, test batch, meta file, label key, names key)
    "cifar10": ("cifar-10-batches-py", [f"data_batch_{i}" for i in range(1, 6)], "test_batch", "batches.meta",
                b"labels", b"label_names"),
    "cifar100": ("cifar-100-python", ["train"], "test", "meta", b"fine_labels", b"fine_label_names"),
}  # fmt: skip


def unpickle(path: Path) -> dict:
    """A CIFAR batch file: a pickled dict with bytes keys. Only open files you trust: a pickle
    can run code (these are the dataset's own files, as torchvision also reads them)."""
    try:
        with path.open("rb") as f:
            return pickle.load(f, encoding="bytes")
    except (OSError, EOFError, pickle.UnpicklingError, ValueError) as err:
        raise DataError(f"{path} is not a readable CIFAR batch ({type(err).__name__}: {err})") from None


def read_batches(folder: Path, names: list[str], label_key: bytes) -> ImageSet:
    images, labels = [], []
    for name in names:
        batch = unpickle(folder / name)
        if b"data" not in batch or label_key not in batch:
            raise DataError(f"{folder / name} lacks the {b'data'!r} or {label_key!r} entry of a CIFAR batch")
        data = np.asarray(batch[b"data"], dtype=np.uint8)
        if data.ndim != 2 or data.shape[1] != 3072 or len(data) != len(batch[label_key]):
            raise DataError(f"{folder / name}: data of shape {data.shape} is not N x 3072 with N labels")
        images.append(data.reshape(-1, 3, 32, 32))
        labels += list(batch[label_key])
    x = torch.from_numpy(np.concatenate(images))
    return ImageSet(x, torch.tensor(labels, dtype=torch.int64), torch.arange(len(labels)))


def find_folder(root: Path, subfolder: str, first: str) -> Path:
    for place in (root, root / subfolder):
        if (place / first).is_file():
            return place
    raise DataError(f"{first} not found in {root} or {root / subfolder}; set data.root to the extracted archive")


def cifar(cfg: DataConfig, name: str) -> Dataset:
    subfolder, train_names, test_name, meta_name, label_key, names_key = LAYOUTS[name]
    root = dataset_root(cfg, name, "its python batches")
    folder = find_folder(root, subfolder, train_names[0])
    classes = tuple(n.decode() for n in unpickle(folder / meta_name)[names_key])
    train = read_batches(folder, train_names, label_key)
    return Dataset(train, read_batches(folder, [test_name], label_key), classes, source=str(folder))


@register_dataset("cifar10")
def cifar10(cfg: DataConfig) -> Dataset:
    """Train 50k, test 10k: (N, 3, 32, 32) uint8, 10 classes."""
    return cifar(cfg, "cifar10")


@register_dataset("cifar100")
def cifar100(cfg: DataConfig) -> Dataset:
    """Train 50k, test 10k: (N, 3, 32, 32) uint8, the 100 fine classes."""
    return cifar(cfg, "cifar100")
