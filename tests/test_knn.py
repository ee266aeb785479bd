import numpy as np
import pytest
import torch

from evaluate.solvers.neighbour_vote import knn_classifier
from pretrain.core.search import cosine_search, knn_predict


def brute_force_knn(train_x, train_y, test_x, k, temperature, num_classes):
    """Reference in NumPy: cosine similarity, top-k, votes weighted exp(s / T)."""
    a = train_x / np.linalg.norm(train_x, axis=1, keepdims=True)
    b = test_x / np.linalg.norm(test_x, axis=1, keepdims=True)
    sims = b @ a.T
    top = np.argsort(-sims, axis=1)[:, :k]
    votes = np.zeros((len(test_x), num_classes))
    for q in range(len(test_x)):
        for j in top[q]:
            votes[q, train_y[j]] += np.exp(sims[q, j] / temperature)
    return votes.argmax(1)


def test_faiss_knn_equals_brute_force():
    rng = np.random.default_rng(0)
    centers = rng.normal(size=(4, 16))
    train_y = rng.integers(0, 4, 300)
    test_y = rng.integers(0, 4, 80)
    train_x = (centers[train_y] + 1.2 * rng.normal(size=(300, 16))).astype(np.float32)
    test_x = (centers[test_y] + 1.2 * rng.normal(size=(80, 16))).astype(np.float32)
    for k, t in [(1, 0.07), (7, 0.07), (20, 0.5)]:
        expected = brute_force_knn(train_x, train_y, test_x, k, t, 4)
        tensors = [torch.from_numpy(a) for a in (train_x, train_y, test_x, test_y)]
        predicted = knn_predict(tensors[0], tensors[1], tensors[2], k, t, 4)
        assert predicted.tolist() == expected.tolist()
        result = knn_classifier(*tensors, k, t, 4)
        assert result.accuracy == pytest.approx(np.mean(expected == test_y))
        assert result.k == k and result.val_accuracy is None  # nothing is selected


def test_cosine_search_orders_neighbours():
    bank = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    sims, pos = cosine_search(bank, torch.tensor([[1.0, 0.1]]), k=3)
    assert pos.tolist() == [[0, 2, 1]]
    assert torch.all(sims[:, :-1] >= sims[:, 1:])
