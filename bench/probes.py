"""kNN and linear-probe accuracy of one representation at a few label budgets: the transfer
columns of the paper experiment and the bottleneck sweep, through the evaluation's own grid."""

from __future__ import annotations

import dataclasses
import statistics

from evaluate.protocol_registry import PROTOCOLS
from evaluate.settings import EvalConfig
from evaluate.suite import frozen_grid
from pretrain.core.samples import Features


def knn_and_linear(
    train: Features, val: Features, test: Features, budgets: list[int], cfg: EvalConfig, num_classes: int, seed: int
) -> dict:
    """{"knn": {budget: mean accuracy}, "linear": {budget: ...}} over ``cfg.seeds`` labelled
    subsets per budget (0 = every training label, once: both protocols are deterministic); the
    probe's L2 is chosen on validation images as scarce as the labels (``cfg.val_per_class``)."""
    grid = dataclasses.replace(cfg, labels_per_class=list(budgets))  # keeps the protocols' settings
    protocols = [PROTOCOLS["linear"], PROTOCOLS["knn"]]
    records = frozen_grid({"features": {"train": train, "val": val, "test": test}}, grid, num_classes, seed, protocols)
    scores: dict[str, dict[int, list[float]]] = {"knn": {}, "linear": {}}
    for r in records:
        scores[r.protocol].setdefault(r.labels_per_class, []).append(r.result.accuracy)
    return {protocol: {b: statistics.fmean(v) for b, v in by_budget.items()} for protocol, by_budget in scores.items()}
