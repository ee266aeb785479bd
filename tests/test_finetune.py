import dataclasses
from functools import partial

import torch

from evaluate.results import EarlyStoppedResult
from evaluate.solvers.supervised_training import FinetuneSettings, augment, finetune, lr_at_edge
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


def early_stopped(lr: float | None, val_accuracy: float, accuracy: float) -> EarlyStoppedResult:
    return EarlyStoppedResult(
        accuracy=accuracy,
        balanced_accuracy=accuracy,
        train_size=1,
        val_size=1,
        selected_on="",
        val_accuracy=val_accuracy,
        per_class_accuracy=[],
        test_predictions=torch.zeros(1),
        best_step=1,
        steps_run=1,
        max_steps=1,
        at_cap=False,
        lr=lr,
    )


class ScriptedRun:
    """A stand-in for evaluate.solvers.supervised_training.FinetuneRun: its validation history (checks every 10 of
    100 steps) and test accuracy are given per rate in ``SCRIPT``; ``reached`` keeps how far each rate trained."""

    SCRIPT: dict = {}
    reached: dict = {}

    def __init__(self, encoder, train, val, test, num_classes, settings, seed, device="cpu", lr_encoder=None, **kw):
        self.lr, self.settings = lr_encoder, settings
        self.stopping = type("Stopping", (), {"max_steps": 100, "eval_every": 10})()
        self.full, self.test_accuracy = self.SCRIPT[lr_encoder]
        self.history = []
        self.advance(0)

    def advance(self, until=None):
        self.history[:] = [(step, score) for step, score in self.full if until is None or step <= until]
        self.reached[self.lr] = self.history[-1][0]

    def finish(self):
        self.advance()
        best = max(score for _, score in self.history)
        return None, early_stopped(self.lr, best, self.test_accuracy)


def rising(top: float, steps: int = 100) -> list[tuple[int, float]]:
    """A validation history rising linearly from 0 to ``top`` at ``steps``, checked every 10 steps."""
    return [(s, top * s / steps) for s in range(0, steps + 1, 10)]


def test_scratch_gets_the_learning_rate_validation_prefers(monkeypatch):
    """finetune_lr_search returns the run with the best validation accuracy, whatever its test accuracy."""
    import evaluate.solvers.supervised_training as ft

    monkeypatch.setattr(ft, "FinetuneRun", ScriptedRun)
    # the test set must not decide: the rate validation prefers has the worst test accuracy
    ScriptedRun.SCRIPT = {1e-4: (rising(0.5), 0.99), 1e-3: (rising(0.9), 0.6), 1e-2: (rising(0.7), 0.95)}
    for rungs in ([], [0.25, 0.5]):  # the full search and successive halving agree here
        settings = FinetuneSettings(scratch_search_rungs=rungs)
        chosen = ft.finetune_lr_search([1e-4, 1e-3, 1e-2], None, None, None, None, 10, settings, 0, "cpu")
        assert chosen.lr == 1e-3 and chosen.accuracy == 0.6 and not chosen.lr_at_edge
    edge = ft.finetune_lr_search([1e-3, 1e-2], None, None, None, None, 10, FinetuneSettings(), 0, "cpu")
    assert edge.lr == 1e-3 and edge.lr_at_edge  # the best rate is the grid's smallest: a wider grid may do better


def test_a_rate_dropped_by_successive_halving_trains_no_further(monkeypatch):
    import evaluate.solvers.supervised_training as ft

    monkeypatch.setattr(ft, "FinetuneRun", ScriptedRun)
    ScriptedRun.SCRIPT = {1e-4: (rising(0.5), 0.0), 1e-3: (rising(0.9), 0.0), 1e-2: (rising(0.7), 0.0)}
    ScriptedRun.reached = {}
    settings = FinetuneSettings(scratch_search_rungs=[0.25, 0.5])  # rungs at steps 30 (25 up to a check) and 50
    chosen = ft.finetune_lr_search([1e-4, 1e-3, 1e-2], None, None, None, None, 10, settings, 0, "cpu")
    assert chosen.lr == 1e-3
    assert ScriptedRun.reached == {1e-4: 30, 1e-2: 50, 1e-3: 100}  # 180 steps of the full search's 300


