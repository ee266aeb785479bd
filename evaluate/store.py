"""The machine-wide evaluation store (``eval.store``): where it is, whether it can be written,
what it holds, and pruning what no current code can use.

    python -m evaluate store            # size per kind of entry
    python -m evaluate store --prune    # remove entries of other code, other machines, or torn

Layout: ``cells/<kind>/<kind>-<key>.pt`` (evaluate.cells) and ``features/<split>-<key>.pt``
(the baselines' features, evaluate.features), each with a ``.lock`` beside it while in use.
"""

from __future__ import annotations

import os
import tempfile
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import torch

from evaluate.identity import code_identity, machine_identity
from pretrain.core.config import ConfigError
from pretrain.core.locations import data_dir

OFF = "none"
ENV = "SSL_EVAL_STORE"  # where the store is when eval.store is "" (tests point it at a temporary folder)


def store_path(setting: str) -> Path | None:
    """The store's folder for ``eval.store``: the setting, else $SSL_EVAL_STORE, else
    data/cache/eval; None where it is off (``none``)."""
    if setting.strip().lower() == OFF:
        return None
    return Path(setting or os.environ.get(ENV) or data_dir() / "cache" / "eval").expanduser()


def open_store(setting: str) -> Path | None:
    """The store's folder, made and proven writable before any work starts; a folder that
    cannot be written is one ConfigError naming ``eval.store`` and the path."""
    path = store_path(setting)
    if path is None:
        return None
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path, prefix=".probe-"):
            pass
    except OSError as err:
        raise ConfigError(
            f"eval.store: cannot write to {path} ({err.strerror or err}); set eval.store to a writable folder, "
            f"or eval.store={OFF} to keep nothing"
        ) from None
    return path


@dataclass
class KindSize:
    entries: int = 0
    bytes: int = 0
    stale: int = 0  # entries no current code on this machine can use (what --prune removes)
    files: list[Path] = field(default_factory=list, repr=False)


def entry_kind(path: Path, root: Path) -> str:
    """cells/<kind>/... -> the kind; features/... -> features."""
    parts = path.relative_to(root).parts
    return parts[1] if parts[0] == "cells" and len(parts) > 2 else parts[0]


def is_stale(path: Path) -> bool:
    """A cell whose code changed since it was written, made on another machine, or that does
    not load; a feature file that does not load."""
    try:
        stored = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    except Exception:
        return True
    if "modules" not in stored:
        return "x" not in stored  # a feature file: its key already names the machine and code
    machine = stored.get("machine", {})
    device = machine.get("device", "cpu")
    if (device == "cuda" and not torch.cuda.is_available()) or machine != machine_identity(device):
        return True  # made on another machine: never reused here
    return code_identity(tuple(stored["modules"])) != stored.get("code")


def survey(root: Path, check: bool = False) -> dict[str, KindSize]:
    """{kind: its entries, bytes and (where ``check``) stale entries} of the store at ``root``."""
    sizes: dict[str, KindSize] = defaultdict(KindSize)
    for path in sorted(root.rglob("*.pt")):
        size = sizes[entry_kind(path, root)]
        size.entries += 1
        size.bytes += path.stat().st_size
        if check and is_stale(path):
            size.stale += 1
            size.files.append(path)
    return dict(sizes)


def prune(root: Path) -> tuple[int, int]:
    """Remove every stale entry (``is_stale``) and stray lock and temporary files; -> (entries, bytes) removed."""
    removed = freed = 0
    for size in survey(root, check=True).values():
        for path in size.files:
            freed += path.stat().st_size
            path.unlink(missing_ok=True)
            path.with_suffix(".lock").unlink(missing_ok=True)
            removed += 1
    for stray in [*root.rglob(".*.tmp"), *root.rglob(".probe-*")]:
        stray.unlink(missing_ok=True)
    return removed, freed


def megabytes(n: int) -> str:
    return f"{n / 2**20:.1f} MB"


def describe(root: Path, sizes: dict[str, KindSize], checked: bool) -> str:
    """The store's contents as a Markdown table, one row per kind of entry."""
    lines = [f"Evaluation store {root}", "", "| kind | entries | size |" + (" stale |" if checked else "")]
    lines.append("|---|---:|---:|" + ("---:|" if checked else ""))
    for kind, s in sorted(sizes.items()):
        lines.append(f"| {kind} | {s.entries} | {megabytes(s.bytes)} |" + (f" {s.stale} |" if checked else ""))
    total = sum(s.bytes for s in sizes.values())
    lines.append(f"| all | {sum(s.entries for s in sizes.values())} | {megabytes(total)} |" + (" |" if checked else ""))
    return "\n".join(lines)
