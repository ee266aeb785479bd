"""The training loop: resume equals uninterrupted training; NaN stops and keeps the last good state."""

import pytest
import torch
from safetensors.torch import load_file

from pretrain.core.checkpoint import load_checkpoint
from pretrain.engine import run_pretraining
from pretrain.meter import NonFiniteLossError
from pretrain.model import PretrainModel


def encoder_weights(run_dir):
    return load_file(run_dir / "encoder.safetensors")


def task_weights(run_dir):
    return load_file(run_dir / "task.safetensors")


@pytest.mark.parametrize(
    "task", ["autoencoder", "byol", "dino", "lejepa"]
)  # teachers, center, schedules, per-step directions
def test_resume_after_stop_equals_uninterrupted(task, tiny_cfg, tmp_path):
    """Bitwise, encoder and task weights alike: momentum teachers, DINO's center and the
    schedules they follow come back from the checkpoint as they were."""
    tasks = [{"name": task}]
    straight = tiny_cfg(run_dir=str(tmp_path / "straight"), tasks=tasks)
    run_pretraining(straight)

    halted = tiny_cfg(run_dir=str(tmp_path / "halted"), tasks=tasks, train={"halt_after_steps": 7})
    run_pretraining(halted)
    assert load_checkpoint(halted.run)["step"] == 7
    assert not (halted.run_path / "encoder.safetensors").exists()  # not finished yet
    halted.train.halt_after_steps = 0
    run_pretraining(halted, resume=True)

    for weights in (encoder_weights, task_weights):
        a, b = weights(straight.run_path), weights(halted.run_path)
        assert a.keys() == b.keys()
        for key in a:
            assert torch.equal(a[key], b[key]), key


def test_existing_run_needs_resume(tiny_cfg):
    cfg = tiny_cfg(train={"halt_after_steps": 2})
    run_pretraining(cfg)
    with pytest.raises(Exception, match="--resume"):
        run_pretraining(cfg)


def test_nonfinite_loss_stops_and_keeps_last_good_checkpoint(tiny_cfg, monkeypatch):
    cfg = tiny_cfg()
    calls = {"n": 0}
    forward = PretrainModel.forward

    def poisoned(self, images, index):
        calls["n"] += 1
        loss, logs, shown = forward(self, images, index)
        return (loss * float("nan") if calls["n"] > 6 else loss), logs, shown

    monkeypatch.setattr(PretrainModel, "forward", poisoned)
    with pytest.raises(NonFiniteLossError, match=r"last good checkpoint is .*last.pt \(step 5\)"):
        run_pretraining(cfg)
    state = load_checkpoint(cfg.run)
    assert state["step"] == 5  # ckpt_every=5; step 7 went NaN and was never saved
    assert all(torch.isfinite(v).all() for v in state["model"].values())


def test_run_writes_logs_and_exports(tiny_cfg):
    cfg = tiny_cfg(monitor={"every": 5, "labels_per_class": 5, "val_images": 30})
    run_dir = run_pretraining(cfg)
    for name in ("config.yaml", "encoder.safetensors", "encoder.json", "task.safetensors", "data_shards.json"):
        assert (run_dir / name).is_file(), name
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(run_dir / "tb"), size_guidance={"images": 0}).Reload()
    tags = events.Tags()
    for tag in ("pretrain/loss", "pretrain/lr", "pretrain/images_per_s", "monitor/val_knn_accuracy"):
        assert tag in tags["scalars"], tag
    assert "pretrain/input_vs_output" in tags["images"]
    accuracies = [e.value for e in events.Scalars("monitor/val_knn_accuracy")]
    assert all(0.0 <= a <= 1.0 for a in accuracies) and len(accuracies) >= 2


def test_nonfinite_loss_before_any_checkpoint_says_so(tiny_cfg, monkeypatch):
    cfg = tiny_cfg()
    forward = PretrainModel.forward

    def poisoned(self, images, index):
        loss, logs, shown = forward(self, images, index)
        return loss * float("nan"), logs, shown

    monkeypatch.setattr(PretrainModel, "forward", poisoned)
    with pytest.raises(NonFiniteLossError, match="no checkpoint was saved yet") as err:
        run_pretraining(cfg)
    assert "last.pt" not in str(err.value) and load_checkpoint(cfg.run) is None
