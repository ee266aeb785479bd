"""Section 1: every pretext task on the same encoder and epoch budget, evaluated with the
suite's protocols on cached features (linear, MLP head, kNN at 1/10/100/all labels per
class, k-means clustering) and fine-tuned at 1/10/100 labels per class, beside the
baselines (raw pixels, PCA, random-init encoder, supervised from scratch)."""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

from bench.runs import bench_config, pretrain
from bench.scales import Scale
from evaluate.baselines import REFERENCE_SOURCES, feature_sources, random_encoder
from evaluate.features import source_features
from evaluate.run import all_label_metrics, default_device, load_splits_checked, seeded_variants
from evaluate.suite import finetune_grid, frozen_grid, summarise
from pretrain.core.config import load_run_config
from pretrain.core.export import load_encoder_spec, load_task_heads

# (run name, representation label, base config); decoder-only yields two representations.
ENTRIES = (
    ("ae_mirror", "AE, mirror decoder", "configs/ae_fmnist.yaml"),
    ("ae_linear", "AE, linear decoder", "configs/ae_linear_fmnist.yaml"),
    ("denoising", "denoising AE (50% masking)", "configs/dae_fmnist.yaml"),
    ("decoder_only", "decoder-only, distilled encoder", "configs/decoder_only_fmnist.yaml"),
    ("relpos", "relative position", "configs/relpos_fmnist.yaml"),
    ("ae_relpos", "AE + relative position (0.5)", "configs/ae_relpos_fmnist.yaml"),
    ("vae", "VAE (beta = 1)", "configs/vae_fmnist.yaml"),
    ("relpos_resnet", "relative position, small ResNet, native crops", "configs/relpos_resnet_fmnist.yaml"),
    ("masked", "masked reconstruction, small ResNet", "configs/masked_fmnist.yaml"),
    ("contrastive", "contrastive (SimCLR), small ResNet", "configs/contrastive_fmnist.yaml"),
)
BASELINES = ("raw_pixels", "pca", "random_init")


def representation_label(label: str, source: str) -> str:
    """The leaderboard row name of ``source`` from the run labelled ``label``."""
    if source == "encoder":
        return label
    if source in ("encoder_code", "encoder_pooled"):  # the representation beside the headline
        return f"{label} ({source.removeprefix('encoder_')})"
    return LABELS[source]


LABELS = {
    "decoder_only_codes": "decoder-only, inferred codes",
    "raw_pixels": "raw pixels",
    "pca": "PCA (m = code size)",
    "random_init": "random-init encoder",
    "scratch": "supervised from scratch",
}


def eval_overrides(scale: Scale) -> list[str]:
    return [
        f"eval.labels_per_class=[{','.join(map(str, scale.frozen_labels))}]",
        f"eval.seeds={scale.seeds}",
        f"eval.finetune.max_epochs={scale.finetune_max_epochs}",
        f"eval.finetune.min_steps={scale.finetune_min_steps}",
    ]


def evaluate_representations(run_dir: Path, baselines: tuple[str, ...], scale: Scale) -> tuple[dict[str, dict], int]:
    """({source: {"summary": [...], "all_labels": {...}}}, training images per class) for the run's
    encoder (+ decoder-only codes) and ``baselines``; fine-tuning for the encoder, and from
    scratch with the baselines."""
    cfg = load_run_config(run_dir, eval_overrides(scale))
    splits, device, seed = load_splits_checked(cfg), default_device(), cfg.train.seed
    encoder, tasks = load_task_heads(run_dir, cfg)
    sources = feature_sources(run_dir, cfg, splits, list(baselines), device, encoder, tasks)
    features = {s.name: source_features(run_dir, s, splits) for s in sources}
    variants = seeded_variants(run_dir, cfg, splits, device, list(features))
    records = frozen_grid(features, cfg.eval, splits.num_classes, seed, variants)
    spec = load_encoder_spec(run_dir)
    scratch = (lambda s: random_encoder(spec, s)) if baselines else None
    finetune_cfg = dataclasses.replace(cfg.eval, labels_per_class=list(scale.finetune_labels))
    records += finetune_grid(encoder, scratch, splits, finetune_cfg, device, seed)
    summary = summarise(records, splits.test.y, cfg.eval.bootstrap, seed)
    out = {}
    for source in dict.fromkeys(r["source"] for r in summary):
        metrics = all_label_metrics(features[source], cfg, splits.num_classes) if source in features else {}
        out[source] = {"summary": [r for r in summary if r["source"] == source], "all_labels": metrics}
    return out, len(splits.train) // splits.num_classes


def run_leaderboard(scale: Scale, root: Path) -> dict:
    rows = []
    for index, (name, label, base) in enumerate(ENTRIES):
        cfg = bench_config(base, name, scale, root / "leaderboard", [f"train.epochs={scale.leaderboard_epochs}"])
        seconds = pretrain(cfg)
        started = time.perf_counter()
        results, full_per_class = evaluate_representations(cfg.run_path, BASELINES if index == 0 else (), scale)
        eval_seconds = round(time.perf_counter() - started, 1)
        for source, result in results.items():
            learned = source not in REFERENCE_SOURCES
            rows.append(
                {
                    "representation": representation_label(label, source),
                    "kind": "task" if learned else "baseline",
                    "run": name,
                    "source": source,
                    "pretrain_seconds": seconds if learned else None,
                    "eval_seconds": eval_seconds,
                    **result,
                }
            )
    rows.sort(key=lambda r: r["kind"] == "baseline")  # tasks first, then the baselines
    return {
        "rows": rows,
        "epochs": scale.leaderboard_epochs,
        "seeds": scale.seeds,
        "frozen_labels": list(scale.frozen_labels),
        "finetune_labels": list(scale.finetune_labels),
        "finetune_max_epochs": scale.finetune_max_epochs,
        "finetune_min_steps": scale.finetune_min_steps,
        "full_per_class": full_per_class,
    }
