"""Weighted k-nearest-neighbour classification over cached features, through FAISS.

As in DINO's ``knn_classifier`` (Caron et al. 2021; Wu et al. 2018): features are
L2-normalised, the k most cosine-similar training items vote for their class with
weight exp(similarity / T), and the class with the largest vote wins.
"""

from __future__ import annotations

import faiss
import numpy as np
import torch
import torch.nn.functional as F


def _as_faiss_array(x: torch.Tensor) -> np.ndarray:
    return np.ascontiguousarray(x.detach().cpu().float().numpy())


def faiss_gpu_available() -> bool:
    return hasattr(faiss, "StandardGpuResources") and faiss.get_num_gpus() > 0


def cosine_search(bank: torch.Tensor, queries: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Exact top-k by cosine similarity. bank (N, d), queries (Q, d) ->
    (similarities (Q, k) descending, bank positions (Q, k)). Uses a FAISS GPU index when
    faiss-gpu and a GPU are present, else the exact flat CPU index."""
    if not 0 < k <= len(bank):
        raise ValueError(f"k={k} must be between 1 and the bank size {len(bank)}")
    bank_np = _as_faiss_array(F.normalize(bank.float(), dim=1))
    query_np = _as_faiss_array(F.normalize(queries.float(), dim=1))
    index = faiss.IndexFlatIP(bank_np.shape[1])
    if faiss_gpu_available():
        index = faiss.index_cpu_to_gpu(faiss.StandardGpuResources(), 0, index)
    index.add(bank_np)
    sims, positions = index.search(query_np, k)
    return torch.from_numpy(sims), torch.from_numpy(positions).long()


def knn_vote(
    sims: torch.Tensor, neighbour_labels: torch.Tensor, num_classes: int, temperature: float
) -> torch.Tensor:
    """Class scores (Q, num_classes) from neighbours' similarities and labels (Q, k)."""
    weights = (sims / temperature).exp()
    scores = torch.zeros(len(sims), num_classes, dtype=weights.dtype)
    return scores.scatter_add_(1, neighbour_labels, weights)


def knn_predict(
    train_features: torch.Tensor, train_labels: torch.Tensor, queries: torch.Tensor, k: int, temperature: float,
    num_classes: int,
) -> torch.Tensor:  # fmt: skip
    """Predicted class (Q,) of each query by weighted kNN over the labelled bank."""
    sims, positions = cosine_search(train_features, queries, k)
    return knn_vote(sims, train_labels.cpu()[positions], num_classes, temperature).argmax(1)


def knn_classifier(
    train_features: torch.Tensor,
    train_labels: torch.Tensor,
    test_features: torch.Tensor,
    test_labels: torch.Tensor,
    k: int = 20,
    temperature: float = 0.07,
    num_classes: int | None = None,
) -> dict:
    """Top-1 accuracy of weighted kNN. Features (N, d) / (Q, d), labels (N,) / (Q,) int64.

    Returns {"accuracy": float in [0, 1], "k", "temperature", "bank_size"}."""
    num_classes = num_classes or int(max(train_labels.max(), test_labels.max())) + 1
    predictions = knn_predict(train_features, train_labels, test_features, k, temperature, num_classes)
    accuracy = (predictions == test_labels.cpu()).float().mean().item()
    return {"accuracy": accuracy, "k": k, "temperature": temperature, "bank_size": len(train_features)}
