"""Evaluate one run: features once, then every protocol, baseline, plot and log.

The encoder's code and each baseline become cached Features; the scarce-label grid runs
the frozen protocols on them and fine-tunes the encoder beside supervised-from-scratch;
all-label metrics (kNN over k, retrieval, clustering), the per-layer probe and outlier
detection follow. Selection happens on the validation split only.
"""

from __future__ import annotations

from pathlib import Path

import torch

from evaluate.baselines import FeatureSource, feature_sources
from evaluate.clustering import kmeans_clustering
from evaluate.features import Features, cached_features
from evaluate.knn import approximate_search_recall
from evaluate.layers import encode_layers, probe_layers
from evaluate.linear import linear_probe
from evaluate.outliers import auroc, knn_distance_scores, reconstruction_scores
from evaluate.retrieval import neighbour_metrics
from evaluate.suite import finetune_grid, frozen_grid, labelled_subsets, summarise
from pretrain.config import Config, config_hash, config_to_dict, load_run_config
from pretrain.data import Splits, load_splits
from pretrain.encoders import Encoder
from pretrain.export import load_encoder, load_encoder_spec, load_task_heads
from pretrain.provenance import git_commit
from ssl_tasks.base import task_keys
from ssl_tasks.decoder_only import DecoderOnly

SPLITS = ("train", "val", "test")


def default_device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def source_features(run_dir: Path, source: FeatureSource, splits: Splits, parts=SPLITS) -> dict[str, Features]:
    images = {"train": splits.train, "val": splits.val, "test": splits.test, "outliers": splits.outliers}
    return {
        name: cached_features(
            run_dir / "features", source.identity, name, images[name], source.extract, use_cache=source.cache
        )
        for name in parts
    }


def check_integrity(splits: Splits) -> None:
    """Train and validation are disjoint draws from the original training set; the test set is separate."""
    overlap = set(splits.train.index.tolist()) & set(splits.val.index.tolist())
    if overlap:
        raise AssertionError(f"{len(overlap)} images are in both the training and validation splits")


