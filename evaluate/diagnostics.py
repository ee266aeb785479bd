"""What an evaluation measures besides the scarce-label grid: all-label kNN, retrieval and
clustering per source, the per-layer linear probe, outlier detection on held-out classes.
Each is a cell of the evaluation's CellStore (evaluate.cells), keyed on the exact features
or weights it reads and the settings it uses."""

from __future__ import annotations

import torch
from torch import nn

from evaluate.cells import CellStore, digest, module_digest
from evaluate.clustering import kmeans_clustering
from evaluate.features import module_code_digest, source_features
from evaluate.layers import encode_layers, probe_layers
from evaluate.outliers import auroc, knn_distance_scores
from evaluate.retrieval import neighbour_metrics
from evaluate.solvers.logistic_regression import linear_probe
from evaluate.solvers.neighbour_vote import approximate_search_recall
from evaluate.suite import feature_digest, labelled_subsets, validation_subset
from pretrain.core.config import Config
from pretrain.core.data import Splits
from pretrain.core.run_folder import Run
from pretrain.core.samples import Features
from pretrain.core.tasks import FeatureSource


def all_label_metrics(
    parts: dict[str, Features], cfg: Config, num_classes: int, cells: CellStore | None = None
) -> dict:
    """kNN accuracy over k, retrieval and clustering with every training label."""
    train, test, e = parts["train"], parts["test"], cfg.eval
    ks, retrieval_ks = tuple(e.knn_ks), tuple(e.retrieval_ks)
    temperature = e.settings("knn").temperature  # the kNN protocol's, so the two kNN numbers agree

    def compute() -> dict:
        clusters = kmeans_clustering(train.x, test.x, test.y, seed=cfg.train.seed, restarts=e.clustering_restarts)
        out = {**neighbour_metrics(train.x, train.y, test.x, test.y, ks, retrieval_ks, temperature)}
        out["clustering"] = clusters
        if e.approx_index:
            out["approximate_index"] = approximate_search_recall(train.x, test.x, max(e.retrieval_ks), e.approx_index)
        return out

    if cells is None:
        return compute()
    settings = [e.knn_ks, e.retrieval_ks, temperature, e.clustering_restarts, e.approx_index, cfg.train.seed]
    key = {"features": [feature_digest(train), feature_digest(test)], "settings": settings}
    return cells.get("all_labels", key, compute)


def layer_probe(encoder: nn.Module, splits: Splits, cfg: Config, device, cells: CellStore | None = None) -> list[dict]:
    """Linear probe on pooled features of each intermediate layer (and the code), trained on
    ``layer_probe_labels_per_class`` labels per class; strength chosen on validation."""
    e = cfg.eval
    if e.layer_probe_labels_per_class < 0 or not probe_layers(encoder):
        return []
    if cells is None:
        return probe_each_layer(encoder, splits, cfg, device)
    linear = e.settings("linear")
    settings = [e.layer_probe_labels_per_class, linear.l2, linear.max_iter, linear.l2_patience, e.val_per_class]
    settings.append(cfg.train.seed)
    key = {
        "weights": module_digest(encoder),
        "code": module_code_digest(encoder),
        "splits": [feature_digest(splits.train), feature_digest(splits.val), feature_digest(splits.test)],
        "settings": settings,
    }
    return cells.get("layers", key, lambda: probe_each_layer(encoder, splits, cfg, device))


def probe_each_layer(encoder: nn.Module, splits: Splits, cfg: Config, device) -> list[dict]:
    names, e = probe_layers(encoder), cfg.eval
    linear = e.settings("linear")  # the linear protocol's strengths and iteration cap
    smallest = int(torch.bincount(splits.train.y)[splits.train.y.unique()].min())  # classes present (not held out)
    per_class = min(e.layer_probe_labels_per_class, smallest) if e.layer_probe_labels_per_class else 0
    positions = labelled_subsets(splits.train.y, [per_class], 1, cfg.train.seed)[0][2]
    val = validation_subset(splits.val, per_class, e.val_per_class, cfg.train.seed)
    parts = {"train": splits.train.take(positions), "val": val, "test": splits.test}
    layered = {split: encode_layers(encoder, imgs.x, names + ["proj"], device=device) for split, imgs in parts.items()}
    rows = []
    for name in names + ["proj"]:
        feats = {split: imgs.with_rows(layered[split][name]) for split, imgs in parts.items()}
        result = linear_probe(
            feats["train"],
            feats["val"],
            feats["test"],
            linear.l2,
            linear.max_iter,
            splits.num_classes,
            linear.l2_patience,
        )
        rows.append(
            {
                "layer": "code" if name == "proj" else name,
                "dim": feats["train"].x.shape[1],
                "labels_per_class": per_class,
                "val_accuracy": result.val_accuracy,
                "accuracy": result.accuracy,
                "l2": result.l2,
                "l2_at_edge": result.l2_at_edge,
                "converged": result.converged,
            }
        )
    return rows


def outlier_detection(
    run: Run,
    cfg: Config,
    splits: Splits,
    features: dict[str, dict[str, Features]],
    sources: list[FeatureSource],
    scorers: list[tuple[str, object]],
    weights: str,
    cells: CellStore | None = None,
) -> dict:
    """AUROC of held-out-class test images against the seen-class test images, for the kNN
    distance in every feature source and every per-image score a task offers. ``scorers``:
    [(task key, scores(images) -> {name: (N,)})]; ``weights``: a digest of the weights they use."""
    if splits.outliers is None:
        return {}

    def compute() -> dict:
        positive = torch.cat(
            [torch.zeros(len(splits.test), dtype=torch.bool), torch.ones(len(splits.outliers), dtype=torch.bool)]
        )
        scores = {}
        for source in sources:
            extra = source_features(run, source, splits, ("outliers",))["outliers"]
            queries = torch.cat([features[source.name]["test"].x, extra.x])
            bank = features[source.name]["train"].x
            scores[f"knn_distance[{source.name}]"] = knn_distance_scores(bank, queries, cfg.eval.outlier_knn_k)
        images = torch.cat([splits.test.x, splits.outliers.x])
        for key, score in scorers:
            for name, values in score(images).items():
                scores[f"{name}[{key}]"] = values
        return {
            "holdout_classes": (cfg.eval.data or cfg.data).holdout_classes,
            "positives": int(positive.sum()),
            "negatives": int((~positive).sum()),
            "auroc": {name: auroc(s, positive) for name, s in scores.items()},
        }

    if cells is None:
        return compute()
    key = {
        "sources": [[s.identity, feature_digest(features[s.name]["train"])] for s in sources],
        "tasks": [key for key, _ in scorers],
        "weights": weights,
        "splits": [feature_digest(splits.test), digest(splits.outliers.x, splits.outliers.y)],
        "k": cfg.eval.outlier_knn_k,
    }
    return cells.get("outliers", key, compute)
