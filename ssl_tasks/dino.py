"""DINO (Caron et al., "Emerging Properties in Self-Supervised Vision Transformers", ICCV 2021).

Self-distillation without labels: a student (shared encoder + head) matches the output
distribution of a teacher (an EMA copy, ssl_tasks.momentum) over K prototypes. The teacher
sees the 2 global crops, the student every crop (2 global + N small local ones, multi-crop);
each student crop is matched to every teacher crop of another view. Collapse is avoided by
centering the teacher's logits (a running mean over the global batch) and sharpening them
(a low teacher temperature, warmed up linearly).

    global crops (2B, C, H, W), local crops (N B, C, s, s), s ~ 3/7 of the side (96 of 224)
    student logits (B, K) per crop, teacher logits (B, K) per global crop
    loss = mean over pairs (t, s != t) of H(softmax((g_t - c) / tau_t), softmax(g_s / tau_s))   (DINO eq. 3)
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from pretrain.core.augment import AugmentConfig, augment
from pretrain.core.tasks import Batch, TaskContext, TaskOutput, TrainingProgress, register_task
from ssl_tasks.batch_stats import full_precision, global_mean
from ssl_tasks.momentum import MomentumConfig, MomentumTask


def global_crops() -> AugmentConfig:
    return AugmentConfig(crop_scale=[0.4, 1.0], flip=0.5, brightness=0.4, contrast=0.4)


def local_crops() -> AugmentConfig:
    return AugmentConfig(crop_scale=[0.05, 0.4], flip=0.5, brightness=0.4, contrast=0.4)


@dataclass
class DinoConfig(MomentumConfig):
    base_momentum: float = 0.996  # DINO's teacher momentum, cosine to 1
    head_hidden: int = 512  # DINO: 2048
    head_bottleneck: int = 128  # DINO: 256
    # batch norm after the hidden layers, as solo-learn's DINO head for ResNets (DINO's ViT head: none)
    head_batch_norm: bool = True
    prototypes: int = 1024  # K, DINO: 65536
    student_temperature: float = 0.1
    # DINO's default 0.04 throughout (its 0.04 -> 0.07 warm-up is for long runs). Measured here
    # (107 steps, val kNN): 0.04 -> 0.07 drifted to near-uniform targets (entropy 6.54 of ln K
    # = 6.93, kNN 63.7); 0.04 kept them sharper (5.56, kNN 66.4). CHANGELOG 0.1.7.
    teacher_temperature: float = 0.04  # after the warm-up
    warmup_teacher_temperature: float = 0.04  # at step 0 ...
    teacher_temperature_warmup: float = (
        0.3  # ... rising linearly over this fraction of training (DINO: 30 of 100 epochs)
    )
    center_momentum: float = 0.9
    global_crops: AugmentConfig = field(default_factory=global_crops)
    local_crops: AugmentConfig = field(default_factory=local_crops)
    local_crops_number: int = 4  # N
    local_crop_fraction: float = 3 / 7  # local crop side / image side (DINO: 96 / 224)


class DinoHead(nn.Module):
    """(B, m) -> (B, K): a 3-layer GELU MLP to a bottleneck, L2-normalised, then a linear layer
    whose rows are normalised (DINO's weight-normed last layer with its norm fixed to 1).

    ``batch_norm`` puts batch norm after both hidden layers. Why: a pooled ResNet code is much
    the same direction for every image early on, so the teacher's outputs differ little between
    images; centering then removes nearly all of them and the sharpened target is near uniform
    (the collapse DINO's sec. 5.3 describes), which the student learns to copy. Standardising
    each hidden unit over the batch keeps the images apart (solo-learn's DINO head does this)."""

    def __init__(self, in_dim: int, hidden: int, bottleneck: int, prototypes: int, batch_norm: bool = False):
        super().__init__()
        norm = (lambda: nn.BatchNorm1d(hidden)) if batch_norm else nn.Identity
        self.mlp = nn.Sequential(
            nn.Linear(in_dim, hidden),
            norm(),
            nn.GELU(),
            nn.Linear(hidden, hidden),
            norm(),
            nn.GELU(),
            nn.Linear(hidden, bottleneck),
        )
        self.prototypes = nn.Parameter(torch.randn(prototypes, bottleneck) * 0.02)

    def forward(self, codes: torch.Tensor) -> torch.Tensor:
        x = F.normalize(self.mlp(codes), dim=-1)
        return x @ F.normalize(self.prototypes, dim=-1).T


def teacher_temperature(progress: TrainingProgress, cfg: DinoConfig) -> float:
    """Linear warm-up from ``warmup_teacher_temperature`` to ``teacher_temperature``, then constant."""
    if progress.fraction >= cfg.teacher_temperature_warmup:
        return cfg.teacher_temperature
    t = progress.fraction / cfg.teacher_temperature_warmup
    return cfg.warmup_teacher_temperature + t * (cfg.teacher_temperature - cfg.warmup_teacher_temperature)


def sharpened_targets(teacher: torch.Tensor, center: torch.Tensor, tau_t: float) -> torch.Tensor:
    """softmax((g_t - c) / tau_t): the teacher's centred, sharpened distribution (B, K), no gradient."""
    return F.softmax((teacher.detach().float() - center) / tau_t, dim=-1)


def dino_loss(
    student: list[torch.Tensor], teacher: list[torch.Tensor], center: torch.Tensor, tau_s: float, tau_t: float
) -> torch.Tensor:
    """DINO eq. 3, averaged over the batch and over the (teacher crop, other student crop) pairs.

    student: logits (B, K) per crop, the 2 global crops first; teacher: logits (B, K) of the 2
    global crops (detached); center: (1, K)."""
    with full_precision(center):
        targets = [sharpened_targets(t, center, tau_t) for t in teacher]
        log_probs = [F.log_softmax(s.float() / tau_s, dim=-1) for s in student]
        terms = [
            (-q * log_p).sum(-1).mean() for i, q in enumerate(targets) for j, log_p in enumerate(log_probs) if i != j
        ]
        return torch.stack(terms).mean()


def target_entropy(teacher: torch.Tensor, center: torch.Tensor, tau_t: float) -> torch.Tensor:
    """Mean entropy (nats) of the teacher's targets, teacher logits (B, K): ln K means uniform
    targets (collapse to uniform), 0 one-hot; the loss minus it is the KL the student has left
    to close (DINO's Fig. 7 tracks both)."""
    q = sharpened_targets(teacher, center, tau_t)
    return -(q * q.clamp_min(1e-12).log()).sum(-1).mean()


def updated_center(center: torch.Tensor, teacher: torch.Tensor, momentum: float) -> torch.Tensor:
    """DINO eq. 4: c <- m c + (1 - m) mean of the teacher logits (B, K) over the global batch."""
    return center * momentum + global_mean(teacher) * (1 - momentum)


@register_task("dino")
class Dino(MomentumTask):
    Config = DinoConfig
    draws_own_views = True  # 2 global + N local crops, drawn here

    def __init__(self, cfg: DinoConfig, encoder: nn.Module, ctx: TaskContext):
        super().__init__(cfg, encoder, ctx)
        self.head = DinoHead(
            encoder.code_dim, cfg.head_hidden, cfg.head_bottleneck, cfg.prototypes, cfg.head_batch_norm
        )
        self.teacher_encoder = self.teacher_of("teacher_encoder", encoder)
        self.teacher_head = self.teacher_of("teacher_head", self.head)
        self.register_buffer("center", torch.zeros(1, cfg.prototypes))
        side = ctx.image_shape[-1]
        # an encoder with a fixed input grid takes the local crops resampled to the full side
        self.local_size = max(4, round(side * cfg.local_crop_fraction)) if encoder.takes_any_size else side
        self.pending_center: torch.Tensor | None = None  # this step's teacher mean, applied after the step

    def teacher_pairs(self, encoder: nn.Module) -> list[tuple[nn.Module, nn.Module]]:
        return [(encoder, self.teacher_encoder), (self.head, self.teacher_head)]

    def crops(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """images (B, C, H, W) -> global crops (2B, C, H, W), local crops (N B, C, s, s)."""
        cfg = self.cfg
        global_views = torch.cat([augment(images, cfg.global_crops) for _ in range(2)])
        local_views = [augment(images, cfg.local_crops, self.local_size) for _ in range(cfg.local_crops_number)]
        c = images.shape[1]
        return global_views, torch.cat(local_views) if local_views else images.new_empty(0, c, *[self.local_size] * 2)

    def forward(self, encoder: nn.Module, batch: Batch) -> TaskOutput:
        global_views, local_views = self.crops(batch.images)
        student = list(self.head(encoder(global_views)).chunk(2))
        if len(local_views):
            student += list(self.head(encoder(local_views)).chunk(self.cfg.local_crops_number))
        with torch.no_grad():
            teacher = self.teacher_head(self.teacher_encoder(global_views))
        tau_t = teacher_temperature(self.progress, self.cfg)
        loss = dino_loss(student, list(teacher.chunk(2)), self.center, self.cfg.student_temperature, tau_t)
        self.pending_center = updated_center(self.center, teacher, self.cfg.center_momentum)
        logs = {
            "teacher_temperature": torch.tensor(tau_t),
            "momentum": torch.tensor(self.momentum(self.progress)),
            "target_entropy": target_entropy(teacher, self.center, tau_t),
        }
        first, second = global_views.detach().chunk(2)
        return TaskOutput(loss, logs, images=(first, second))

    def after_step(self, encoder: nn.Module, progress: TrainingProgress) -> None:
        super().after_step(encoder, progress)
        if self.pending_center is not None:
            self.center.copy_(self.pending_center)
            self.pending_center = None

    def describe(self, encoder: nn.Module) -> list[str]:
        side = "resampled to the full side: this encoder has a fixed input grid" if not encoder.takes_any_size else ""
        local = f"{self.cfg.local_crops_number} local crops at {self.local_size} px {side}".rstrip()
        return [f"dino: 2 global crops + {local}, K = {self.cfg.prototypes} prototypes"]
