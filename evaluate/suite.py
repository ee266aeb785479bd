"""The scarce-label grid: every protocol, at every label budget, over several seeds.

Labelled subsets are class-balanced draws from the training split; the validation split
selects (probe strength, head and fine-tuning steps); the test split only scores. Each cell
is a ``Record``: (source, protocol, labels per class (0 = all), seed, result).
"""

from __future__ import annotations

import statistics
from collections import defaultdict

import torch
from tqdm.auto import tqdm

from evaluate.finetune import finetune
from evaluate.protocols import FROZEN_PROTOCOLS
from evaluate.results import ProtocolResult, Record
from pretrain.core.config import EvalConfig
from pretrain.core.data import Splits
from pretrain.core.samples import Features, balanced_subset


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


def assert_disjoint(labelled_index: torch.Tensor, val_index: torch.Tensor, train_index: torch.Tensor) -> None:
    """Labelled subsets come from the training split only and never touch validation."""
    labelled, val = set(labelled_index.tolist()), set(val_index.tolist())
    if labelled & val:
        raise AssertionError(f"{len(labelled & val)} labelled images are also validation images")
    if not labelled <= set(train_index.tolist()):
        raise AssertionError("a labelled subset reaches outside the training split")


def frozen_protocols(
    train: Features, val: Features, test: Features, cfg: EvalConfig, num_classes: int, seed: int
) -> dict[str, ProtocolResult]:
    """Every frozen protocol of the table on one labelled subset of frozen features."""
    return {p.name: p.run(train, val, test, cfg, num_classes, seed) for p in FROZEN_PROTOCOLS}


def frozen_grid(
    features: dict[str, dict[str, Features]], cfg: EvalConfig, num_classes: int, base_seed: int
) -> list[Record]:
    """Every frozen protocol for every feature source at every label budget and seed."""
    records = []
    first = next(iter(features.values()))
    subsets = labelled_subsets(first["train"].y, cfg.labels_per_class, cfg.seeds, base_seed)
    for per_class, seed, positions in tqdm(subsets, desc="label budgets", leave=False):
        assert_disjoint(first["train"].index[positions], first["val"].index, first["train"].index)
        for source, parts in features.items():
            results = frozen_protocols(
                parts["train"].take(positions), parts["val"], parts["test"], cfg, num_classes, seed
            )
            records += [Record(source, protocol, per_class, seed, result) for protocol, result in results.items()]
    return records


def finetune_grid(
    encoders: dict[str, torch.nn.Module], splits: Splits, cfg: EvalConfig, device, base_seed: int
) -> list[Record]:
    """Fine-tuning of each encoder (the pretrained one; random init = supervised from scratch)."""
    val = splits.val.subsample(cfg.finetune.val_images, base_seed)
    subsets = labelled_subsets(splits.train.y, cfg.labels_per_class, cfg.seeds, base_seed)
    records = []
    for per_class, seed, positions in tqdm(subsets, desc="fine-tuning", leave=False):
        labelled = splits.train.take(positions)
        for source, encoder in encoders.items():
            result = finetune(encoder, labelled, val, splits.test, splits.num_classes, cfg.finetune, seed, device)
            records.append(Record(source, "finetune", per_class, seed, result))
    return records


def summarise(records: list[Record]) -> list[dict]:
    """Mean and standard deviation of test accuracy over seeds, per (source, protocol, budget)."""
    groups: dict[tuple, list[float]] = defaultdict(list)
    for r in records:
        groups[(r.source, r.protocol, r.labels_per_class)].append(r.result.accuracy)
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
