"""Datasets by name, and the splits every run uses.

A dataset is one function in the registry, ``@register_dataset("name")``, taking the
``data`` config section and returning its labelled training and test images and class
names (a ``Dataset``). Its module lives in ``pretrain.core.datasets``, which the registry
imports on its first lookup.

``load_splits`` turns a dataset into the splits of a run: the training images are split
once into train/val (seeded) unless the dataset brings its own validation split; the test
images are only touched for final numbers; labelled subsets are drawn from the training
split only. Images are brought to ``data.image_size`` and ``data.channels`` on loading.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from pretrain.core.arrays import ConcatImages, channel_stats, conform, is_tensor_array
from pretrain.core.config import DataConfig
from pretrain.core.dataset_registry import DATASETS, register_dataset  # noqa: F401  (the datasets' API)
from pretrain.core.samples import ImageSet, balanced_subset, only_classes, without_classes
from pretrain.core.typed_yaml import ConfigError


class DataError(ValueError):
    """Data that cannot be used as it is (a truncated or foreign file): the message says which and why."""


@dataclass
class Dataset:
    """What a dataset function returns. train / test: ImageSets of uint8 (N, C, H, W) images
    (any image array, pretrain.core.arrays) with labels and their positions in that split;
    classes: one name per label, empty for unlabelled images (labels -1, no test split).
    val: a validation split of the dataset's own (else one is carved from train);
    unlabelled: extra images for pretraining only (STL-10's 100,000)."""

    train: ImageSet
    test: ImageSet | None
    classes: tuple[str, ...]
    val: ImageSet | None = None
    unlabelled: ImageSet | None = None
    source: str = ""  # where the files were read from


DatasetFn = Callable[[DataConfig], Dataset]  # the data config section -> the dataset


def load_dataset(cfg: DataConfig) -> Dataset:
    """The dataset, its in-memory parts brought to data.channels and data.image_size (a dataset
    whose images are not in memory decodes them at that size itself)."""
    dataset = DATASETS.lookup(cfg.name)(cfg)
    for name in ("train", "val", "test", "unlabelled"):
        part = getattr(dataset, name)
        if part is not None and is_tensor_array(part.x):
            setattr(dataset, name, part.with_rows(conform(part.x, cfg.channels, cfg.image_size, cfg.resize)))
    return dataset


@dataclass
class Splits:
    train: ImageSet  # pretraining images and the pool for labelled subsets
    val: ImageSet  # model selection: probe strength, early stopping, monitor
    test: ImageSet | None  # final numbers only (None for unlabelled data)
    mean: tuple[float, ...]  # per-channel pixel statistics of the training split, in [0, 1] units
    std: tuple[float, ...]
    classes: tuple[str, ...]  # empty: unlabelled images, fit for pretraining only
    outliers: ImageSet | None = None  # test images of data.holdout_classes (None without any)
    unlabelled: ImageSet | None = None  # extra pretraining images without labels
    source: str = ""

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    @property
    def labelled(self) -> bool:
        return bool(self.classes)

    @property
    def pretrain_images(self):
        """The image array pretraining reads: the training split, then any unlabelled images."""
        return self.train.x if self.unlabelled is None else ConcatImages([self.train.x, self.unlabelled.x])


def train_val_split(n: int, val_size: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Disjoint (train, val) positions covering range(n); the same for the same seed.
    val_size 0: a tenth of the images, at most 5000."""
    val_size = val_size or min(5000, n // 10)
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
    if dataset.val is None:
        train_pos, val_pos = train_val_split(len(dataset.train), cfg.val_size, cfg.split_seed)
        train, val = dataset.train.take(train_pos), dataset.train.take(val_pos)
    else:
        train, val = dataset.train, dataset.val
    test, outliers, classes = dataset.test, None, dataset.classes
    if classes and cfg.test_subset:
        test = test.take(balanced_subset(test.y, cfg.test_subset // len(classes), cfg.split_seed))
    if classes and cfg.holdout_classes:
        train, val, test, outliers = hold_out(train, val, test, cfg.holdout_classes, cfg.name, len(classes))
    if cfg.train_subset:
        train = train.take(pretraining_subset(train.y, cfg.train_subset, cfg.split_seed))
    mean, std = channel_stats(train.x)
    return Splits(train, val, test, mean, std, classes, outliers, dataset.unlabelled, dataset.source)


def pretraining_subset(labels: torch.Tensor, size: int, seed: int) -> torch.Tensor:
    """``size`` positions: class-balanced for labelled images, a seeded draw for unlabelled ones."""
    if bool((labels < 0).all()):
        return torch.randperm(len(labels), generator=torch.Generator().manual_seed(seed))[:size].sort().values
    return balanced_subset(labels, size // len(labels.unique()), seed)
