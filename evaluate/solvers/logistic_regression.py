"""Linear probe: multinomial logistic regression on standardised frozen features.

The L2 strength is chosen on the validation split; the test split scores only the one
chosen model. Full-batch L-BFGS (features are cached, so a pass is a matmul), preconditioned
by the labelled features' covariance and warm-started from the previous strength in a
strong-to-weak sweep, which may stop once validation accuracy has stopped improving. Every fit
reports whether its gradient reached the tolerance (and if not, why it ended), and the result
says when the chosen strength sits at an end of the grid.
"""

from __future__ import annotations

import math
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
    stop_reason: str = "tolerance"  # why it ended: "tolerance", "iteration cap" or "stalled" (no lower loss to find)


@dataclass
class Preconditioner:
    """The eigendecomposition of Σ = x^T x / N for standardised features x (N, d), kept to the
    r = rank directions (d, r) so that (Σ + εI)^p applies in O(d r C): a tiny labelled set
    (N << d) never builds a d x d matrix."""

    basis: torch.Tensor  # (d, r) orthonormal eigenvectors of Σ with nonzero eigenvalue, float32
    values: torch.Tensor  # (r,) their eigenvalues, float64

    @classmethod
    def of(cls, x: torch.Tensor) -> Preconditioner:
        """From features x (N, d), through whichever of the d x d covariance and the N x N Gram matrix
        is smaller (they share their nonzero eigenvalues), eigendecomposed in float64. The covariance's
        product is float32: any symmetric positive definite P leaves the objective in W unchanged, so
        its rounding costs only a little conditioning, and a float64 copy of 55000 x 784 is 345 MB."""
        n, d = x.shape
        if n >= d:
            values, basis = torch.linalg.eigh((x.T @ x).double() / n)
        else:
            values, vectors = torch.linalg.eigh(x.double() @ x.double().T / n)
            # the covariance's eigenvectors from the Gram's: x^T u / sqrt(N s) has unit length for s > 0
            basis = x.double().T @ vectors / (n * values.clamp_min(1e-300)).sqrt()
        keep = values > values.max().clamp_min(0) * 1e-6  # rounding-level eigenvalues: null directions
        return cls(basis[:, keep].float(), values[keep])

    def power(self, eps: float, exponent: float):
        """M (d, C) -> (Σ + εI)^exponent M: ε^p on the null space, (s + ε)^p on each eigendirection."""
        shrink = ((self.values + eps) ** exponent - eps**exponent).float()
        scale, basis = eps**exponent, self.basis
        return lambda m: scale * m + basis @ (shrink[:, None] * (basis.T @ m))


class ToleranceReached(Exception):
    """Raised by the closure at the first point whose gradient meets the tolerance."""


# ε = PRECONDITION_EPS * l2 + 1e-6: on Fashion-MNIST pixels 1e3 and 1e4 took the fewest passes, 1 and 10 more,
# and with 1e2 the weakest strength (1e-6) stalled above the tolerance
PRECONDITION_EPS = 1000.0


def logistic_loss(x: torch.Tensor, y: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor, l2: float):
    """Mean cross-entropy + l2 * ||W||^2 of x (N, d), y (N,) at weight (d, C), bias (C,), and its
    gradients (d, C), (C,), without autograd: autograd's x^T @ g reads x across its rows and takes
    ~7x as long as (g^T @ x)^T; (W^T @ x^T)^T likewise beats x @ W by ~2x (each pass is memory-bound)."""
    logits = ((weight.T @ x.T).T + bias).double()
    # the loss in float64: near the optimum its changes are below float32 resolution
    loss = F.cross_entropy(logits, y) + l2 * weight.double().pow(2).sum()
    residual = logits.softmax(1)
    residual[torch.arange(len(y)), y] -= 1
    residual = (residual / len(y)).float()  # (N, C): d loss / d logits
    return loss, (residual.T @ x).T + 2 * l2 * weight, residual.sum(0)


