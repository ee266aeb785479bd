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

from pretrain.core.run_folder import Run


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


def save_checkpoint(run: Run, state: dict[str, Any]) -> Path:
    atomic_write(run.checkpoint, lambda tmp: torch.save(state, tmp))
    return run.checkpoint


def load_checkpoint(run: Run) -> dict[str, Any] | None:
    if not run.checkpoint.is_file():
        return None
    return torch.load(run.checkpoint, map_location="cpu", weights_only=False)


def write_progress(run: Run, step: int, total_steps: int, exported: bool) -> None:
    """Record how far pretraining got; ``exported`` is set only once the final encoder is written."""
    text = json.dumps({"step": step, "total_steps": total_steps, "exported": exported})
    atomic_write(run.progress_file, lambda tmp: Path(tmp).write_text(text))


def read_progress(run: Run) -> dict | None:
    return json.loads(run.progress_file.read_text()) if run.progress_file.is_file() else None
