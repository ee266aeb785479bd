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

from evaluate.results import EarlyStoppedResult
from evaluate.solvers.early_stopping import (
    EarlyStopping,
    EarlyStopResult,
    check_interval,
    early_stopped_result,
    rung_steps,
    step_budget,
    successive_halving,
)
from pretrain.core.encoders import encode_images
from pretrain.core.images import extract_crops, to_unit_float
from pretrain.core.precision import autocast
from pretrain.core.samples import ImageSet


@dataclass
class FinetuneSettings:
    """``eval.finetune``: encoder + linear head trained together; supervised-from-scratch uses
    the same recipe with its own encoder learning rate chosen on validation from ``scratch_lr_encoder``."""

    max_epochs: float = 4.0  # step budget: epochs over the labelled set ...
    # ... but at least this many steps: at 100 labels/class Fashion-MNIST fine-tuning peaked at up to
    # 1075 steps (3 of 14 runs at a 500-step floor's cap) and stopped on patience by 1200; 1 and 10
    # labels/class stopped by 500, so this floor costs them nothing (tests/test_scratch_search.py)
    min_steps: int = 1500
    eval_every: int = 25  # steps between validation checks ...
    max_checks: int = 20  # ... widened so the epochs' budget (not the floor) has at most this many
    patience: int = 5  # checks without improvement before stopping
    batch_size: int = 64
    lr_head: float = 1e-2
    lr_encoder: float = 3e-4  # lower than the head's: adjust the pretrained weights, do not overwrite them
    scratch_lr_encoder: list[float] = field(default_factory=lambda: [3e-4, 1e-3, 3e-3])  # chosen on validation ...
    # ... by successive halving: at these fractions of the step budget the rates still training
    # are halved (the better half on validation so far goes on); [] = every rate runs its full budget.
    # Chooses as the full search on the 12 recorded searches (tests/test_scratch_search.py); [0.25, 0.5] did not
    scratch_search_rungs: list[float] = field(default_factory=lambda: [0.3, 0.5])
    weight_decay: float = 1e-4
    shift: int = 2  # augmentation: random translation in pixels
    flip: bool = True  # augmentation: random horizontal flip
    val_images: int = 2000  # cap on validation images scored at each check (0 = no cap)
    # its label budgets; [] = eval.labels_per_class but all labels (0), where fine-tuning costs most and
    # the question is not scarce labels: name 0 here to run it (e.g. [1, 10, 100, 0])
    labels_per_class: list[int] = field(default_factory=list)
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


