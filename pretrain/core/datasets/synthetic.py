"""Tiny labelled images for tests and smoke runs: learnable, yet not solvable by one pixel."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from pretrain.core.config import DataConfig
from pretrain.core.data import Dataset, register_dataset
from pretrain.core.samples import ImageSet


def synthetic_images(n: int, seed: int, num_classes: int = 10, size: int = 28) -> ImageSet:
    """Each class is a fixed random blob pattern (the same for every call), each image that
    pattern shifted by up to 2 pixels, scaled in brightness and with pixel noise.
    -> ImageSet of (n, 1, size, size) uint8."""
    proto_gen = torch.Generator().manual_seed(1234)
    coarse = torch.rand(num_classes, 1, 7, 7, generator=proto_gen)
    protos = torch.nn.functional.interpolate(coarse, size=(size, size), mode="bilinear", align_corners=False)
    gen = torch.Generator().manual_seed(seed)
    labels = torch.arange(n) % num_classes
    labels = labels[torch.randperm(n, generator=gen)]
    shifts = torch.randint(-2, 3, (n, 2), generator=gen)
    images = torch.stack([torch.roll(protos[y], tuple(s.tolist()), dims=(1, 2)) for y, s in zip(labels, shifts)])
    images = images * (0.7 + 0.3 * torch.rand(n, 1, 1, 1, generator=gen))
    images = (images + 0.08 * torch.randn(images.shape, generator=gen)).clamp(0, 1)
    return ImageSet((images * 255).round().to(torch.uint8), labels, torch.arange(n))


@dataclass
class SyntheticSettings:
    synthetic_size: int = 600  # data.synthetic_size: images per split part


@register_dataset("synthetic", settings=SyntheticSettings)
def synthetic(cfg: DataConfig) -> Dataset:
    """``data.synthetic_size`` x 2 training and x 1 test images of 10 classes, seeded by ``data.split_seed``."""
    size = cfg.settings().synthetic_size
    train = synthetic_images(size * 2, seed=cfg.split_seed + 1)
    test = synthetic_images(size, seed=cfg.split_seed + 2)
    return Dataset(train, test, tuple(f"class{c}" for c in range(10)))
