"""Choose the number of training steps on the validation split, never on the test split.

Fine-tuning on few labels overfits quickly, so the step count is a hyperparameter
(shared/sources/notes-autoencoder-pretraining.txt): train, score the validation split at
regular checks, stop after ``patience`` checks without improvement, and restore the
weights of the best check. The budget is counted in epochs over the labelled set (with a
floor for tiny sets), so "all labels" is not cut off after a fraction of an epoch; a result
whose best check is the last one allowed is flagged ``at_cap``: it was still improving.

A run can pause at a check and resume (``EarlyStopping.advance``), which lets a learning-rate
search stop the rates validation disfavours early: successive halving (Jamieson & Talwalkar
2016; Li et al. 2017, Hyperband) over the runs' validation histories, ``successive_halving``.
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


class EarlyStopping:
    """Training early-stopped on validation that can pause at a check and resume: ``advance`` to
    a step, look at ``history``, advance further; ``finish`` restores the best weights. Run to the
    end in one ``advance``, or in several, it takes the same steps and checks (a pause falls on a check).

    ``train_step(step)`` runs one step; ``validate()`` (higher is better) runs at step 0, every
    ``eval_every`` steps and at the last of ``max_steps``; training stops after ``patience``
    checks without improvement."""

    def __init__(self, model: nn.Module, train_step, validate, max_steps: int, eval_every: int, patience: int):
        self.model, self.train_step, self.validate = model, train_step, validate
        self.max_steps, self.eval_every, self.patience = max_steps, eval_every, patience
        self.best_score, self.best_step, self.best_state = validate(), 0, copy.deepcopy(model.state_dict())
        self.history: list[tuple[int, float]] = [(0, self.best_score)]  # (step, validation score) per check
        self.stale, self.step = 0, 0

    @property
    def done(self) -> bool:
        """Whether training is over: the budget spent, or patience."""
        return self.step >= self.max_steps or self.stale >= self.patience

    def advance(self, until: int) -> None:
        """Train check interval by check interval until step ``until`` is reached (a pause between
        checks would add a check an unpaused run does not make), the budget runs out or patience does."""
        while not self.done and self.step < until:
            for _ in range(min(self.eval_every, self.max_steps - self.step)):
                self.train_step(self.step)
                self.step += 1
            score = self.validate()
            self.history.append((self.step, score))
            if score > self.best_score:
                self.best_score, self.best_step, self.stale = score, self.step, 0
                self.best_state = copy.deepcopy(self.model.state_dict())
            else:
                self.stale += 1

    def finish(self) -> EarlyStopResult:
        """Leave the model holding its best weights; what the run did (as far as it went)."""
        self.model.load_state_dict(self.best_state)
        return EarlyStopResult(self.best_step, self.best_score, self.step, self.max_steps, self.history)

    def run(self) -> EarlyStopResult:
        """Train to the end of the budget or of patience, then ``finish``."""
        self.advance(self.max_steps)
        return self.finish()


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
    return EarlyStopping(model, train_step, validate, max_steps, eval_every, patience).run()


def best_score(history: list[tuple[int, float]], until: int | None = None) -> float:
    """The best validation score of ``history`` [(step, score)] at checks up to step ``until`` (None: all)."""
    return max(score for step, score in history if until is None or step <= until)


def rung_steps(max_steps: int, eval_every: int, fractions: list[float]) -> list[int]:
    """The steps of successive halving's rungs: each fraction of the budget ``max_steps``, moved up
    to the next validation check (so a paused run has made exactly the checks of an unpaused one)."""
    return [min(max_steps, eval_every * math.ceil(f * max_steps / eval_every)) for f in fractions]


def successive_halving(
    histories: list[list[tuple[int, float]]],
    rungs: list[int],
    keep: float = 0.5,
    advance: Callable[[int, int | None], None] = lambda run, until: None,
) -> tuple[int, list[list[int]]]:
    """(the chosen run, the runs kept at each rung): successive halving over runs whose
    validation histories [(step, score)] are ``histories``. At each rung step the runs still in
    keep the best ``keep`` share (at least one) by best score so far; the survivors of the last
    rung run to the end and the best score decides, ties to the earlier run, as in a full search.

    Replayed on finished histories it is a pure function. In a search, ``advance(run, step)``
    trains ``run`` (its history growing in place) to ``step`` (None: to the end) before the rule reads it, so
    a run dropped at a rung never trains past it: each run does a prefix of its full-search work."""
    alive, kept = list(range(len(histories))), []
    for rung in rungs:
        for run in alive:
            advance(run, rung)
        ranked = sorted(alive, key=lambda run: -best_score(histories[run], rung))  # stable: ties keep grid order
        alive = sorted(ranked[: max(1, math.ceil(keep * len(alive)))])
        kept.append(alive)
    for run in alive:
        advance(run, None)
    return max(alive, key=lambda run: best_score(histories[run])), kept


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
