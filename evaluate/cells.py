"""Finished evaluation work, kept on disk: one file per grid cell, keyed on all that changes it.

    cells = CellStore(out_dir / "cells", device="cpu", precision="fp32")
    result = cells.get("linear", {"train": digest, "seed": 0, ...}, lambda: linear_probe(...))

A cell (a protocol at one budget and seed on one source, a fine-tuning run, the all-label
metrics of a source, the layer probe, the 2-D feature map) is stored under a key hashed
from its kind, the parts the caller names (digests of the exact features or images and
weights, the settings the protocol reads, the seed), the device type, the evaluation
precision and the code of the evaluation itself (every source file of ``evaluate`` and
``pretrain.core``). A rerun with nothing changed reads every cell; a killed evaluation
resumes from the cells it finished; a changed setting misses only the cells whose key names
it. Files are written atomically (pretrain.core.checkpoint.atomic_write) and read back with
``torch.load(weights_only=True)``; a file that does not load, or holds another key, is
recomputed and rewritten, never read as a result.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import time
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import torch

from evaluate import results
from pretrain.core.checkpoint import atomic_write, file_digest

CODE_ROOTS = ("evaluate", "pretrain/core")  # packages whose source makes up the evaluation's code identity


@cache
def code_identity() -> str:
    """Digest of every .py file under CODE_ROOTS: an edit to the evaluation code misses every cell."""
    root = Path(__file__).resolve().parents[1]
    files = sorted(p for sub in CODE_ROOTS for p in (root / sub).rglob("*.py"))
    joined = "".join(f"{p.relative_to(root)}={file_digest(p)}" for p in files)
    return hashlib.sha256(joined.encode()).hexdigest()[:16]


def _plain(value: Any) -> Any:
    """A value made of what ``torch.load(weights_only=True)`` reads back: numpy scalars become
    Python numbers, tuples lists, protocol results tagged dicts of their fields."""
    if isinstance(value, results.Result):
        fields = {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
        return {"__result__": type(value).__name__, "fields": fields}
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return torch.from_numpy(value.copy())
    return value


def _restore(value: Any) -> Any:
    if isinstance(value, dict) and "__result__" in value:
        return results.RESULT_TYPES[value["__result__"]](**_restore(value["fields"]))
    if isinstance(value, dict):
        return {k: _restore(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_restore(v) for v in value]
    return value


class CellStore:
    """Cells of one evaluation under ``directory``; ``enabled=False`` computes everything anew."""

    def __init__(self, directory: Path, device: torch.device | str, precision: str, enabled: bool = True):
        self.directory = Path(directory)
        self.shared = {"device": torch.device(device).type, "precision": precision, "code": code_identity()}
        self.enabled = enabled
        self.hits = 0
        self.misses = 0
        self.seconds: dict[str, float] = {}  # kind -> compute seconds of this evaluation's cells, reused or not

    def key(self, kind: str, parts: dict) -> str:
        text = json.dumps({"kind": kind, **self.shared, **parts}, sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()[:24]

    def path(self, kind: str, key: str) -> Path:
        return self.directory / f"{kind}-{key}.pt"

    def read(self, path: Path, key: str) -> tuple[bool, Any, float]:
        """(found, value, seconds it took to compute): a missing, unreadable or mislabelled file is not found."""
        if not path.is_file():
            return False, None, 0.0
        try:
            stored = torch.load(path, map_location="cpu", weights_only=True)
            if stored.get("key") != key:
                return False, None, 0.0
            return True, _restore(stored["value"]), float(stored.get("seconds", 0.0))
        except Exception:  # a torn or foreign file: recompute it, whatever broke the read
            return False, None, 0.0

    def count(self, kind: str, seconds: float) -> None:
        group = kind.split("_lr")[0]  # scratch_lr0.001 -> scratch
        self.seconds[group] = self.seconds.get(group, 0.0) + seconds

    def get(self, kind: str, parts: dict, compute: Callable[[], Any]) -> Any:
        """The stored value of the cell (``kind``, ``parts``), or ``compute()`` stored under it."""
        if not self.enabled:
            return compute()
        key = self.key(kind, parts)
        path = self.path(kind, key)
        found, value, seconds = self.read(path, key)
        if found:
            self.hits += 1
            self.count(kind, seconds)
            return value
        self.misses += 1
        started = time.perf_counter()
        value = compute()
        seconds = time.perf_counter() - started
        self.count(kind, seconds)
        payload = {"key": key, "kind": kind, "value": _plain(value), "seconds": seconds}
        atomic_write(path, lambda tmp: torch.save(payload, tmp))
        return value


def digest(*tensors: torch.Tensor) -> str:
    """Digest of the exact contents (dtype, shape, bytes) of ``tensors``."""
    h = hashlib.sha256()
    for t in tensors:
        t = t.detach().cpu().contiguous()
        h.update(f"{t.dtype}{tuple(t.shape)}".encode())
        h.update(t.numpy().tobytes() if t.dtype != torch.bfloat16 else t.float().numpy().tobytes())
    return h.hexdigest()[:20]


def module_digest(module: torch.nn.Module) -> str:
    """Digest of a module's weights and buffers (its state dict, in order)."""
    state = module.state_dict()
    h = hashlib.sha256("".join(state).encode())
    h.update(digest(*state.values()).encode() if state else b"")
    return h.hexdigest()[:20]
