"""The exported encoder: weights (safetensors) + what rebuilds it (JSON).

Other programs load it with ``load_encoder(run_dir)`` and need nothing else of the run.
"""

from __future__ import annotations

import json
from pathlib import Path

from safetensors.torch import load_file, save_file
from torch import nn

from pretrain.core.checkpoint import atomic_write
from pretrain.core.config import Config
from pretrain.core.data import Splits
from pretrain.core.encoders import Encoder, EncoderSpec
from pretrain.core.tasks import TaskContext, build_task

ENCODER_WEIGHTS = "encoder.safetensors"
ENCODER_SPEC = "encoder.json"
TASK_WEIGHTS = "task.safetensors"


def _contiguous(module: nn.Module) -> dict:
    return {k: v.detach().cpu().contiguous() for k, v in module.state_dict().items()}


def export_encoder(run_dir: Path, encoder: Encoder, tasks: nn.Module, info: dict) -> None:
    """Write encoder.safetensors, encoder.json (spec + ``info``) and task.safetensors."""
    atomic_write(run_dir / ENCODER_WEIGHTS, lambda tmp: save_file(_contiguous(encoder), tmp))
    atomic_write(run_dir / TASK_WEIGHTS, lambda tmp: save_file(_contiguous(tasks), tmp))
    text = json.dumps({**encoder.spec.to_dict(), **info}, indent=2)
    atomic_write(run_dir / ENCODER_SPEC, lambda tmp: Path(tmp).write_text(text))


def load_encoder_spec(run_dir: Path) -> EncoderSpec:
    data = json.loads((Path(run_dir) / ENCODER_SPEC).read_text())
    return EncoderSpec(**{k: data[k] for k in EncoderSpec.__dataclass_fields__})


def load_task_heads(run_dir: str | Path, cfg: Config, splits: Splits) -> tuple[Encoder, nn.ModuleList]:
    """The run's encoder and its task modules (decoders, heads, code tables) with trained weights."""
    encoder = load_encoder(run_dir)
    ctx = TaskContext(image_shape=splits.train.image_shape, num_samples=len(splits.train))
    tasks = nn.ModuleList(build_task(t, encoder, ctx) for t in cfg.tasks)
    tasks.load_state_dict(load_file(Path(run_dir) / TASK_WEIGHTS))
    return encoder, tasks.eval()


def load_encoder(run_dir: str | Path) -> Encoder:
    """Rebuild the exported encoder of a finished run, in eval mode on the CPU."""
    run_dir = Path(run_dir)
    if not (run_dir / ENCODER_WEIGHTS).is_file():
        raise FileNotFoundError(f"{run_dir / ENCODER_WEIGHTS} is missing: has pretraining of this run finished?")
    encoder = Encoder(load_encoder_spec(run_dir))
    encoder.load_state_dict(load_file(run_dir / ENCODER_WEIGHTS))
    return encoder.eval()
