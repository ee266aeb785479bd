"""How big each benchmark runs.

``full`` is every section's defaults: the sizes the benchmark and the paper ask for. ``small``
fits 2 CPU cores and ``tiny`` runs every code path on synthetic images in seconds for the
tests; bench/scales.yaml holds what they change, section by section (each section owns the
dataclass of its sizes), and BENCHMARKS.md names every size that differs from full.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field, replace
from functools import cache
from pathlib import Path

from bench.interface import SECTIONS
from pretrain.core.typed_yaml import ConfigError, apply_override, parse_dataclass, read_yaml, to_plain

SCALE_FILE = read_yaml(Path(__file__).with_name("scales.yaml").read_text())
SCALE_NAMES = ("full", *SCALE_FILE)


@dataclass(frozen=True)
class Scale:
    name: str
    dataset: tuple[str, ...] = ()  # dotted overrides applied to every pretraining run (the dataset)
    sizes: dict = field(default_factory=dict)  # section name -> its settings (absent: full size)
    overrides: tuple[str, ...] = ()  # the dotted sizes given on the command line (python -m bench --set)

    def of(self, section: str):
        """The sizes ``section`` runs at on this scale."""
        return self.sizes.get(section) or SECTIONS[section].settings()

    def sizes_of(self, section: str) -> dict:
        """What ``section`` runs at, as plain data: the dataset and the sizes of it and of the
        sections it uses."""
        names = (section, *SECTIONS[section].uses)
        return {"dataset": list(self.dataset), **{name: to_plain(self.of(name)) for name in names}}

    def with_sizes(self, section: str, **changes) -> Scale:
        """This scale with some of ``section``'s sizes changed (a test's quicker variant)."""
        return replace(self, sizes={**self.sizes, section: replace(self.of(section), **changes)})


@cache
def load_scale(name: str, overrides: tuple[str, ...] = ()) -> Scale:
    """The scale ``name`` from bench/scales.yaml (``full``: every section's defaults) with
    dotted ``overrides`` (``leaderboard.only=[vicreg]``); an unknown scale, section, size or a
    wrong type is a ConfigError naming it."""
    if name != "full" and name not in SCALE_FILE:
        raise ConfigError(f"unknown scale {name!r}; choose from {', '.join(SCALE_NAMES)}")
    raw = copy.deepcopy(SCALE_FILE.get(name, {}))
    for dotted in overrides:
        key = dotted.split("=", 1)[0]
        if "." in key:  # a size of a section the scale leaves at full size so far
            raw.setdefault(key.split(".", 1)[0], {})
        apply_override(raw, dotted)
    dataset = tuple(raw.pop("dataset", ()))
    where = f"bench/scales.yaml: {name}"
    sizes = {s: parse_dataclass(SECTIONS[s].settings, values, f"{where}.{s}") for s, values in raw.items()}
    return Scale(name, dataset, sizes, tuple(overrides))
