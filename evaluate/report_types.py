"""The evaluation's report as typed dataclasses, written to and read from report.json.

report.md, results.csv, the plots, ``evaluate compare``, bench and scripts/ read these
fields, never dict keys. ``Report.from_json`` rebuilds every row, protocol results
included (by their class name, evaluate.results.RESULT_TYPES); a report.json written
before this layout (no ``version``) or by a newer one is refused with the version named.
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from dataclasses import dataclass, field
from typing import Any

from evaluate.cells import KindStats
from evaluate.context import Measurement
from evaluate.protocol_registry import PROTOCOLS
from evaluate.results import RESULT_TYPES, Record

REPORT_VERSION = 2  # 1: the untyped dict of version 0.1.2 and before (no "version" key)


class ReportVersionError(ValueError):
    """A report.json this version cannot read."""


@dataclass
class SummaryRow:
    """One cell of the scarce-label table: a source × protocol × budget over its seeds."""

    source: str
    protocol: str
    labels_per_class: int
    mean: float
    std: float
    n: int
    ci_low: float | None
    ci_high: float | None
    interval: str
    balanced_accuracy: float
    flags: list[str]  # "<flag> <seeds hit>/<seeds>", from the results' own flags()
    by_seed: dict[str, float]  # for pairing across runs


@dataclass
class Difference:
    """Learned ``a`` minus reference ``b`` under one protocol and budget, with its 95% interval."""

    protocol: str
    a: str
    b: str
    labels_per_class: int
    difference: float
    low: float | None
    high: float | None
    interval: str
    n: int
    verdict: str  # better | worse | within noise | too few seeds
    versus: str = ""  # the protocol ``b`` ran under, where not ``protocol`` (semi-supervised minus supervised)


@dataclass
class LayerRow:
    layer: str
    dim: int
    labels_per_class: int
    val_accuracy: float | None
    accuracy: float
    l2: float
    l2_at_edge: bool
    converged: bool


@dataclass
class CellStats:
    """What this evaluation computed and what it read from the store (evaluate.cells)."""

    reused: int = 0  # cells read from the store
    computed: int = 0  # cells computed by this evaluation
    directory: str = ""  # the store ("" where it was off)
    kinds: dict[str, KindStats] = field(default_factory=dict)  # per kind of cell; a cell used twice counted once
    feature_seconds: float = 0.0  # this evaluation's extraction (or cache reads)
    wall_seconds: float = 0.0  # features to report, plots excluded
    notes: list[str] = field(default_factory=list)  # store entries that could not be used, recomputed


@dataclass
class CollapseCheck:
    """The collapse alarm's scores of one encoder beside its random-init twin (evaluate/collapse.py)."""

    images: int
    dim: int
    rank: float
    random_rank: float | None
    mean_cosine: float
    random_mean_cosine: float | None
    constant_share: float
    spread: float
    fired: list[str] = field(default_factory=list)  # each alarm in words, with its numbers


@dataclass
class Verdict:
    """The report's answer, generated from its own numbers (evaluate/verdict.py): a few sentences
    and at most one small table (Markdown lines); ``judged`` is False where nothing comparable ran."""

    judged: bool
    sentences: list[str]
    table: list[str] = field(default_factory=list)


