"""Relative crop position (Doersch, Gupta & Efros, "Unsupervised Visual Representation
Learning by Context Prediction", ICCV 2015; described in
shared/sources/qa-simple-vs-mirrored-decoder.txt).

A 3x3 grid of crops is laid on the image; the centre crop and one of its 8 neighbours are
embedded by the shared encoder (a siamese pair) and a small head on the two codes predicts
which neighbour it was. A gap between cells and random jitter of each crop keep the task
from being solved by edge continuity. An encoder that pools globally (resnet_small, timm
CNNs) sees the crops at their own size; one that needs a fixed size (paper_conv, mlp, a
ViT) sees them upsampled to the full image size. Crop, gap and jitter default from the
image side (28 px: 7, 2, 1; 32 px: 8, 2, 1; 96 px: 25, 7, 3).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from pretrain.core.config import ConfigError
from pretrain.core.images import extract_crops
from pretrain.core.tasks import Batch, SSLTask, TaskConfig, TaskContext, TaskOutput, register_task

# (row, col) offset of neighbour class 0..7 from the centre cell, reading order.
NEIGHBOUR_OFFSETS = torch.tensor([(-1, -1), (-1, 0), (-1, 1), (0, -1), (0, 1), (1, -1), (1, 0), (1, 1)])


@dataclass
class RelativePositionConfig(TaskConfig):
    crop_size: int = 0  # side of each crop (0: from the image side); 3 crops + 2 gaps must fit
    gap: int = -1  # pixels between neighbouring cells (-1: from the image side)
    jitter: int = -1  # each crop moves independently by up to this many pixels (-1: from the image side)
    head_hidden: int = 256


def grid_defaults(size: int, crop: int, gap: int, jitter: int) -> tuple[int, int, int]:
    """(crop, gap, jitter) with unset values derived from the image side ``size``: a gap of
    about a fourteenth of the side, jitter of a twenty-eighth, crops filling the rest."""
    gap = max(1, round(size / 14)) if gap < 0 else gap
    jitter = max(1, size // 28) if jitter < 0 else jitter
    crop = crop or max(1, (size - 2 * gap - 2 * jitter) // 3)
    return crop, gap, jitter


def crop_boxes(batch: int, image_size: int, crop: int, gap: int, jitter: int, device=None):
    """Top-left corners of a (centre, neighbour) pair per image and the neighbour's class.

    -> (centre (B, 2), neighbour (B, 2), labels (B,)) as (row, col) int64 corners."""
    span = 3 * crop + 2 * gap
    if span > image_size:
        raise ConfigError(f"3 crops of {crop} + 2 gaps of {gap} = {span} exceed the image side {image_size}")
    origin = torch.randint(0, image_size - span + 1, (batch, 2), device=device)
    labels = torch.randint(0, 8, (batch,), device=device)
    cell = crop + gap
    centre = origin + cell
    neighbour = origin + (1 + NEIGHBOUR_OFFSETS.to(device)[labels]) * cell

    def jittered(corner):
        moved = corner + torch.randint(-jitter, jitter + 1, corner.shape, device=device)
        return moved.clamp(0, image_size - crop)

    return jittered(centre), jittered(neighbour), labels


def sample_pairs(images: torch.Tensor, crop: int, gap: int, jitter: int):
    """(centre crops, neighbour crops, labels) for a batch of square images, no Python loop."""
    centre, neighbour, labels = crop_boxes(len(images), images.shape[-1], crop, gap, jitter, images.device)
    return extract_crops(images, centre, crop), extract_crops(images, neighbour, crop), labels


@register_task("relative_position")
class RelativePosition(SSLTask):
    Config = RelativePositionConfig

    def __init__(self, cfg: RelativePositionConfig, encoder: nn.Module, ctx: TaskContext):
        super().__init__(cfg, encoder, ctx)
        _, h, w = ctx.image_shape
        if h != w:
            raise ConfigError("relative_position needs square images")
        self.image_size = h
        self.crop, self.gap, self.jitter = grid_defaults(h, cfg.crop_size, cfg.gap, cfg.jitter)
        crop_boxes(1, h, self.crop, self.gap, self.jitter)  # fail at build time on a bad grid
        self.native_crops = bool(getattr(encoder, "takes_any_size", False))
        m = encoder.code_dim
        self.head = nn.Sequential(
            nn.Linear(2 * m, cfg.head_hidden), nn.ReLU(inplace=True), nn.Linear(cfg.head_hidden, 8)
        )

    def forward_encoder(self, encoder: nn.Module, crops: torch.Tensor) -> torch.Tensor:
        """Crops (B, C, c, c) -> codes (B, m): at their own size through an encoder that pools
        globally, else upsampled to the image size the encoder was built for."""
        if self.native_crops:
            return encoder(crops)
        size = (self.image_size, self.image_size)
        return encoder(F.interpolate(crops, size=size, mode="bilinear", align_corners=False))

    def forward(self, encoder: nn.Module, batch: Batch) -> TaskOutput:
        centre, neighbour, labels = sample_pairs(batch.images, self.crop, self.gap, self.jitter)
        codes = self.forward_encoder(encoder, torch.cat([centre, neighbour]))  # one pass, shared weights
        logits = self.head(torch.cat(codes.chunk(2), dim=1))
        loss = F.cross_entropy(logits.float(), labels)
        accuracy = (logits.detach().argmax(1) == labels).float().mean()
        size = (self.image_size, self.image_size)
        shown = tuple(F.interpolate(c, size=size, mode="nearest") for c in (centre, neighbour))
        return TaskOutput(loss, {"pretext_accuracy": accuracy}, images=shown)
