"""``linear``: logistic regression on standardised frozen features (evaluate.linear), its L2
strength chosen on validation images as scarce as the labels."""

from __future__ import annotations

from dataclasses import dataclass, field

from evaluate.linear import linear_probe
from evaluate.protocol import FrozenProtocol
from evaluate.results import LinearResult
from pretrain.core.protocols import register_protocol


@dataclass
class LinearSettings:
    """``eval.linear``: the strengths searched and the L-BFGS iteration cap."""

    l2: list[float] = field(default_factory=lambda: [1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1.0, 10.0])
    max_iter: int = 500  # a fit that hits the cap is flagged unconverged


@register_protocol("linear")
class Linear(FrozenProtocol):
    rank = 0
    settings_type = LinearSettings
    result_type = LinearResult

    def fit(self, train, val, test, cfg, num_classes: int, seed: int) -> LinearResult:
        s = cfg.settings(self.name)
        return linear_probe(train, val, test, s.l2, s.max_iter, num_classes)

    def note(self, cfg) -> str:
        s = cfg.settings(self.name)
        return (
            "- linear: logistic regression on standardised features (a dimension constant on the labelled set keeps "
            f"scale 1); L-BFGS to a largest gradient entry of 1e-4 or {s.max_iter} iterations (fits that end "
            f"above it are flagged unconverged); L2 strength chosen on validation from {s.l2} (a choice at "
            "either end is flagged)."
        )
