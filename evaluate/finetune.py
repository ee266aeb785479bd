"""Fine-tuning on scarce labels: encoder and a linear head trained together, the number of
steps chosen on the validation split (early stopping, best weights restored).

The encoder learns more slowly than the head (its lr is lower): it starts from useful
weights that a few labels should adjust, not overwrite. Light augmentation (random shift,
horizontal flip) stretches the few labels. Supervised-from-scratch runs the identical
recipe on a randomly initialised encoder of the same architecture, so the two are
comparable (shared/sources/notes-autoencoder-pretraining.txt, approach 2).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from evaluate.early_stopping import check_interval, early_stopped_result, step_budget, train_with_early_stopping
from evaluate.results import EarlyStoppedResult
from pretrain.core.encoders import encode_images
from pretrain.core.images import extract_crops, to_unit_float
from pretrain.core.precision import autocast
from pretrain.core.samples import ImageSet


@dataclass
class FinetuneSettings:
    """``eval.finetune``: encoder + linear head trained together; supervised-from-scratch uses
    the same recipe with its own encoder learning rate chosen on validation from ``scratch_lr_encoder``."""

    max_epochs: float = 4.0  # step budget: epochs over the labelled set ...
    min_steps: int = 500  # ... but at least this many steps
    eval_every: int = 25  # steps between validation checks ...
    max_checks: int = 20  # ... widened so a long budget has at most this many
    patience: int = 5  # checks without improvement before stopping
    batch_size: int = 64
    lr_head: float = 1e-2
    lr_encoder: float = 3e-4  # lower than the head's: adjust the pretrained weights, do not overwrite them
    scratch_lr_encoder: list[float] = field(default_factory=lambda: [3e-4, 1e-3, 3e-3])  # chosen on validation
    weight_decay: float = 1e-4
    shift: int = 2  # augmentation: random translation in pixels
    flip: bool = True  # augmentation: random horizontal flip
    val_images: int = 2000  # cap on validation images scored at each check (0 = no cap)
    labels_per_class: list[int] = field(default_factory=list)  # its own label budgets ([] = eval.labels_per_class)
    scratch: bool = True  # also train supervised-from-scratch, the reference it is compared with


def augment(images: torch.Tensor, shift: int, flip: bool) -> torch.Tensor:
    """Random shift (zero padding, then a random crop back to size) and horizontal flip,
    per image, vectorised. images (B, C, H, W) float -> same shape."""
    if shift:
        padded = F.pad(images, (shift, shift, shift, shift))
        corners = torch.randint(0, 2 * shift + 1, (len(images), 2), device=images.device)
        images = extract_crops(padded, corners, images.shape[-1])
    if flip:
        mirrored = torch.rand(len(images), 1, 1, 1, device=images.device) < 0.5
        images = torch.where(mirrored, images.flip(-1), images)
    return images


class Classifier(nn.Module):
    """encoder (images -> codes (B, m)) -> BatchNorm without affine -> linear head.

    The normalisation puts codes of any scale on one footing (a pretrained code can have
    large values), as the frozen probes' standardisation does; MAE's linear probe does the same."""

    def __init__(self, encoder: nn.Module, num_classes: int):
        super().__init__()
        self.encoder = encoder
        self.norm = nn.BatchNorm1d(encoder.code_dim, affine=False)
        self.head = nn.Linear(encoder.code_dim, num_classes)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.head(self.norm(self.encoder(images)))


def classify(
    model: nn.Module, images: torch.Tensor, device, batch_size: int = 1024, precision: str = "fp32"
) -> torch.Tensor:
    """Predicted classes (N,) for uint8 images (N, C, H, W); the model's train/eval mode is kept."""
    return encode_images(model, images, batch_size, device, precision=precision).argmax(1)


def finetune_model(
    encoder: nn.Module,
    train: ImageSet,
    val: ImageSet,
    test: ImageSet,
    num_classes: int,
    settings: FinetuneSettings,
    seed: int,
    device: torch.device | str = "cpu",
    lr_encoder: float | None = None,
    precision: str = "fp32",
) -> tuple[Classifier, EarlyStoppedResult]:
    """(the fine-tuned classifier, its result): fine-tune a copy of ``encoder`` with a new head
    on ``train`` for at most ``settings.max_epochs`` epochs (at least ``min_steps`` steps);
    early-stop on ``val``; score the best-validation weights on ``test``. ``lr_encoder``
    overrides the settings' rate (and is recorded as chosen). Forward passes run under
    ``precision``'s autocast; the loss, BatchNorm statistics, weights and optimizer state stay
    fp32. The copy keeps the encoder's memory format (channels-last where evaluation put it there)."""
    torch.manual_seed(seed)
    model = Classifier(copy.deepcopy(encoder), num_classes).to(device).train()
    train_images, train_labels = train.x.to(device), train.y.to(device)

    def batch(index: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return augment(to_unit_float(train_images[index]), settings.shift, settings.flip), train_labels[index]

    stopped = train_classifier(model, batch, len(train), val, settings, seed, device, lr_encoder, precision)
    predictions = classify(model, test.x, device, precision=precision)
    return model, early_stopped_result(predictions, test.y, stopped, len(train), len(val), num_classes, lr_encoder)


def train_classifier(
    model: Classifier,
    batch,
    rows: int,
    val: ImageSet,
    settings,
    seed: int,
    device,
    lr_encoder: float | None,
    precision: str,
    loss_fn=F.cross_entropy,
):
    """AdamW on ``model`` (encoder at ``lr_encoder`` or the settings' rate, head at ``lr_head``)
    over batches ``batch(index) -> (images (B, C, H, W) float, targets)`` drawn from ``rows``
    rows, ``loss_fn(logits (B, K) fp32, targets)`` (default: cross-entropy on classes (B,)),
    early-stopped on ``val`` accuracy; ``settings`` gives the budget (FinetuneSettings or
    evaluate.self_training.SelfTrainingSettings)."""
    opt = torch.optim.AdamW(
        [
            {"params": model.encoder.parameters(), "lr": lr_encoder or settings.lr_encoder},
            {"params": model.head.parameters(), "lr": settings.lr_head},
        ],
        weight_decay=settings.weight_decay,
    )
    gen = torch.Generator().manual_seed(seed)

    def train_step(step: int) -> None:
        images, targets = batch(torch.randint(0, rows, (settings.batch_size,), generator=gen).to(device))
        with autocast(precision, device):
            logits = model(images)
        loss = loss_fn(logits.float(), targets)
        opt.zero_grad()
        loss.backward()
        opt.step()

    def validate() -> float:
        return (classify(model, val.x, device, precision=precision) == val.y).float().mean().item()

    budget = step_budget(rows, settings.batch_size, settings.max_epochs, settings.min_steps)
    every = check_interval(budget, settings.eval_every, settings.max_checks)
    return train_with_early_stopping(model, train_step, validate, budget, every, settings.patience)


def finetune(*args, **kwargs) -> EarlyStoppedResult:
    """The result of ``finetune_model(*args, **kwargs)``."""
    return finetune_model(*args, **kwargs)[1]


def finetune_lr_search(lrs: list[float], *args, **kwargs) -> EarlyStoppedResult:
    """``finetune(*args, **kwargs)`` at each encoder learning rate in ``lrs``; the run with the
    best validation accuracy is returned (supervised-from-scratch gets its own rate, not the
    fine-tuning one)."""
    runs = [finetune(*args, **kwargs, lr_encoder=lr) for lr in lrs]
    best = max(runs, key=lambda r: r.val_accuracy)
    best.lr_at_edge = len(lrs) > 1 and best.lr in (min(lrs), max(lrs))
    return best
