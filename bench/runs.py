"""Pretraining runs for the benchmarks, and where the figures came from.

Every bench run is an ordinary toolkit run (``python -m pretrain`` with overrides) under
runs/bench/<scale>/; a finished run records its wall time, so a crashed ``make bench`` can
be restarted and skips what is already done.
"""

from __future__ import annotations

import json
import os
import platform
import sys
import time
from datetime import date
from pathlib import Path

import torch

from bench.interface import Machine, Provenance
from bench.scales import Scale
from evaluate.identity import cpu_model
from evaluate.settings import EvaluatedConfig, typed_config
from pretrain.core.config import Config, load_config
from pretrain.core.precision import resolve_precision
from pretrain.core.provenance import git_commit, package_versions
from pretrain.engine import run_pretraining

PRETRAIN_TIME = "bench_pretrain_seconds.json"


def bench_config(base: str, name: str, scale: Scale, root: Path, overrides: list[str] = ()) -> EvaluatedConfig:
    """``base`` YAML + the scale's dataset overrides + ``overrides``, run in ``root/name``, no kNN
    monitor; its ``eval`` section typed (bench reads it)."""
    overrides = [*scale.dataset, f"name={name}", f"run_dir={root / name}", "monitor.every=0", *overrides]
    return typed_config(load_config(base, overrides))


def finished(cfg: Config) -> bool:
    """Whether ``cfg``'s run was pretrained to the end by an earlier bench (its time recorded)."""
    return (cfg.run_path / PRETRAIN_TIME).is_file()


def pretrain(cfg: Config) -> float:
    """Pretrain ``cfg`` unless its run is finished; -> pretraining wall seconds (of the run that did it)."""
    record = cfg.run_path / PRETRAIN_TIME
    if finished(cfg):
        return json.loads(record.read_text())["seconds"]
    started = time.perf_counter()
    run_pretraining(cfg, resume=True)  # resumes a run a crash interrupted
    seconds = round(time.perf_counter() - started, 1)
    record.write_text(json.dumps({"seconds": seconds}))
    return seconds


def machine() -> Machine:
    """What the figures were measured on."""
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30 if hasattr(os, "sysconf") else None
    return Machine(
        cpu=cpu_model(),
        cpu_cores=os.cpu_count(),
        torch_threads=torch.get_num_threads(),
        memory_gib=round(memory, 1) if memory else None,
        gpu=gpu,
        auto_precision=resolve_precision("auto", "cuda" if gpu else "cpu"),
        python=platform.python_version(),
        packages=package_versions(),
    )


def provenance(scale: Scale, section: str, outputs: tuple[str, ...] = ()) -> Provenance:
    """Date, commit (the benchmark's own ``outputs`` do not make it dirty), command, machine."""
    return Provenance(
        date=date.today().isoformat(),
        commit=git_commit(outputs),
        scale=scale.name,
        command=f"python -m bench --scale {scale.name} --sections {section}"
        + "".join(f" --set {o}" for o in scale.overrides),
        machine=machine(),
        argv=" ".join(sys.argv),
        sizes=scale.sizes_of(section),
    )
