"""The scarce-label grid: every protocol, at every label budget, over several seeds.

Labelled subsets are class-balanced draws from the training split; the validation split
selects (probe strength, head and fine-tuning steps); the test split only scores.
Each record is {"source", "protocol", "labels_per_class" (0 = all), "seed", **metrics}.
"""

from __future__ import annotations

import statistics
from collections import defaultdict

import torch
from tqdm.auto import tqdm

from evaluate.features import Features
from evaluate.finetune import finetune
from evaluate.head import mlp_head_probe
from evaluate.knn import knn_classifier
from evaluate.linear import linear_probe
from pretrain.config import EvalConfig
from pretrain.data import ImageSet, Splits, balanced_subset


def labelled_subsets(labels: torch.Tensor, budgets: list[int], seeds: int, base_seed: int):
    """[(labels_per_class, seed, positions)]: ``seeds`` draws per budget, one for 0 (= all)."""
    out = []
    for per_class in budgets:
        if per_class == 0:
            out.append((0, 0, torch.arange(len(labels))))
        else:
            out += [
                (per_class, s, balanced_subset(labels, per_class, base_seed + 1000 * s + per_class))
                for s in range(seeds)
            ]
    return out


def take(features: Features, positions: torch.Tensor) -> Features:
    return Features(features.x[positions], features.y[positions], features.index[positions])


def assert_disjoint(labelled_index: torch.Tensor, val_index: torch.Tensor, train_index: torch.Tensor) -> None:
    """Labelled subsets come from the training split only and never touch validation."""
    labelled, val = set(labelled_index.tolist()), set(val_index.tolist())
    if labelled & val:
        raise AssertionError(f"{len(labelled & val)} labelled images are also validation images")
    if not labelled <= set(train_index.tolist()):
        raise AssertionError("a labelled subset reaches outside the training split")


def frozen_protocols(
    train: Features, val: Features, test: Features, cfg: EvalConfig, num_classes: int, seed: int
) -> dict:
    """Linear probe, MLP head and kNN on one labelled subset of frozen features."""
    h = cfg.head
    return {
        "linear": linear_probe(train, val, test, cfg.linear_l2, cfg.linear_max_iter, num_classes),
        "mlp_head": mlp_head_probe(
            train,
            val,
            test,
            num_classes,
            h.hidden,
            h.layers,
            h.lr,
            h.weight_decay,
            h.batch_size,
            h.max_steps,
            h.eval_every,
            h.patience,
            seed,
        ),
        "knn": knn_classifier(
            train.x, train.y, test.x, test.y, min(cfg.knn_k, len(train)), cfg.knn_temperature, num_classes
        ),
    }


def frozen_grid(
    features: dict[str, dict[str, Features]], cfg: EvalConfig, num_classes: int, base_seed: int
) -> list[dict]:
    """Every frozen protocol for every feature source at every label budget and seed."""
    records = []
    first = next(iter(features.values()))
    subsets = labelled_subsets(first["train"].y, cfg.labels_per_class, cfg.seeds, base_seed)
    for per_class, seed, positions in tqdm(subsets, desc="label budgets", leave=False):
        assert_disjoint(first["train"].index[positions], first["val"].index, first["train"].index)
        for source, parts in features.items():
            results = frozen_protocols(
                take(parts["train"], positions), parts["val"], parts["test"], cfg, num_classes, seed
            )
            records += [
                {"source": source, "protocol": p, "labels_per_class": per_class, "seed": seed, **m}
                for p, m in results.items()
            ]
    return records


def finetune_grid(
    encoders: dict[str, torch.nn.Module], splits: Splits, cfg: EvalConfig, device, base_seed: int
) -> list[dict]:
    """Fine-tuning of each encoder (the pretrained one; random init = supervised from scratch)."""
    val = splits.val
    if cfg.finetune.val_images and cfg.finetune.val_images < len(val):
        val = val.take(
            torch.randperm(len(val), generator=torch.Generator().manual_seed(base_seed))[: cfg.finetune.val_images]
        )
    records = []
    for per_class, seed, positions in tqdm(
        labelled_subsets(splits.train.labels, cfg.labels_per_class, cfg.seeds, base_seed),
        desc="fine-tuning",
        leave=False,
    ):
        labelled: ImageSet = splits.train.take(positions)
        for source, encoder in encoders.items():
            result = finetune(encoder, labelled, val, splits.test, splits.num_classes, cfg.finetune, seed, device)
            records.append(
                {"source": source, "protocol": "finetune", "labels_per_class": per_class, "seed": seed, **result}
            )
    return records


def summarise(records: list[dict]) -> list[dict]:
    """Mean and standard deviation of test accuracy over seeds, per (source, protocol, budget)."""
    groups: dict[tuple, list[float]] = defaultdict(list)
    for r in records:
        groups[(r["source"], r["protocol"], r["labels_per_class"])].append(r["accuracy"])
    return [
        {
            "source": s,
            "protocol": p,
            "labels_per_class": n,
            "mean": statistics.fmean(v),
            "std": statistics.stdev(v) if len(v) > 1 else 0.0,
            "n": len(v),
        }
        for (s, p, n), v in groups.items()
    ]
