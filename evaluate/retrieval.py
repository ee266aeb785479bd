"""Retrieval metrics over cached features: precision@k, recall@k and mAP@R.

Neighbours by cosine similarity (pretrain.core.search.cosine_search, FAISS). Definitions follow the
metric-learning convention (Musgrave et al., "A Metric Learning Reality Check", 2020):
- precision@k: share of the k nearest bank items that have the query's class;
- recall@k: share of queries with at least one same-class item among the k nearest;
- mAP@R: with R the number of bank items of the query's class, the mean over queries of
  (1/R) * sum_{i <= R} precision@i * [item i has the query's class].
"""

from __future__ import annotations

import torch

from pretrain.core.search import cosine_search, knn_vote


def map_at_r(rel: torch.Tensor, r: torch.Tensor) -> torch.Tensor:
    """Per-query mAP@R from relevance (Q, K >= max R) and R (Q,)."""
    ranks = torch.arange(1, rel.shape[1] + 1)
    within = ranks[None, :] <= r[:, None]
    hits = (rel & within).float()
    precision_at_i = hits.cumsum(1) / ranks
    return (precision_at_i * hits).sum(1) / r.clamp_min(1)


def neighbour_metrics(
    bank_x: torch.Tensor,
    bank_y: torch.Tensor,
    query_x: torch.Tensor,
    query_y: torch.Tensor,
    knn_ks: tuple[int, ...] = (20,),
    retrieval_ks: tuple[int, ...] = (1, 5, 10),
    temperature: float = 0.07,
    chunk: int = 2048,
) -> dict:
    """Weighted-kNN accuracy for each k in ``knn_ks`` and the retrieval metrics, from one
    neighbour search per chunk of queries (deep enough for mAP@R), so the (chunk x R)
    neighbour lists stay small. -> {"knn_accuracy_by_k": {k: acc}, "retrieval": {...}}."""
    num_classes = int(max(bank_y.max(), query_y.max())) + 1
    class_sizes = torch.bincount(bank_y.cpu(), minlength=num_classes)
    depth = min(len(bank_x), int(max(max(knn_ks), max(retrieval_ks), class_sizes.max())))
    sums = {f"precision@{k}": 0.0 for k in retrieval_ks} | {f"recall@{k}": 0.0 for k in retrieval_ks} | {"map@r": 0.0}
    correct = {k: 0 for k in knn_ks}
    for start in range(0, len(query_x), chunk):
        qx, qy = query_x[start : start + chunk], query_y[start : start + chunk].cpu()
        sims, positions = cosine_search(bank_x, qx, depth)
        neighbour_labels = bank_y.cpu()[positions]
        for k in knn_ks:
            votes = knn_vote(sims[:, :k], neighbour_labels[:, :k], num_classes, temperature)
            correct[k] += int((votes.argmax(1) == qy).sum())
        rel = neighbour_labels == qy[:, None]
        for k in retrieval_ks:
            sums[f"precision@{k}"] += rel[:, :k].float().mean(1).sum().item()
            sums[f"recall@{k}"] += rel[:, :k].any(1).float().sum().item()
        sums["map@r"] += map_at_r(rel, class_sizes[qy]).sum().item()
    n = len(query_x)
    retrieval = {name: total / n for name, total in sums.items()} | {"ks": list(retrieval_ks), "bank_size": len(bank_x)}
    return {"knn_accuracy_by_k": {str(k): correct[k] / n for k in knn_ks}, "retrieval": retrieval}


def retrieval_metrics(
    bank_x: torch.Tensor,
    bank_y: torch.Tensor,
    query_x: torch.Tensor,
    query_y: torch.Tensor,
    ks: tuple[int, ...] = (1, 5, 10),
    chunk: int = 2048,
) -> dict:
    """{"precision@k", "recall@k" for k in ks, "map@r", "ks", "bank_size"}."""
    return neighbour_metrics(bank_x, bank_y, query_x, query_y, (1,), ks, chunk=chunk)["retrieval"]
