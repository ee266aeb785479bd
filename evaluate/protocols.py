"""Run every protocol for one feature source and split set."""

from __future__ import annotations

import torch

from evaluate.features import Features
from evaluate.knn import knn_classifier
from evaluate.linear import linear_probe
from pretrain.config import EvalConfig


def check_disjoint(train: Features, val: Features, test: Features) -> None:
    """Train and val come from one original split, test from another: positions must not repeat."""
    overlap = set(train.index.tolist()) & set(val.index.tolist())
    if overlap:
        raise AssertionError(f"{len(overlap)} images are in both the training and validation splits")
    if len(test) == 0:
        raise AssertionError("the test split is empty")


def evaluate_features(train: Features, val: Features, test: Features, cfg: EvalConfig, num_classes: int) -> dict:
    """{"knn": ..., "knn_val": ..., "linear": ...}: kNN with all training labels as the bank,
    scored on test (and on val, for comparison with the pretraining monitor); linear probe."""
    check_disjoint(train, val, test)
    k = min(cfg.knn_k, len(train))
    return {
        "knn": knn_classifier(train.x, train.y, test.x, test.y, k, cfg.knn_temperature, num_classes),
        "knn_val": knn_classifier(train.x, train.y, val.x, val.y, k, cfg.knn_temperature, num_classes),
        "linear": linear_probe(train, val, test, cfg.linear_l2, cfg.linear_max_iter, num_classes),
    }


def default_device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")
