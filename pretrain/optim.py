"""Optimizer and learning-rate schedule from OptimConfig."""

from __future__ import annotations

import math

import torch
from torch import nn

from pretrain.core.config import ConfigError, OptimConfig


def make_optimizer(kind: str, groups: list[dict], lr: float, momentum: float = 0.9) -> torch.optim.Optimizer:
    if kind == "adamw":
        return torch.optim.AdamW(groups, lr=lr)
    if kind == "adam":  # L2 added to the gradient, as in the decoder-only paper
        return torch.optim.Adam(groups, lr=lr)
    if kind == "sgd":
        return torch.optim.SGD(groups, lr=lr, momentum=momentum)
    raise ConfigError(f"optimizer {kind!r} is unknown (adamw | adam | sgd)")


def build_optimizers(model: nn.Module, cfg: OptimConfig) -> list[torch.optim.Optimizer]:
    """The main optimizer over every parameter, except those a task trains with an optimizer
    of its own (``task.optimizer_groups()``, e.g. decoder-only's code table), which come after,
    and a task's teachers (``task.teachers()``, moved by EMA), which no optimizer sees.
    No weight decay on biases and norm scales (1-D tensors), as in timm/MAE."""
    tasks = getattr(model, "tasks", [])
    own = [group for task in tasks for group in task.optimizer_groups()]
    teachers = {id(p) for task in tasks for teacher in task.teachers() for p in teacher.parameters()}
    taken = teachers | {id(p) for group in own for p in group["params"]}
    params = [p for p in model.parameters() if p.requires_grad and id(p) not in taken]
    groups = [
        {"params": [p for p in params if p.ndim > 1], "weight_decay": cfg.weight_decay},
        {"params": [p for p in params if p.ndim <= 1], "weight_decay": 0.0},
    ]
    main = make_optimizer(cfg.optimizer, groups, cfg.lr, cfg.momentum)
    extra = [
        make_optimizer(
            g["optimizer"],
            [{"params": g["params"], "weight_decay": g.get("weight_decay", 0.0)}],
            g["lr"],
            g.get("momentum", 0.9),
        )
        for g in own
    ]
    return [main, *extra]


def lr_factor(step: int, total_steps: int, cfg: OptimConfig) -> float:
    """Multiplier of the base lr at ``step``: linear warmup, then cosine to 0 or constant."""
    if step < cfg.warmup_steps:
        return (step + 1) / cfg.warmup_steps
    if cfg.schedule == "constant":
        return 1.0
    if cfg.schedule == "cosine":
        progress = (step - cfg.warmup_steps) / max(1, total_steps - cfg.warmup_steps)
        return 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))
    raise ConfigError(f"optim.schedule: {cfg.schedule!r} is unknown (cosine | constant)")


def build_scheduler(optimizer: torch.optim.Optimizer, total_steps: int, cfg: OptimConfig):
    lr_factor(0, total_steps, cfg)  # fail early on a bad schedule name
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: lr_factor(step, total_steps, cfg))
