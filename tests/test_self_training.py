"""Self-training's teachers are the fine-tuning protocol's runs, read back from their cells with
their weights rather than trained a second time."""

from __future__ import annotations

import copy
import dataclasses

import pytest
import torch
from conftest import tiny_config_dict

from evaluate.cells import CellStore
from evaluate.entry import EvaluationSettings, load_run
from evaluate.protocol_registry import PROTOCOLS
from evaluate.solvers.supervised_training import (
    FinetuneRun,
    FinetuneSettings,
    cpu_state,
    finetune_model,
    restore_classifier,
)
from pretrain.core.config import config_from_dict
from pretrain.core.datasets.synthetic import synthetic_images
from pretrain.core.encoders import build_encoder
from pretrain.core.images import to_unit_float
from pretrain.engine import run_pretraining


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    cfg = config_from_dict(tiny_config_dict(tmp_path_factory.mktemp("self_training") / "run"))
    run_pretraining(cfg)
    return load_run(cfg.run, EvaluationSettings(baselines=["raw_pixels"], write=False))


def test_a_stored_fine_tuned_model_predicts_as_the_one_trained(tmp_path):
    train, val, test = synthetic_images(60, seed=0), synthetic_images(40, seed=1), synthetic_images(50, seed=2)
    encoder = build_encoder("paper_conv", 8, (1, 28, 28), 0.3, 0.3)
    settings = FinetuneSettings(max_epochs=0, min_steps=20, eval_every=10)
    model, result = finetune_model(encoder, train, val, test, 10, settings, seed=0)
    store = CellStore(tmp_path, "cpu", "fp32")
    store.get("finetune", {"k": 1}, lambda: {"result": result, "state": cpu_state(model)})
    kept = CellStore(tmp_path, "cpu", "fp32").get("finetune", {"k": 1}, lambda: pytest.fail("recomputed"))
    restored = restore_classifier(encoder, 10, kept["state"], "cpu").eval()
    images = to_unit_float(test.x)
    assert torch.equal(restored(images), model.eval()(images))  # weights and BatchNorm statistics alike
    assert kept["result"].accuracy == result.accuracy


def test_self_training_fine_tunes_each_teacher_once(tiny_run, tmp_path, monkeypatch):
    """finetune, then self_training on the same subsets: every teacher is a finetune (or scratch)
    cell already there, so self-training only labels the unlabelled images and trains students."""
    store, cfg = CellStore(tmp_path, "cpu", "fp32"), copy.deepcopy(tiny_run.cfg)
    for protocol in ("finetune", "self_training"):  # 2 labels per class, 2 seeds, scratch rates [3e-4, 1e-3]
        cfg.eval.settings(protocol).labels_per_class = [2]
    ctx = dataclasses.replace(tiny_run, cfg=cfg, cells=store)
    started, start = [], FinetuneRun.__init__

    def counted(self, *args, **kwargs):
        started.append(kwargs.get("lr_encoder"))
        start(self, *args, **kwargs)

    monkeypatch.setattr(FinetuneRun, "__init__", counted)
    tuned = PROTOCOLS["finetune"].evaluate(ctx)
    assert {(r.source, r.labels_per_class) for r in tuned} == {("encoder", 2), ("scratch", 2)}
    # encoder: one per seed; scratch: each rate of the search on the first seed, the chosen one on the second
    assert len(started) == 2 + 2 + 1 and store.misses == 4  # the search is one cell
    later = CellStore(tmp_path, "cpu", "fp32")  # a later evaluation: the teachers' weights come from the files
    taught = PROTOCOLS["self_training"].evaluate(dataclasses.replace(ctx, cells=later))
    assert len(taught) == 4 and len(started) == 5  # no teacher trained again
    assert later.misses == 2 * len(taught)  # per record: its teacher's soft labels and its student, computed
    assert later.hits == len(taught)  # per record: its teacher's fine-tuning cell, read
    teachers = {(r.source, r.seed): r.result for r in tuned}
    for record in taught:
        teacher = teachers[(record.source, record.seed)]
        assert (record.result.teacher_accuracy, record.result.teacher_val_accuracy) == (
            teacher.accuracy,
            teacher.val_accuracy,
        )
