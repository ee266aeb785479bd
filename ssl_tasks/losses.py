"""Reconstruction losses over decoder logits and [0, 1] targets, as small functions.

    bce         binary cross-entropy of sigmoid(logits): the paper's choice for near-binary pixels
    mse         squared error of sigmoid(logits)
    mse_linear  squared error of the raw output: the classical linear autoencoder (PCA) setting

The decoders output logits; ``decoded_image`` turns them into an image for display.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from pretrain.core.config import ConfigError

LOSSES = ("bce", "mse", "mse_linear")


def per_pixel_loss(logits: torch.Tensor, target: torch.Tensor, kind: str) -> torch.Tensor:
    """Elementwise loss, same shape as ``target`` (B, C, H, W)."""
    logits, target = logits.float(), target.float()
    if kind == "bce":
        return F.binary_cross_entropy_with_logits(logits, target, reduction="none")
    if kind == "mse":
        return (torch.sigmoid(logits) - target).pow(2)
    if kind == "mse_linear":
        return (logits - target).pow(2)
    raise ConfigError(f"loss {kind!r} is unknown; choose one of {', '.join(LOSSES)}")


def reconstruction_loss(logits: torch.Tensor, target: torch.Tensor, kind: str) -> torch.Tensor:
    """Mean per-pixel loss: a scalar comparable across image sizes."""
    return per_pixel_loss(logits, target, kind).mean()


def per_sample_loss(logits: torch.Tensor, target: torch.Tensor, kind: str) -> torch.Tensor:
    """L(x_k, g(z_k)): each sample's loss summed over its pixels, (B, ...) -> (B,)."""
    return per_pixel_loss(logits, target, kind).flatten(1).sum(1)


def per_image_loss(logits: torch.Tensor, target: torch.Tensor, kind: str) -> torch.Tensor:
    """Mean per-pixel loss of each image (B,): a per-image error comparable across image sizes."""
    return per_sample_loss(logits, target, kind) / target[0].numel()


def decoded_image(logits: torch.Tensor, kind: str) -> torch.Tensor:
    """The reconstruction as an image in [0, 1], for display."""
    out = logits.detach().float()
    return out.clamp(0, 1) if kind == "mse_linear" else torch.sigmoid(out)
