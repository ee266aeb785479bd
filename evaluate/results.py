"""What a protocol returns: a small dataclass per kind of result, and the record that
places one in the grid (which features, which protocol, how many labels, which seed)."""

from __future__ import annotations

from dataclasses import dataclass, field, fields

import torch

DETAIL = {"column": False}  # field metadata: kept in report.json, not a results.csv column


def prediction_scores(predictions: torch.Tensor, labels: torch.Tensor, num_classes: int) -> dict:
    """Accuracy, balanced accuracy (mean of per-class recalls) and per-class accuracy of
    predictions (Q,) against labels (Q,), as keyword arguments of a ``ProtocolResult``.
    A class absent from the test labels has no per-class accuracy (None) and no vote in the balance."""
    predictions, labels = predictions.cpu(), labels.cpu()
    correct = (predictions == labels).float()
    counts = torch.bincount(labels, minlength=num_classes)
    hits = torch.bincount(labels, weights=correct, minlength=num_classes)
    per_class = [None if n == 0 else float(h / n) for h, n in zip(hits, counts)]
    present = [a for a in per_class if a is not None]
    return {
        "accuracy": correct.mean().item(),
        "balanced_accuracy": sum(present) / len(present),
        "per_class_accuracy": per_class,
        "test_predictions": predictions,
    }


RESULT_TYPES: dict[str, type] = {}  # class name -> result class: how cells and report.json find a result's type


class Result:
    """Base of every protocol's result dataclass; each subclass is known by its name."""

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        RESULT_TYPES[cls.__name__] = cls

    def flags(self) -> list[str]:
        """What may make this number unsafe (the report marks it); none by default."""
        return []


@dataclass(kw_only=True)
class ProtocolResult(Result):
    accuracy: float  # test accuracy of the one chosen model, in [0, 1]
    balanced_accuracy: float  # mean over classes of the per-class test accuracy
    train_size: int  # labelled images it learned from (kNN: its bank)
    val_size: int  # validation images that chose its settings (0 where nothing is chosen)
    selected_on: str  # what chose its settings; never the test split
    val_accuracy: float | None = None  # validation accuracy of the chosen model; None where nothing is chosen
    per_class_accuracy: list[float | None] = field(metadata=DETAIL)
    # (Q,) one class per test image; None in a result read back from report.json
    test_predictions: torch.Tensor | None = field(default=None, repr=False, metadata=DETAIL)

    def metrics(self) -> dict:
        """Every field but the per-image predictions, JSON-ready."""
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "test_predictions"}


@dataclass(kw_only=True)
class LinearResult(ProtocolResult):
    l2: float  # the L2 strength chosen on validation
    l2_at_edge: bool  # the choice is the grid's strongest or weakest value: the grid may be too narrow
    iterations: int  # L-BFGS iterations of the chosen model
    grad_norm: float  # largest absolute gradient entry at the end of its fit
    converged: bool  # the largest gradient entry reached the tolerance (1e-4)
    # why the fit ended: "tolerance", "iteration cap", or "stalled" (L-BFGS could not lower the loss
    # further, its gradient still above the tolerance); "" in results written before it was recorded
    stop_reason: str = ""
    val_accuracy_by_l2: dict[float, float] = field(metadata=DETAIL)
    FLAGS = ("l2_at_edge", "unconverged")  # the order the report lists them in

    def flags(self) -> list[str]:
        """l2_at_edge: the chosen strength is an end of the grid; unconverged: L-BFGS ended above its gradient
        tolerance (``stop_reason`` says whether at the iteration cap or stalled)."""
        return [
            name for name, raised in (("l2_at_edge", self.l2_at_edge), ("unconverged", not self.converged)) if raised
        ]


@dataclass(kw_only=True)
class EarlyStoppedResult(ProtocolResult):
    best_step: int  # steps taken when the validation score peaked (the weights kept)
    steps_run: int
    max_steps: int  # the budget: the most steps it was allowed
    at_cap: bool  # best_step == max_steps: still improving when the budget ran out
    lr: float | None = None  # the learning rate chosen on validation, where a grid was searched
    lr_at_edge: bool = False  # that choice is the grid's smallest or largest rate
    FLAGS = ("at_cap", "lr_at_edge")  # the order the report lists them in

    def flags(self) -> list[str]:
        """at_cap: still improving when the step budget ran out; lr_at_edge: the rate chosen is an end of its grid."""
        return [name for name, raised in (("at_cap", self.at_cap), ("lr_at_edge", self.lr_at_edge)) if raised]


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