def fit_logistic_regression(
    x: torch.Tensor,
    y: torch.Tensor,
    num_classes: int,
    l2: float,
    max_iter: int = 500,
    init: LogisticFit | None = None,
    tolerance: float = 1e-4,
    precondition: Preconditioner | None = None,
) -> LogisticFit:
    """Minimise mean cross-entropy + l2 * ||W||^2 (bias unpenalised) for x (N, d), y (N,),
    until the largest entry of the gradient in (W, b) is at most ``tolerance`` or ``max_iter`` iterations.

    With ``precondition`` L-BFGS searches V, W = P V with P = (Σ + εI)^{-1/2}: the objective is still
    written in W (the same function, the same minimiser), but its curvature in V no longer spans
    Σ's eigenvalue range, which is what makes weak L2 on correlated pixels take thousands of passes."""
    identity = lambda m: m  # noqa: E731
    # ε ~ l2 trades the penalty's curvature (2 l2) against the loss's (~ c Σ, c the softmax variance)
    eps = PRECONDITION_EPS * l2 + 1e-6
    to_w = identity if precondition is None else precondition.power(eps, -0.5)
    to_v = identity if precondition is None else precondition.power(eps, 0.5)
    v = torch.zeros(x.shape[1], num_classes) if init is None else to_v(init.weight)
    bias = torch.zeros(num_classes) if init is None else init.bias.clone()
    # the tolerance is judged in W by the closure, not by L-BFGS on V's gradient
    opt = torch.optim.LBFGS(
        [v, bias], lr=1, max_iter=max_iter, tolerance_grad=0.0, history_size=20, line_search_fn="strong_wolfe"
    )
    last = {}

    def evaluate() -> torch.Tensor:
        w = to_w(v)
        loss, grad_w, grad_b = logistic_loss(x, y, w, bias, l2)
        v.grad, bias.grad = to_w(grad_w).contiguous(), grad_b  # dL/dV = P^T dL/dW (P is symmetric)
        grad = max(grad_w.abs().max().item(), grad_b.abs().max().item())
        last.update(weight=w.clone(), bias=bias.clone(), grad=grad)
        return loss

    def closure() -> torch.Tensor:
        loss = evaluate()
        if last["grad"] <= tolerance:
            raise ToleranceReached  # any evaluated point that meets the criterion is a converged fit
        return loss

    stop = run_lbfgs(opt, closure, max_iter)
    if stop != "tolerance":
        evaluate()  # the gradient at the returned weights, not at the last line-search trial
        stop = "tolerance" if last["grad"] <= tolerance else stop
    iterations = int(opt.state[v].get("n_iter", 0))
    return LogisticFit(last["weight"], last["bias"], iterations, last["grad"], stop == "tolerance", stop)


def run_lbfgs(opt: torch.optim.LBFGS, closure, max_iter: int) -> str:
    """Step ``opt`` until ``closure`` (() -> loss; it sets the parameters' .grad) raises ToleranceReached
    ("tolerance"), ``max_iter`` iterations in all ("iteration cap"), or a step that starts no lower than
    the previous one ("stalled": no lower loss for it to find).

    torch's L-BFGS also returns when the loss or the step stops changing (tolerance_change) or a step
    spends its evaluations (max_eval), the gradient still above the tolerance; stepping again keeps
    its curvature history and goes on."""
    state = opt.state[opt.param_groups[0]["params"][0]]
    previous = math.inf
    while int(state.get("n_iter", 0)) < max_iter:
        opt.param_groups[0]["max_iter"] = max_iter - int(state.get("n_iter", 0))
        try:
            start = float(opt.step(closure))  # the loss where this step began
        except ToleranceReached:
            return "tolerance"
        if start >= previous:
            return "stalled"
        previous = start
    return "iteration cap"


def predict(x: torch.Tensor, model: LogisticFit) -> torch.Tensor:
    return (x @ model.weight + model.bias).argmax(1)


def accuracy(x: torch.Tensor, y: torch.Tensor, model: LogisticFit) -> float:
    return (predict(x, model) == y).float().mean().item()


def path_stop(accuracies: list[float], patience: int) -> int:
    """Index chosen by the strong-to-weak path from its validation accuracies (in path order): the
    first best among the strengths it fits, where it stops once ``patience`` consecutive strengths
    have not improved on the best (0: it fits them all). Replaying it on a full path's accuracies
    gives the choice a path stopped early would have made."""
    best = 0
    for i, acc in enumerate(accuracies):
        if acc > accuracies[best]:  # ties go to the stronger penalty
            best = i
        if patience and i - best >= patience:
            break
    return best


def linear_probe(
    train: Features,
    val: Features,
    test: Features,
    l2_grid: list[float],
    max_iter: int = 500,
    num_classes: int | None = None,
    l2_patience: int = 0,
) -> LinearResult:
    """Test accuracy of the probe whose L2 strength scored best on ``val``; the strong-to-weak path
    stops after ``l2_patience`` strengths in a row without a better validation accuracy (0: never)."""
    num_classes = num_classes or int(train.y.max()) + 1
    x_train, x_val, x_test = standardise(train.x.float(), val.x.float(), test.x.float())
    precondition = Preconditioner.of(x_train)  # one eigendecomposition serves every strength
    by_l2, models, model = {}, [], None
    for l2 in sorted(set(l2_grid), reverse=True):  # a repeated strength would be the same fit
        model = fit_logistic_regression(
            x_train, train.y, num_classes, l2, max_iter, init=model, precondition=precondition
        )
        by_l2[l2] = accuracy(x_val, val.y, model)
        models.append((l2, model))
        chosen = path_stop(list(by_l2.values()), l2_patience)
        if l2_patience and len(models) - 1 - chosen >= l2_patience:
            break
    l2, model = models[chosen]
    return LinearResult(
        **prediction_scores(predict(x_test, model), test.y, num_classes),
        train_size=len(train),
        val_size=len(val),
        selected_on="validation split (L2 strength)",
        val_accuracy=by_l2[l2],
        l2=l2,
        # an end of the whole grid, fitted or not: a path that stopped early chose before its weak end
        l2_at_edge=len(l2_grid) > 1 and l2 in (min(l2_grid), max(l2_grid)),
        iterations=model.iterations,
        grad_norm=model.grad_norm,
        converged=model.converged,
        stop_reason=model.stop_reason,
        val_accuracy_by_l2=by_l2,
    )
