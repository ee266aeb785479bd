"""A small MLP head on frozen features, trained on the labelled subset and early-stopped on
the validation split (the frozen-encoder protocol of
shared/sources/notes-autoencoder-pretraining.txt: few parameters trained on few labels)."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from evaluate.results import EarlyStoppedResult
from evaluate.solvers.early_stopping import check_interval, early_stopped_result, step_budget, train_with_early_stopping
from evaluate.solvers.logistic_regression import standardise
from pretrain.core.precision import autocast
from pretrain.core.samples import Features


@dataclass
class HeadSettings:
    """``eval.mlp_head``: the small MLP head trained on frozen features (early-stopped on validation)."""

    hidden: int = 256
    layers: int = 2  # 1 = linear head
    lr: float = 1e-3
    weight_decay: float = 1e-4
    batch_size: int = 256
    max_epochs: float = 20.0  # step budget: epochs over the labelled set ...
    min_steps: int = 1000  # ... but at least this many steps
    eval_every: int = 50  # steps between validation checks ...
    max_checks: int = 40  # ... widened so a long budget has at most this many
    patience: int = 5  # checks without improvement before stopping


def mlp_head(in_dim: int, num_classes: int, hidden: int, layers: int) -> nn.Module:
    """layers=1: a linear classifier; layers=2: Linear-ReLU-Linear."""
    if layers == 1:
        return nn.Linear(in_dim, num_classes)
    return nn.Sequential(nn.Linear(in_dim, hidden), nn.ReLU(), nn.Linear(hidden, num_classes))


@torch.no_grad()
def head_accuracy(head: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    head.eval()
    accuracy = (head(x).argmax(1) == y).float().mean().item()
    head.train()
    return accuracy


def mlp_head_probe(
    train: Features,
    val: Features,
    test: Features,
    cfg: HeadSettings,
    num_classes: int | None = None,
    seed: int = 0,
    precision: str = "fp32",
) -> EarlyStoppedResult:
    """Test accuracy of the head (``cfg``: size, optimiser, step budget in epochs) at its
    validation-best step; its forward passes run under ``precision``'s autocast (the loss,
    the weights and AdamW's state stay fp32)."""
    num_classes = num_classes or int(train.y.max()) + 1
    x_train, x_val, x_test = standardise(train.x.float(), val.x.float(), test.x.float())
    gen = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    head = mlp_head(x_train.shape[1], num_classes, cfg.hidden, cfg.layers)
    opt = torch.optim.AdamW(head.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)

    def train_step(step: int) -> None:
        index = torch.randint(0, len(x_train), (min(cfg.batch_size, len(x_train)),), generator=gen)
        with autocast(precision, "cpu"):
            logits = head(x_train[index])
        loss = F.cross_entropy(logits.float(), train.y[index])
        opt.zero_grad()
        loss.backward()
        opt.step()

    budget = step_budget(len(train), cfg.batch_size, cfg.max_epochs, cfg.min_steps)
    every = check_interval(budget, cfg.eval_every, cfg.max_checks)
    stopped = train_with_early_stopping(
        head, train_step, lambda: head_accuracy(head, x_val, val.y), budget, every, cfg.patience
    )
    with torch.no_grad():
        predictions = head.eval()(x_test).argmax(1)
    return early_stopped_result(predictions, test.y, stopped, len(train), len(val), num_classes)
