"""``mlp_head``: a small MLP head on frozen features (evaluate.solvers.mlp_classifier), its number of steps
chosen on validation (early stopping, best weights restored)."""

from __future__ import annotations

from evaluate.contract import FrozenProtocol
from evaluate.protocol_registry import register_protocol
from evaluate.results import EarlyStoppedResult
from evaluate.solvers.mlp_classifier import HeadSettings, mlp_head_probe


def budget_note(b) -> str:
    """The early-stopping budget of ``b`` (HeadSettings or FinetuneSettings), in words."""
    return (
        f"at most {b.max_epochs:g} epochs over the labelled set (at least {b.min_steps} steps), validation "
        f"checked every {b.eval_every} steps or more (at most {b.max_checks} checks over {b.max_epochs:g} epochs), "
        f"patience {b.patience} checks; a best step equal to the budget is flagged `at_cap`"
    )


@register_protocol("mlp_head")
class MlpHead(FrozenProtocol):
    rank = 1
    settings_type = HeadSettings
    result_type = EarlyStoppedResult
    stochastic = True  # its initialisation and batches

    def fit(self, train, val, test, cfg, num_classes: int, seed: int) -> EarlyStoppedResult:
        return mlp_head_probe(train, val, test, cfg.settings(self.name), num_classes, seed, precision=cfg.precision)

    def note(self, cfg) -> str:
        h = cfg.settings(self.name)
        return (
            f"- mlp_head: {h.layers}-layer head ({h.hidden} hidden) on frozen features; number of steps chosen on "
            f"validation (early stopping, {budget_note(h)}), best weights restored."
        )
