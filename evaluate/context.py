"""What an evaluation offers its protocols (evaluate.contract), and a label-free result's row."""

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
from pretrain.core.samples import Features
from pretrain.core.tasks import FeatureSource

NEEDS = ("features", "labels", "images", "encoder")  # what a protocol may need; an evaluation offers some


@dataclass
class Measurement:
    """One label-free result: ``result`` of ``protocol`` on ``source`` (a feature source, or a task's score)."""

    source: str
    protocol: str
    result: Result


@dataclass
class EvalContext:
    """What one evaluation offers its protocols. ``features[source][split]`` are cached
    Features (labels -1 on unlabelled data); ``variants[source][seed]`` replace them for
    sources drawn anew per seed (random init); ``available`` lists what of ``NEEDS`` it has."""

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

    def settings(self, protocol: str) -> Any:
        return self.cfg.eval.settings(protocol)
