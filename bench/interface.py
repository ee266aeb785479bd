"""One benchmark section behind one small interface, found in a registry.

A section (a module in ``bench/sections/``, registered with ``register_section``) declares its
title, the dataclass of sizes it runs at (``bench/scales.yaml`` sets them per scale), how it
measures, how it renders its part of BENCHMARKS.md and which plots it draws. It measures
through the toolkit itself: pretraining runs through the trainer (``bench.runs.pretrain``,
which reuses a finished run), evaluation through ``evaluate_run`` and its machine-wide store
of cells, so a section that is run again reads back what it already computed: a bench that
stopped is resumed by running the same command again.

What ``measure`` returns is plain JSON that only its own ``render`` and ``plots`` read; the
envelope around it (who measured it, where, how long) is typed: ``SectionResult``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from evaluate.report_types import from_plain, to_plain
from pretrain.core.checkpoint import atomic_write
from pretrain.core.registry import Registry

SECTIONS = Registry("bench section", plugins="bench.sections")


def no_plots(data: dict, plot_dir: Path) -> list[Path]:
    return []


@dataclass(frozen=True)
class Section:
    """``measure(scale, root) -> data`` (root: where its pretraining runs go);
    ``render(data, plots) -> Markdown lines`` (plots: the plot folder relative to the Markdown);
    ``plots(data, plot_dir) -> files drawn``; ``finding(data) -> str``, read first."""

    name: str  # --sections names it
    title: str  # its heading in BENCHMARKS.md, numbered
    settings: type  # its sizes: a dataclass whose defaults are the full size
    measure: Callable[[Any, Path], dict]
    render: Callable[[dict, str], list[str]]
    plots: Callable[[dict, Path], list[Path]] = no_plots
    uses: tuple[str, ...] = ()  # other sections whose sizes it also runs at (their runs, their labels)
    finding: Callable[[dict], str] | None = None  # the section's finding in a sentence or two, shown first


def register_section(section: Section) -> Section:
    """Register ``section`` under its name (a second section of that name raises)."""
    return SECTIONS.register(section.name)(section)


def ordered_sections() -> list[Section]:
    """Every section in the order of its number ("1.", "1b.", "2.", ...)."""
    sections = [SECTIONS[name] for name in SECTIONS.names()]
    return sorted(sections, key=lambda s: _number(s.title))


def _number(title: str) -> tuple[int, str]:
    head = title.split(".")[0]
    digits = "".join(c for c in head if c.isdigit())
    return int(digits), head[len(digits) :]


@dataclass(frozen=True)
class Machine:
    """What a section was measured on."""

    cpu: str  # the model name lscpu prints
    cpu_cores: int | None = None
    torch_threads: int | None = None
    memory_gib: float | None = None
    gpu: str | None = None
    auto_precision: str = "not recorded"  # what train.precision=auto trains in there
    python: str = ""
    packages: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Provenance:
    date: str
    commit: str
    scale: str
    command: str
    machine: Machine
    argv: str = ""
    sizes: dict = field(default_factory=dict)  # what it ran at: the scale's dataset and sizes of the sections it used


@dataclass(frozen=True)
class SectionResult:
    """One section as bench/results.json holds it. ``parts``: results measured in several
    sittings by an older bench (each part's provenance and the rows it measured), kept so
    BENCHMARKS.md still says where each row came from."""

    provenance: Provenance
    wall_seconds: float
    data: dict
    parts: list = field(default_factory=list)


def load_results(path: Path) -> dict[str, SectionResult]:
    """bench/results.json, each section typed (none there yet: empty)."""
    if not path.is_file():
        return {}
    return {name: from_plain(SectionResult, plain) for name, plain in json.loads(path.read_text()).items()}


def save_results(results: dict[str, SectionResult], path: Path) -> None:
    """Written whole or not at all (a crash mid-write keeps the previous file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(to_plain(results), indent=1, default=float)
    atomic_write(path, lambda tmp: Path(tmp).write_text(text))
