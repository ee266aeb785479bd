import faiss
import numpy as np
import pytest
import torch

from evaluate import clustering
from evaluate.clustering import ari, kmeans_clustering, matched_accuracy, nmi
from evaluate.retrieval import neighbour_metrics, retrieval_metrics
from evaluate.solvers.neighbour_vote import knn_classifier


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
    result = kmeans_clustering(x[:300], x[300:], y[300:], seed=0)
    assert result["k"] == 4 and result["accuracy"] > 0.99 and result["nmi"] > 0.95
    assert result["fitted_on"] == "train" and result["train_size"] == 300


@pytest.fixture
def record_kmeans(monkeypatch):
    """Wraps faiss.Kmeans: returns the list of (kwargs, Kmeans object) of every construction."""
    real, made = faiss.Kmeans, []

    def recording(*args, **kwargs):
        made.append((kwargs, real(*args, **kwargs)))
        return made[-1][1]

    monkeypatch.setattr(faiss, "Kmeans", recording)
    return made


def test_kmeans_is_fitted_on_train_and_test_is_assigned():
    # Train: two tight blobs on directions e1 (class 0) and e2 (class 1). Test: class 0 at 40 degrees,
    # class 1 at 50 degrees in the e1-e2 plane, each half lifted to z=+1 and half to z=-1. Each test
    # point is nearer its own class's train centroid, but k-means fitted on the test set alone
    # would split on the sign of z (accuracy 0.5).
    gen = torch.Generator().manual_seed(0)
    train_y = torch.arange(200) % 2
    train_x = torch.eye(3)[train_y] + 0.05 * torch.randn(200, 3, generator=gen)
    test_y = torch.arange(40) % 2
    angle = torch.deg2rad(torch.where(test_y == 0, 40.0, 50.0))
    z = torch.where(torch.arange(40) < 20, 1.0, -1.0)
    test_x = torch.stack([angle.cos(), angle.sin(), z], 1) + 0.01 * torch.randn(40, 3, generator=gen)
    result = kmeans_clustering(train_x, test_x, test_y, seed=0)
    assert result["accuracy"] == 1.0 and result["nmi"] == pytest.approx(1.0) and result["ari"] == pytest.approx(1.0)
    assert result["fitted_on"] == "train" and result["train_size"] == 200
    alone = kmeans_clustering(test_x, test_x, test_y, seed=0)  # the old behaviour: fit on test
    assert alone["accuracy"] == 0.5


def test_kmeans_fits_on_every_training_point(record_kmeans):
    # 700 training points > 256 * k: FAISS's default cap would subsample to 512 of them.
    gen = torch.Generator().manual_seed(1)
    train_y = torch.arange(700) % 2
    train_x = torch.eye(4)[train_y] + 0.1 * torch.randn(700, 4, generator=gen)
    kmeans_clustering(train_x, train_x[:50], train_y[:50], seed=0, restarts=1)
    ((kwargs, km),) = record_kmeans
    assert kwargs["max_points_per_centroid"] * 2 >= 700
    # Converged centroids are the means of all (normalised) training points of each blob, not of a subsample.
    x = torch.nn.functional.normalize(train_x, dim=1).numpy()
    means = np.stack([x[train_y.numpy() == c].mean(0) for c in (0, 1)])
    order = np.argsort(km.centroids[:, 0])[::-1]  # blob 0 lies along e1
    np.testing.assert_allclose(km.centroids[order], means, atol=1e-5)


def test_kmeans_restarts_use_distinct_seeds(record_kmeans, monkeypatch):
    plus_plus_states = []
    real_plus_plus = clustering.kmeans_plus_plus

    def recording(x, k, rng):
        plus_plus_states.append(rng.bit_generator.state)
        return real_plus_plus(x, k, rng)

    monkeypatch.setattr(clustering, "kmeans_plus_plus", recording)
    gen = torch.Generator().manual_seed(2)
    x, y = torch.randn(120, 5, generator=gen), torch.arange(120) % 3
    kmeans_clustering(x, x, y, seed=7, restarts=4)
    assert [kwargs["seed"] for kwargs, _ in record_kmeans] == [7, 8, 9, 10]
    assert plus_plus_states == [np.random.default_rng(7 + r).bit_generator.state for r in range(4)]


def test_kmeans_reports_mean_and_std_over_restarts():
    gen = torch.Generator().manual_seed(3)
    x, y = torch.randn(300, 8, generator=gen), torch.randint(0, 5, (300,), generator=gen)
    single = kmeans_clustering(x[:200], x[200:], y[200:], seed=0, restarts=1)
    assert single["nmi_std"] == single["ari_std"] == single["accuracy_std"] == 0.0
    # Structureless data: the restarts land in different partitions, so their scores disagree.
    several = kmeans_clustering(x[:200], x[200:], y[200:], seed=0, restarts=4)
    assert several["restarts"] == 4 and several["nmi_std"] > 0 and several["accuracy_std"] >= 0
    assert set(several) >= {"nmi", "nmi_std", "ari", "ari_std", "accuracy", "accuracy_std"}


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
