"""VICReg (Bardes, Ponce & LeCun, "Variance-Invariance-Covariance Regularization for
Self-Supervised Learning", ICLR 2022).

Two views go through the shared encoder and an expander MLP; three terms on the embeddings:
invariance (the views' embeddings agree), variance (each dimension keeps a standard deviation
of at least 1 over the batch: no collapse) and covariance (dimensions decorrelated: no
redundancy). The variance and covariance terms are batch statistics, taken over the global
batch (ssl_tasks.batch_stats).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from pretrain.core.augment import AugmentConfig
from pretrain.core.tasks import Batch, SSLTask, TaskConfig, TaskContext, TaskOutput, register_task
from ssl_tasks.batch_stats import full_precision, gather_with_grad, off_diagonal
from ssl_tasks.siamese import projector, simclr_views, two_views


@dataclass
class VicregConfig(TaskConfig):
    invariance_weight: float = 25.0  # lambda (the paper's defaults)
    variance_weight: float = 25.0  # mu
    covariance_weight: float = 1.0  # nu
    expander_hidden: int = 1024  # VICReg: 8192-8192-8192 for ResNet-50
    expander_dim: int = 1024
    augment: AugmentConfig = field(default_factory=simclr_views)


def variance_term(z: torch.Tensor, eps: float = 1e-4) -> torch.Tensor:
    """VICReg eq. 1: mean over dimensions of max(0, 1 - sqrt(Var(z_j) + eps)); z (N, d)."""
    std = torch.sqrt(z.var(dim=0) + eps)
    return F.relu(1 - std).mean()


def covariance_term(z: torch.Tensor) -> torch.Tensor:
    """VICReg eq. 4: sum of the squared off-diagonal covariances, divided by d; z (N, d)."""
    n, d = z.shape
    centred = z - z.mean(dim=0)
    cov = centred.T @ centred / (n - 1)
    return off_diagonal(cov).pow(2).sum() / d


def vicreg_terms(z1: torch.Tensor, z2: torch.Tensor) -> dict[str, torch.Tensor]:
    """The three terms on this process's embeddings z1, z2 (B, d), over the global batch."""
    z1, _ = gather_with_grad(z1.float())
    z2, _ = gather_with_grad(z2.float())
    with full_precision(z1):
        return {
            "invariance": F.mse_loss(z1, z2),  # eq. 5: mean squared distance, per dimension
            "variance": (variance_term(z1) + variance_term(z2)) / 2,
            "covariance": covariance_term(z1) + covariance_term(z2),
        }


def vicreg_loss(terms: dict[str, torch.Tensor], cfg: VicregConfig) -> torch.Tensor:
    """VICReg eq. 6: lambda s + mu [v(Z) + v(Z')] + nu [c(Z) + c(Z')] (v averaged over the two branches)."""
    return (
        cfg.invariance_weight * terms["invariance"]
        + cfg.variance_weight * terms["variance"]
        + cfg.covariance_weight * terms["covariance"]
    )


@register_task("vicreg")
class Vicreg(SSLTask):
    Config = VicregConfig
    draws_own_views = True

    def __init__(self, cfg: VicregConfig, encoder: nn.Module, ctx: TaskContext):
        super().__init__(cfg, encoder, ctx)
        self.expander = projector(encoder.code_dim, cfg.expander_hidden, cfg.expander_dim, layers=3, bias=False)

    def forward(self, encoder: nn.Module, batch: Batch) -> TaskOutput:
        views = two_views(batch.images, self.cfg.augment)
        z1, z2 = self.expander(encoder(views)).chunk(2)
        terms = vicreg_terms(z1, z2)
        first, second = views.detach().chunk(2)
        logs = {name: value.detach() for name, value in terms.items()}
        return TaskOutput(vicreg_loss(terms, self.cfg), logs, images=(first, second))
