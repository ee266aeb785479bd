"""The run directory a pretraining run writes: created (or continued with --resume) with its
resolved config, and a notice of every setting that differs from the run being resumed."""

from __future__ import annotations

from pathlib import Path

from accelerate import Accelerator

from pretrain.core.checkpoint import checkpoint_path
from pretrain.core.config import Config, ConfigError, config_changes, config_to_dict, read_yaml, save_config
from pretrain.core.provenance import provenance


def prepare_run_dir(cfg: Config, resume: bool, accelerator: Accelerator) -> Path:
    run_dir = cfg.run_path
    has_checkpoint = checkpoint_path(run_dir).is_file()
    if has_checkpoint and not resume:
        raise ConfigError(f"{run_dir} already holds a run: pass --resume to continue it, or choose another name")
    if has_checkpoint and accelerator.is_main_process:
        warn_config_changes(run_dir, cfg)
    if accelerator.is_main_process:
        run_dir.mkdir(parents=True, exist_ok=True)
        save_config(cfg, run_dir / "config.yaml", provenance())
    accelerator.wait_for_everyone()
    return run_dir


def warn_config_changes(run_dir: Path, cfg: Config) -> None:
    """A resumed run should mostly continue the same config; say what differs."""
    saved = read_yaml((run_dir / "config.yaml").read_text()) or {}
    saved.pop("provenance", None)
    changes = config_changes(saved, config_to_dict(cfg), ignore=("train.halt_after_steps",))
    if changes:
        print("WARNING: resuming with a config that differs from the run's:\n  " + "\n  ".join(changes), flush=True)
