"""Checkpoints that survive a crash: written to a temp file, fsynced, then renamed.

A reader sees either the previous complete file or the new complete one, never half of
one. The loop saves only after checking the loss is finite, so ``last.pt`` is always the
last good state.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

import torch

CHECKPOINT_NAME = "last.pt"
PROGRESS_NAME = "progress.json"  # {"step", "total_steps", "exported"}: how far pretraining got


def atomic_write(path: Path, write) -> None:
    """Call ``write(file_path)`` on a temp file beside ``path``, then rename it into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    os.chmod(tmp, 0o644)  # mkstemp makes files private; run outputs are meant to be shared
    try:
        write(tmp)
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def file_digest(path: Path) -> str:
    """First 16 hex digits of the SHA-256 of a file's bytes."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:16]


def save_checkpoint(run_dir: Path, state: dict[str, Any]) -> Path:
    path = checkpoint_path(run_dir)
    atomic_write(path, lambda tmp: torch.save(state, tmp))
    return path


def load_checkpoint(run_dir: Path) -> dict[str, Any] | None:
    path = checkpoint_path(run_dir)
    if not path.is_file():
        return None
    return torch.load(path, map_location="cpu", weights_only=False)


def checkpoint_path(run_dir: Path) -> Path:
    return Path(run_dir) / "checkpoints" / CHECKPOINT_NAME


def write_progress(run_dir: Path, step: int, total_steps: int, exported: bool) -> None:
    """Record how far pretraining got; ``exported`` is set only once the final encoder is written."""
    text = json.dumps({"step": step, "total_steps": total_steps, "exported": exported})
    atomic_write(Path(run_dir) / PROGRESS_NAME, lambda tmp: Path(tmp).write_text(text))


def read_progress(run_dir: Path) -> dict | None:
    path = Path(run_dir) / PROGRESS_NAME
    return json.loads(path.read_text()) if path.is_file() else None
