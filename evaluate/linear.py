"""Linear probe: multinomial logistic regression on standardised frozen features.

The L2 strength is chosen on the validation split; the test split scores only the one
chosen model. Full-batch L-BFGS (features are cached, so a pass is a matmul), warm-started
from the previous strength in a strong-to-weak sweep. Every fit reports whether it
converged, and the result says when the chosen strength sits at an end of the grid.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from evaluate.results import LinearResult, prediction_scores
from pretrain.core.samples import Features


def standardise(train: torch.Tensor, *others: torch.Tensor) -> list[torch.Tensor]:
    """Centre and scale every set by the training set's per-dimension mean and (population) std.

    A dimension that is constant on the training set keeps scale 1, as scikit-learn's
    StandardScaler does: with a few labels many border pixels are 0 in every labelled image,
    and dividing by a clamped std of ~0 would turn a validation pixel of 0.5 into ~1e6.
    "Constant" is scikit-learn's test: a variance within float64 rounding of zero, relative to
    the mean (a column of 100s has a rounding variance that is not signal)."""
    x = train.double()
    n, eps = len(x), torch.finfo(torch.float64).eps
    mean, var = x.mean(0), x.var(0, correction=0)
    constant = var <= n * eps * var + (n * mean * eps) ** 2
    scale = torch.where(constant, torch.ones_like(var), var.sqrt())
    return [((t.double() - mean) / scale).to(t.dtype) for t in (train, *others)]


@dataclass
class LogisticFit:
    weight: torch.Tensor  # (d, C)
    bias: torch.Tensor  # (C,)
    iterations: int
    grad_norm: float  # max |gradient| at the returned weights
    converged: bool  # the largest gradient entry reached ``tolerance``


def fit_logistic_regression(
    x: torch.Tensor,
    y: torch.Tensor,
    num_classes: int,
    l2: float,
    max_iter: int = 500,
    init: LogisticFit | None = None,
    tolerance: float = 1e-4,
) -> LogisticFit:
    """Minimise mean cross-entropy + l2 * ||W||^2 (bias unpenalised) for x (N, d), y (N,),
    until the largest gradient entry is below ``tolerance`` or ``max_iter`` iterations."""
    weight = torch.zeros(x.shape[1], num_classes) if init is None else init.weight.clone()
    bias = torch.zeros(num_classes) if init is None else init.bias.clone()
    weight.requires_grad_(True)
    bias.requires_grad_(True)
    opt = torch.optim.LBFGS(
        [weight, bias],
        lr=1,
        max_iter=max_iter,
        tolerance_grad=tolerance,
        history_size=20,
        line_search_fn="strong_wolfe",
    )

    def closure():
        opt.zero_grad()
        loss = F.cross_entropy(x @ weight + bias, y) + l2 * weight.pow(2).sum()
        loss.backward()
        return loss

    opt.step(closure)
    iterations = int(opt.state[weight].get("n_iter", 0))
    closure()  # the gradient at the returned weights, not at the last line-search trial
    grad_norm = max(weight.grad.abs().max().item(), bias.grad.abs().max().item())
    # only the gradient says "converged": L-BFGS also stops on its iteration and evaluation caps,
    # and on a loss that stops changing at float32 resolution while the gradient is still large
    return LogisticFit(weight.detach(), bias.detach(), iterations, grad_norm, grad_norm <= tolerance)


def predict(x: torch.Tensor, model: LogisticFit) -> torch.Tensor:
    return (x @ model.weight + model.bias).argmax(1)


def accuracy(x: torch.Tensor, y: torch.Tensor, model: LogisticFit) -> float:
    return (predict(x, model) == y).float().mean().item()


def linear_probe(
    train: Features,
    val: Features,
    test: Features,
    l2_grid: list[float],
    max_iter: int = 500,
    num_classes: int | None = None,
) -> LinearResult:
    """Test accuracy of the probe whose L2 strength scored best on ``val``."""
    num_classes = num_classes or int(train.y.max()) + 1
    x_train, x_val, x_test = standardise(train.x.float(), val.x.float(), test.x.float())
    by_l2, best, model = {}, None, None
    for l2 in sorted(l2_grid, reverse=True):
        model = fit_logistic_regression(x_train, train.y, num_classes, l2, max_iter, init=model)
        by_l2[l2] = accuracy(x_val, val.y, model)
        if best is None or by_l2[l2] > best[0]:
            best = (by_l2[l2], l2, model)
    val_acc, l2, chosen = best
    return LinearResult(
        **prediction_scores(predict(x_test, chosen), test.y, num_classes),
        train_size=len(train),
        val_size=len(val),
        selected_on="validation split (L2 strength)",
        val_accuracy=val_acc,
        l2=l2,
        l2_at_edge=len(l2_grid) > 1 and l2 in (min(l2_grid), max(l2_grid)),
        iterations=chosen.iterations,
        grad_norm=chosen.grad_norm,
        converged=chosen.converged,
        val_accuracy_by_l2=by_l2,
    )
