from test_linear import blobs

from evaluate.solvers.mlp_classifier import HeadSettings, mlp_head_probe
from pretrain.core.samples import Features


def test_mlp_head_separable_reaches_100():
    budget = HeadSettings(max_epochs=0, min_steps=400)
    result = mlp_head_probe(blobs(200, 10, 5, 0), blobs(100, 10, 5, 1), blobs(200, 10, 5, 2), budget)
    assert result.accuracy > 0.99
    assert 0 <= result.best_step <= result.steps_run <= 400


def test_mlp_head_shuffled_labels_near_chance():
    result = mlp_head_probe(
        blobs(300, 10, 5, 0, shuffle=True),
        blobs(200, 10, 5, 1, shuffle=True),
        blobs(1000, 10, 5, 2, shuffle=True),
        HeadSettings(max_epochs=0, min_steps=400),
    )
    assert abs(result.accuracy - 0.2) < 0.06


def test_mlp_head_needs_a_hidden_layer_for_xor():
    """XOR of two coordinates: no linear head can fit it; the 2-layer head does."""
    import torch

    def xor(n, seed):
        x = torch.rand(n, 2, generator=torch.Generator().manual_seed(seed)) * 2 - 1
        return Features(x, ((x[:, 0] > 0) ^ (x[:, 1] > 0)).long(), torch.arange(n))

    sets = xor(1000, 0), xor(300, 1), xor(500, 2)
    linear = mlp_head_probe(*sets, HeadSettings(layers=1, max_epochs=0, min_steps=600, lr=1e-2))
    deep = mlp_head_probe(*sets, HeadSettings(layers=2, hidden=64, max_epochs=0, min_steps=1500, lr=1e-2))
    assert linear.accuracy < 0.7 and deep.accuracy > 0.9
