"""Datasets by name, and the splits every run uses.

A dataset is one function in the registry, ``@register_dataset("name")``, taking the
``data`` config section and returning its labelled training and test images and class
names (a ``Dataset``). Its module lives in ``pretrain.core.datasets``, which the registry
imports on its first lookup.

``load_splits`` turns a dataset into the splits of a run: the training images are split
once into train/val (seeded); the test images are only touched for final numbers;
labelled subsets are drawn from the training split only.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from pretrain.core.config import DataConfig
from pretrain.core.images import to_unit_float
from pretrain.core.registry import Registry
from pretrain.core.samples import ImageSet, balanced_subset, only_classes, without_classes
from pretrain.core.typed_yaml import ConfigError


class DataError(ValueError):
    """Data that cannot be used as it is (a truncated or foreign file): the message says which and why."""


@dataclass
class Dataset:
    """What a dataset function returns. train / test: ImageSets of uint8 (N, C, H, W) images
    with labels and their positions in that split; classes: one name per label."""

    train: ImageSet
    test: ImageSet
    classes: tuple[str, ...]


DatasetFn = Callable[[DataConfig], Dataset]  # the data config section -> the dataset
DATASETS = Registry("dataset", plugins="pretrain.core.datasets")


def register_dataset(name: str) -> Callable[[DatasetFn], DatasetFn]:
    """Decorator adding a dataset function to the registry under ``name``."""
    return DATASETS.register(name)


def load_dataset(cfg: DataConfig) -> Dataset:
    return DATASETS.lookup(cfg.name)(cfg)


@dataclass
class Splits:
    train: ImageSet  # pretraining images and the pool for labelled subsets
    val: ImageSet  # model selection: probe strength, early stopping, monitor
    test: ImageSet  # final numbers only
    mean: float  # pixel statistics of the training split, in [0, 1] units
    std: float
    classes: tuple[str, ...]
    outliers: ImageSet | None = None  # test images of data.holdout_classes (None without any)

    @property
    def num_classes(self) -> int:
        return len(self.classes)


def train_val_split(n: int, val_size: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Disjoint (train, val) positions covering range(n); the same for the same seed."""
    if not 0 < val_size < n:
        raise ConfigError(f"data.val_size must be between 1 and {n - 1} (the training images less one), got {val_size}")
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    return perm[val_size:].sort().values, perm[:val_size].sort().values


def hold_out(train: ImageSet, val: ImageSet, test: ImageSet, classes: list[int], dataset: str, num_classes: int):
    """(train, val, test, outliers): ``classes`` leave train, val and test; their test images become the outliers."""
    bad = [c for c in classes if not 0 <= c < num_classes]
    if bad:
        raise ConfigError(f"data.holdout_classes: {bad} are not classes of {dataset} (0..{num_classes - 1})")
    kept = [without_classes(part, classes) for part in (train, val, test)]
    return (*kept, only_classes(test, classes))


def load_splits(cfg: DataConfig) -> Splits:
    """Train/val/test ImageSets for the configured dataset, with training-split pixel stats."""
    dataset = load_dataset(cfg)
    train_pos, val_pos = train_val_split(len(dataset.train), cfg.val_size, cfg.split_seed)
    train, val, test = dataset.train.take(train_pos), dataset.train.take(val_pos), dataset.test
    if cfg.test_subset:
        test = test.take(balanced_subset(test.y, cfg.test_subset // len(dataset.classes), cfg.split_seed))
    outliers = None
    if cfg.holdout_classes:
        train, val, test, outliers = hold_out(train, val, test, cfg.holdout_classes, cfg.name, len(dataset.classes))
    if cfg.train_subset:
        per_class = cfg.train_subset // len(train.y.unique())
        train = train.take(balanced_subset(train.y, per_class, cfg.split_seed))
    pixels = to_unit_float(train.x)
    return Splits(train, val, test, pixels.mean().item(), pixels.std().item(), dataset.classes, outliers)
