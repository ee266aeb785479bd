"""Reconstruction autoencoder: encoder -> code -> decoder -> image.

Hinton & Salakhutdinov (2006); the bottleneck, not the reconstruction, is the point
(shared/sources/article-autoencoder-basics.txt): a code as wide as the input lets the
network learn the identity and reconstruct perfectly while learning nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from ssl_tasks.base import Batch, SSLTask, TaskConfig, TaskContext, TaskOutput, register_task
from ssl_tasks.decoders import build_decoder
from ssl_tasks.losses import reconstruction_loss


@dataclass
class AutoencoderConfig(TaskConfig):
    decoder: str = "mirror"  # mirror | linear: decoder capacity is worth comparing
    loss: str = "bce"  # bce | mse


def identity_trap_warning(code_dim: int, image_shape: tuple[int, int, int]) -> list[str]:
    """A warning line when the code is at least as wide as the input (m >= C*H*W)."""
    n = image_shape[0] * image_shape[1] * image_shape[2]
    if code_dim < n:
        return []
    return [
        f"WARNING: code size m={code_dim} >= input size n={n}: the autoencoder can learn the identity "
        "and reconstruct perfectly from a useless code. Use m < n (a bottleneck)."
    ]


@register_task("autoencoder")
class Autoencoder(SSLTask):
    Config = AutoencoderConfig

    def __init__(self, cfg: AutoencoderConfig, encoder: nn.Module, ctx: TaskContext):
        super().__init__(cfg, encoder, ctx)
        self.image_shape = ctx.image_shape
        self.decoder = build_decoder(cfg.decoder, encoder.code_dim, ctx.image_shape)

    def forward_encoder(self, encoder: nn.Module, images: torch.Tensor) -> torch.Tensor:
        """(B, C, H, W) -> codes (B, m)."""
        return encoder(images)

    def forward_decoder(self, codes: torch.Tensor) -> torch.Tensor:
        """codes (B, m) -> pixel logits (B, C, H, W). The decoder sees nothing but the code."""
        return self.decoder(codes)

    def forward_loss(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return reconstruction_loss(logits, target, self.cfg.loss)

    def forward(self, encoder: nn.Module, batch: Batch) -> TaskOutput:
        logits = self.forward_decoder(self.forward_encoder(encoder, batch.images))
        loss = self.forward_loss(logits, batch.images)
        recon = torch.sigmoid(logits.detach().float())
        return TaskOutput(loss, {"recon_loss": loss.detach()}, images=(batch.images, recon))

    def describe(self, encoder: nn.Module) -> list[str]:
        return identity_trap_warning(encoder.code_dim, self.image_shape)
