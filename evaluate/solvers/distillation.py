"""Self-training: a fine-tuned teacher labels the unlabelled images, a student learns from its
soft labels (the third stage of SimCLRv2, Chen et al. 2020b, sec. 2.3; with input noise on the
student as in Noisy Student, Xie et al. 2020).

The student has the teacher's architecture. It starts from the pretrained encoder (source
``encoder``) or from fresh weights (``scratch``), and minimises the distillation loss
-Σ_y p_T(y | x; τ) log p_S(y | x; τ) over every training image, with its labels hidden, under the
same on-device augmentation as fine-tuning. Its number of steps is chosen on the validation
split, as scarce as the labels; the test split only scores the weights kept.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from evaluate.results import EarlyStoppedResult
from evaluate.solvers.early_stopping import early_stopped_result
from evaluate.solvers.supervised_training import Classifier, augment, classify, train_classifier
from pretrain.core.encoders import encode_images
from pretrain.core.images import to_unit_float
from pretrain.core.samples import ImageSet


@dataclass
class SelfTrainingSettings:
    """``eval.self_training``: the teacher is the ``finetune`` protocol's recipe (eval.finetune);
    these settings are the student's."""

    labels_per_class: list[int] = field(default_factory=lambda: [100])  # its budgets ([] = eval.finetune's); no 0
    temperature: float = 1.0  # τ of the teacher's and the student's softmax (SimCLRv2 uses 1)
    max_epochs: float = 1.0  # student budget: epochs over the unlabelled images ...
    min_steps: int = 200  # ... but at least this many steps
    eval_every: int = 50  # steps between validation checks ...
    max_checks: int = 20  # ... widened so a long budget has at most this many
    patience: int = 4  # checks without improvement before stopping
    batch_size: int = 128
    lr_head: float = 1e-2
    lr_encoder: float = 3e-4  # student from the pretrained encoder (scratch: the rate chosen for scratch fine-tuning)
    weight_decay: float = 1e-4
    shift: int = 2  # the student's input noise: random translation in pixels ...
    flip: bool = True  # ... and horizontal flips
    unlabelled_images: int = 0  # cap on the training images the teacher labels (0 = all)
    scratch: bool = True  # also self-train supervised-from-scratch (teacher and student from fresh weights)


def soft_labels(teacher: nn.Module, images: torch.Tensor, temperature: float, device, precision: str) -> torch.Tensor:
    """p_T(y | x; τ) (N, C) of the teacher (images (N, C, H, W) uint8 -> logits (N, C)) on CPU."""
    logits = encode_images(teacher, images, 1024, device, precision=precision)
    return F.softmax(logits.float() / temperature, dim=1)


def distillation_loss(student_logits: torch.Tensor, teacher_probs: torch.Tensor, temperature: float) -> torch.Tensor:
    """SimCLRv2 eq. 2: mean over the batch of -Σ_y p_T(y) log p_S(y; τ). (B, C), (B, C) -> ()."""
    return -(teacher_probs * F.log_softmax(student_logits.float() / temperature, dim=1)).sum(1).mean()


def self_train(
    student_encoder: nn.Module,
    unlabelled: ImageSet,
    teacher_probs: torch.Tensor,
    val: ImageSet,
    test: ImageSet,
    settings: SelfTrainingSettings,
    seed: int,
    device: torch.device | str = "cpu",
    lr_encoder: float | None = None,
    precision: str = "fp32",
) -> EarlyStoppedResult:
    """Train a copy of ``student_encoder`` with a new head on ``unlabelled`` images (N, C, H, W)
    (their labels never read) towards ``teacher_probs`` (N, C); early-stop on ``val``; score the
    kept weights on ``test``."""
    torch.manual_seed(seed)
    num_classes = teacher_probs.shape[1]
    model = Classifier(copy.deepcopy(student_encoder), num_classes).to(device).train()
    images, targets = unlabelled.x.to(device), teacher_probs.to(device)

    def batch(index: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return augment(to_unit_float(images[index]), settings.shift, settings.flip), targets[index]

    def loss(logits: torch.Tensor, probs: torch.Tensor) -> torch.Tensor:
        return distillation_loss(logits, probs, settings.temperature)

    rows = len(unlabelled)
    stopped = train_classifier(model, batch, rows, val, settings, seed, device, lr_encoder, precision, loss)
    predictions = classify(model, test.x, device, precision=precision)
    result = early_stopped_result(predictions, test.y, stopped, len(unlabelled), len(val), num_classes, lr_encoder)
    result.selected_on = "validation split (the student's number of steps)"
    return result
