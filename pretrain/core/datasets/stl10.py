"""STL-10 (Coates, Lee & Ng 2011) from its binary files: 5,000 labelled training and 8,000
test images of 96x96 colour in 10 classes, and 100,000 unlabelled images for pretraining.

``data.root`` holds ``train_X.bin``, ``train_y.bin``, ``test_X.bin``, ``test_y.bin``,
``unlabeled_X.bin`` and ``class_names.txt``, or is the folder above ``stl10_binary``. Each
``*_X.bin`` is raw uint8 images of 3x96x96 stored column-major (each channel transposed);
``*_y.bin`` are labels 1..10. The unlabelled images (2.8 GB) are converted once into the
cache folder and read through a memory map; ``data.unlabelled=false`` leaves them out.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import torch

from pretrain.core.arrays import conform
from pretrain.core.config import DataConfig
from pretrain.core.data import DataError, Dataset, register_dataset
from pretrain.core.datasets.download import dataset_root
from pretrain.core.image_cache import cache_root, cached_array, file_fingerprint
from pretrain.core.samples import ImageSet

SIDE = 96
ROW_BYTES = 3 * SIDE * SIDE


def raw_images(path: Path) -> np.ndarray:
    """A ``*_X.bin`` as a read-only memory map of (N, 3, 96, 96) uint8, column-major per image."""
    if not path.is_file():
        raise DataError(f"{path} is missing; set data.root to the stl10_binary folder")
    size = path.stat().st_size
    if size == 0 or size % ROW_BYTES:
        raise DataError(f"{path} holds {size} bytes, not a whole number of 3x96x96 images")
    return np.memmap(path, dtype=np.uint8, mode="r", shape=(size // ROW_BYTES, 3, SIDE, SIDE))


def rows(raw: np.ndarray, start: int, stop: int, cfg: DataConfig) -> torch.Tensor:
    """Images start..stop turned upright and brought to data.channels / data.image_size."""
    upright = torch.from_numpy(np.ascontiguousarray(raw[start:stop].transpose(0, 1, 3, 2)))
    return conform(upright, cfg.channels, cfg.image_size, cfg.resize)


def labelled(folder: Path, part: str, cfg: DataConfig) -> ImageSet:
    raw = raw_images(folder / f"{part}_X.bin")
    labels = np.fromfile(folder / f"{part}_y.bin", dtype=np.uint8).astype(np.int64) - 1
    if len(labels) != len(raw) or labels.min() < 0 or labels.max() > 9:
        raise DataError(f"{folder / part}_y.bin: {len(labels)} labels in 1..10 expected for {len(raw)} images")
    return ImageSet(rows(raw, 0, len(raw), cfg), torch.from_numpy(labels), torch.arange(len(raw)))


def unlabelled(folder: Path, cfg: DataConfig) -> ImageSet:
    raw = raw_images(folder / "unlabeled_X.bin")
    shape = tuple(rows(raw, 0, 1, cfg).shape[1:])
    settings = f"{file_fingerprint([folder / 'unlabeled_X.bin'])}|{shape}|{cfg.resize}"
    entry = cache_root(cfg.cache_dir) / f"stl10-unlabelled-{hashlib.sha256(settings.encode()).hexdigest()[:16]}"
    images = cached_array(entry, len(raw), shape, lambda a, b: rows(raw, a, b, cfg))
    return ImageSet(images, torch.full((len(raw),), -1, dtype=torch.int64), torch.arange(len(raw)))


@register_dataset("stl10")
def stl10(cfg: DataConfig) -> Dataset:
    """Train 5k and test 8k labelled (N, 3, 96, 96) uint8, plus 100k unlabelled for pretraining."""
    root = dataset_root(cfg, "stl10", "the STL-10 binary files")
    folder = root if (root / "train_X.bin").is_file() else root / "stl10_binary"
    names = folder / "class_names.txt"
    classes = tuple(names.read_text().split()) if names.is_file() else tuple(f"class{c}" for c in range(10))
    train, test = labelled(folder, "train", cfg), labelled(folder, "test", cfg)
    extra = unlabelled(folder, cfg) if cfg.unlabelled else None
    return Dataset(train, test, classes, None, extra, str(folder))
