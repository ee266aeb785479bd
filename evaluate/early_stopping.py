"""Choose the number of training steps on the validation split, never on the test split.

Fine-tuning on few labels overfits quickly, so the step count is a hyperparameter
(shared/sources/notes-autoencoder-pretraining.txt): train, score the validation split at
regular checks, stop after ``patience`` checks without improvement, and restore the
weights of the best check. The budget is counted in epochs over the labelled set (with a
floor for tiny sets), so "all labels" is not cut off after a fraction of an epoch; a result
whose best check is the last one allowed is flagged ``at_cap``: it was still improving.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch import nn

from evaluate.results import EarlyStoppedResult, prediction_scores


def step_budget(train_size: int, batch_size: int, max_epochs: float, min_steps: int) -> int:
    """Most steps allowed: ``max_epochs`` passes over ``train_size`` labelled images, at least ``min_steps``."""
    return max(min_steps, math.ceil(max_epochs * train_size / batch_size))


def check_interval(budget: int, eval_every: int, max_checks: int) -> int:
    """Steps between validation checks: ``eval_every``, widened so a long budget has at most ``max_checks``."""
    return max(eval_every, math.ceil(budget / max_checks))


@dataclass
class EarlyStopResult:
    best_step: int  # steps taken when the validation score peaked
    best_score: float
    steps_run: int
    max_steps: int
    history: list[tuple[int, float]] = field(default_factory=list)  # (step, validation score)

    @property
    def at_cap(self) -> bool:
        return self.best_step == self.max_steps


def train_with_early_stopping(
    model: nn.Module,
    train_step: Callable[[int], None],
    validate: Callable[[], float],
    max_steps: int,
    eval_every: int,
    patience: int,
) -> EarlyStopResult:
    """Run ``train_step(step)`` up to ``max_steps`` times; ``validate()`` (higher is better)
    every ``eval_every`` steps, at step 0 and at the last step. Leaves ``model`` holding its best weights."""
    best_score, best_step, best_state = validate(), 0, copy.deepcopy(model.state_dict())
    history, stale, step = [(0, best_score)], 0, 0
    while step < max_steps and stale < patience:
        for _ in range(min(eval_every, max_steps - step)):
            train_step(step)
            step += 1
        score = validate()
        history.append((step, score))
        if score > best_score:
            best_score, best_step, best_state, stale = score, step, copy.deepcopy(model.state_dict()), 0
        else:
            stale += 1
    model.load_state_dict(best_state)
    return EarlyStopResult(best_step, best_score, step, max_steps, history)


def early_stopped_result(
    predictions: torch.Tensor,
    labels: torch.Tensor,
    stopped: EarlyStopResult,
    train_size: int,
    val_size: int,
    num_classes: int,
    lr: float | None = None,
) -> EarlyStoppedResult:
    """The result of a model early-stopped on validation: test scores of its ``predictions`` (Q,)."""
    return EarlyStoppedResult(
        **prediction_scores(predictions, labels, num_classes),
        train_size=train_size,
        val_size=val_size,
        selected_on="validation split (number of steps, early stopping)"
        + (" and learning rate" if lr is not None else ""),
        val_accuracy=stopped.best_score,
        best_step=stopped.best_step,
        steps_run=stopped.steps_run,
        max_steps=stopped.max_steps,
        at_cap=stopped.at_cap,
        lr=lr,
    )