def all_label_metrics(parts: dict[str, Features], cfg: Config, num_classes: int) -> dict:
    """kNN accuracy over k, retrieval and clustering with every training label."""
    train, test, e = parts["train"], parts["test"], cfg.eval
    out = {
        **neighbour_metrics(
            train.x, train.y, test.x, test.y, tuple(e.knn_ks), tuple(e.retrieval_ks), e.knn_temperature
        ),
        "clustering": kmeans_clustering(test.x, test.y, seed=cfg.train.seed, restarts=e.clustering_restarts),
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
    positions = labelled_subsets(splits.train.labels, [per_class], 1, cfg.train.seed)[0][2]
    parts = {"train": splits.train.take(positions), "val": splits.val, "test": splits.test}
    layered = {
        split: encode_layers(encoder, imgs.images, names + ["proj"], device=device) for split, imgs in parts.items()
    }
    rows = []
    for name in names + ["proj"]:
        feats = {split: Features(layered[split][name], imgs.labels, imgs.index) for split, imgs in parts.items()}
        result = linear_probe(
            feats["train"],
            feats["val"],
            feats["test"],
            cfg.eval.linear_l2,
            cfg.eval.linear_max_iter,
            splits.num_classes,
        )
        rows.append(
            {
                "layer": "code" if name == "proj" else name,
                "dim": feats["train"].x.shape[1],
                "labels_per_class": per_class,
                "val_accuracy": result["val_accuracy"],
                "accuracy": result["accuracy"],
                "l2": result["l2"],
            }
        )
    return rows


def outlier_detection(run_dir, cfg, splits, sources, features, device) -> dict:
    """AUROC of held-out-class test images against the seen-class test images."""
    if splits.outliers is None:
        return {}
    positive = torch.cat(
        [torch.zeros(len(splits.test), dtype=torch.bool), torch.ones(len(splits.outliers), dtype=torch.bool)]
    )
    scores = {}
    for source in sources:
        extra = source_features(run_dir, source, splits, ("outliers",))["outliers"]
        queries = torch.cat([features[source.name]["test"].x, extra.x])
        scores[f"knn_distance[{source.name}]"] = knn_distance_scores(
            features[source.name]["train"].x, queries, cfg.eval.outlier_knn_k
        )
    encoder, tasks = load_task_heads(run_dir, cfg, splits)
    images = torch.cat([splits.test.images, splits.outliers.images])
    for key, task in zip(task_keys([t.name for t in cfg.tasks]), tasks):
        if isinstance(task, DecoderOnly):
            scores[f"code_inference_loss[{key}]"] = task.infer(encoder.to(device), images, device)[1]
        elif hasattr(task, "forward_decoder"):
            scores[f"reconstruction_error[{key}]"] = reconstruction_scores(encoder, task, images, device)
    return {
        "holdout_classes": cfg.data.holdout_classes,
        "positives": int(positive.sum()),
        "negatives": int((~positive).sum()),
        "auroc": {name: auroc(s, positive) for name, s in scores.items()},
    }


def pop_predictions(records: list[dict]) -> dict[tuple, torch.Tensor]:
    """Take the per-image test predictions out of the records (they stay out of report.json)."""
    return {(r["source"], r["protocol"], r["labels_per_class"], r["seed"]): r.pop("test_predictions") for r in records}


def random_encoder(run_dir: Path, seed: int) -> Encoder:
    torch.manual_seed(seed)
    return Encoder(load_encoder_spec(run_dir)).eval()


def evaluate_run(run_dir: Path, baselines: list[str] | None = None, overrides: list[str] = ()) -> tuple[dict, dict]:
    """(report, artefacts): report is JSON-ready; artefacts hold tensors for plots and exports."""
    run_dir = Path(run_dir)
    cfg = load_run_config(run_dir, overrides)
    if baselines is not None:
        cfg.eval.baselines = baselines
    splits = load_splits_checked(cfg)
    device = default_device()
    sources = feature_sources(run_dir, cfg, splits, cfg.eval.baselines, device)
    features = {s.name: source_features(run_dir, s, splits) for s in sources}
    print(f"features ready: {', '.join(features)}; running the scarce-label grid ...", flush=True)
    records = frozen_grid(features, cfg.eval, splits.num_classes, cfg.train.seed)
    if cfg.eval.finetune.enabled:
        encoders = {"encoder": load_encoder(run_dir), "scratch": random_encoder(run_dir, cfg.train.seed)}
        records += finetune_grid(encoders, splits, cfg.eval, device, cfg.train.seed)
    predictions = pop_predictions(records)
    print("all-label metrics, layer probe, outliers ...", flush=True)
    report = {
        "run": cfg.name,
        "dataset": cfg.data.name,
        "encoder": cfg.encoder.name,
        "code_dim": cfg.encoder.code_dim,
        "config_hash": config_hash(cfg),
        "git_commit": git_commit(),
        "settings": {
            **config_to_dict(cfg.eval),
            "train_size": len(splits.train),
            "val_size": len(splits.val),
            "test_size": len(splits.test),
            "classes": list(splits.classes),
        },
        "records": records,
        "summary": summarise(records),
        "all_labels": {name: all_label_metrics(parts, cfg, splits.num_classes) for name, parts in features.items()},
        "layers": layer_probe(load_encoder(run_dir), splits, cfg, device),
        "outliers": outlier_detection(run_dir, cfg, splits, sources, features, device),
        "sources": {s.name: s.description for s in sources},
    }
    return report, {"cfg": cfg, "splits": splits, "features": features, "predictions": predictions, "device": device}


def load_splits_checked(cfg: Config) -> Splits:
    splits = load_splits(cfg.data)
    check_integrity(splits)
    return splits
