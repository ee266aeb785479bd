"""Outlier detection: can the representation tell images of classes never seen in
pretraining (data.holdout_classes) from those of the seen classes?

Scores, higher = more outlying: whatever per-image scores the run's tasks offer
(``SSLTask.anomaly_scores``: reconstruction error, or decoder-only's code-inference loss, the
distance to its manifold) and the mean cosine distance to the k nearest training features
of every feature source. AUROC of held-out-class test images vs the rest.
"""

from __future__ import annotations

import torch

from pretrain.core.search import cosine_search


def auroc(scores: torch.Tensor, positive: torch.Tensor) -> float:
    """Area under the ROC curve = P(score of a positive > score of a negative), ties counting
    half (Mann-Whitney U from average ranks). scores (N,), positive (N,) bool."""
    scores, positive = scores.double().cpu(), positive.bool().cpu()
    order = scores.argsort()
    ranks = torch.empty_like(scores)
    ranks[order] = torch.arange(1, len(scores) + 1, dtype=torch.float64)
    for value in scores[order][1:][scores[order][1:] == scores[order][:-1]].unique():  # average tied ranks
        tied = scores == value
        ranks[tied] = ranks[tied].mean()
    n_pos, n_neg = int(positive.sum()), int((~positive).sum())
    if n_pos == 0 or n_neg == 0:
        raise ValueError("AUROC needs both positives and negatives")
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def knn_distance_scores(bank: torch.Tensor, queries: torch.Tensor, k: int = 20) -> torch.Tensor:
    """Mean cosine distance (1 - similarity) of each query (Q, d) to its k nearest bank items."""
    sims, _ = cosine_search(bank, queries, min(k, len(bank)))
    return 1 - sims.mean(1)
