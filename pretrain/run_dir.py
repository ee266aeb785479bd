"""The run directory a pretraining run writes: created (or continued with --resume) with its
resolved config, and a notice of every setting that differs from the run being resumed."""

from __future__ import annotations

from accelerate import Accelerator

from pretrain.core.config import Config, ConfigError, config_changes, config_to_dict, read_yaml, save_config
from pretrain.core.provenance import provenance
from pretrain.core.run_folder import Run


def prepare_run_dir(cfg: Config, resume: bool, accelerator: Accelerator) -> Run:
    run = cfg.run
    has_checkpoint = run.checkpoint.is_file()
    if has_checkpoint and not resume:
        raise ConfigError(f"{run} already holds a run: pass --resume to continue it, or choose another name")
    if has_checkpoint and accelerator.is_main_process:
        warn_config_changes(run, cfg)
    if accelerator.is_main_process:
        run.path.mkdir(parents=True, exist_ok=True)
        save_config(cfg, run.config_file, provenance())
    accelerator.wait_for_everyone()
    return run


def warn_config_changes(run: Run, cfg: Config) -> None:
    """A resumed run should mostly continue the same config; say what differs."""
    saved = read_yaml(run.config_file.read_text()) or {}
    saved.pop("provenance", None)
    changes = config_changes(saved, config_to_dict(cfg), ignore=("train.halt_after_steps",))
    if changes:
        print("WARNING: resuming with a config that differs from the run's:\n  " + "\n  ".join(changes), flush=True)
