"""Input corruptions for denoising (Vincent et al. 2008), vectorised on the images' device.

Each maps clean images (B, C, H, W) in [0, 1] to corrupted ones of the same shape and
range, drawing from the global RNG (the loop reseeds it every step, so runs repeat).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from pretrain.core.config import ConfigError


@dataclass
class CorruptionConfig:
    kind: str = "masking"  # none | gaussian | masking | salt_pepper | block
    noise_std: float = 0.3  # gaussian: sigma of additive noise
    fraction: float = 0.3  # masking / salt_pepper: share of pixels hit
    block_size: int = 8  # block: side of each square patch zeroed
    blocks: int = 2  # block: patches per image


def gaussian_noise(x: torch.Tensor, std: float) -> torch.Tensor:
    return (x + std * torch.randn_like(x)).clamp_(0, 1)


def masking_noise(x: torch.Tensor, fraction: float) -> torch.Tensor:
    """Zero a random ``fraction`` of pixels (the same positions in every channel)."""
    keep = torch.rand(x.shape[0], 1, *x.shape[2:], device=x.device) >= fraction
    return x * keep


def salt_and_pepper(x: torch.Tensor, fraction: float) -> torch.Tensor:
    """Set a random ``fraction`` of pixels to 0 or 1 with equal odds."""
    shape = (x.shape[0], 1, *x.shape[2:])
    hit = torch.rand(shape, device=x.device) < fraction
    salt = (torch.rand(shape, device=x.device) < 0.5).to(x.dtype)
    return torch.where(hit, salt.expand_as(x), x)


def block_masking(x: torch.Tensor, size: int, blocks: int) -> torch.Tensor:
    """Zero ``blocks`` random size x size squares per image (they may overlap)."""
    b, _, h, w = x.shape
    size = min(size, h, w)
    top = torch.randint(0, h - size + 1, (b, blocks, 1, 1), device=x.device)
    left = torch.randint(0, w - size + 1, (b, blocks, 1, 1), device=x.device)
    rows = torch.arange(h, device=x.device).view(1, 1, h, 1)
    cols = torch.arange(w, device=x.device).view(1, 1, 1, w)
    inside = (rows >= top) & (rows < top + size) & (cols >= left) & (cols < left + size)  # (B, blocks, H, W)
    return x * ~inside.any(1, keepdim=True)


def corrupt(x: torch.Tensor, cfg: CorruptionConfig) -> torch.Tensor:
    if cfg.kind == "none":
        return x
    if cfg.kind == "gaussian":
        return gaussian_noise(x, cfg.noise_std)
    if cfg.kind == "masking":
        return masking_noise(x, cfg.fraction)
    if cfg.kind == "salt_pepper":
        return salt_and_pepper(x, cfg.fraction)
    if cfg.kind == "block":
        return block_masking(x, cfg.block_size, cfg.blocks)
    raise ConfigError(f"corruption {cfg.kind!r} is unknown (none | gaussian | masking | salt_pepper | block)")
