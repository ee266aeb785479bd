"""A run directory and its layout: the one module that knows where a run keeps what.

    run = Run.at("runs/ae_fmnist")
    run.spec                          # encoder.json as an EncoderSpec, read once for this Run
    run.encoder_weights               # runs/ae_fmnist/encoder.safetensors
    run.evaluation()                  # where the full evaluation's report goes (the run itself)
    run.evaluation("knn.k=5-1a2b3c")  # ... and one with overrides (runs/ae_fmnist/evals/...)

Pretraining writes config.yaml, checkpoints/, progress.json, tb/, data_shards.json and the
export (encoder.safetensors, encoder.json, task.safetensors); evaluation adds features/,
cells/ (where the machine-wide store is off), evals/ and each evaluation's report files.
The command lines and the public API turn a user's path into a Run (``Run.at``); every
function below them takes the Run, never a bare path.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from pretrain.core.encoders import EncoderSpec


@dataclass(frozen=True)
class EvaluationFolder:
    """Where one evaluation of a run writes: the run directory, or RUN/evals/<settings>."""

    path: Path

    @property
    def report_md(self) -> Path:
        return self.path / "report.md"

    @property
    def report_json(self) -> Path:
        return self.path / "report.json"

    @property
    def results_csv(self) -> Path:
        return self.path / "results.csv"

    @property
    def plots(self) -> Path:
        return self.path / "plots"

    @property
    def tb(self) -> Path:
        return self.path / "tb" / "eval"


@dataclass(frozen=True)
class Run:
    """A run directory. Paths are properties; the encoder's spec is read once per Run."""

    path: Path

    @classmethod
    def at(cls, where: Run | str | Path) -> Run:
        """The Run of a user's path (or the Run itself): the one conversion, at the command lines and the API."""
        return where if isinstance(where, Run) else cls(Path(where))

    def __str__(self) -> str:
        return str(self.path)

    def __fspath__(self) -> str:  # open(run), Path(run): where a caller wants the folder itself
        return str(self.path)

    @property
    def name(self) -> str:
        return self.path.name

    # what pretraining writes
    @property
    def config_file(self) -> Path:
        return self.path / "config.yaml"

    @property
    def checkpoint(self) -> Path:
        return self.path / "checkpoints" / "last.pt"

    @property
    def progress_file(self) -> Path:
        return self.path / "progress.json"  # {"step", "total_steps", "exported"}: how far pretraining got

    @property
    def tb(self) -> Path:
        return self.path / "tb"

    @property
    def data_shards(self) -> Path:
        return self.path / "data_shards.json"

    @property
    def encoder_weights(self) -> Path:
        return self.path / "encoder.safetensors"

    @property
    def spec_file(self) -> Path:
        return self.path / "encoder.json"

    @property
    def task_weights(self) -> Path:
        return self.path / "task.safetensors"

    @property
    def export_dir(self) -> Path:
        return self.path / "export"

    # what evaluation writes
    @property
    def features(self) -> Path:
        return self.path / "features"

    @property
    def cells(self) -> Path:
        return self.path / "cells"

    def evaluation(self, settings: str | None = None) -> EvaluationFolder:
        """The folder of the full evaluation (``settings`` None), or of one with other settings."""
        return EvaluationFolder(self.path if settings is None else self.path / "evals" / settings)

    def forget_export(self) -> None:
        """Drop what was read of encoder.json (pretraining has just rewritten it)."""
        self.__dict__.pop("exported", None)

    @cached_property
    def exported(self) -> dict:
        """encoder.json as written (the spec plus what pretraining recorded: steps, images), read once."""
        if not self.spec_file.is_file():
            raise FileNotFoundError(f"{self.spec_file} is missing: has pretraining of this run finished?")
        return json.loads(self.spec_file.read_text())

    @property
    def spec(self) -> EncoderSpec:
        return EncoderSpec.from_dict(self.exported)
