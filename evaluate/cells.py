"""Finished evaluation work, kept once per machine: one file per cell, keyed on all that changes it.

    cells = CellStore(store_dir, device="cpu", precision="fp32")
    result = cells.get("linear", {"train": digest, "seed": 0, ...}, lambda: linear_probe(...), code=Linear)

A cell (a protocol at one budget and seed on one source, a fine-tuning run, the all-label
metrics of a source, the layer probe, the 2-D feature map) is stored under a key hashed
from its kind, the parts the caller names (digests of the exact features or images and
weights, the settings the protocol reads, the seed), the evaluation precision, this machine
(evaluate.identity.machine_identity: CPU model or GPU, threads, library versions) and the
code that computes that cell (evaluate.identity.code_identity of ``code`` and of the function
that computes it), so that work that does not depend on a run's encoder (the baselines, the
supervised-from-scratch runs) is computed once per machine and reused by every run and by
bench, while a changed solver misses only its own cells and a changed report renderer none.

Files are written atomically (pretrain.core.checkpoint.atomic_write) under a per-cell lock
(two evaluations at once compute a cell once and read the same value), and read back with
``torch.load(weights_only=True)``; a file that does not load, or holds another key, is
recomputed and rewritten, said so in one line, never read as a result.
"""

from __future__ import annotations

import copy
import dataclasses
import fcntl
import hashlib
import json
import time
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import torch

from evaluate import results
from evaluate.identity import code_identity, defining_modules, machine_identity
from pretrain.core.checkpoint import atomic_write


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


@dataclasses.dataclass
class KindStats:
    """One kind of cell in one evaluation: how many were computed here, how many came from the
    store, the seconds spent computing here and the seconds the stored ones had cost."""

    computed: int = 0
    stored: int = 0
    seconds: float = 0.0
    saved_seconds: float = 0.0


def kind_group(kind: str) -> str:
    """The report's name for a kind of cell: scratch_lr0.001 -> scratch."""
    return kind.split("_lr")[0]


def unusable(path: Path, err: Exception) -> str:
    """The one line said (printed, and returned for the report) of a store entry that could not be used."""
    reason = (str(err).splitlines() or [""])[0][:120]
    line = f"store: {path} could not be used ({type(err).__name__}: {reason}); recomputed"
    print(line, flush=True)
    return line


@contextmanager
def locked(path: Path):
    """An exclusive lock on ``path``'s lock file: one process computes a cell, the others wait and read it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_suffix(".lock"), "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


class CellStore:
    """Cells under ``directory`` (the machine-wide store, ``eval.store``); ``enabled=False``
    computes everything anew. ``stats`` describes this evaluation only: a cell asked for twice
    in one evaluation (self-training reads the scratch search) is counted once."""

    def __init__(self, directory: Path, device: torch.device | str, precision: str, enabled: bool = True):
        self.directory = Path(directory)
        self.shared = {"precision": precision, "machine": machine_identity(device)}
        self.enabled = enabled
        self.stats: dict[str, KindStats] = {}
        self.seen: dict[str, Any] = {}  # key -> value of the cells this evaluation already has
        self.notes: list[str] = []  # one line per damaged entry that was recomputed
        self.inner_seconds = 0.0  # computing time of the cells asked for inside the cell being computed

    @property
    def hits(self) -> int:
        return sum(s.stored for s in self.stats.values())

    @property
    def misses(self) -> int:
        return sum(s.computed for s in self.stats.values())

    def key(self, kind: str, parts: dict, code: str) -> str:
        text = json.dumps({"kind": kind, **self.shared, "code": code, **parts}, sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()[:24]

    def path(self, kind: str, key: str) -> Path:
        return self.directory / "cells" / kind_group(kind) / f"{kind}-{key}.pt"

    def read(self, path: Path, key: str) -> tuple[bool, Any, float]:
        """(found, value, seconds it took to compute): a missing, unreadable or foreign file is not found."""
        if not path.is_file():
            return False, None, 0.0
        try:
            stored = torch.load(path, map_location="cpu", weights_only=True)
            if stored.get("key") != key:
                raise ValueError(f"it holds the cell {stored.get('key')!r}")
            return True, _restore(stored["value"]), float(stored.get("seconds", 0.0))
        except Exception as err:  # a torn or foreign file: recompute it, whatever broke the read
            self.notes.append(unusable(path, err))
            return False, None, 0.0

    def tally(self, kind: str, computed: bool, seconds: float) -> None:
        stats = self.stats.setdefault(kind_group(kind), KindStats())
        if computed:
            stats.computed, stats.seconds = stats.computed + 1, stats.seconds + seconds
        else:
            stats.stored, stats.saved_seconds = stats.stored + 1, stats.saved_seconds + seconds

    def timed(self, compute: Callable[[], Any]) -> tuple[Any, float, float]:
        """(value, seconds, own seconds): a cell computed inside another (label propagation's
        graph inside its cell) is tallied under its own kind, not again under the outer one."""
        outer, self.inner_seconds = self.inner_seconds, 0.0
        started = time.perf_counter()
        try:
            value = compute()
        finally:
            seconds = time.perf_counter() - started
            own, self.inner_seconds = seconds - self.inner_seconds, outer + seconds
        return value, seconds, own

    def get(self, kind: str, parts: dict, compute: Callable[[], Any], code: object | tuple = ()) -> Any:
        """The stored value of the cell (``kind``, ``parts``), or ``compute()`` stored under it.
        ``code``: what else computes the cell besides ``compute`` (a protocol's class, say):
        its modules' source is part of the key."""
        if not self.enabled:
            return compute()
        things = code if isinstance(code, tuple) else (code,)
        modules = defining_modules(compute, *things)
        code = {"modules": list(modules), "code": code_identity(modules)}
        key = self.key(kind, parts, code["code"])
        if key in self.seen:  # a copy: callers may annotate what they get
            return copy.deepcopy(self.seen[key])
        path = self.path(kind, key)
        with locked(path):
            found, value, seconds = self.read(path, key)
            own = seconds
            if not found:
                value, seconds, own = self.timed(compute)
                payload = {"key": key, "kind": kind, "value": _plain(value), "seconds": seconds, **self.shared, **code}
                atomic_write(path, lambda tmp: torch.save(payload, tmp))
        self.tally(kind, not found, own)
        self.seen[key] = copy.deepcopy(value)
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
