"""Pixel operations shared by tasks, the loop and evaluation; vectorised over the batch."""

from __future__ import annotations

import torch


def to_unit_float(images: torch.Tensor, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """uint8 images (any shape) -> ``dtype`` in [0, 1], on the images' device."""
    return images.to(dtype).div_(255)


def extract_crops(images: torch.Tensor, corners: torch.Tensor, crop: int) -> torch.Tensor:
    """Gather one crop per image: images (B, C, H, W), corners (B, 2) as (row, col) of the
    top-left pixel -> (B, C, crop, crop). No Python loop over the batch."""
    steps = torch.arange(crop, device=images.device)
    rows = (corners[:, 0:1] + steps)[:, :, None]  # (B, crop, 1)
    cols = (corners[:, 1:2] + steps)[:, None, :]  # (B, 1, crop)
    batch = torch.arange(len(images), device=images.device)[:, None, None]
    return images[batch, :, rows, cols].permute(0, 3, 1, 2)  # advanced indices come first
