"""The one object an evaluation hands down: what it offers its protocols (evaluate.contract)
and what its outputs read; and a label-free result's row."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from evaluate.cells import CellStore
from evaluate.results import Result
from pretrain.core.config import Config
from pretrain.core.data import Splits
from pretrain.core.run_folder import EvaluationFolder, Run
from pretrain.core.samples import Features
from pretrain.core.tasks import FeatureSource, task_keys

NEEDS = ("features", "labels", "images", "encoder")  # what a protocol may need; an evaluation offers some


@dataclass
class Measurement:
    """One label-free result: ``result`` of ``protocol`` on ``source`` (a feature source, or a task's score)."""

    source: str
    protocol: str
    result: Result


@dataclass
class EvalContext:
    """One evaluation: what it offers its protocols and what its outputs read. ``features[source][split]``
    are cached Features (labels -1 on unlabelled data); ``variants[source][seed]`` replace them for
    sources drawn anew per seed (random init); ``available`` lists what of ``NEEDS`` it has;
    ``encoder`` is the run's encoder where the evaluation serves it to protocols (None: the
    baselines alone), ``run_encoder`` the run's encoder always (diagnostics, plots)."""

    cfg: Config
    splits: Splits
    features: dict[str, dict[str, Features]]
    sources: list[FeatureSource]
    device: torch.device
    available: frozenset[str]
    base_seed: int = 0
    first_seed: int = 0  # first labelled-subset seed (bench pools runs over disjoint ranges)
    variants: dict[str, list[dict[str, Features]]] = field(default_factory=dict)
    cells: CellStore | None = None
    encoder: nn.Module | None = None
    scratch: Callable[[int], nn.Module] | None = None  # seed -> a freshly initialised encoder (None: no scratch)
    scorers: list[tuple[str, Callable]] = field(default_factory=list)  # [(task key, images -> {name: (N,)})]
    memo: dict = field(default_factory=dict)  # work shared by protocols within this evaluation (evaluate.views)
    run_folder: Run | None = None  # the run evaluated
    outputs: EvaluationFolder | None = None  # where its report, plots and logs go: the run, or RUN/evals/...
    run_encoder: nn.Module | None = None  # the run's encoder, with which its tasks were loaded
    tasks: nn.ModuleList | None = None  # the run's tasks with trained weights, in config order
    predictions: dict[tuple, torch.Tensor] = field(default_factory=dict)  # Record.key -> test predictions (Q,)

    @property
    def task_keys(self) -> list[str]:
        return task_keys([t.name for t in self.cfg.tasks])

    def settings(self, protocol: str) -> Any:
        return self.cfg.eval.settings(protocol)
