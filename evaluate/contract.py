"""What an evaluation protocol is, and what an evaluation offers it.

A protocol is one module in ``evaluate/protocols/``: a class registered with
``@register_protocol("name")`` (evaluate.protocol_registry) that owns its settings dataclass
(``eval.<name>.*``), its result dataclass (with its own warning flags), what it needs from
the run, the sources it compares and its line in the report. Two kinds:

- grid protocols score labelled subsets at every label budget and seed (``Record`` rows:
  the scarce-label table, results.csv, the label-efficiency plot); frozen ones work on
  cached features, and share one pass over the subsets (evaluate.suite.frozen_grid);
- label-free protocols need no labels (``Measurement`` rows: one section of the report each,
  with its own table and plots), so they run on every run, unlabelled ones included.

The evaluation never asks which class a protocol is: it reads these attributes.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from evaluate.baselines import BASELINES
from evaluate.context import NEEDS, EvalContext, Measurement
from evaluate.protocol_registry import PROTOCOLS, check_protocol_names
from evaluate.results import ProtocolResult, Record, Result
from evaluate.suite import frozen_grid
from pretrain.core.config import ConfigError
from pretrain.core.samples import Features


class Protocol:
    """Base of every protocol; subclasses set the class attributes and implement ``evaluate``."""

    name: str = ""  # set by register_protocol
    rank: int = 100  # its place in tables and plots (lower first)
    settings_type: type | None = None  # its eval.<name> section, or None without settings
    result_type: type[Result] = ProtocolResult
    needs: frozenset[str] = frozenset({"features", "labels"})
    label_free: bool = False
    frozen: bool = False  # a grid protocol on cached features: runs in the shared pass (FrozenProtocol)
    stochastic: bool = False  # its result depends on a seed beyond the labelled draw (initialisation, batches)
    compares: tuple[str, ...] | None = None  # the sources it scores, where not every feature source
    references: tuple[str, ...] = ()  # sources of its own that learned ones are compared against (scratch)
    uses_unlabelled: bool = False  # semi-supervised: it also reads the unlabelled training images (never their labels)
    supervised_counterpart: str = ""  # the protocol on the labelled images alone that it is reported beside

    def runs_at(self, labels_per_class: int) -> bool:
        """Whether it runs at this budget (0 = all labels); a semi-supervised protocol has nothing to use at 0."""
        return True

    def evaluate(self, ctx: EvalContext) -> list:  # pragma: no cover - every protocol implements it
        """-> [Record] for a grid protocol, [Measurement] for a label-free one."""
        raise NotImplementedError

    def cell_settings(self, cfg) -> dict:
        """What of the eval settings its cells depend on (their key)."""
        settings = cfg.settings(self.name) if self.settings_type else None
        return dataclasses.asdict(settings) if settings is not None else {}

    def note(self, cfg) -> str:
        """Its line under "what was selected on what" in the report, from the eval settings ``cfg``."""
        return f"- {self.name}: nothing selected."

    def render(self, measurements: list[Measurement]) -> list[str]:
        """Its section of the report (label-free protocols): Markdown lines."""
        return []

    def plot(self, measurements: list[Measurement], ctx: EvalContext, out_dir: Path) -> list[Path]:
        """Its figures (label-free protocols); none by default."""
        return []


class FrozenProtocol(Protocol):
    """A grid protocol on cached features: ``fit`` one labelled subset, score the test split."""

    frozen = True

    def fit(
        self, train: Features, val: Features, test: Features, cfg, num_classes: int, seed: int, **pool: Features
    ) -> ProtocolResult:  # pragma: no cover - every frozen protocol implements it
        """Fit on the labelled ``train`` subset, select on ``val``, score ``test``; a protocol that
        ``uses_unlabelled`` also gets ``pool``: every training image, its labels hidden (-1),
        and ``cells``: the evaluation's CellStore (or None), for work shared across its cells."""
        raise NotImplementedError

    def evaluate(self, ctx: EvalContext) -> list[Record]:
        return run_frozen(ctx, [self])


def run_frozen(ctx: EvalContext, protocols: list[FrozenProtocol]) -> list[Record]:
    """The frozen ``protocols`` on the evaluation's features, in one pass over its labelled subsets."""
    e, num_classes = ctx.cfg.eval, ctx.splits.num_classes
    return frozen_grid(ctx.features, e, num_classes, ctx.base_seed, protocols, ctx.variants, ctx.first_seed, ctx.cells)


def all_protocols() -> list[Protocol]:
    """Every registered protocol, in table order."""
    return sorted((PROTOCOLS[name] for name in PROTOCOLS), key=lambda p: (p.rank, p.name))


def protocol_rank(name: str) -> tuple[int, str]:
    """Sort key of a protocol by name (unknown names last): the order rows are shown in."""
    protocol = PROTOCOLS.get(name)
    return (protocol.rank, name) if protocol is not None else (1000, name)


def reference_sources() -> tuple[str, ...]:
    """Sources not learned by pretraining: the baselines, and what protocols declare (scratch)."""
    return tuple(dict.fromkeys((*BASELINES, *(r for p in all_protocols() for r in p.references))))


def supervised_counterparts() -> dict[str, str]:
    """{semi-supervised protocol: the supervised protocol it is reported beside, on the same source}."""
    return {p.name: p.supervised_counterpart for p in all_protocols() if p.supervised_counterpart}


def missing_needs(protocol: Protocol, available: frozenset[str]) -> list[str]:
    return [need for need in NEEDS if need in protocol.needs and need not in available]


def selected_protocols(cfg, available: frozenset[str], what: str) -> tuple[list[Protocol], list[str]]:
    """(protocols to run, notes on those left out): ``eval.protocols`` ([] = every registered
    one) minus ``eval.skip``. One named in ``eval.protocols`` that this evaluation cannot serve
    is a ConfigError naming both; one only implied by [] is left out with a note."""
    check_protocol_names(cfg.protocols, "eval.protocols")
    check_protocol_names(cfg.skip, "eval.skip")
    chosen = [PROTOCOLS[n] for n in cfg.protocols] if cfg.protocols else all_protocols()
    run, notes = [], []
    for protocol in chosen:
        missing = missing_needs(protocol, available)
        if protocol.name in cfg.skip:
            continue
        if missing and cfg.protocols:
            raise ConfigError(
                f"eval.protocols: {protocol.name} needs {' and '.join(missing)}, but {what} has "
                f"{', '.join(n for n in NEEDS if n in available) or 'nothing'} only"
            )
        if missing:
            notes.append(f"{protocol.name} (needs {' and '.join(missing)})")
        else:
            run.append(protocol)
    return sorted(run, key=lambda p: (p.rank, p.name)), notes
