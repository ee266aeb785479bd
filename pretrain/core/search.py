"""Exact cosine nearest-neighbour search through FAISS, and the weighted kNN vote.

Shared by the trainer's transfer monitor and by evaluation (kNN classification,
retrieval, outlier scores), so it lives in the core, below both.
"""

from __future__ import annotations

import faiss
import numpy as np
import torch
import torch.nn.functional as F


def as_faiss_array(x: torch.Tensor) -> np.ndarray:
    """(N, d) tensor -> C-contiguous float32 NumPy array, as FAISS wants it."""
    return np.ascontiguousarray(x.detach().cpu().float().numpy())


# FAISS GPU indexes refuse k above GPU_MAX_SELECTION_K (2048 in current FAISS); mAP@R alone
# asks for thousands of neighbours, so larger k must go to the exact CPU index instead.
GPU_MAX_K = 2048


def faiss_gpu_available() -> bool:
    return hasattr(faiss, "StandardGpuResources") and faiss.get_num_gpus() > 0


def to_gpu_index(index: faiss.Index) -> faiss.Index:
    """Copy of a CPU FAISS index on GPU 0."""
    return faiss.index_cpu_to_gpu(faiss.StandardGpuResources(), 0, index)


def cosine_search(
    bank: torch.Tensor, queries: torch.Tensor, k: int, gpu_max_k: int = GPU_MAX_K
) -> tuple[torch.Tensor, torch.Tensor]:
    """Exact top-k by cosine similarity. bank (N, d), queries (Q, d) ->
    (similarities (Q, k) descending, bank positions (Q, k)). Uses a FAISS GPU index when
    faiss-gpu and a GPU are present and k <= gpu_max_k, else the exact flat CPU index."""
    if not 0 < k <= len(bank):
        raise ValueError(f"k={k} must be between 1 and the bank size {len(bank)}")
    bank_np = as_faiss_array(F.normalize(bank.float(), dim=1))
    query_np = as_faiss_array(F.normalize(queries.float(), dim=1))
    index = faiss.IndexFlatIP(bank_np.shape[1])
    if k <= gpu_max_k and faiss_gpu_available():
        index = to_gpu_index(index)
    index.add(bank_np)
    sims, positions = index.search(query_np, k)
    return torch.from_numpy(sims), torch.from_numpy(positions).long()


def knn_vote(sims: torch.Tensor, neighbour_labels: torch.Tensor, num_classes: int, temperature: float) -> torch.Tensor:
    """Class scores (Q, num_classes) from neighbours' similarities and labels (Q, k): each
    neighbour votes for its class with weight exp(similarity / T) (Wu et al. 2018)."""
    weights = (sims / temperature).exp()
    scores = torch.zeros(len(sims), num_classes, dtype=weights.dtype)
    return scores.scatter_add_(1, neighbour_labels, weights)


def knn_predict(
    train_features: torch.Tensor,
    train_labels: torch.Tensor,
    queries: torch.Tensor,
    k: int,
    temperature: float,
    num_classes: int,
) -> torch.Tensor:
    """Predicted class (Q,) of each query by weighted kNN over the labelled bank (N, d), (N,)."""
    sims, positions = cosine_search(train_features, queries, k)
    return knn_vote(sims, train_labels.cpu()[positions], num_classes, temperature).argmax(1)
