import torch

from evaluate.linear import linear_probe
from pretrain.core.samples import Features


def blobs(n, d, classes, seed, shuffle=False, spread=0.3):
    gen = torch.Generator().manual_seed(seed)
    centers = torch.randn(classes, d, generator=torch.Generator().manual_seed(99)) * 3
    y = torch.arange(n) % classes
    x = centers[y] + spread * torch.randn(n, d, generator=gen)
    if shuffle:
        y = y[torch.randperm(n, generator=gen)]
    return Features(x, y, torch.arange(n))


def test_linear_probe_separable_reaches_100():
    result = linear_probe(blobs(300, 10, 5, 0), blobs(100, 10, 5, 1), blobs(200, 10, 5, 2), [1e-4, 1e-2])
    assert result.accuracy > 0.99
    assert result.l2 in (1e-4, 1e-2)


def test_linear_probe_shuffled_labels_near_chance():
    result = linear_probe(
        blobs(500, 10, 5, 0, shuffle=True),
        blobs(200, 10, 5, 1, shuffle=True),
        blobs(1000, 10, 5, 2, shuffle=True),
        [1e-3],
    )
    assert abs(result.accuracy - 0.2) < 0.06


def test_l2_is_chosen_on_validation_not_test():
    train, val, test = blobs(200, 10, 5, 0), blobs(100, 10, 5, 1), blobs(100, 10, 5, 2)
    base = linear_probe(train, val, test, [1e-4, 1.0])
    flipped = linear_probe(train, val, Features(test.x, (test.y + 1) % 5, test.index), [1e-4, 1.0])
    assert base.l2 == flipped.l2  # the test labels never influence the choice
    assert flipped.accuracy < 0.1
