import pytest
import torch

from evaluate.solvers.logistic_regression import linear_probe
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
    from evaluate.solvers.logistic_regression import standardise

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
    from evaluate.solvers.mlp_classifier import HeadSettings, mlp_head_probe

    def with_border(features: Features, border: bool, seed: int) -> Features:
        noise = torch.rand(len(features), 50, generator=torch.Generator().manual_seed(seed)) if border else None
        extra = noise if border else torch.zeros(len(features), 50)
        return Features(torch.cat([features.x, extra], 1), features.y, features.index)

    train = with_border(blobs(20, 10, 5, 0), False, 0)
    val, test = with_border(blobs(100, 10, 5, 1), True, 1), with_border(blobs(300, 10, 5, 2), True, 2)
    result = mlp_head_probe(train, val, test, HeadSettings(max_epochs=0, min_steps=200))
    assert result.accuracy > 0.95


def test_lbfgs_reports_convergence_and_its_gradient():
    from evaluate.solvers.logistic_regression import fit_logistic_regression

    data = blobs(300, 10, 5, 0, spread=2.0)
    capped = fit_logistic_regression(data.x, data.y, 5, l2=1e-2, max_iter=2)
    assert capped.iterations <= 2 and not capped.converged and capped.grad_norm > 1e-4
    done = fit_logistic_regression(data.x, data.y, 5, l2=1e-2, max_iter=500)
    assert done.converged and done.iterations < 500 and done.grad_norm <= 1e-4
    # separable data, no penalty: the loss flattens at float resolution while the weights still grow;
    # stepping on finds no lower loss, and the fit says so rather than claim convergence
    sharp = blobs(300, 10, 5, 0, spread=0.1)
    stalled = fit_logistic_regression(sharp.x, sharp.y, 5, l2=0.0, max_iter=500, tolerance=1e-12)
    assert not stalled.converged and stalled.grad_norm > 1e-12
    assert stalled.stop_reason == "stalled" and stalled.iterations < 500


def test_linear_probe_flags_a_choice_at_the_grid_edge_and_records_convergence():
    sets = blobs(300, 10, 5, 0), blobs(100, 10, 5, 1), blobs(200, 10, 5, 2)
    edge = linear_probe(*sets, [1e-4, 1e-2])  # both separate perfectly; the tie goes to the strongest
    assert edge.l2 == 1e-2 and edge.l2_at_edge
    assert not linear_probe(*sets, [1e-2]).l2_at_edge  # a single value is a choice, not an edge
    stopped = linear_probe(*sets, [1e-5, 1e-4, 1e-3, 1e-2], l2_patience=2)
    assert list(stopped.val_accuracy_by_l2) == [1e-2, 1e-3, 1e-4]  # stopped before the weak end ...
    assert stopped.l2 == 1e-2 and stopped.l2_at_edge  # ... having chosen the strongest: still an edge
    assert edge.converged and edge.iterations > 0 and edge.val_size == 100


def test_default_l2_grid_is_wide():
    from evaluate.settings import EvalConfig

    grid = EvalConfig().settings("linear").l2
    assert min(grid) <= 1e-6 and max(grid) >= 10 and len(grid) >= 8


def overfitting(seed: int, n: int) -> Features:
    """Few noisy samples in many dimensions: weak penalties overfit, so validation accuracy peaks inside the grid."""
    gen = torch.Generator().manual_seed(seed)
    centers = torch.randn(4, 60, generator=torch.Generator().manual_seed(7))
    y = torch.arange(n) % 4
    return Features(centers[y] + 2.5 * torch.randn(n, 60, generator=gen), y, torch.arange(n))


def test_path_stop_rule():
    from evaluate.solvers.logistic_regression import path_stop

    accs = [0.2, 0.5, 0.6, 0.6, 0.55, 0.7, 0.4]
    assert path_stop(accs, 0) == 5  # the whole path: the first best
    assert path_stop(accs, 2) == 2  # 0.6 then two strengths without better: stops before 0.7
    assert path_stop(accs, 3) == 5
    assert path_stop([0.9, 0.9, 0.9], 2) == 0  # ties keep the stronger penalty
    assert path_stop([0.1, 0.2, 0.3], 2) == 2  # still improving at the weak end


def test_stopped_path_chooses_as_the_full_path_did():
    from evaluate.solvers.logistic_regression import path_stop

    grid = [1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1.0, 10.0]
    sets = overfitting(0, 80), overfitting(1, 400), overfitting(2, 400)
    full = linear_probe(*sets, grid, l2_patience=0)
    assert len(full.val_accuracy_by_l2) == len(grid)
    # replayed on the full path's stored accuracies, strongest first
    path = [full.val_accuracy_by_l2[l2] for l2 in sorted(grid, reverse=True)]
    assert sorted(grid, reverse=True)[path_stop(path, 2)] == full.l2  # the replayed rule agrees with the full path
    stopped = linear_probe(*sets, grid, l2_patience=2)
    assert len(stopped.val_accuracy_by_l2) < len(grid)  # it did stop early ...
    assert stopped.l2 == full.l2 and stopped.accuracy == full.accuracy  # ... on the same, identical, model
    assert not stopped.l2_at_edge and not full.l2_at_edge  # an interior choice on either path


