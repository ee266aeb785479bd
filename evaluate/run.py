"""Evaluate one run: features once, then every protocol, baseline, plot and log.

The encoder's code, whatever the run's tasks offer and each baseline become cached
Features; the scarce-label grid runs the frozen protocols on them and fine-tunes the
encoder beside supervised-from-scratch; all-label metrics (kNN over k, retrieval,
clustering), the per-layer probe and outlier detection follow. Selection happens on the
validation split only. Tasks are asked for what they can do (pretrain.core.tasks), never
what they are.
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from evaluate.baselines import feature_sources, random_encoder, random_init_variants
from evaluate.clustering import kmeans_clustering
from evaluate.features import source_features
from evaluate.knn import approximate_search_recall
from evaluate.layers import encode_layers, probe_layers
from evaluate.linear import linear_probe
from evaluate.outliers import auroc, knn_distance_scores
from evaluate.retrieval import neighbour_metrics
from evaluate.suite import (
    finetune_grid,
    frozen_grid,
    labelled_subsets,
    paired_differences,
    summarise,
    validation_subset,
)
from pretrain.core.arrays import in_memory, is_tensor_array
from pretrain.core.config import Config, DataConfig, config_hash, config_to_dict, load_run_config
from pretrain.core.data import DataError, Splits, load_splits
from pretrain.core.encoders import Encoder, EncoderSpec
from pretrain.core.export import assert_pretraining_finished, export_info, load_encoder_spec, load_task_heads
from pretrain.core.provenance import git_commit
from pretrain.core.samples import Features
from pretrain.core.tasks import FeatureSource, task_keys


@dataclass
class Evaluation:
    """What an evaluation holds besides its JSON report: tensors for plots and exports."""

    run_dir: Path
    out_dir: Path  # where its report, plots and logs go: the run directory, or evals/... with overrides
    cfg: Config
    splits: Splits
    features: dict[str, dict[str, Features]]  # source -> split -> Features
    predictions: dict[tuple, torch.Tensor]  # Record.key -> test predictions (Q,)
    device: torch.device
    encoder: Encoder  # the run's encoder, with which its tasks were loaded
    tasks: nn.ModuleList  # the run's tasks with trained weights, in config order

    @property
    def task_keys(self) -> list[str]:
        return task_keys([t.name for t in self.cfg.tasks])


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


def load_splits_checked(cfg: Config, data: DataConfig | None = None, run_dir: Path | None = None) -> Splits:
    """The labelled splits evaluation uses (``data`` or the run's own data), checked disjoint."""
    data = data or cfg.data
    splits = load_splits(data)
    if not splits.labelled:
        raise DataError(
            f"{data.name} {splits.source} has no labels (no class subfolders), so nothing can be evaluated on it. "
            f"Evaluate on labelled images: python -m evaluate --run {run_dir or 'RUN'} eval.data.name=image_folder "
            "eval.data.root=DIR, where DIR holds one subfolder of images per class (or another dataset's eval.data.*)"
        )
    splits = in_memory_splits(splits)
    check_integrity(splits)
    return splits


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


def all_label_metrics(parts: dict[str, Features], cfg: Config, num_classes: int) -> dict:
    """kNN accuracy over k, retrieval and clustering with every training label."""
    train, test, e = parts["train"], parts["test"], cfg.eval
    ks, retrieval_ks = tuple(e.knn_ks), tuple(e.retrieval_ks)
    out = {
        **neighbour_metrics(train.x, train.y, test.x, test.y, ks, retrieval_ks, e.knn_temperature),
        "clustering": kmeans_clustering(train.x, test.x, test.y, seed=cfg.train.seed, restarts=e.clustering_restarts),
    }
    if e.approx_index:
        out["approximate_index"] = approximate_search_recall(train.x, test.x, max(e.retrieval_ks), e.approx_index)
    return out


def layer_probe(encoder: Encoder, splits: Splits, cfg: Config, device) -> list[dict]:
    """Linear probe on pooled features of each intermediate layer (and the code), trained on
    ``layer_probe_labels_per_class`` labels per class; strength chosen on validation."""
    per_class = cfg.eval.layer_probe_labels_per_class
    names = probe_layers(encoder)
    if per_class < 0 or not names:
        return []
    smallest = int(torch.bincount(splits.train.y)[splits.train.y.unique()].min())  # classes present (not held out)
    per_class = min(per_class, smallest) if per_class else 0
    positions = labelled_subsets(splits.train.y, [per_class], 1, cfg.train.seed)[0][2]
    val = validation_subset(splits.val, per_class, cfg.eval.val_per_class, cfg.train.seed)
    parts = {"train": splits.train.take(positions), "val": val, "test": splits.test}
    layered = {split: encode_layers(encoder, imgs.x, names + ["proj"], device=device) for split, imgs in parts.items()}
    rows = []
    for name in names + ["proj"]:
        feats = {split: imgs.with_rows(layered[split][name]) for split, imgs in parts.items()}
        e = cfg.eval
        result = linear_probe(
            feats["train"], feats["val"], feats["test"], e.linear_l2, e.linear_max_iter, splits.num_classes
        )
        rows.append(
            {
                "layer": "code" if name == "proj" else name,
                "dim": feats["train"].x.shape[1],
                "labels_per_class": per_class,
                "val_accuracy": result.val_accuracy,
                "accuracy": result.accuracy,
                "l2": result.l2,
                "l2_at_edge": result.l2_at_edge,
                "converged": result.converged,
            }
        )
    return rows


def outlier_detection(run: Evaluation, sources: list[FeatureSource]) -> dict:
    """AUROC of held-out-class test images against the seen-class test images, for the kNN
    distance in every feature source and every per-image score a task offers."""
    splits, device, features = run.splits, run.device, run.features
    if splits.outliers is None:
        return {}
    positive = torch.cat(
        [torch.zeros(len(splits.test), dtype=torch.bool), torch.ones(len(splits.outliers), dtype=torch.bool)]
    )
    scores = {}
    for source in sources:
        extra = source_features(run.run_dir, source, splits, ("outliers",))["outliers"]
        queries = torch.cat([features[source.name]["test"].x, extra.x])
        bank = features[source.name]["train"].x
        scores[f"knn_distance[{source.name}]"] = knn_distance_scores(bank, queries, run.cfg.eval.outlier_knn_k)
    images = torch.cat([splits.test.x, splits.outliers.x])
    for key, task in zip(run.task_keys, run.tasks):
        for name, values in task.anomaly_scores(run.encoder.to(device), images, device).items():
            scores[f"{name}[{key}]"] = values
    return {
        "holdout_classes": (run.cfg.eval.data or run.cfg.data).holdout_classes,
        "positives": int(positive.sum()),
        "negatives": int((~positive).sum()),
        "auroc": {name: auroc(s, positive) for name, s in scores.items()},
    }


def seeded_variants(
    run_dir: Path, cfg: Config, splits: Splits, device: torch.device, sources: list[str]
) -> dict[str, list[dict[str, Features]]]:
    """{source: [features of seed s]} for the sources drawn anew per seed: the random-init
    encoder, so its spread over seeds includes the luck of its initialisation."""
    if "random_init" not in sources:
        return {}
    return {"random_init": [source_features(run_dir, s, splits) for s in random_init_variants(run_dir, cfg, device)]}


def evaluation_dir(run_dir: Path, overrides: list[str], baselines: list[str] | None) -> Path:
    """The run directory for its full evaluation; RUN/evals/<settings> for one with ``eval.*``
    overrides or other baselines, so a partial re-evaluation never overwrites the full report."""
    if not overrides and baselines is None:
        return run_dir
    settings = [*sorted(overrides), *([f"baselines={','.join(baselines)}"] if baselines is not None else [])]
    slug = re.sub(r"[^A-Za-z0-9=.,_-]+", "_", "+".join(settings))[:60]
    return run_dir / "evals" / f"{slug}-{hashlib.sha256(' '.join(settings).encode()).hexdigest()[:6]}"


def evaluate_run(
    run_dir: Path, baselines: list[str] | None = None, overrides: list[str] = (), out_dir: Path | None = None
) -> tuple[dict, Evaluation]:
    """(report, evaluation): the report is JSON-ready; the evaluation holds tensors for plots and exports."""
    run_dir = Path(run_dir)
    cfg = load_run_config(run_dir, overrides)
    assert_pretraining_finished(run_dir)
    if baselines is not None:
        cfg.eval.baselines = baselines
    spec = load_encoder_spec(run_dir)
    data = evaluation_data(cfg, spec)
    splits = load_splits_checked(cfg, data, run_dir)
    check_label_budgets(splits, cfg.eval.labels_per_class)
    device, seed = default_device(), cfg.train.seed
    encoder, tasks = load_task_heads(run_dir, cfg)
    sources = feature_sources(run_dir, cfg, splits, cfg.eval.baselines, device, encoder, tasks)
    features = {s.name: source_features(run_dir, s, splits) for s in sources}
    variants = seeded_variants(run_dir, cfg, splits, device, list(features))
    print(f"features ready: {', '.join(features)}; running the scarce-label grid ...", flush=True)
    records = frozen_grid(features, cfg.eval, splits.num_classes, seed, variants)
    if cfg.eval.finetune.enabled:
        records += finetune_grid(encoder, lambda s: random_encoder(spec, s), splits, cfg.eval, device, seed)
    predictions = {r.key: r.result.test_predictions for r in records}
    out_dir = Path(out_dir) if out_dir else evaluation_dir(run_dir, list(overrides), baselines)
    run = Evaluation(run_dir, out_dir, cfg, splits, features, predictions, device, encoder, tasks)
    print("all-label metrics, layer probe, outliers ...", flush=True)
    report = {
        "run": cfg.name,
        "run_dir": str(run_dir.resolve()),
        "dataset": data.name,
        "dataset_root": splits.source,
        "pretrain_dataset": cfg.data.name,
        "pretrain_root": cfg.data.root,
        "cross_dataset": cfg.eval.data is not None,
        "encoder": cfg.encoder.name,
        "code_dim": cfg.encoder.code_dim,
        **export_info(run_dir),
        "config_hash": config_hash(cfg),
        "git_commit": git_commit(),
        "overrides": list(overrides),
        "settings": {
            **config_to_dict(cfg.eval),
            "train_size": len(splits.train),
            "val_size": len(splits.val),
            "test_size": len(splits.test),
            "classes": list(splits.classes),
        },
        "records": [r.as_dict() for r in records],
        "summary": summarise(records, splits.test.y, cfg.eval.bootstrap, seed),
        "differences": paired_differences(records, splits.test.y, cfg.eval.bootstrap, seed),
        "all_labels": {name: all_label_metrics(parts, cfg, splits.num_classes) for name, parts in features.items()},
        "layers": layer_probe(encoder, splits, cfg, device),
        "outliers": outlier_detection(run, sources),
        "sources": {s.name: s.description for s in sources},
    }
    return report, run
