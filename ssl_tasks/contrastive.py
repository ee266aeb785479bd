"""Contrastive learning of two augmented views: SimCLR (Chen, Kornblith, Norouzi & Hinton,
"A Simple Framework for Contrastive Learning of Visual Representations", ICML 2020).

Each image gives two random views (pretrain.core.augment); the shared encoder and a
projection MLP map them to z; NT-Xent pulls each view towards its partner and away from
every other view in the global batch. Across processes the views of every process are
gathered with their gradients, so N processes train as one process with N times the batch
(tests/test_contrastive.py checks it with two gloo processes). The sources point to this
family as the loss users would pick instead of reconstruction
(shared/sources/notes-autoencoder-pretraining.txt).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from pretrain.core.augment import AugmentConfig
from pretrain.core.tasks import Batch, SSLTask, TaskConfig, TaskContext, TaskOutput, register_task
from ssl_tasks.batch_stats import gather_with_grad
from ssl_tasks.siamese import simclr_views, two_views


@dataclass
class ContrastiveConfig(TaskConfig):
    temperature: float = 0.5  # tau of NT-Xent (SimCLR's CIFAR setting)
    projection_hidden: int = 512
    projection_dim: int = 128
    augment: AugmentConfig = field(default_factory=simclr_views)


def nt_xent(z1: torch.Tensor, z2: torch.Tensor, temperature: float) -> torch.Tensor:
    """NT-Xent (SimCLR eq. 1), averaged over this process's 2B anchors.

    z1, z2: (B, d) projections of the two views of the same B images. Each anchor's positive
    is its partner view; its negatives, every other view in the global batch (2 B W - 2)."""
    local = F.normalize(torch.cat([z1, z2]).float(), dim=1)  # (2B, d): views 1 then views 2
    keys, rank = gather_with_grad(local)  # (2BW, d), rank r's block at [2Br, 2B(r+1))
    n = len(local)
    logits = local @ keys.T / temperature
    own = torch.arange(n, device=local.device) + rank * n
    logits[torch.arange(n), own] = float("-inf")  # a view is not its own negative
    partner = (torch.arange(n, device=local.device) + n // 2) % n + rank * n
    return F.cross_entropy(logits, partner)


@register_task("contrastive")
class Contrastive(SSLTask):
    Config = ContrastiveConfig
    draws_own_views = True  # two views per image, drawn here

    def __init__(self, cfg: ContrastiveConfig, encoder: nn.Module, ctx: TaskContext):
        super().__init__(cfg, encoder, ctx)
        self.projection = nn.Sequential(
            nn.Linear(encoder.code_dim, cfg.projection_hidden),
            nn.ReLU(inplace=True),
            nn.Linear(cfg.projection_hidden, cfg.projection_dim),
        )

    def forward(self, encoder: nn.Module, batch: Batch) -> TaskOutput:
        views = two_views(batch.images, self.cfg.augment)
        z1, z2 = self.projection(encoder(views)).chunk(2)  # one encoder pass for both views
        loss = nt_xent(z1, z2, self.cfg.temperature)
        with torch.no_grad():
            agree = (F.normalize(z1.float(), dim=1) * F.normalize(z2.float(), dim=1)).sum(1).mean()
        first, second = views.detach().chunk(2)
        return TaskOutput(loss, {"view_cosine": agree}, images=(first, second))
