"""Retrieval metrics over cached features: precision@k, recall@k and mAP@R.

Neighbours by cosine similarity (evaluate.knn.cosine_search, FAISS). Definitions follow the
metric-learning convention (Musgrave et al., "A Metric Learning Reality Check", 2020):
- precision@k: share of the k nearest bank items that have the query's class;
- recall@k: share of queries with at least one same-class item among the k nearest;
- mAP@R: with R the number of bank items of the query's class, the mean over queries of
  (1/R) * sum_{i <= R} precision@i * [item i has the query's class].
"""

from __future__ import annotations

import torch

from evaluate.knn import cosine_search


def relevance(bank_y: torch.Tensor, query_y: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
    """(Q, k) bool: does the neighbour at each rank share the query's class?"""
    return bank_y.cpu()[positions] == query_y.cpu()[:, None]


def map_at_r(rel: torch.Tensor, r: torch.Tensor) -> torch.Tensor:
    """Per-query mAP@R from relevance (Q, K >= max R) and R (Q,)."""
    ranks = torch.arange(1, rel.shape[1] + 1)
    within = ranks[None, :] <= r[:, None]
    hits = (rel & within).float()
    precision_at_i = hits.cumsum(1) / ranks
    return (precision_at_i * hits).sum(1) / r.clamp_min(1)


def retrieval_metrics(
    bank_x: torch.Tensor, bank_y: torch.Tensor, query_x: torch.Tensor, query_y: torch.Tensor,
    ks: tuple[int, ...] = (1, 5, 10), chunk: int = 2048,
) -> dict:  # fmt: skip
    """{"precision@k", "recall@k" for k in ks, "map@r"}; queries are searched in chunks so the
    (chunk x R) neighbour lists of mAP@R stay small."""
    class_sizes = torch.bincount(bank_y.cpu(), minlength=int(max(bank_y.max(), query_y.max())) + 1)
    depth = int(max(max(ks), class_sizes.max()))
    sums = {f"precision@{k}": 0.0 for k in ks} | {f"recall@{k}": 0.0 for k in ks} | {"map@r": 0.0}
    for start in range(0, len(query_x), chunk):
        qx, qy = query_x[start : start + chunk], query_y[start : start + chunk]
        _, positions = cosine_search(bank_x, qx, min(depth, len(bank_x)))
        rel = relevance(bank_y, qy, positions)
        for k in ks:
            sums[f"precision@{k}"] += rel[:, :k].float().mean(1).sum().item()
            sums[f"recall@{k}"] += rel[:, :k].any(1).float().sum().item()
        sums["map@r"] += map_at_r(rel, class_sizes[qy.cpu()]).sum().item()
    return {name: total / len(query_x) for name, total in sums.items()} | {"ks": list(ks), "bank_size": len(bank_x)}
