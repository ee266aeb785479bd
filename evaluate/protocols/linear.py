"""``linear``: logistic regression on standardised frozen features (evaluate.solvers.logistic_regression), its L2
strength chosen on validation images as scarce as the labels."""

from __future__ import annotations

from dataclasses import dataclass, field

from evaluate.contract import FrozenProtocol
from evaluate.protocol_registry import register_protocol
from evaluate.results import LinearResult
from evaluate.solvers.logistic_regression import linear_probe


@dataclass
class LinearSettings:
    """``eval.linear``: the strengths searched, the L-BFGS iteration cap, and when the path stops."""

    l2: list[float] = field(default_factory=lambda: [1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1.0, 10.0])
    max_iter: int = 500  # a fit that hits the cap is flagged unconverged
    # the strong-to-weak path stops after this many strengths in a row without a better validation
    # accuracy (0: it fits the whole grid); weaker strengths past a peak cost the most passes
    l2_patience: int = 2


@register_protocol("linear")
class Linear(FrozenProtocol):
    rank = 0
    settings_type = LinearSettings
    result_type = LinearResult

    def fit(self, train, val, test, cfg, num_classes: int, seed: int) -> LinearResult:
        s = cfg.settings(self.name)
        return linear_probe(train, val, test, s.l2, s.max_iter, num_classes, s.l2_patience)

    def note(self, cfg) -> str:
        s = cfg.settings(self.name)
        stop = (
            f"strong to weak, stopping after {s.l2_patience} strengths in a row without a better validation accuracy"
            if s.l2_patience
            else "strong to weak over the whole grid"
        )
        return (
            "- linear: logistic regression on standardised features (a dimension constant on the labelled set keeps "
            "scale 1); L-BFGS, preconditioned by the labelled features' covariance, to a largest gradient entry of "
            f"1e-4 or {s.max_iter} iterations (fits that end above it, at the cap or unable to lower the loss, are "
            f"flagged unconverged); L2 strength chosen on validation from {s.l2}, {stop} (a choice at either end "
            "of the grid is flagged)."
        )
