"""kNN and linear-probe accuracy of one representation at a few label budgets: the transfer
columns of the paper experiment and the bottleneck sweep."""

from __future__ import annotations

import statistics

from evaluate.knn import knn_classifier
from evaluate.linear import linear_probe
from evaluate.suite import labelled_subsets, validation_subset
from pretrain.core.config import EvalConfig
from pretrain.core.samples import Features


def knn_and_linear(
    train: Features, val: Features, test: Features, budgets: list[int], cfg: EvalConfig, num_classes: int, seed: int
) -> dict:
    """{"knn": {budget: mean accuracy}, "linear": {budget: ...}} over ``cfg.seeds`` labelled
    subsets per budget (0 = every training label, once: both protocols are deterministic); the
    probe's L2 is chosen on validation images as scarce as the labels (``cfg.val_per_class``)."""
    scores: dict[str, dict[int, list[float]]] = {"knn": {}, "linear": {}}
    for per_class, s, positions in labelled_subsets(train.y, budgets, cfg.seeds, seed):
        if per_class == 0 and s > 0:
            continue
        labelled = train.take(positions)
        knn = knn_classifier(
            labelled.x, labelled.y, test.x, test.y, min(cfg.knn_k, len(labelled)), cfg.knn_temperature, num_classes
        )
        selecting = validation_subset(val, per_class, cfg.val_per_class, seed + s)
        linear = linear_probe(labelled, selecting, test, cfg.linear_l2, cfg.linear_max_iter, num_classes)
        scores["knn"].setdefault(per_class, []).append(knn.accuracy)
        scores["linear"].setdefault(per_class, []).append(linear.accuracy)
    return {protocol: {b: statistics.fmean(v) for b, v in by_budget.items()} for protocol, by_budget in scores.items()}
