"""Reconstruction losses, as small functions over logits and [0, 1] targets."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from pretrain.config import ConfigError


def reconstruction_loss(logits: torch.Tensor, target: torch.Tensor, kind: str) -> torch.Tensor:
    """Mean per-pixel loss between decoder ``logits`` (B, C, H, W) and ``target`` in [0, 1].

    bce: binary cross-entropy of sigmoid(logits), the paper's choice for near-binary pixels.
    mse: squared error of sigmoid(logits), the classical autoencoder loss.
    """
    if kind == "bce":
        return F.binary_cross_entropy_with_logits(logits.float(), target.float())
    if kind == "mse":
        return F.mse_loss(torch.sigmoid(logits.float()), target.float())
    raise ConfigError(f"loss {kind!r} is unknown; choose bce or mse")
