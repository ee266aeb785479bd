"""The pretext-task contract: what a task is, what it may offer evaluation, and its registry.

A task is an ``nn.Module`` that owns its heads (decoder, position classifier, code table)
but never the encoder: every task receives the one shared encoder in ``forward``. That is
what lets several tasks train one encoder with weights (pretrain.model.PretrainModel).

    @register_task("autoencoder")          # in a module of the ssl_tasks package
    class Autoencoder(SSLTask):
        Config = AutoencoderConfig
        def forward(self, encoder, batch) -> TaskOutput: ...

Evaluation never asks what class a task is; it asks every task what it can do. Each
capability has a default that says "not available", so a task offers one by overriding it:

    decode(codes)                                codes -> images: reconstructions, latent walks
    decoder_codes(encoder, images, device)       the codes its decoder reads for given images
    anomaly_scores(encoder, images, device)      per-image scores for outlier detection
    feature_sources(encoder, device)             representations besides the encoder's code

A task that trains with a schedule or a teacher (BYOL, DINO) uses three training hooks:
``self.progress`` (the step being trained and the total, set by the loop before every
forward), ``after_step(encoder, progress)`` (called after every optimizer step, for EMA
teachers and centers) and ``add_teacher(name, module)`` (a module saved, resumed and exported
with the task but never optimised).

The registry imports the ``ssl_tasks`` package on its first lookup, which registers the
built-in tasks; the core itself never imports a task module.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch import nn

from pretrain.core.augment import AugmentConfig
from pretrain.core.registry import Registry
from pretrain.core.samples import ImageSet
from pretrain.core.typed_yaml import ConfigError, parse_dataclass


@dataclass
class TaskConfig:
    """Fields every task section has; a task's own Config subclasses this."""

    name: str = ""
    weight: float = 1.0  # this task's share of the summed loss
    augment: AugmentConfig = field(default_factory=AugmentConfig)  # views this task trains on (none by default)


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


@dataclass(frozen=True)
class TrainingProgress:
    """Where training is: ``step`` optimizer steps done, of ``total``. Schedules read ``fraction``."""

    step: int
    total: int

    @property
    def fraction(self) -> float:
        """step / total in [0, 1]."""
        return min(1.0, self.step / max(1, self.total))


@dataclass
class FeatureSource:
    """A representation evaluation can probe: a name, an identity string (what its feature
    cache is keyed on) and an extractor from (split name, uint8 images) to features (N, d)."""

    name: str
    identity: str
    extract: Callable[[str, ImageSet], torch.Tensor]
    description: str
    cache: bool = True  # False where recomputing is cheaper than reading the file back
    shared: bool = False  # depends on no run (a baseline): cached once per machine, in the evaluation store


class SSLTask(nn.Module):
    """One pretext task. Subclasses set ``Config`` and implement ``forward``."""

    Config: type[TaskConfig] = TaskConfig
    # False: the loop hands forward() one augmented view per its ``augment`` settings (the
    # clean image without any); True: forward() gets clean images and draws its own views
    draws_own_views: bool = False

    def __init__(self, cfg: TaskConfig, encoder: nn.Module, ctx: TaskContext):
        super().__init__()
        self.cfg = cfg
        self.progress = TrainingProgress(0, 1)  # the loop sets it before every forward
        self.teacher_names: list[str] = []

    def forward(self, encoder: nn.Module, batch: Batch) -> TaskOutput:  # pragma: no cover
        raise NotImplementedError

    # ----------------------------------------------------------------- training hooks

    def prepare(self, images: torch.Tensor) -> None:
        """Called once before training with the pretraining images (N, C, H, W) uint8, on
        every process alike (so DDP replicas agree). Default: nothing."""

    def add_teacher(self, name: str, module: nn.Module) -> nn.Module:
        """Own ``module`` as a teacher: it is checkpointed, resumed and exported with the task
        (it is a submodule), but gets no gradient and no optimizer (pretrain.optim leaves it out)."""
        module.requires_grad_(False)
        self.add_module(name, module)
        self.teacher_names.append(name)
        return module

    def teachers(self) -> list[nn.Module]:
        """The modules registered with ``add_teacher``."""
        return [getattr(self, name) for name in self.teacher_names]

    def after_step(self, encoder: nn.Module, progress: TrainingProgress) -> None:
        """Called under no_grad after every optimizer step, ``progress.step`` steps done, on
        every process alike (EMA teachers, centers). Default: nothing."""

    def optimizer_groups(self) -> list[dict]:
        """Parameters this task trains with an optimizer of its own: dicts with ``params``,
        ``optimizer`` (sgd | adam | adamw), ``lr`` and optionally ``momentum``, ``weight_decay``.
        They follow the same lr schedule as the main optimizer. Default: none."""
        return []

    def describe(self, encoder: nn.Module) -> list[str]:
        """Lines printed before training (warnings, capacity figures). Default: none."""
        return []

    # ----------------------------------------------------------------- capabilities for evaluation

    def decode(self, codes: torch.Tensor) -> torch.Tensor | None:
        """codes (B, m) -> images (B, C, H, W) in [0, 1]. Default: None, no decoder."""
        return None

    def decoder_codes(self, encoder: nn.Module, images: torch.Tensor, device) -> torch.Tensor | None:
        """The codes (N, m) this task's decoder reads for uint8 images (N, C, H, W), on the
        CPU: what ``decode`` turns back into reconstructions. Default: None, no decoder."""
        return None

    def anomaly_scores(self, encoder: nn.Module, images: torch.Tensor, device) -> dict[str, torch.Tensor]:
        """Per-image scores (N,) for uint8 images (N, C, H, W), higher = more outlying (e.g.
        reconstruction error), by score name, on the CPU. Default: none."""
        return {}

    def feature_sources(self, encoder: nn.Module, device) -> list[FeatureSource]:
        """Representations this task offers besides the encoder's code (e.g. decoder-only's
        per-sample codes). Their identity need not name the weights: evaluation adds that.
        Default: none."""
        return []


TASKS = Registry("task", plugins="ssl_tasks")


def register_task(name: str) -> Callable[[type[SSLTask]], type[SSLTask]]:
    """Class decorator adding a task to the registry; a name can be registered once."""
    return TASKS.register(name)


def parse_task_config(entry: dict, path: str) -> TaskConfig:
    """Parse one ``tasks`` entry with the Config dataclass of the task it names."""
    if not isinstance(entry, dict) or "name" not in entry:
        raise ConfigError(f"{path}: a task section needs a 'name' (one of the registered tasks)")
    return parse_dataclass(TASKS.lookup(entry["name"]).Config, entry, path)


def task_keys(names: list[str]) -> list[str]:
    """Log/report keys for a task list: the name, or name + position when a name repeats."""
    return [n if names.count(n) == 1 else f"{n}{i}" for i, n in enumerate(names)]


def build_task(cfg: TaskConfig, encoder: nn.Module, ctx: TaskContext) -> SSLTask:
    return TASKS.lookup(cfg.name)(cfg, encoder, ctx)
