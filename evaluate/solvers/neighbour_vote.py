"""Weighted k-nearest-neighbour classification over cached features, through FAISS.

As in DINO's ``knn_classifier`` (Caron et al. 2021; Wu et al. 2018): features are
L2-normalised, the k most cosine-similar training items vote for their class with
weight exp(similarity / T), and the class with the largest vote wins. The search itself
(pretrain.core.search) is shared with the trainer's transfer monitor.
"""

from __future__ import annotations

import faiss
import torch
import torch.nn.functional as F

from evaluate.results import KnnResult, prediction_scores
from pretrain.core.search import as_faiss_array, cosine_search, knn_predict


def knn_classifier(
    train_features: torch.Tensor,
    train_labels: torch.Tensor,
    test_features: torch.Tensor,
    test_labels: torch.Tensor,
    k: int = 20,
    temperature: float = 0.07,
    num_classes: int | None = None,
) -> KnnResult:
    """Top-1 accuracy of weighted kNN. Features (N, d) / (Q, d), labels (N,) / (Q,) int64."""
    num_classes = num_classes or int(max(train_labels.max(), test_labels.max())) + 1
    predictions = knn_predict(train_features, train_labels, test_features, k, temperature, num_classes)
    return KnnResult(
        **prediction_scores(predictions, test_labels, num_classes),
        train_size=len(train_features),
        val_size=0,
        selected_on="nothing (k and T fixed)",
        k=k,
        temperature=temperature,
    )


def approximate_index(dim: int, kind: str, bank_size: int):
    """An inner-product FAISS index for banks too large for exact search:
    ivf: inverted lists over ~4 sqrt(N) k-means cells, searching 1/8 of them (at least 8);
    hnsw: a navigable small-world graph with 32 links per node."""
    if kind == "ivf":
        nlist = max(1, min(bank_size // 39, int(4 * bank_size**0.5)))
        index = faiss.IndexIVFFlat(faiss.IndexFlatIP(dim), dim, nlist, faiss.METRIC_INNER_PRODUCT)
        index.nprobe = max(8, nlist // 8)
        return index
    if kind == "hnsw":
        return faiss.IndexHNSWFlat(dim, 32, faiss.METRIC_INNER_PRODUCT)
    raise ValueError(f"approximate index {kind!r} is unknown (ivf | hnsw)")


def approximate_search_recall(bank: torch.Tensor, queries: torch.Tensor, k: int, kind: str) -> dict:
    """Recall@k of an approximate index against exact search: the share of the exact k
    nearest neighbours the approximate index also returns, averaged over queries."""
    bank_np = as_faiss_array(F.normalize(bank.float(), dim=1))
    query_np = as_faiss_array(F.normalize(queries.float(), dim=1))
    index = approximate_index(bank_np.shape[1], kind, len(bank_np))
    if not index.is_trained:
        index.train(bank_np)
    index.add(bank_np)
    _, approx = index.search(query_np, k)
    _, exact = cosine_search(bank, queries, k)
    approx = torch.from_numpy(approx).long()
    found = (approx[:, :, None] == exact[:, None, :]).any(1).float().mean().item()
    return {"index": kind, "k": k, "recall_vs_exact": found, "bank_size": len(bank)}
