"""Principal components of images: the PCA baseline of evaluation and decoder-only's code init."""

from __future__ import annotations

import torch

from pretrain.core.images import to_unit_float


def fit_pca(images: torch.Tensor, components: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean (n,) and top principal directions (components, n) of uint8 images (N, C, H, W),
    as pixels in [0, 1], from an SVD in float64; each direction is signed so that its
    largest-magnitude entry is positive (PCA fixes directions only up to sign)."""
    x = to_unit_float(images.flatten(1), torch.float64)
    mean = x.mean(0)
    _, _, vh = torch.linalg.svd(x - mean, full_matrices=False)
    directions = vh[:components]
    signs = torch.sign(directions.gather(1, directions.abs().argmax(1, keepdim=True)))
    return mean.float(), (directions * signs).float()


def pca_project(images: torch.Tensor, mean: torch.Tensor, directions: torch.Tensor) -> torch.Tensor:
    """uint8 images (N, C, H, W) -> their coordinates (N, components) on the fitted directions."""
    return (to_unit_float(images.flatten(1)) - mean) @ directions.T
