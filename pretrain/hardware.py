"""The hardware side of a run: the precision and memory format a config resolves to on the
training device, the Accelerator built for them, and the optional torch.compile."""

from __future__ import annotations

import torch
from accelerate import Accelerator
from accelerate.state import AcceleratorState

from pretrain.core.config import Config
from pretrain.core.encoders import channels_last_faster
from pretrain.core.precision import accelerate_precision, resolve_memory_format, resolve_precision
from pretrain.model import PretrainModel


def training_device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def resolve_hardware(cfg: Config, device: torch.device) -> None:
    """Replace ``train.precision`` and ``train.memory_format`` by what they resolve to on
    ``device`` (so config.yaml records what was used); a precision the device cannot do raises."""
    tc = cfg.train
    tc.precision = resolve_precision(tc.precision, device, "train.precision")
    tc.memory_format = resolve_memory_format(tc.memory_format, channels_last_faster(cfg.encoder.name))


def compile_model(model: PretrainModel) -> None:
    """torch.compile, in place, of the encoder and of every module a task owns (decoders,
    heads, projections): the state-dict keys stay those of the eager model, so checkpoints,
    resume and export are unchanged. A task's own forward (losses, augmentation, the loop
    over tasks) stays eager: it takes the encoder as an argument, which dynamo does not trace
    through with gradients intact (measured: the loss came back without a grad_fn)."""
    model.encoder.compile()
    for task in model.tasks:
        for child in task.children():
            child.compile()


def make_accelerator(cfg: Config) -> Accelerator:
    """The run's Accelerator, after ``resolve_hardware`` settled its precision and memory format."""
    resolve_hardware(cfg, training_device())
    # cpu=True without a GPU: only then does Accelerate join torchrun/launch processes with gloo.
    mixed = accelerate_precision(cfg.train.precision)
    forget_other_precision(mixed)
    return Accelerator(mixed_precision=mixed, cpu=not torch.cuda.is_available())


def forget_other_precision(mixed: str) -> None:
    """Accelerate keeps one AcceleratorState per process and refuses an Accelerator with another
    mixed precision ("already been initialized"). A process that runs several runs (the bench,
    the tests, a notebook) may need fp32 after bf16 (``auto`` picks bf16 on a CPU with native
    bf16), so that state is dropped; the process group and device (PartialState) are kept."""
    state = AcceleratorState._shared_state
    if state and state.get("_mixed_precision", mixed) != mixed:
        AcceleratorState._reset_state(reset_partial_state=False)