def test_fine_tuning_runs_at_scarce_labels_unless_all_labels_are_asked_for():
    from evaluate.protocol_registry import PROTOCOLS
    from evaluate.settings import typed_config
    from pretrain.core.config import load_config as load_plain

    def load_config(*args):
        return typed_config(load_plain(*args))

    finetune_protocol = PROTOCOLS["finetune"]
    default = load_config(None).eval
    assert default.labels_per_class == [1, 10, 100, 0]  # the frozen protocols' grid keeps all labels
    assert finetune_protocol.budgets(default) == [1, 10, 100]
    assert "labels per class: 1, 10, 100." in finetune_protocol.note(default)
    with_all = load_config(None, ["eval.finetune.labels_per_class=[1,10,100,0]"]).eval
    assert finetune_protocol.budgets(with_all) == [1, 10, 100, 0]
    assert finetune_protocol.budgets(load_config(None, ["eval.labels_per_class=[5,0]"]).eval) == [5]
    self_training = load_config(None, ["eval.self_training.labels_per_class=[]"]).eval
    wanted = PROTOCOLS["self_training"].budgets(
        finetune_protocol.budgets(self_training), torch.arange(1000) % 10
    )  # its fallback: fine-tuning's budgets
    assert wanted == [1, 10, 100]


def test_every_scratch_seed_at_an_edge_rate_is_flagged(monkeypatch):
    """The rate is searched on a budget's first seed; later seeds train at it, and are flagged too."""
    import evaluate.protocols.finetune as protocol
    from evaluate.context import EvalContext
    from evaluate.protocol_registry import PROTOCOLS
    from evaluate.settings import EvalConfig, EvaluatedConfig
    from pretrain.core.samples import Samples

    def fake_finetune(encoder, *args, lr_encoder=None, **kwargs):
        return early_stopped(lr_encoder, 0.5, 0.5)

    def fake_search(lrs, *args, chosen: float, **kwargs):  # flags its own run, as finetune_lr_search does
        return dataclasses.replace(early_stopped(chosen, 0.5, 0.5), lr_at_edge=lr_at_edge(chosen, lrs))

    def labelled(n: int, offset: int = 0) -> Samples:
        return Samples(
            torch.zeros(n, 1, 4, 4, dtype=torch.uint8), torch.arange(n) % 4, torch.arange(offset, offset + n)
        )

    monkeypatch.setattr(protocol, "finetune", fake_finetune)
    splits = type("S", (), {"train": labelled(40), "val": labelled(40, 40), "test": labelled(8), "num_classes": 4})()
    for searched, flagged in ((3e-3, [True] * 3), (1e-3, [False] * 3)):
        monkeypatch.setattr(protocol, "finetune_lr_search", partial(fake_search, chosen=searched))
        cfg = EvaluatedConfig(eval=EvalConfig(labels_per_class=[2], seeds=3))
        ctx = EvalContext(cfg, splits, {}, [], "cpu", frozenset(), base_seed=5)
        ctx.scratch = lambda seed: f"random{seed}"
        records = PROTOCOLS["finetune"].evaluate(ctx)
        assert [r.result.lr for r in records] == [searched] * 3
        assert [r.result.lr_at_edge for r in records] == flagged
        assert ["lr_at_edge" in r.result.flags() for r in records] == flagged


def test_finetune_budget_grows_with_the_labelled_set():
    train, val, test = synthetic_images(640, seed=0), synthetic_images(50, seed=1), synthetic_images(50, seed=2)
    encoder = build_encoder("paper_conv", 8, (1, 28, 28), 0.3, 0.3)
    settings = FinetuneSettings(max_epochs=0.5, min_steps=2, eval_every=1, patience=100, batch_size=64)
    result = finetune(encoder, train, val, test, 10, settings, seed=0)
    assert result.max_steps == 5 and result.steps_run == 5  # half an epoch of 640 images at batch 64
    assert result.val_size == 50
