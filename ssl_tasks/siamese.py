"""Parts the two-view methods share (SimCLR, BYOL, VICReg, Barlow Twins): the views and the projector.

Each image gives two random views (pretrain.core.augment) that go through the shared encoder
in one pass; a projector MLP maps the codes to the space the loss is taken in."""

from __future__ import annotations

import torch
from torch import nn

from pretrain.core.augment import AugmentConfig, augment


def simclr_views() -> AugmentConfig:
    """SimCLR's crop, flip and colour jitter (brightness and contrast here), for small images."""
    return AugmentConfig(crop_scale=[0.2, 1.0], flip=0.5, brightness=0.4, contrast=0.4)


def two_views(images: torch.Tensor, cfg: AugmentConfig) -> torch.Tensor:
    """images (B, C, H, W) -> (2B, C, H, W): the first views of every image, then the second ones."""
    return several_views(images, cfg, 2)


def several_views(images: torch.Tensor, cfg: AugmentConfig, count: int) -> torch.Tensor:
    """images (B, C, H, W) -> (count·B, C, H, W): every image's first view, then every second, ..."""
    return torch.cat([augment(images, cfg) for _ in range(count)])


def projector(in_dim: int, hidden: int, out_dim: int, layers: int = 2, bias: bool = True) -> nn.Sequential:
    """An MLP of ``layers`` linear layers (in_dim -> hidden ... -> out_dim), batch norm and ReLU
    after every hidden one: BYOL's projector and predictor (layers 2), VICReg's expander and
    Barlow Twins' projector (layers 3, no bias on the last layer as in VICReg's reference code:
    ``bias=False``)."""
    if layers < 1:
        raise ValueError(f"a projector needs at least one layer, got {layers}")
    dims = [in_dim] + [hidden] * (layers - 1) + [out_dim]
    modules: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(dims, dims[1:])):
        last = i == layers - 1
        modules.append(nn.Linear(a, b, bias=bias or not last))
        if not last:
            modules += [nn.BatchNorm1d(b), nn.ReLU(inplace=True)]
    return nn.Sequential(*modules)
