"""Choose the number of training steps on the validation split, never on the test split.

Fine-tuning on few labels overfits quickly, so the step count is a hyperparameter
(shared/sources/notes-autoencoder-pretraining.txt): train, score the validation split every
``eval_every`` steps, stop after ``patience`` checks without improvement, and restore the
weights of the best check.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch import nn

from evaluate.results import EarlyStoppedResult


@dataclass
class EarlyStopResult:
    best_step: int  # steps taken when the validation score peaked
    best_score: float
    steps_run: int
    history: list[tuple[int, float]] = field(default_factory=list)  # (step, validation score)


def train_with_early_stopping(
    model: nn.Module,
    train_step: Callable[[int], None],
    validate: Callable[[], float],
    max_steps: int,
    eval_every: int,
    patience: int,
) -> EarlyStopResult:
    """Run ``train_step(step)`` up to ``max_steps`` times; ``validate()`` (higher is better)
    every ``eval_every`` steps and at step 0. Leaves ``model`` holding its best weights."""
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
    return EarlyStopResult(best_step, best_score, step, history)


def early_stopped_result(
    predictions: torch.Tensor, labels: torch.Tensor, stopped: EarlyStopResult, train_size: int
) -> EarlyStoppedResult:
    """The result of a model early-stopped on validation: test accuracy of its ``predictions`` (Q,)."""
    return EarlyStoppedResult(
        accuracy=(predictions == labels).float().mean().item(),
        test_predictions=predictions,
        train_size=train_size,
        selected_on="validation split (number of steps, early stopping)",
        val_accuracy=stopped.best_score,
        best_step=stopped.best_step,
        steps_run=stopped.steps_run,
    )
