"""Clustering of frozen features: FAISS k-means with k = number of classes, fitted on the
training features, with the test features assigned to its centroids and scored against the
test labels by NMI, ARI and accuracy after the best one-to-one cluster-to-class matching
(Hungarian algorithm). The metrics are small functions of the contingency table."""

from __future__ import annotations

import statistics

import faiss
import numpy as np
import torch
import torch.nn.functional as F
from scipy.optimize import linear_sum_assignment


def contingency(labels: np.ndarray, clusters: np.ndarray) -> np.ndarray:
    """(classes, clusters) counts."""
    _, y = np.unique(labels, return_inverse=True)
    _, c = np.unique(clusters, return_inverse=True)
    table = np.zeros((y.max() + 1, c.max() + 1), dtype=np.int64)
    np.add.at(table, (y, c), 1)
    return table


def _entropy(counts: np.ndarray) -> float:
    p = counts[counts > 0] / counts.sum()
    return float(-(p * np.log(p)).sum())


def nmi(labels: np.ndarray, clusters: np.ndarray) -> float:
    """Normalised mutual information, arithmetic-mean normalisation (scikit-learn's default)."""
    table = contingency(labels, clusters)
    n = table.sum()
    pxy = table / n
    px, py = pxy.sum(1, keepdims=True), pxy.sum(0, keepdims=True)
    nz = pxy > 0
    mutual = float((pxy[nz] * np.log(pxy[nz] / (px @ py)[nz])).sum())
    h = (_entropy(table.sum(1)) + _entropy(table.sum(0))) / 2
    return mutual / h if h > 0 else 1.0


def ari(labels: np.ndarray, clusters: np.ndarray) -> float:
    """Adjusted Rand index (Hubert & Arabie 1985)."""
    table = contingency(labels, clusters)
    comb = lambda x: x * (x - 1) / 2  # noqa: E731  pairs within each cell
    pairs_cells = comb(table).sum()
    pairs_rows, pairs_cols, pairs_all = comb(table.sum(1)).sum(), comb(table.sum(0)).sum(), comb(table.sum())
    expected = pairs_rows * pairs_cols / pairs_all
    best = (pairs_rows + pairs_cols) / 2
    return float((pairs_cells - expected) / (best - expected)) if best != expected else 1.0


def matched_accuracy(labels: np.ndarray, clusters: np.ndarray) -> float:
    """Accuracy after mapping each cluster to one class so that the most items agree."""
    table = contingency(labels, clusters)
    rows, cols = linear_sum_assignment(-table)
    return float(table[rows, cols].sum() / table.sum())


def kmeans_plus_plus(x: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """k-means++ seeding (Arthur & Vassilvitskii 2007): each next centre drawn with probability
    proportional to the squared distance to the nearest centre so far. x (N, d) -> (k, d)."""
    centres = [x[rng.integers(len(x))]]
    nearest = ((x - centres[0]) ** 2).sum(1)
    for _ in range(1, k):
        total = nearest.sum()
        weights = nearest / total if total > 0 else None  # all points coincide: any point will do
        centres.append(x[rng.choice(len(x), p=weights)])
        nearest = np.minimum(nearest, ((x - centres[-1]) ** 2).sum(1))
    return np.ascontiguousarray(np.stack(centres), dtype=np.float32)


def kmeans_clustering(
    train_features: torch.Tensor,
    test_features: torch.Tensor,
    test_labels: torch.Tensor,
    k: int | None = None,
    seed: int = 0,
    niter: int = 25,
    restarts: int = 3,
) -> dict:
    """FAISS k-means fitted on all L2-normalised training features (N, d) from k-means++ seeds,
    restart r seeded with seed + r; the L2-normalised test features are assigned to the fitted
    centroids and scored against the test labels. k defaults to the number of test classes.
    -> {"nmi", "ari", "accuracy"} (means over restarts), their "*_std", "k", "restarts",
    "fitted_on", "train_size"."""
    y = test_labels.cpu().numpy()
    k = k or len(np.unique(y))
    train = np.ascontiguousarray(F.normalize(train_features.float(), dim=1).cpu().numpy())
    test = np.ascontiguousarray(F.normalize(test_features.float(), dim=1).cpu().numpy())
    scores: dict[str, list[float]] = {"nmi": [], "ari": [], "accuracy": []}
    for r in range(restarts):
        # FAISS otherwise subsamples to max_points_per_centroid * k points (default 256 * k);
        # fit on every training point. min_points_per_centroid=1 silences its small-data warning.
        km = faiss.Kmeans(
            train.shape[1],
            k,
            niter=niter,
            seed=seed + r,
            verbose=False,
            max_points_per_centroid=len(train) // k + 1,
            min_points_per_centroid=1,
        )
        km.train(train, init_centroids=kmeans_plus_plus(train, k, np.random.default_rng(seed + r)))
        _, clusters = km.index.search(test, 1)
        clusters = clusters.ravel()
        scores["nmi"].append(nmi(y, clusters))
        scores["ari"].append(ari(y, clusters))
        scores["accuracy"].append(matched_accuracy(y, clusters))
    result: dict = {}
    for name, values in scores.items():
        result[name] = statistics.fmean(values)
        result[f"{name}_std"] = statistics.stdev(values) if len(values) > 1 else 0.0
    return result | {"k": k, "restarts": restarts, "fitted_on": "train", "train_size": len(train)}
