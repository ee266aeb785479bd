"""Load what one run's evaluation reads: its config, splits (labelled or not), encoder and
tasks, and the report's header. The evaluation itself is evaluate.entry.evaluate_run.

Tasks are asked for what they can do (pretrain.core.tasks), never what they are.
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from evaluate.baselines import feature_sources, random_init_variants
from evaluate.context import EvalContext
from evaluate.diagnostics import outlier_detection
from evaluate.features import source_features
from evaluate.settings import load_run_config
from pretrain.core.arrays import in_memory, is_tensor_array
from pretrain.core.checkpoint import file_digest
from pretrain.core.config import Config, DataConfig, config_hash, config_to_dict
from pretrain.core.data import DataError, Splits, load_splits
from pretrain.core.encoders import Encoder, EncoderSpec, channels_last_faster
from pretrain.core.precision import resolve_memory_format, resolve_precision
from pretrain.core.provenance import git_commit
from pretrain.core.run_folder import EvaluationFolder, Run
from pretrain.core.samples import Features
from pretrain.core.saved_encoder import (
    assert_pretraining_finished,
    export_info,
    load_task_heads,
)
from pretrain.core.tasks import FeatureSource


@dataclass(frozen=True)
class LoadedRun:
    """A finished pretraining run loaded for evaluation. ``cfg`` is a copy of the run's config
    with ``eval.precision`` and ``eval.memory_format`` resolved for this machine (the loaded
    config itself is never changed); ``spec`` is its encoder.json, read once."""

    folder: Run
    cfg: Config
    spec: EncoderSpec
    splits: Splits
    encoder: Encoder
    tasks: nn.ModuleList
    device: torch.device


def default_device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def check_integrity(splits: Splits) -> None:
    """Train and validation are disjoint draws from the original training set; the test set is separate."""
    overlap = set(splits.train.index.tolist()) & set(splits.val.index.tolist())
    if overlap:
        raise AssertionError(f"{len(overlap)} images are in both the training and validation splits")


def evaluation_data(cfg: Config, spec: EncoderSpec) -> DataConfig:
    """The dataset evaluation reads: ``eval.data`` brought to the encoder's input size and
    channels (its own normalisation stays the encoder's), else the pretraining dataset."""
    wanted = cfg.eval.data
    if wanted is None:
        return cfg.data
    for key, value in (("image_size", spec.image_size), ("channels", spec.in_chans)):
        if getattr(wanted, key) not in (0, value):
            print(f"note: eval.data.{key}={getattr(wanted, key)} replaced by the encoder's input, {value}")
    # STL-10's unlabelled images serve pretraining only: not converted for an evaluation
    return dataclasses.replace(wanted, image_size=spec.image_size, channels=spec.in_chans, unlabelled=False)


def in_memory_splits(splits: Splits) -> Splits:
    """Splits whose images are decoded from files on demand, decoded once here (evaluation
    reads every image several times)."""
    parts = {}
    for name in ("train", "val", "test", "outliers"):
        part = getattr(splits, name)
        if part is not None and not is_tensor_array(part.x):
            parts[name] = part.with_rows(in_memory(part.x))
    return dataclasses.replace(splits, **parts)


def load_evaluation_splits(cfg: Config, data: DataConfig | None = None) -> Splits:
    """The splits evaluation uses (``data`` or the run's own data), decoded and checked
    disjoint; unlabelled images (no class subfolders) are allowed: label-free protocols serve them."""
    splits = in_memory_splits(load_splits(data or cfg.data))
    check_integrity(splits)
    return splits


def load_splits_checked(cfg: Config, data: DataConfig | None = None) -> Splits:
    """The labelled splits a labelled evaluation (bench) uses; unlabelled data is a DataError saying what to do."""
    data = data or cfg.data
    splits = load_evaluation_splits(cfg, data)
    if not splits.labelled:
        raise DataError(f"{data.name} {splits.source} has no labels (no class subfolders). {LABELLED_FOLDER_HINT}")
    return splits


LABELLED_FOLDER_HINT = (
    "To score transfer, evaluate on labelled images: python -m evaluate --run RUN eval.data.name=image_folder "
    "eval.data.root=DIR, where DIR holds one subfolder of images per class (or another dataset's eval.data.*)"
)


def check_label_budgets(splits: Splits, budgets: list[int]) -> None:
    """Every class must have as many training images as the largest scarce-label budget."""
    counts = torch.bincount(splits.train.y, minlength=splits.num_classes)
    need = max(budgets, default=0)
    short = [(splits.classes[c], int(n)) for c, n in enumerate(counts) if 0 < n < need]  # 0: a held-out class
    if short and need:
        listed = ", ".join(f"{name} has {n}" for name, n in short[:5])
        raise DataError(
            f"eval.labels_per_class asks for {need} labelled images per class, but in the training split of "
            f"{splits.source or 'the data'} {listed}; lower eval.labels_per_class or add images"
        )


def seeded_variants(
    run: Run, cfg: Config, splits: Splits, device: torch.device, sources: list[str], store: Path | None = None
) -> dict[str, list[dict[str, Features]]]:
    """{source: [features of seed s]} for the sources drawn anew per seed: the random-init
    encoder, so its spread over seeds includes the luck of its initialisation."""
    if "random_init" not in sources:
        return {}
    variants = random_init_variants(run, cfg, device)
    return {"random_init": [source_features(run, s, splits, store=store) for s in variants]}


def evaluation_folder(run: Run, overrides: list[str], baselines: list[str] | None) -> EvaluationFolder:
    """The run directory for its full evaluation; RUN/evals/<settings> for one with ``eval.*``
    overrides or other baselines, so a partial re-evaluation never overwrites the full report."""
    if not overrides and baselines is None:
        return run.evaluation()
    settings = [*sorted(overrides), *([f"baselines={','.join(baselines)}"] if baselines is not None else [])]
    slug = re.sub(r"[^A-Za-z0-9=.,_-]+", "_", "+".join(settings))[:60]
    return run.evaluation(f"{slug}-{hashlib.sha256(' '.join(settings).encode()).hexdigest()[:6]}")


def prepare_evaluation(run: Run, baselines: list[str] | None = None, overrides: list[str] = ()) -> LoadedRun:
    """The run's config (eval.precision and eval.memory_format resolved for this machine, and
    ``baselines`` in place of eval.baselines where given), its evaluation splits (labelled or
    not) and its encoder and tasks, loaded."""
    loaded = load_run_config(run, overrides)
    assert_pretraining_finished(run)
    spec = run.spec
    splits = load_evaluation_splits(loaded, evaluation_data(loaded, spec))
    if splits.labelled:
        check_label_budgets(splits, loaded.eval.labels_per_class)
    device, e = default_device(), loaded.eval
    resolved = dataclasses.replace(
        e,
        precision=resolve_precision(e.precision, device, "eval.precision"),
        memory_format=resolve_memory_format(e.memory_format, channels_last_faster(spec.name), "eval.memory_format"),
        baselines=list(e.baselines if baselines is None else baselines),
    )
    cfg = dataclasses.replace(loaded, eval=resolved)
    encoder, tasks = load_task_heads(run, cfg)
    if resolved.memory_format == "channels_last":
        encoder = encoder.to(memory_format=torch.channels_last)
    return LoadedRun(run, cfg, spec, splits, encoder, tasks, device)


def encoder_features(run: Run, overrides: list[str] = ()) -> dict[str, Features]:
    """{split: Features} of the run's headline representation, from the feature cache where it
    is there (what ``--export-features`` writes; no protocol runs)."""
    loaded = prepare_evaluation(run, [], overrides)
    source = feature_sources(run, loaded.cfg, loaded.splits, [], loaded.device, loaded.encoder, loaded.tasks)[0]
    return source_features(run, source, loaded.splits, feature_splits(loaded.splits))


def feature_splits(splits: Splits) -> tuple[str, ...]:
    """The splits features are extracted for: unlabelled data has no test split."""
    return ("train", "val", "test") if splits.test is not None else ("train", "val")


def task_scorers(run: EvalContext) -> list[tuple[str, object]]:
    """[(task key, images -> {score name: (N,)})]: every per-image score the run's tasks offer."""
    device, encoder = run.device, run.run_encoder.to(run.device)
    return [
        (key, lambda images, task=task: task.anomaly_scores(encoder, images, device))
        for key, task in zip(run.task_keys, run.tasks)
    ]


def outliers(run: EvalContext, sources: list[FeatureSource]) -> dict:
    """AUROC of held-out classes (evaluate.diagnostics.outlier_detection), from the run's cells."""
    weights = file_digest(run.run_folder.task_weights)
    scorers = task_scorers(run)
    return outlier_detection(run.run_folder, run.cfg, run.splits, run.features, sources, scorers, weights, run.cells)


def report_header(run: EvalContext, overrides: list[str]) -> dict:
    """What was evaluated, how, on what: the report's fields before its results."""
    cfg, splits = run.cfg, run.splits
    data = cfg.eval.data or cfg.data
    return {
        "run": cfg.name,
        "run_dir": str(run.run_folder.path.resolve()),
        "dataset": data.name,
        "dataset_root": splits.source,
        "pretrain_dataset": cfg.data.name,
        "pretrain_root": cfg.data.root,
        "cross_dataset": cfg.eval.data is not None,
        "encoder": cfg.encoder.name,
        "code_dim": cfg.encoder.code_dim,
        **export_info(run.run_folder),
        "config_hash": config_hash(cfg),
        "git_commit": git_commit(),
        "overrides": overrides,
        "device": run.device.type,
        "precision": {"train": cfg.train.precision, "eval": cfg.eval.precision},
        "memory_format": {"train": cfg.train.memory_format, "eval": cfg.eval.memory_format},
        "settings": {
            **config_to_dict(cfg.eval),
            "train_size": len(splits.train),
            "val_size": len(splits.val),
            "test_size": len(splits.test) if splits.test is not None else 0,
            "classes": list(splits.classes),
        },
    }
