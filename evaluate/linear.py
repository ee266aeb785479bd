"""Linear probe: multinomial logistic regression on standardised frozen features.

The L2 strength is chosen on the validation split; the test split scores only the one
chosen model. Full-batch L-BFGS (features are cached, so a pass is a matmul), warm-started
from the previous strength in a strong-to-weak sweep.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from evaluate.results import LinearResult
from pretrain.core.samples import Features


def standardise(train: torch.Tensor, *others: torch.Tensor) -> list[torch.Tensor]:
    """Centre and scale every set by the training set's per-dimension mean and std."""
    mean, std = train.mean(0), train.std(0).clamp_min(1e-6)
    return [(t - mean) / std for t in (train, *others)]


def fit_logistic_regression(
    x: torch.Tensor,
    y: torch.Tensor,
    num_classes: int,
    l2: float,
    max_iter: int = 200,
    init: tuple[torch.Tensor, torch.Tensor] | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Minimise mean cross-entropy + l2 * ||W||^2 (bias unpenalised). x (N, d), y (N,) ->
    (W (d, C), b (C,))."""
    weight = torch.zeros(x.shape[1], num_classes) if init is None else init[0].clone()
    bias = torch.zeros(num_classes) if init is None else init[1].clone()
    weight.requires_grad_(True)
    bias.requires_grad_(True)
    opt = torch.optim.LBFGS([weight, bias], lr=1, max_iter=max_iter, history_size=20, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = F.cross_entropy(x @ weight + bias, y) + l2 * weight.pow(2).sum()
        loss.backward()
        return loss

    opt.step(closure)
    return weight.detach(), bias.detach()


def predict(x: torch.Tensor, model: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
    return (x @ model[0] + model[1]).argmax(1)


def accuracy(x: torch.Tensor, y: torch.Tensor, model: tuple[torch.Tensor, torch.Tensor]) -> float:
    return (predict(x, model) == y).float().mean().item()


def linear_probe(
    train: Features,
    val: Features,
    test: Features,
    l2_grid: list[float],
    max_iter: int = 200,
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
    predictions = predict(x_test, chosen)
    return LinearResult(
        accuracy=(predictions == test.y).float().mean().item(),
        test_predictions=predictions,
        train_size=len(train),
        selected_on="validation split (L2 strength)",
        val_accuracy=val_acc,
        l2=l2,
        val_accuracy_by_l2=by_l2,
    )