def test_preconditioned_fit_reaches_the_plain_fits_minimiser():
    from evaluate.solvers.logistic_regression import Preconditioner, fit_logistic_regression, standardise

    data = blobs(400, 20, 5, 0, spread=3.0)
    (x,) = standardise(data.x)
    x = x @ torch.randn(20, 20, generator=torch.Generator().manual_seed(3))  # correlated dimensions
    l2, tolerance = 1e-2, 1e-5

    def objective(fit):
        logits = x.double() @ fit.weight.double() + fit.bias.double()
        return torch.nn.functional.cross_entropy(logits, data.y) + l2 * fit.weight.double().pow(2).sum()

    plain = fit_logistic_regression(x, data.y, 5, l2, 2000, tolerance=tolerance)
    pre = fit_logistic_regression(x, data.y, 5, l2, 2000, tolerance=tolerance, precondition=Preconditioner.of(x))
    assert plain.converged and pre.converged and pre.grad_norm <= tolerance
    assert pre.iterations < plain.iterations
    # the objective is strongly convex in W (modulus 2 l2): a gradient of 2-norm g is within g / (2 l2)
    # of the minimiser in W and g^2 / (4 l2) of the minimum, and each fit has g <= sqrt(d C + C) * tolerance
    g = (20 * 5 + 5) ** 0.5 * tolerance
    assert objective(pre).item() == pytest.approx(objective(plain).item(), abs=g**2 / (4 * l2))
    assert (pre.weight - plain.weight).norm() <= 2 * g / (2 * l2)
    assert torch.allclose(pre.weight, plain.weight, atol=1e-3) and torch.allclose(pre.bias, plain.bias, atol=1e-2)


def test_preconditioner_from_a_few_samples_matches_the_covariance():
    """N < d: built from the N x N Gram matrix, it must still apply (Σ + εI)^p exactly."""
    from evaluate.solvers.logistic_regression import Preconditioner

    x = torch.randn(12, 40, generator=torch.Generator().manual_seed(0))
    cov = x.double().T @ x.double() / 12
    values, vectors = torch.linalg.eigh(cov + 0.1 * torch.eye(40, dtype=torch.float64))
    expected = vectors @ torch.diag(values**-0.5) @ vectors.T
    m = torch.randn(40, 3, generator=torch.Generator().manual_seed(1))
    got = Preconditioner.of(x).power(0.1, -0.5)(m)
    assert Preconditioner.of(x).basis.shape[1] <= 12
    assert torch.allclose(got.double(), expected @ m.double(), atol=1e-4)


def test_converged_exactly_when_the_gradient_tolerance_is_met():
    """``converged`` and ``grad_norm`` describe the returned weights, whatever ended the fit."""
    from evaluate.solvers.logistic_regression import fit_logistic_regression

    data = blobs(1000, 20, 5, 0, spread=3.0)
    fits = [
        (fit_logistic_regression(data.x, data.y, 5, l2=1e-3, max_iter=1000, tolerance=tol), tol) for tol in (1e-4, 1e-5)
    ]
    fits.append((fit_logistic_regression(data.x, data.y, 5, l2=1e-3, max_iter=3), 1e-4))
    for fit, tol in fits:
        weight, bias = fit.weight.clone().requires_grad_(), fit.bias.clone().requires_grad_()
        loss = torch.nn.functional.cross_entropy(data.x @ weight + bias, data.y) + 1e-3 * weight.pow(2).sum()
        loss.backward()
        grad = max(weight.grad.abs().max().item(), bias.grad.abs().max().item())
        assert fit.grad_norm == pytest.approx(grad, rel=0.05, abs=1e-7)
        assert fit.converged == (fit.grad_norm <= tol) == (fit.stop_reason == "tolerance")
    assert fits[0][0].converged and fits[1][0].converged
    assert fits[2][0].stop_reason == "iteration cap" and fits[2][0].iterations == 3


def test_lbfgs_steps_on_after_torch_returns_above_the_tolerance():
    """torch's L-BFGS returns early (here: a step may spend only 4 evaluations, at most 3 iterations,
    as its loss-change test also ends a step); the fit steps again until the gradient meets the tolerance."""
    from evaluate.solvers.logistic_regression import ToleranceReached, run_lbfgs

    scales = torch.logspace(0, 3, 30, dtype=torch.float64)  # an ill-conditioned quadratic 0.5 x^T A x - x^T 1
    x = torch.zeros(30, dtype=torch.float64)
    opt = torch.optim.LBFGS(
        [x], lr=1, max_iter=500, max_eval=4, tolerance_grad=0.0, tolerance_change=1e-15, line_search_fn="strong_wolfe"
    )

    def closure():
        x.grad = scales * x - 1
        if x.grad.abs().max() <= 1e-5:
            raise ToleranceReached
        return 0.5 * (scales * x * x).sum() - x.sum()

    assert run_lbfgs(opt, closure, 500) == "tolerance"
    assert 3 < opt.state[x]["n_iter"] < 500  # more than one step's worth, fewer than the cap
    assert (scales * x - 1).abs().max() <= 1e-5
    assert torch.allclose(x, 1 / scales, rtol=1e-4)


@pytest.mark.parametrize("count", [200, 20])  # more images than pixels (scatter matrix) and fewer (Gram matrix)
def test_pca_eigendecomposition_equals_the_svd(count):
    from pretrain.core.pca import fit_pca

    images = torch.randint(0, 256, (count, 1, 6, 6), generator=torch.Generator().manual_seed(0), dtype=torch.uint8)
    mean, directions = fit_pca(images, 8)
    x = images.flatten(1).double() / 255
    _, _, vh = torch.linalg.svd(x - x.mean(0), full_matrices=False)
    dots = (directions.double() * vh[:8]).sum(1)
    assert torch.allclose(dots.abs(), torch.ones(8, dtype=torch.float64), atol=1e-5)  # the same directions
    svd_signs = torch.sign(vh[:8].gather(1, vh[:8].abs().argmax(1, keepdim=True)))
    assert torch.allclose(directions.double(), vh[:8] * svd_signs, atol=1e-5)  # and the same signs after the rule
    assert torch.allclose(mean.double(), x.mean(0), atol=1e-6)
