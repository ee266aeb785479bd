"""Barlow Twins (Zbontar, Jing, Misra, LeCun & Deny, "Barlow Twins: Self-Supervised Learning
via Redundancy Reduction", ICML 2021).

Two views go through the shared encoder and a projector; the cross-correlation matrix of the
two embeddings, each standardised over the batch, is driven to the identity: its diagonal to
1 (the views agree), its off-diagonal to 0 (no redundancy between dimensions), weighted by
lambda. The matrix is a batch statistic, taken over the global batch (ssl_tasks.batch_stats).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn

from pretrain.core.augment import AugmentConfig
from pretrain.core.tasks import Batch, SSLTask, TaskConfig, TaskContext, TaskOutput, register_task
from ssl_tasks.batch_stats import full_precision, gather_with_grad, off_diagonal
from ssl_tasks.siamese import projector, simclr_views, two_views


@dataclass
class BarlowTwinsConfig(TaskConfig):
    off_diagonal_weight: float = 5e-3  # lambda (the paper: 5e-3 at 8192 dimensions)
    projection_hidden: int = 1024  # Barlow Twins: 8192-8192-8192 for ResNet-50
    projection_dim: int = 1024
    augment: AugmentConfig = field(default_factory=simclr_views)


def standardise(z: torch.Tensor, eps: float = 1e-5) -> torch.Tensor:
    """z (N, d) with every dimension at mean 0 and variance 1 over the batch (batch norm
    without affine, biased variance, as the reference implementation)."""
    return (z - z.mean(0)) / torch.sqrt(z.var(0, unbiased=False) + eps)


def cross_correlation(z1: torch.Tensor, z2: torch.Tensor) -> torch.Tensor:
    """Barlow Twins eq. 2: C_ij = sum_b z1_bi z2_bj / N over the standardised global batch -> (d, d)."""
    z1, _ = gather_with_grad(z1.float())
    z2, _ = gather_with_grad(z2.float())
    with full_precision(z1):
        return standardise(z1).T @ standardise(z2) / len(z1)


def barlow_twins_loss(c: torch.Tensor, off_diagonal_weight: float) -> torch.Tensor:
    """Barlow Twins eq. 1: sum_i (1 - C_ii)^2 + lambda sum_i sum_{j != i} C_ij^2; c (d, d)."""
    return (1 - c.diagonal()).pow(2).sum() + off_diagonal_weight * off_diagonal(c).pow(2).sum()


@register_task("barlow_twins")
class BarlowTwins(SSLTask):
    Config = BarlowTwinsConfig
    draws_own_views = True

    def __init__(self, cfg: BarlowTwinsConfig, encoder: nn.Module, ctx: TaskContext):
        super().__init__(cfg, encoder, ctx)
        self.projection = projector(encoder.code_dim, cfg.projection_hidden, cfg.projection_dim, layers=3, bias=False)

    def forward(self, encoder: nn.Module, batch: Batch) -> TaskOutput:
        views = two_views(batch.images, self.cfg.augment)
        z1, z2 = self.projection(encoder(views)).chunk(2)
        c = cross_correlation(z1, z2)
        with torch.no_grad():
            logs = {"diagonal": c.diagonal().mean(), "off_diagonal_rms": off_diagonal(c).pow(2).mean().sqrt()}
        first, second = views.detach().chunk(2)
        return TaskOutput(barlow_twins_loss(c, self.cfg.off_diagonal_weight), logs, images=(first, second))
