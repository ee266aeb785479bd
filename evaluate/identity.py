"""What makes a stored evaluation result valid: the machine that computed it and the code that did.

A cell of the machine-wide store (evaluate.cells) is reused only by an evaluation that would
compute the same numbers: the same CPU model (or GPU), thread count and library versions
(``machine_identity``), and the same source of the code that computes that cell
(``code_identity``): the module that computes it and every module of this toolkit it imports,
followed through ``import`` statements. A report renderer is imported by no protocol, so
editing how a report reads leaves every cell valid; editing a solver changes the identity of
the cells it computes.
"""

from __future__ import annotations

import ast
import functools
import hashlib
import inspect
import platform
from functools import cache
from pathlib import Path

import faiss
import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("evaluate", "pretrain")  # the packages whose imports are followed (evaluation imports no task)


@cache
def cpu_model() -> str:
    """The CPU's model name (``/proc/cpuinfo`` where it exists, else the platform's word)."""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text(errors="replace").splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def machine_identity(device: torch.device | str) -> dict[str, str]:
    """Everything of this machine that can change a result: the processor that computes it
    (CPU model, or the GPU's name on CUDA), the thread count, and the numeric libraries' versions."""
    device = torch.device(device)
    gpu = torch.cuda.get_device_name(device) if device.type == "cuda" else ""
    return {
        "device": device.type,
        "cpu": cpu_model(),
        "gpu": gpu,
        "threads": str(torch.get_num_threads()),
        "torch": str(torch.__version__),
        "faiss": str(getattr(faiss, "__version__", "?")),
        "numpy": str(np.__version__),
    }


def this_machine() -> dict[str, str]:
    """``machine_identity`` of the device evaluation runs on here (CUDA where there is one)."""
    return machine_identity("cuda" if torch.cuda.is_available() else "cpu")


def module_file(name: str) -> Path | None:
    """The source file of the toolkit module ``name`` (a package's __init__.py), or None outside it."""
    if name.split(".")[0] not in PACKAGES:
        return None
    relative = Path(*name.split("."))
    for candidate in (ROOT / relative.with_suffix(".py"), ROOT / relative / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


@cache
def imported_modules(name: str) -> tuple[str, ...]:
    """Toolkit modules that module ``name`` imports by statement (``from a import b`` counts
    ``a.b`` where that is a module, else ``a``)."""
    path = module_file(name)
    if path is None:
        return ()
    found = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            subs = [f"{node.module}.{alias.name}" for alias in node.names]
            found += [s for s in subs if module_file(s) is not None] or [node.module]
    return tuple(sorted({m for m in found if module_file(m) is not None}))


def module_closure(names: tuple[str, ...]) -> tuple[str, ...]:
    """``names`` and every toolkit module they import, transitively, sorted."""
    seen, todo = set(), [n for n in names if module_file(n) is not None]
    while todo:
        name = todo.pop()
        if name not in seen:
            seen.add(name)
            todo += imported_modules(name)
    return tuple(sorted(seen))


@cache
def _file_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16]


@cache
def code_identity(names: tuple[str, ...]) -> str:
    """Digest of the source of the modules ``names`` and of everything of the toolkit they import."""
    modules = module_closure(tuple(sorted(set(names))))
    joined = "".join(f"{m}={_file_digest(module_file(m))};" for m in modules)
    return hashlib.sha256(joined.encode()).hexdigest()[:16]


def defining_modules(*things: object) -> tuple[str, ...]:
    """The modules that define ``things`` (functions, methods, partials, classes, instances):
    what computes a cell. A ``functools.partial`` counts its function, an instance its class."""
    names = []
    for thing in things:
        while isinstance(thing, functools.partial):
            thing = thing.func
        if not isinstance(thing, type) and not hasattr(thing, "__code__") and not inspect.ismethod(thing):
            thing = type(thing)
        names.append(thing.__module__)
    return tuple(sorted(set(names)))
