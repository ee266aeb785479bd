"""The pretext-task interface and its registry.

A task is an ``nn.Module`` that owns its heads (decoder, position classifier, code table)
but never the encoder: every task receives the one shared encoder in ``forward``. That is
what lets several tasks train one encoder with weights (see pretrain.model.PretrainModel).

    @register_task("autoencoder")
    class Autoencoder(SSLTask):
        Config = AutoencoderConfig
        def forward(self, encoder, batch) -> TaskOutput: ...
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch import nn

from pretrain.config import ConfigError, parse_dataclass
from pretrain.registry import Registry


@dataclass
class TaskConfig:
    """Fields every task section has; a task's own Config subclasses this."""

    name: str = ""
    weight: float = 1.0  # this task's share of the summed loss


@dataclass
class Batch:
    """What the loop hands a task.

    images: (B, C, H, W) float in [0, 1] on the training device.
    index:  (B,) int64 positions in the pretraining dataset (per-sample codes need them).
    Labels never enter pretraining.
    """

    images: torch.Tensor
    index: torch.Tensor


@dataclass
class TaskOutput:
    """loss: scalar tensor to minimise. logs: detached scalars for TensorBoard.
    images: optional (input, output) pair of (B, C, H, W) tensors in [0, 1] to show as a grid."""

    loss: torch.Tensor
    logs: dict[str, torch.Tensor] = field(default_factory=dict)
    images: tuple[torch.Tensor, torch.Tensor] | None = None


@dataclass
class TaskContext:
    """Facts about the data a task may need to build its heads."""

    image_shape: tuple[int, int, int]  # (C, H, W)
    num_samples: int  # N, the pretraining set size (per-sample codes, loads)


class SSLTask(nn.Module):
    """One pretext task. Subclasses set ``Config`` and implement ``forward``."""

    Config: type[TaskConfig] = TaskConfig

    def __init__(self, cfg: TaskConfig, encoder: nn.Module, ctx: TaskContext):
        super().__init__()
        self.cfg = cfg

    def forward(self, encoder: nn.Module, batch: Batch) -> TaskOutput:  # pragma: no cover
        raise NotImplementedError

    def prepare(self, images: torch.Tensor) -> None:
        """Called once before training with the pretraining images (N, C, H, W) uint8, on
        every process alike (so DDP replicas agree). Default: nothing."""

    def optimizer_groups(self) -> list[dict]:
        """Parameters this task trains with an optimizer of its own: dicts with ``params``,
        ``optimizer`` (sgd | adam | adamw), ``lr`` and optionally ``momentum``, ``weight_decay``.
        They follow the same lr schedule as the main optimizer. Default: none."""
        return []

    def describe(self, encoder: nn.Module) -> list[str]:
        """Lines printed before training (warnings, capacity figures). Default: none."""
        return []


TASKS = Registry("task")


def register_task(name: str) -> Callable[[type[SSLTask]], type[SSLTask]]:
    """Class decorator adding a task to the registry; a name can be registered once."""
    return TASKS.register(name)


def get_task_class(name: str) -> type[SSLTask]:
    import ssl_tasks  # noqa: F401  (importing the package registers the built-in tasks)

    return TASKS.lookup(name)


def parse_task_config(entry: dict, path: str) -> TaskConfig:
    """Parse one ``tasks`` entry with the Config dataclass of the task it names."""
    if not isinstance(entry, dict) or "name" not in entry:
        raise ConfigError(f"{path}: a task section needs a 'name' (one of the registered tasks)")
    cls = get_task_class(entry["name"])
    return parse_dataclass(cls.Config, entry, path)


def task_keys(names: list[str]) -> list[str]:
    """Log/report keys for a task list: the name, or name + position when a name repeats."""
    return [n if names.count(n) == 1 else f"{n}{i}" for i, n in enumerate(names)]


def build_task(cfg: TaskConfig, encoder: nn.Module, ctx: TaskContext) -> SSLTask:
    return get_task_class(cfg.name)(cfg, encoder, ctx)
