"""What a protocol returns: a small dataclass per kind of result, and the record that
places one in the grid (which features, which protocol, how many labels, which seed)."""

from __future__ import annotations

from dataclasses import dataclass, field, fields

import torch

DETAIL = {"column": False}  # field metadata: kept in report.json, not a results.csv column


@dataclass(kw_only=True)
class ProtocolResult:
    accuracy: float  # test accuracy of the one chosen model, in [0, 1]
    train_size: int  # labelled images it learned from (kNN: its bank)
    selected_on: str  # what chose its settings; never the test split
    val_accuracy: float | None = None  # validation accuracy of the chosen model; None where nothing is chosen
    test_predictions: torch.Tensor = field(repr=False, metadata=DETAIL)  # (Q,) one class per test image

    def metrics(self) -> dict:
        """Every field but the per-image predictions, JSON-ready."""
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "test_predictions"}


@dataclass(kw_only=True)
class LinearResult(ProtocolResult):
    l2: float  # the L2 strength chosen on validation
    val_accuracy_by_l2: dict[float, float] = field(metadata=DETAIL)


@dataclass(kw_only=True)
class EarlyStoppedResult(ProtocolResult):
    best_step: int  # steps taken when the validation score peaked (the weights kept)
    steps_run: int


@dataclass(kw_only=True)
class KnnResult(ProtocolResult):
    k: int
    temperature: float


RECORD_FIELDS = ("source", "protocol", "labels_per_class", "seed")


@dataclass
class Record:
    """One cell of the grid: ``result`` of ``protocol`` on ``source``'s features with
    ``labels_per_class`` labels (0 = all) drawn with ``seed``."""

    source: str
    protocol: str
    labels_per_class: int
    seed: int
    result: ProtocolResult

    @property
    def key(self) -> tuple[str, str, int, int]:
        return self.source, self.protocol, self.labels_per_class, self.seed

    def as_dict(self) -> dict:
        """The record as report.json holds it: its keys, then the result's metrics."""
        return dict(zip(RECORD_FIELDS, self.key)) | self.result.metrics()


def table_columns(result_types: list[type[ProtocolResult]]) -> list[str]:
    """results.csv columns: the record's keys, then every scalar field of the result types, in order."""
    columns = list(RECORD_FIELDS)
    for result_type in result_types:
        columns += [f.name for f in fields(result_type) if f.metadata.get("column", True) and f.name not in columns]
    return columns
