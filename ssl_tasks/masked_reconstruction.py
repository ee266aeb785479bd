"""Masked image reconstruction: hide most patches, reconstruct them, score only what was hidden.

SimMIM (Xie et al., "SimMIM: A Simple Framework for Masked Image Modeling", CVPR 2022) and
MAE (He et al., "Masked Autoencoders Are Scalable Vision Learners", CVPR 2022) show that a
high masking ratio with the loss on masked patches only makes reconstruction a useful
pretext task. Masking happens in pixel space (masked patches set to 0) before the encoder,
so any encoder works, convolutional or a timm ViT; the decoder reads only the code.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from pretrain.core.config import ConfigError
from pretrain.core.tasks import Batch, SSLTask, TaskConfig, TaskContext, TaskOutput, register_task
from ssl_tasks.decoders import build_decoder
from ssl_tasks.losses import decoded_image, per_pixel_loss


@dataclass
class MaskedReconstructionConfig(TaskConfig):
    mask_ratio: float = 0.6  # fraction of patches hidden (SimMIM's default)
    patch_size: int = 0  # side of a patch in pixels (0: a seventh of the image side, 4 at 28 px)
    decoder: str = "mirror"  # mirror | linear | tied
    loss: str = "bce"  # bce | mse | mse_linear


def patch_mask(batch: int, size: int, patch: int, ratio: float, device=None) -> torch.Tensor:
    """(B, 1, size, size) float mask, 1 on hidden pixels: exactly round(ratio * L) of the L
    patches of each image, chosen at random (argsort of uniform noise, no Python loop)."""
    side = -(-size // patch)  # patches per side, the last one cut at the border
    count = side * side
    hidden = round(ratio * count)
    order = torch.rand(batch, count, device=device).argsort(1)
    mask = torch.zeros(batch, count, device=device)
    mask.scatter_(1, order[:, :hidden], 1.0)
    grid = mask.view(batch, 1, side, side)
    return F.interpolate(grid, scale_factor=patch, mode="nearest")[..., :size, :size]


def masked_loss(logits: torch.Tensor, target: torch.Tensor, mask: torch.Tensor, kind: str) -> torch.Tensor:
    """Mean per-pixel loss over the hidden pixels only; visible pixels contribute nothing.
    logits, target: (B, C, H, W); mask: (B, 1, H, W), 1 = hidden."""
    weights = mask.expand_as(target)
    return (per_pixel_loss(logits, target, kind) * weights).sum() / weights.sum().clamp_min(1)


@register_task("masked_reconstruction")
class MaskedReconstruction(SSLTask):
    Config = MaskedReconstructionConfig

    def __init__(self, cfg: MaskedReconstructionConfig, encoder: nn.Module, ctx: TaskContext):
        super().__init__(cfg, encoder, ctx)
        if not 0 < cfg.mask_ratio < 1:
            raise ConfigError(f"mask_ratio must be between 0 and 1, got {cfg.mask_ratio}")
        self.image_size = ctx.image_shape[-1]
        self.patch = cfg.patch_size or max(1, self.image_size // 7)
        self.decoder = build_decoder(cfg.decoder, encoder, ctx.image_shape)

    def forward(self, encoder: nn.Module, batch: Batch) -> TaskOutput:
        images = batch.images
        mask = patch_mask(len(images), self.image_size, self.patch, self.cfg.mask_ratio, images.device)
        visible = images * (1 - mask)
        logits = self.decoder(encoder(visible))
        loss = masked_loss(logits.float(), images.float(), mask, self.cfg.loss)
        return TaskOutput(loss, {}, images=(visible.detach(), decoded_image(logits, self.cfg.loss)))
