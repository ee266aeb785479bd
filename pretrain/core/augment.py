"""On-device image augmentation, vectorised over the batch: no Python loop over images.

Random resized crop, horizontal flip and translation are one affine map per image, applied
with a single ``grid_sample``; brightness and contrast are per-image scalars; Gaussian blur
is a per-image separable kernel run as a grouped convolution. Randomness comes from torch's
global generator, which the training loop reseeds from (seed, step, rank) at every step, so a
resumed run draws the same augmentations. The transforms are those of SimCLR (Chen et al.
2020, appendix A), with colour jitter reduced to brightness and contrast (they also apply to
grey images).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

from pretrain.core.typed_yaml import ConfigError


@dataclass
class AugmentConfig:
    """A task's ``augment:`` section; every default leaves the image as it is."""

    crop_scale: list[float] = field(default_factory=lambda: [1.0, 1.0])  # area fraction range of the crop
    crop_ratio: list[float] = field(default_factory=lambda: [0.75, 4 / 3])  # its aspect-ratio range
    flip: float = 0.0  # probability of a horizontal flip
    translate: int = 0  # random shift of up to this many pixels in each direction
    brightness: float = 0.0  # add U(-b, b)
    contrast: float = 0.0  # scale around the image mean by U(1 - c, 1 + c)
    blur: float = 0.0  # probability of a Gaussian blur ...
    blur_sigma: list[float] = field(default_factory=lambda: [0.1, 2.0])  # ... with sigma in this range, in pixels

    def __post_init__(self):
        for name in ("crop_scale", "crop_ratio", "blur_sigma"):
            low, high = getattr(self, name)
            if not 0 < low <= high:
                raise ConfigError(f"augment.{name}: expected [low, high] with 0 < low <= high, got [{low}, {high}]")
        if self.crop_scale[1] > 1:
            raise ConfigError(f"augment.crop_scale: the area fraction cannot exceed 1, got {self.crop_scale[1]}")

    @property
    def enabled(self) -> bool:
        return any(
            (
                self.crop_scale != [1.0, 1.0],
                self.flip > 0,
                self.translate > 0,
                self.brightness > 0,
                self.contrast > 0,
                self.blur > 0,
            )
        )


def uniform(low: float, high: float, n: int, device) -> torch.Tensor:
    return low + (high - low) * torch.rand(n, device=device)


def affine_params(n: int, size: int, cfg: AugmentConfig, device) -> torch.Tensor:
    """(n, 2, 3) maps from output to input coordinates in [-1, 1]: crop scale, flip, shift."""
    area = uniform(*cfg.crop_scale, n, device)
    log_ratio = uniform(math.log(cfg.crop_ratio[0]), math.log(cfg.crop_ratio[1]), n, device)
    ratio = log_ratio.exp()
    width = (area * ratio).sqrt().clamp(max=1.0)  # fraction of the side, as torchvision's RandomResizedCrop
    height = (area / ratio).sqrt().clamp(max=1.0)
    if cfg.crop_scale == [1.0, 1.0]:  # no crop: the whole image, whatever the ratio range
        width, height = torch.ones_like(width), torch.ones_like(height)
    centre_x = (1 - width) * (2 * torch.rand(n, device=device) - 1)  # keep the crop inside the image
    centre_y = (1 - height) * (2 * torch.rand(n, device=device) - 1)
    shift = 2 * cfg.translate / size
    centre_x = centre_x + shift * (2 * torch.rand(n, device=device) - 1)
    centre_y = centre_y + shift * (2 * torch.rand(n, device=device) - 1)
    flip = torch.where(torch.rand(n, device=device) < cfg.flip, -1.0, 1.0)
    theta = torch.zeros(n, 2, 3, device=device)
    theta[:, 0, 0], theta[:, 0, 2] = width * flip, centre_x
    theta[:, 1, 1], theta[:, 1, 2] = height, centre_y
    return theta


def gaussian_blur(images: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
    """Blur each image (B, C, H, W) with its own sigma (B,), as one grouped separable convolution."""
    b, c, h, w = images.shape
    radius = min(int(math.ceil(3 * float(sigma.max()))), (min(h, w) - 1) // 2)
    if radius < 1:
        return images
    offsets = torch.arange(-radius, radius + 1, device=images.device, dtype=images.dtype)
    kernel = torch.exp(-0.5 * (offsets[None] / sigma[:, None]) ** 2)
    kernel = (kernel / kernel.sum(1, keepdim=True)).repeat_interleave(c, 0)  # (B*C, k)
    flat = F.pad(images.reshape(1, b * c, h, w), (radius, radius, radius, radius), mode="reflect")
    flat = F.conv2d(flat, kernel[:, None, None, :], groups=b * c)
    flat = F.conv2d(flat, kernel[:, None, :, None], groups=b * c)
    return flat.reshape(b, c, h, w)


def augment(images: torch.Tensor, cfg: AugmentConfig, size: int | None = None) -> torch.Tensor:
    """A random view of each image (B, C, H, W) in [0, 1] on the same device: same shape, or
    (B, C, size, size) when ``size`` is given (the crop is resampled to it: DINO's local crops)."""
    n, side, device = len(images), images.shape[-1], images.device
    size = size or side
    if not cfg.enabled and size == side:
        return images
    out = images
    if cfg.crop_scale != [1.0, 1.0] or cfg.flip > 0 or cfg.translate > 0 or size != side:
        shape = [n, images.shape[1], size, size]
        grid = F.affine_grid(affine_params(n, side, cfg, device), shape, align_corners=False)
        out = F.grid_sample(images, grid.to(images.dtype), mode="bilinear", padding_mode="zeros", align_corners=False)
    if cfg.brightness > 0:
        out = out + uniform(-cfg.brightness, cfg.brightness, n, device).view(n, 1, 1, 1)
    if cfg.contrast > 0:
        mean = out.mean(dim=(1, 2, 3), keepdim=True)
        out = (out - mean) * uniform(1 - cfg.contrast, 1 + cfg.contrast, n, device).view(n, 1, 1, 1) + mean
    if cfg.blur > 0:
        chosen = torch.rand(n, device=device) < cfg.blur
        blurred = gaussian_blur(out, uniform(*cfg.blur_sigma, n, device).to(out.dtype))
        out = torch.where(chosen.view(n, 1, 1, 1), blurred, out)
    return out.clamp(0, 1)
