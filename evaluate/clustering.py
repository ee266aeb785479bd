"""Clustering of frozen features: FAISS k-means with k = number of classes, scored against
the labels by NMI, ARI and accuracy after the best one-to-one cluster-to-class matching
(Hungarian algorithm). The metrics are small functions of the contingency table."""

from __future__ import annotations

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
    features: torch.Tensor,
    labels: torch.Tensor,
    k: int | None = None,
    seed: int = 0,
    niter: int = 25,
    restarts: int = 3,
) -> dict:
    """FAISS k-means on L2-normalised features (N, d) from k-means++ seeds; the restart with
    the lowest inertia is kept (labels play no part in the choice).
    -> {"nmi", "ari", "accuracy", "k", "restarts"}."""
    y = labels.cpu().numpy()
    k = k or len(np.unique(y))
    x = np.ascontiguousarray(F.normalize(features.float(), dim=1).cpu().numpy())
    rng = np.random.default_rng(seed)
    best = None
    for _ in range(restarts):
        km = faiss.Kmeans(x.shape[1], k, niter=niter, seed=seed, verbose=False)
        km.train(x, init_centroids=kmeans_plus_plus(x, k, rng))
        inertia, clusters = km.index.search(x, 1)
        if best is None or inertia.sum() < best[0]:
            best = (inertia.sum(), clusters.ravel())
    clusters = best[1]
    return {
        "nmi": nmi(y, clusters),
        "ari": ari(y, clusters),
        "accuracy": matched_accuracy(y, clusters),
        "k": k,
        "restarts": restarts,
    }
