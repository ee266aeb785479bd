"""LeJEPA (Balestriero & LeCun 2025, "LeJEPA: Provable and Scalable Self-Supervised Learning
Without the Heuristics", arXiv 2511.08544): views predict their common centre, and SIGReg keeps
the embeddings an isotropic Gaussian, which rules collapse out. No teacher, no stop-gradient,
no predictor; one trade-off weight λ.

SIGReg (Sketched Isotropic Gaussian Regularisation, the paper's Def. 2 and Algorithm 1) projects
the embeddings on random unit directions, drawn anew every step, and on each direction measures
how far the empirical characteristic function is from a standard normal's with the Epps-Pulley
statistic; it averages over directions. The quadrature follows the reference code
(rbalestr-lab/lejepa, ``univariate/epps_pulley.py``): t in [0, 3] at 17 points, trapezoid
weights doubled for the symmetric half, weight w(t) = exp(-t²/2), statistic scaled by N.
The directions are seeded by the training step, so every process draws the same ones and a
resumed run draws what the uninterrupted one did; the statistic is taken over the global batch.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn

from pretrain.core.augment import AugmentConfig
from pretrain.core.tasks import Batch, SSLTask, TaskConfig, TaskContext, TaskOutput, register_task
from pretrain.core.typed_yaml import ConfigError
from ssl_tasks.batch_stats import full_precision, gather_with_grad
from ssl_tasks.siamese import projector, several_views, simclr_views


@dataclass
class LejepaConfig(TaskConfig):
    trade_off: float = 0.05  # λ: loss = (1 - λ) prediction + λ SIGReg (the paper's default)
    slices: int = 256  # random directions per step (the reference code's minimal script)
    projector_hidden: int = 512
    projector_dim: int = 64  # the paper found small projector outputs slightly better
    views: int = 2  # views per image, all predicting their mean (the reference's minimal script: 4)
    augment: AugmentConfig = field(default_factory=simclr_views)

    def __post_init__(self):
        if self.views < 2:
            raise ConfigError(f"lejepa views: the views predict their mean, so it needs at least 2, got {self.views}")


def quadrature(t_max: float = 3.0, points: int = 17) -> tuple[torch.Tensor, torch.Tensor]:
    """(t (T,), weights (T,)): knots on [0, t_max] and trapezoid weights doubled (the integrand
    is even in t) times w(t) = exp(-t²/2), as the reference EppsPulley."""
    t = torch.linspace(0, t_max, points)
    step = t_max / (points - 1)
    trapezoid = torch.full((points,), 2 * step)
    trapezoid[[0, -1]] = step
    return t, trapezoid * torch.exp(-t.square() / 2)


def epps_pulley(x: torch.Tensor, t: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """Epps-Pulley statistic of each column of x (N, M) against N(0, 1) -> (M,):
    N ∫ |φ̂(t) - exp(-t²/2)|² w(t) dt, φ̂ the empirical characteristic function (its real and
    imaginary parts are the means of cos(t x) and sin(t x))."""
    xt = x.unsqueeze(-1) * t  # (N, M, T)
    real = torch.cos(xt).mean(0) - torch.exp(-t.square() / 2)
    imaginary = torch.sin(xt).mean(0)
    return (real.square() + imaginary.square()) @ weights * x.shape[0]


def directions(dim: int, slices: int, step: int, device: torch.device) -> torch.Tensor:
    """(dim, slices) unit columns, the same on every process and every run for a given step."""
    gen = torch.Generator().manual_seed(step)
    a = torch.randn(dim, slices, generator=gen)
    return (a / a.norm(dim=0)).to(device)


def sigreg(z: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
    """SIGReg of embeddings z (N, K) on directions a (K, M): the mean Epps-Pulley statistic."""
    t, weights = quadrature()
    return epps_pulley(z @ a, t.to(z.device), weights.to(z.device)).mean()


def lejepa_terms(views: list[torch.Tensor], a: torch.Tensor) -> dict[str, torch.Tensor]:
    """Prediction (every view's embedding against the views' mean, squared error averaged over
    views, images and dimensions: the reference code's MSE) and SIGReg averaged over the views;
    each view's embeddings (B, K) of this process, taken over the global batch."""
    z = torch.stack([gather_with_grad(v.float())[0] for v in views])  # (V, N, K)
    with full_precision(z):
        return {
            "prediction": (z.mean(0) - z).square().mean(),
            "sigreg": torch.stack([sigreg(view, a) for view in z]).mean(),
        }


def lejepa_loss(terms: dict[str, torch.Tensor], trade_off: float) -> torch.Tensor:
    """The paper's LeJEPA objective: (1 - λ) prediction + λ SIGReg."""
    return (1 - trade_off) * terms["prediction"] + trade_off * terms["sigreg"]


@register_task("lejepa")
class Lejepa(SSLTask):
    Config = LejepaConfig
    draws_own_views = True

    def __init__(self, cfg: LejepaConfig, encoder: nn.Module, ctx: TaskContext):
        super().__init__(cfg, encoder, ctx)
        self.projector = projector(encoder.code_dim, cfg.projector_hidden, cfg.projector_dim, layers=3)

    def forward(self, encoder: nn.Module, batch: Batch) -> TaskOutput:
        """images (B, C, H, W) -> V views (V·B, C, H, W) -> embeddings (V·B, K), split per view."""
        views = several_views(batch.images, self.cfg.augment, self.cfg.views)
        z = self.projector(encoder(views))
        a = directions(z.shape[1], self.cfg.slices, self.progress.step, z.device)
        terms = lejepa_terms(list(z.chunk(self.cfg.views)), a)
        first, second = views.detach().chunk(self.cfg.views)[:2]
        logs = {name: value.detach() for name, value in terms.items()}
        return TaskOutput(lejepa_loss(terms, self.cfg.trade_off), logs, images=(first, second))
