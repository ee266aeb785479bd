import pytest
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


def test_standardise_leaves_dimensions_constant_on_the_labelled_set_unscaled():
    """With few labels a border pixel can be 0 in every labelled image: its scale is 1, not ~1e-6."""
    from evaluate.linear import standardise

    train = torch.tensor([[0.0, 1.0], [0.0, 3.0]])
    val = torch.tensor([[0.5, 2.0]])
    train_s, val_s = standardise(train, val)
    assert val_s[0, 0].item() == 0.5  # centred (mean 0), scale 1
    assert torch.allclose(train_s[:, 1], torch.tensor([-1.0, 1.0]))  # population std, as scikit-learn
    assert val_s[0, 1].item() == 0.0
    hundreds = torch.full((7, 1), 100.1)  # constant, though float32 rounding gives it a tiny std
    assert standardise(hundreds, torch.tensor([[101.1]]))[1].item() == pytest.approx(1.0)


def test_mlp_head_is_not_derailed_by_pixels_constant_on_the_labelled_set():
    """The raw-pixel failure: dimensions all 0 on the labelled images but not on test images
    used to be scaled by 1e6; the head's random first layer then drowned the signal."""
    from evaluate.head import HeadSettings, mlp_head_probe

    def with_border(features: Features, border: bool, seed: int) -> Features:
        noise = torch.rand(len(features), 50, generator=torch.Generator().manual_seed(seed)) if border else None
        extra = noise if border else torch.zeros(len(features), 50)
        return Features(torch.cat([features.x, extra], 1), features.y, features.index)

    train = with_border(blobs(20, 10, 5, 0), False, 0)
    val, test = with_border(blobs(100, 10, 5, 1), True, 1), with_border(blobs(300, 10, 5, 2), True, 2)
    result = mlp_head_probe(train, val, test, HeadSettings(max_epochs=0, min_steps=200))
    assert result.accuracy > 0.95


def test_lbfgs_reports_convergence_and_its_gradient():
    from evaluate.linear import fit_logistic_regression

    data = blobs(300, 10, 5, 0, spread=2.0)
    capped = fit_logistic_regression(data.x, data.y, 5, l2=1e-2, max_iter=2)
    assert capped.iterations <= 2 and not capped.converged and capped.grad_norm > 1e-4
    done = fit_logistic_regression(data.x, data.y, 5, l2=1e-2, max_iter=500)
    assert done.converged and done.iterations < 500 and done.grad_norm <= 1e-4
    # separable data, no penalty: the loss flattens at float32 resolution while the weights still grow;
    # L-BFGS stops on its loss-change tolerance, and only the gradient can say it has not converged
    sharp = blobs(300, 10, 5, 0, spread=0.1)
    stalled = fit_logistic_regression(sharp.x, sharp.y, 5, l2=0.0, max_iter=500, tolerance=1e-12)
    assert not stalled.converged and stalled.grad_norm > 1e-12


def test_linear_probe_flags_a_choice_at_the_grid_edge_and_records_convergence():
    sets = blobs(300, 10, 5, 0), blobs(100, 10, 5, 1), blobs(200, 10, 5, 2)
    edge = linear_probe(*sets, [1e-4, 1e-2])  # both separate perfectly; the tie goes to the strongest
    assert edge.l2 == 1e-2 and edge.l2_at_edge
    assert not linear_probe(*sets, [1e-2]).l2_at_edge  # a single value is a choice, not an edge
    assert edge.converged and edge.iterations > 0 and edge.val_size == 100


def test_default_l2_grid_is_wide():
    from pretrain.core.config import EvalConfig

    grid = EvalConfig().settings("linear").l2
    assert min(grid) <= 1e-6 and max(grid) >= 10 and len(grid) >= 8
