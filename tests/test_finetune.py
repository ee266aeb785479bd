import torch

from evaluate.finetune import FinetuneSettings, augment, finetune
from pretrain.core.datasets.synthetic import synthetic_images
from pretrain.core.encoders import build_encoder


def all_shifts(image: torch.Tensor, shift: int) -> torch.Tensor:
    """Every translation of ``image`` (C, H, W) by up to ``shift`` pixels, zero filled."""
    padded = torch.nn.functional.pad(image, (shift,) * 4)
    h, w = image.shape[-2:]
    return torch.stack(
        [padded[:, dy : dy + h, dx : dx + w] for dy in range(2 * shift + 1) for dx in range(2 * shift + 1)]
    )


def test_augment_only_translates_and_flips():
    torch.manual_seed(0)
    images = torch.rand(64, 1, 12, 12)
    shifted = augment(images, shift=2, flip=False)
    assert shifted.shape == images.shape and not torch.equal(shifted, images)
    assert all((all_shifts(i, 2) == s).flatten(1).all(1).any() for s, i in zip(shifted, images))
    flipped = augment(images, shift=0, flip=True)
    was_flipped = [bool(torch.equal(f, i.flip(-1))) for f, i in zip(flipped, images)]
    assert all(w or torch.equal(f, i) for w, f, i in zip(was_flipped, flipped, images))
    assert 0.25 < sum(was_flipped) / len(images) < 0.75


def test_finetune_learns_synthetic_classes_and_selects_on_validation():
    train, val, test = synthetic_images(100, seed=0), synthetic_images(200, seed=1), synthetic_images(200, seed=2)
    torch.manual_seed(0)
    encoder = build_encoder("paper_conv", 16, (1, 28, 28), 0.3, 0.3)
    settings = FinetuneSettings(max_epochs=0, min_steps=150, eval_every=15, patience=4, lr_encoder=1e-3, lr_head=3e-3)
    result = finetune(encoder, train, val, test, 10, settings, seed=0)
    assert result.accuracy > 0.8
    assert result.best_step <= result.steps_run <= 150
    assert result.test_predictions.shape == (200,)
    # the caller's encoder is untouched: fine-tuning works on a copy
    again = finetune(encoder, train, val, test, 10, settings, seed=0)
    assert again.accuracy == result.accuracy


def test_scratch_gets_the_learning_rate_validation_prefers(monkeypatch):
    """finetune_lr_search returns the run with the best validation accuracy, whatever its test accuracy."""
    import evaluate.finetune as ft
    from evaluate.results import EarlyStoppedResult

    def fake(encoder, train, val, test, num_classes, settings, seed, device="cpu", lr_encoder=None):
        val_acc = {1e-4: 0.5, 1e-3: 0.9, 1e-2: 0.7}[lr_encoder]
        test_acc = {1e-4: 0.99, 1e-3: 0.6, 1e-2: 0.95}[lr_encoder]  # the test set must not decide
        return EarlyStoppedResult(
            accuracy=test_acc,
            balanced_accuracy=test_acc,
            train_size=1,
            val_size=1,
            selected_on="",
            val_accuracy=val_acc,
            per_class_accuracy=[],
            test_predictions=torch.zeros(1),
            best_step=1,
            steps_run=1,
            max_steps=1,
            at_cap=False,
            lr=lr_encoder,
        )

    monkeypatch.setattr(ft, "finetune", fake)
    chosen = ft.finetune_lr_search([1e-4, 1e-3, 1e-2], None, None, None, None, 10, FinetuneSettings(), 0, "cpu")
    assert chosen.lr == 1e-3 and chosen.accuracy == 0.6 and not chosen.lr_at_edge
    edge = ft.finetune_lr_search([1e-3, 1e-2], None, None, None, None, 10, FinetuneSettings(), 0, "cpu")
    assert edge.lr == 1e-3 and edge.lr_at_edge  # the best rate is the grid's smallest: a wider grid may do better


def test_finetune_budget_grows_with_the_labelled_set():
    train, val, test = synthetic_images(640, seed=0), synthetic_images(50, seed=1), synthetic_images(50, seed=2)
    encoder = build_encoder("paper_conv", 8, (1, 28, 28), 0.3, 0.3)
    settings = FinetuneSettings(max_epochs=0.5, min_steps=2, eval_every=1, patience=100, batch_size=64)
    result = finetune(encoder, train, val, test, 10, settings, seed=0)
    assert result.max_steps == 5 and result.steps_run == 5  # half an epoch of 640 images at batch 64
    assert result.val_size == 50
