"""The exported encoder: weights (safetensors) + what rebuilds it (JSON).

Other programs load it with ``load_encoder(run_dir)`` and need nothing else of the run; where
each file lives is pretrain.core.run_folder's.
"""

from __future__ import annotations

import json
from pathlib import Path

from safetensors.torch import load_file, save_file
from torch import nn

from pretrain.core.checkpoint import atomic_write, file_digest, read_progress
from pretrain.core.config import Config
from pretrain.core.encoders import Encoder
from pretrain.core.run_folder import Run
from pretrain.core.tasks import TaskContext, build_task
from pretrain.core.typed_yaml import read_yaml


def _contiguous(module: nn.Module) -> dict:
    return {k: v.detach().cpu().contiguous() for k, v in module.state_dict().items()}


def export_encoder(run: Run, encoder: Encoder, tasks: nn.Module, info: dict) -> None:
    """Write encoder.safetensors, encoder.json (spec + ``info``) and task.safetensors."""
    atomic_write(run.encoder_weights, lambda tmp: save_file(_contiguous(encoder), tmp))
    atomic_write(run.task_weights, lambda tmp: save_file(_contiguous(tasks), tmp))
    text = json.dumps({**encoder.spec.to_dict(), **info}, indent=2)
    atomic_write(run.spec_file, lambda tmp: Path(tmp).write_text(text))
    run.forget_export()


def load_task_heads(run: Run, cfg: Config) -> tuple[Encoder, nn.ModuleList]:
    """The run's encoder and its task modules (decoders, heads, code tables) with trained
    weights, built for the pretraining images' shape and count, whatever is evaluated now."""
    encoder = load_encoder(run)
    s = encoder.spec
    ctx = TaskContext(image_shape=(s.in_chans, s.image_size, s.image_size), num_samples=pretrain_images(run))
    tasks = nn.ModuleList(build_task(t, encoder, ctx) for t in cfg.tasks)
    tasks.load_state_dict(load_file(run.task_weights))
    return encoder, tasks.eval()


def pretrain_images(run: Run) -> int:
    """How many images pretraining read (the rows of a decoder-only code table). Runs exported
    before this was recorded take it from the code table in task.safetensors."""
    if "pretrain_images" in run.exported:
        return int(run.exported["pretrain_images"])
    rows = [t.shape[0] for name, t in load_file(run.task_weights).items() if name.endswith("codes")]
    return rows[0] if rows else 1


def load_encoder(where: Run | str | Path) -> Encoder:
    """Rebuild the exported encoder of a finished run (its directory, or its Run), in eval mode on the CPU."""
    run = Run.at(where)
    if not run.encoder_weights.is_file():
        raise FileNotFoundError(f"{run.encoder_weights} is missing: has pretraining of this run finished?")
    encoder = Encoder(run.spec)
    encoder.load_state_dict(load_file(run.encoder_weights))
    return encoder.eval()


class UnfinishedRunError(RuntimeError):
    """The run directory's pretraining stopped before its last step: its export (if any) is not of its config."""


def assert_pretraining_finished(run: Run, then: str = "evaluate") -> None:
    """Raise ``UnfinishedRunError`` unless the run's pretraining ran to its last step and exported
    the encoder (the message says to resume, ``then`` do what was asked). Runs written before
    progress.json existed are judged by their export alone."""
    progress = read_progress(run)
    if progress is None or (progress["exported"] and progress["step"] == progress["total_steps"]):
        return
    halted = (read_yaml(run.config_file.read_text()) or {}).get("train", {}).get("halt_after_steps", 0)
    again = " train.halt_after_steps=0" if halted else ""
    raise UnfinishedRunError(
        f"pretraining stopped at step {progress['step']} of {progress['total_steps']}; resume with "
        f"`python -m pretrain --config {run}/config.yaml --resume{again}`, then {then}"
    )


def export_info(run: Run) -> dict:
    """What the evaluated encoder is: the hash of its weight file and the pretraining steps behind it."""
    return {"encoder_weights_sha256": file_digest(run.encoder_weights), "pretrain_steps": run.exported.get("steps")}
