"""One encoder, one or more weighted pretext tasks: the module the loop trains."""

from __future__ import annotations

import torch
from torch import nn

from pretrain.core.augment import augment
from pretrain.core.tasks import Batch, SSLTask, TrainingProgress, task_keys


class PretrainModel(nn.Module):
    """Sum of weighted task losses over one shared encoder; each task sees its own
    augmented view (pretrain.core.augment) where its config asks for one.

    forward(images (B, C, H, W) in [0, 1], index (B,)) returns
    (loss scalar, logs {"task/metric": scalar}, images (input, output) pair or None).
    A plain tuple, so DistributedDataParallel can wrap the whole module.
    """

    def __init__(self, encoder: nn.Module, tasks: list[SSLTask]):
        super().__init__()
        self.encoder = encoder
        self.tasks = nn.ModuleList(tasks)
        self.task_keys = task_keys([t.cfg.name for t in tasks])  # "autoencoder/loss", ...

    def forward(self, images: torch.Tensor, index: torch.Tensor):
        batch = Batch(images, index)
        total = images.new_zeros((), dtype=torch.float32)
        logs: dict[str, torch.Tensor] = {}
        shown = None
        for key, task in zip(self.task_keys, self.tasks):
            view = batch if task.draws_own_views else Batch(augment(images, task.cfg.augment), index)
            out = task(self.encoder, view)
            total = total + task.cfg.weight * out.loss.float()
            logs[f"{key}/loss"] = out.loss.detach().float()
            logs.update({f"{key}/{name}": value for name, value in out.logs.items() if name != "loss"})
            shown = shown or out.images
        return total, logs, shown

    def set_progress(self, progress: TrainingProgress) -> None:
        """Tell every task which step the next forward trains (for its schedules)."""
        for task in self.tasks:
            task.progress = progress

    @torch.no_grad()
    def after_step(self, progress: TrainingProgress) -> None:
        """Every task's after-step hook (EMA teachers), once the optimizers have stepped."""
        for task in self.tasks:
            task.after_step(self.encoder, progress)