@dataclass
class Report:
    run: str
    run_dir: str
    dataset: str
    dataset_root: str
    pretrain_dataset: str
    pretrain_root: str
    cross_dataset: bool
    encoder: str
    code_dim: int
    encoder_weights_sha256: str
    pretrain_steps: int | None
    config_hash: str
    git_commit: str
    overrides: list[str]
    device: str
    precision: dict[str, str]  # {"train": ..., "eval": ...}
    memory_format: dict[str, str]
    settings: dict[str, Any]  # the eval settings, with the split sizes and class names
    labelled: bool = True
    records: list[Record] = field(default_factory=list)
    summary: list[SummaryRow] = field(default_factory=list)
    differences: list[Difference] = field(default_factory=list)
    semi_supervised: list[Difference] = field(default_factory=list)  # each source: semi-supervised − supervised
    all_labels: dict[str, dict[str, Any]] = field(default_factory=dict)  # source -> kNN over k, retrieval, clusters
    layers: list[LayerRow] = field(default_factory=list)
    outliers: dict[str, Any] = field(default_factory=dict)
    label_free: list[Measurement] = field(default_factory=list)
    sources: dict[str, str] = field(default_factory=dict)  # source name -> description
    unavailable: list[str] = field(default_factory=list)  # protocols left out, and why
    cells: CellStats = field(default_factory=CellStats)
    tasks: str = ""
    plots: list[str] = field(default_factory=list)
    collapse: CollapseCheck | None = None  # None: no encoder evaluated, or a report written before the alarm
    verdict: Verdict | None = None
    version: int = REPORT_VERSION

    def rows(self, source: str | None = None) -> list[SummaryRow]:
        return [r for r in self.summary if source is None or r.source == source]

    def summary_cell(self, source: str, protocol: str, labels_per_class: int) -> SummaryRow | None:
        wanted = (source, protocol, labels_per_class)
        return next((r for r in self.summary if (r.source, r.protocol, r.labels_per_class) == wanted), None)

    def measurements(self, protocol: str) -> list[Measurement]:
        return [m for m in self.label_free if m.protocol == protocol]

    def to_json(self) -> str:
        return json.dumps(to_plain(self), indent=2)

    @classmethod
    def from_json(cls, text: str) -> Report:
        data = json.loads(text)
        version = data.get("version", 1)
        if version != REPORT_VERSION:
            raise ReportVersionError(
                f"report.json version {version} cannot be read by this version of evaluate (it reads version "
                f"{REPORT_VERSION}); rerun `python -m evaluate --run RUN` to rewrite it (finished cells are reused)"
            )
        return from_plain(cls, data)


def to_plain(value: Any) -> Any:
    """JSON-ready form: dataclasses as mappings of their fields (a Record as its keys then its
    result's metrics; a Measurement's result tagged with its class name)."""
    if isinstance(value, Record):
        return value.as_dict()  # its protocol names its result type (PROTOCOLS[protocol].result_type)
    if isinstance(value, Measurement):
        result = {f.name: to_plain(getattr(value.result, f.name)) for f in dataclasses.fields(value.result)}
        kind = type(value.result).__name__
        return {"source": value.source, "protocol": value.protocol, "result_type": kind, "result": result}
    if dataclasses.is_dataclass(value):
        return {f.name: to_plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {k if isinstance(k, str) else json.dumps(k): to_plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_plain(v) for v in value]
    return value


def from_plain(tp: Any, value: Any) -> Any:
    """``value`` (from JSON) as type ``tp``: dataclasses field by field, dict keys back to their type."""
    if value is None:
        return None
    if tp is Record:
        result_type = PROTOCOLS[value["protocol"]].result_type
        fields = {f.name for f in dataclasses.fields(result_type)}
        result = from_plain(result_type, {k: v for k, v in value.items() if k in fields})
        return Record(value["source"], value["protocol"], value["labels_per_class"], value["seed"], result)
    if tp is Measurement:
        result = from_plain(RESULT_TYPES[value["result_type"]], value["result"])
        return Measurement(value["source"], value["protocol"], result)
    if dataclasses.is_dataclass(tp):
        hints = typing.get_type_hints(tp)
        known = {f.name for f in dataclasses.fields(tp) if f.init}
        return tp(**{k: from_plain(hints[k], v) for k, v in value.items() if k in known})
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        kinds = [a for a in args if a is not type(None)]
        return from_plain(kinds[0], value) if len(kinds) == 1 else value
    if origin is list:
        return [from_plain(args[0], v) for v in value]
    if origin is dict:
        key_type = args[0]
        return {(key_type(k) if key_type in (int, float) else k): from_plain(args[1], v) for k, v in value.items()}
    return value
