"""BYOL (Grill et al., "Bootstrap Your Own Latent", NeurIPS 2020).

The online network (shared encoder, projector, predictor) predicts the target network's
projection of the other view; the target (a copy of encoder and projector) follows the online
weights by EMA (ssl_tasks.momentum) and gets no gradient. No negatives: the predictor and the
slowly moving target are what keep the codes from collapsing.

    views (2B, C, H, W) -> online: p = predictor(projector(encoder(v)))       (2B, d)
                        -> target: z' = projector'(encoder'(v)), no gradient  (2B, d)
    loss = regression(p1, z'2) + regression(p2, z'1)                          (BYOL eq. 2)
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from pretrain.core.augment import AugmentConfig
from pretrain.core.tasks import Batch, TaskContext, TaskOutput, register_task
from ssl_tasks.momentum import MomentumConfig, MomentumTask
from ssl_tasks.siamese import projector, simclr_views, two_views


@dataclass
class ByolConfig(MomentumConfig):
    projection_hidden: int = 1024  # BYOL: 4096, for 2048-d ResNet-50 features
    projection_dim: int = 128  # BYOL: 256
    predictor_hidden: int = 1024
    augment: AugmentConfig = field(default_factory=simclr_views)


def regression_loss(prediction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """BYOL eq. 2: ||p / |p| - z / |z| ||^2 = 2 - 2 cos(p, z), averaged over the batch.

    prediction, target: (B, d); the target is detached (the target network gets no gradient)."""
    p = F.normalize(prediction.float(), dim=1)
    z = F.normalize(target.detach().float(), dim=1)
    return (2 - 2 * (p * z).sum(1)).mean()


def symmetric_byol_loss(p1, p2, t1, t2) -> torch.Tensor:
    """Each view's prediction regresses the target of the other view; the two terms are summed (L + L~)."""
    return regression_loss(p1, t2) + regression_loss(p2, t1)


@register_task("byol")
class Byol(MomentumTask):
    Config = ByolConfig
    draws_own_views = True

    def __init__(self, cfg: ByolConfig, encoder: nn.Module, ctx: TaskContext):
        super().__init__(cfg, encoder, ctx)
        self.projection = projector(encoder.code_dim, cfg.projection_hidden, cfg.projection_dim)
        self.predictor = projector(cfg.projection_dim, cfg.predictor_hidden, cfg.projection_dim)
        self.teacher_encoder = self.teacher_of("teacher_encoder", encoder)
        self.teacher_projection = self.teacher_of("teacher_projection", self.projection)

    def teacher_pairs(self, encoder: nn.Module) -> list[tuple[nn.Module, nn.Module]]:
        return [(encoder, self.teacher_encoder), (self.projection, self.teacher_projection)]

    def forward(self, encoder: nn.Module, batch: Batch) -> TaskOutput:
        views = two_views(batch.images, self.cfg.augment)
        p1, p2 = self.predictor(self.projection(encoder(views))).chunk(2)
        with torch.no_grad():
            t1, t2 = self.teacher_projection(self.teacher_encoder(views)).chunk(2)
        loss = symmetric_byol_loss(p1, p2, t1, t2)
        logs = {"momentum": torch.tensor(self.momentum(self.progress))}
        first, second = views.detach().chunk(2)
        return TaskOutput(loss, logs, images=(first, second))