class FinetuneRun:
    """One fine-tuning (``finetune_model``'s) of ``encoder`` on ``train`` (uint8 images (N, C, H, W),
    labels (N,)), early-stopped on ``val``, scored on ``test``, that can pause at a validation check
    and resume as if never paused: the global CPU and CUDA RNG states (augmentation, dropout) are
    kept across a pause, so runs at several rates can take turns. ``history``: its early-stopping
    history [(step, validation accuracy)], growing as it trains."""

    def __init__(
        self,
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
    ):
        torch.manual_seed(seed)
        self.model = Classifier(copy.deepcopy(encoder), num_classes).to(device).train()
        train_images, train_labels = train.x.to(device), train.y.to(device)

        def batch(index: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            return augment(to_unit_float(train_images[index]), settings.shift, settings.flip), train_labels[index]

        self.stopping = classifier_stopping(
            self.model, batch, len(train), val, settings, seed, device, lr_encoder, precision
        )
        self.rng = rng_state(device)
        self.sizes, self.test, self.num_classes, self.settings = (len(train), len(val)), test, num_classes, settings
        self.device, self.lr, self.precision = device, lr_encoder, precision

    @property
    def history(self) -> list[tuple[int, float]]:
        return self.stopping.history

    def advance(self, until: int | None = None) -> None:
        """Train to step ``until`` (None: to the end of the budget or of patience)."""
        set_rng_state(self.rng, self.device)
        self.stopping.advance(self.stopping.max_steps if until is None else until)
        self.rng = rng_state(self.device)

    def finish(self) -> tuple[Classifier, EarlyStoppedResult]:
        """(the classifier holding its best-validation weights, its result on the test split)."""
        self.advance()
        stopped = self.stopping.finish()
        predictions = classify(self.model, self.test.x, self.device, precision=self.precision)
        return self.model, early_stopped_result(
            predictions, self.test.y, stopped, *self.sizes, self.num_classes, self.lr
        )


def rng_state(device: torch.device | str) -> tuple:
    """The global RNG states a fine-tuning draws from: the CPU's and, on CUDA, the device's."""
    device = torch.device(device)
    return torch.get_rng_state(), torch.cuda.get_rng_state(device) if device.type == "cuda" else None


def set_rng_state(state: tuple, device: torch.device | str) -> None:
    """Put back the RNG states ``rng_state(device)`` took."""
    cpu, accelerator = state
    torch.set_rng_state(cpu)
    if accelerator is not None:
        torch.cuda.set_rng_state(accelerator, torch.device(device))


def finetune_model(*args, **kwargs) -> tuple[Classifier, EarlyStoppedResult]:
    """(the fine-tuned classifier, its result): ``FinetuneRun(*args, **kwargs)`` run to the end.

    It fine-tunes a copy of ``encoder`` with a new head on ``train`` for at most
    ``settings.max_epochs`` epochs (at least ``min_steps`` steps); early-stops on ``val``;
    scores the best-validation weights on ``test``. ``lr_encoder`` overrides the settings' rate
    (and is recorded as chosen). Forward passes run under ``precision``'s autocast; the loss,
    BatchNorm statistics, weights and optimizer state stay fp32. The copy keeps the encoder's
    memory format (channels-last where evaluation put it there)."""
    return FinetuneRun(*args, **kwargs).finish()


def classifier_stopping(
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
) -> EarlyStopping:
    """Early-stopped training, not yet run, of ``model`` by AdamW (encoder at ``lr_encoder`` or
    the settings' rate, head at ``lr_head``) over batches ``batch(index) -> (images (B, C, H, W)
    float, targets)`` drawn from ``rows`` rows, ``loss_fn(logits (B, K) fp32, targets)``
    (default: cross-entropy on classes (B,)), on ``val`` accuracy; ``settings`` gives the
    budget (FinetuneSettings or evaluate.solvers.distillation.SelfTrainingSettings)."""
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

    return EarlyStopping(model, train_step, validate, *budget_and_checks(rows, settings), settings.patience)


def budget_and_checks(rows: int, settings) -> tuple[int, int]:
    """(most steps, steps between validation checks) of training on ``rows`` rows under ``settings``.
    The checks spread over the epochs' budget, not over the floor: a small set keeps short checks
    (and so short patience) however long the floor lets it improve."""
    epochs = step_budget(rows, settings.batch_size, settings.max_epochs, 0)
    return max(settings.min_steps, epochs), check_interval(epochs, settings.eval_every, settings.max_checks)


def train_classifier(*args, **kwargs) -> EarlyStopResult:
    """``classifier_stopping(*args, **kwargs)`` run to the end (the model left at its best weights)."""
    return classifier_stopping(*args, **kwargs).run()


def cpu_state(model: nn.Module) -> dict[str, torch.Tensor]:
    """A copy of ``model``'s weights and buffers on the CPU (what a cell keeps of a fine-tuned model)."""
    return {name: t.detach().cpu().clone() for name, t in model.state_dict().items()}


def restore_classifier(encoder: nn.Module, num_classes: int, state: dict, device) -> Classifier:
    """The classifier over a copy of ``encoder`` (its architecture and memory format) holding ``state``."""
    model = Classifier(copy.deepcopy(encoder), num_classes).to(device)
    model.load_state_dict(state)
    return model


def finetune(*args, keep: dict | None = None, **kwargs) -> EarlyStoppedResult:
    """The result of ``finetune_model(*args, **kwargs)``; ``keep``, where given, receives the
    fine-tuned classifier's weights (``cpu_state``) under "state"."""
    model, result = finetune_model(*args, **kwargs)
    if keep is not None:
        keep["state"] = cpu_state(model)
    return result


def lr_at_edge(lr: float | None, lrs: list[float]) -> bool:
    """Whether the rate chosen from ``lrs`` is an end of it (a wider grid may do better)."""
    return len(lrs) > 1 and lr in (min(lrs), max(lrs))


def finetune_lr_search(lrs: list[float], *args, keep: dict | None = None, **kwargs) -> EarlyStoppedResult:
    """``finetune(*args, **kwargs)`` at the encoder learning rate of ``lrs`` that validation
    prefers (supervised-from-scratch gets its own rate, not the fine-tuning one), chosen by
    successive halving at the settings' ``scratch_search_rungs``: every rate starts, a rate
    dropped at a rung trains no further, and the survivors run their full budget. The chosen
    run is a full fine-tuning (paused and resumed: the same as run straight through), so its
    result is the one a search that ran every rate to the end returns when both choose the
    same rate. ``keep``: as ``finetune``'s."""
    runs = [FinetuneRun(*args, **kwargs, lr_encoder=lr) for lr in lrs]
    stopping = runs[0].stopping  # every rate has the same budget and checks
    rungs = rung_steps(stopping.max_steps, stopping.eval_every, runs[0].settings.scratch_search_rungs)

    def advance(run: int, until: int | None) -> None:
        runs[run].advance(until)

    chosen, _ = successive_halving([run.history for run in runs], rungs, advance=advance)
    model, best = runs[chosen].finish()
    best.lr_at_edge = lr_at_edge(best.lr, lrs)
    if keep is not None:
        keep["state"] = cpu_state(model)
    return best
