import numpy as np
import pytest
import torch

from evaluate.clustering import ari, kmeans_clustering, matched_accuracy, nmi
from evaluate.knn import knn_classifier
from evaluate.retrieval import neighbour_metrics, retrieval_metrics


def brute_force_retrieval(bank_x, bank_y, query_x, query_y, ks):
    """NumPy reference, one query at a time."""
    a = bank_x / np.linalg.norm(bank_x, axis=1, keepdims=True)
    b = query_x / np.linalg.norm(query_x, axis=1, keepdims=True)
    out = {f"precision@{k}": [] for k in ks} | {f"recall@{k}": [] for k in ks} | {"map@r": []}
    for q in range(len(b)):
        order = np.argsort(-(a @ b[q]), kind="stable")
        rel = bank_y[order] == query_y[q]
        for k in ks:
            out[f"precision@{k}"].append(rel[:k].mean())
            out[f"recall@{k}"].append(rel[:k].any())
        r = int((bank_y == query_y[q]).sum())
        precisions = np.cumsum(rel[:r]) / np.arange(1, r + 1)
        out["map@r"].append((precisions * rel[:r]).sum() / r)
    return {name: float(np.mean(v)) for name, v in out.items()}


def test_retrieval_metrics_match_brute_force():
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(3, 8))
    bank_y, query_y = rng.integers(0, 3, 200), rng.integers(0, 3, 50)
    bank_x = (centres[bank_y] + rng.normal(size=(200, 8))).astype(np.float32)
    query_x = (centres[query_y] + rng.normal(size=(50, 8))).astype(np.float32)
    ks = (1, 5, 10)
    expected = brute_force_retrieval(bank_x, bank_y, query_x, query_y, ks)
    got = retrieval_metrics(
        torch.from_numpy(bank_x),
        torch.from_numpy(bank_y),
        torch.from_numpy(query_x),
        torch.from_numpy(query_y),
        ks,
        chunk=17,
    )
    for name, value in expected.items():
        assert got[name] == pytest.approx(value, abs=1e-6), name


def test_perfect_retrieval_scores_one():
    x = torch.eye(4).repeat_interleave(5, 0)
    y = torch.arange(4).repeat_interleave(5)
    got = retrieval_metrics(x, y, x, y, ks=(1, 5))
    assert got["precision@5"] == pytest.approx(1.0) and got["map@r"] == pytest.approx(1.0)


def test_clustering_metrics_on_known_partitions():
    labels = np.array([0, 0, 0, 1, 1, 1, 2, 2, 2])
    renamed = np.array([2, 2, 2, 0, 0, 0, 1, 1, 1])  # the same partition, other names
    assert nmi(labels, renamed) == pytest.approx(1.0)
    assert ari(labels, renamed) == pytest.approx(1.0)
    assert matched_accuracy(labels, renamed) == pytest.approx(1.0)
    one_cluster = np.zeros(9, dtype=int)
    assert nmi(labels, one_cluster) == pytest.approx(0.0)
    assert ari(labels, one_cluster) == pytest.approx(0.0)
    assert matched_accuracy(labels, one_cluster) == pytest.approx(1 / 3)
    one_off = np.array([0, 0, 1, 1, 1, 1, 2, 2, 2])
    assert matched_accuracy(labels, one_off) == pytest.approx(8 / 9)


def test_clustering_metrics_agree_with_scikit_learn():
    import sklearn.metrics as sk

    rng = np.random.default_rng(1)
    labels, clusters = rng.integers(0, 4, 300), rng.integers(0, 5, 300)
    clusters[:150] = labels[:150]
    assert nmi(labels, clusters) == pytest.approx(sk.normalized_mutual_info_score(labels, clusters))
    assert ari(labels, clusters) == pytest.approx(sk.adjusted_rand_score(labels, clusters))


def test_kmeans_finds_separated_blobs():
    gen = torch.Generator().manual_seed(0)
    centres = torch.randn(4, 16, generator=gen) * 5
    y = torch.arange(400) % 4
    x = centres[y] + 0.1 * torch.randn(400, 16, generator=gen)
    result = kmeans_clustering(x, y, seed=0)
    assert result["k"] == 4 and result["accuracy"] > 0.99 and result["nmi"] > 0.95


def test_shared_neighbour_search_matches_separate_knn():
    gen = torch.Generator().manual_seed(3)
    centres = torch.randn(4, 6, generator=gen)
    bank_y, query_y = torch.randint(0, 4, (300,), generator=gen), torch.randint(0, 4, (70,), generator=gen)
    bank_x = centres[bank_y] + torch.randn(300, 6, generator=gen)
    query_x = centres[query_y] + torch.randn(70, 6, generator=gen)
    shared = neighbour_metrics(bank_x, bank_y, query_x, query_y, knn_ks=(1, 5, 20), retrieval_ks=(1, 5), chunk=16)
    for k in (1, 5, 20):
        alone = knn_classifier(bank_x, bank_y, query_x, query_y, k, 0.07, 4).accuracy
        assert shared["knn_accuracy_by_k"][str(k)] == pytest.approx(alone)
