"""Principal components of images: the PCA baseline of evaluation and decoder-only's code init."""

from __future__ import annotations

import torch

from pretrain.core.images import to_unit_float


def fit_pca(images: torch.Tensor, components: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean (n,) and top principal directions (components, n) of uint8 images (N, C, H, W),
    as pixels in [0, 1], in float64: the SVD's right singular vectors, from an eigendecomposition of
    the smaller of the (n, n) scatter matrix and the (N, N) Gram matrix rather than an SVD of the
    (N, n) images. Each direction is signed so that its largest-magnitude entry is positive (PCA fixes
    directions only up to sign). At most min(N, n) directions, as many as the SVD has."""
    x = to_unit_float(images.flatten(1), torch.float64)
    mean = x.mean(0)
    centred = x - mean
    k = min(components, *x.shape)
    if x.shape[0] >= x.shape[1]:
        _, vectors = torch.linalg.eigh(centred.T @ centred)  # eigenvalues ascending: the top ones are last
        directions = vectors.flip(1)[:, :k].T
    else:  # few images: centred^T u, of length sqrt(s), is the direction of the Gram eigenvector u (eigenvalue s)
        _, vectors = torch.linalg.eigh(centred @ centred.T)
        directions = centred.T @ vectors.flip(1)[:, :k]
        directions = (directions / directions.norm(dim=0).clamp_min(1e-300)).T  # norm, not sqrt(s): s may be ~0
    signs = torch.sign(directions.gather(1, directions.abs().argmax(1, keepdim=True)))
    return mean.float(), (directions * signs).float()


def pca_project(images: torch.Tensor, mean: torch.Tensor, directions: torch.Tensor) -> torch.Tensor:
    """uint8 images (N, C, H, W) -> their coordinates (N, components) on the fitted directions."""
    return (to_unit_float(images.flatten(1)) - mean) @ directions.T
