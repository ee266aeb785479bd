"""The scarce-label grid: every protocol, at every label budget, over several seeds.

Labelled subsets are class-balanced draws from the training split; validation images
select (probe strength, head and fine-tuning steps, the scratch learning rate) and are, by
default, as scarce as the labels they serve (``eval.val_per_class: matched``, after Oliver
et al. 2018, "Realistic Evaluation of Deep Semi-Supervised Learning Algorithms"); the test
split only scores. Each cell is a ``Record``: (source, protocol, labels per class (0 = all),
seed, result). With all labels, whatever is random (a head's initialisation, fine-tuning,
a random-init encoder) runs once per seed too.
"""

from __future__ import annotations

import statistics
import weakref
from collections import defaultdict

import torch
from tqdm.auto import tqdm

from evaluate.baselines import BASELINES
from evaluate.cells import CellStore, digest
from evaluate.report_types import Difference, SummaryRow
from evaluate.results import Record
from evaluate.settings import VAL_PER_CLASS_MODES, EvalConfig
from evaluate.uncertainty import accuracy_interval, paired_difference
from pretrain.core.config import ConfigError
from pretrain.core.samples import Features, Samples, balanced_subset

MIN_VAL_PER_CLASS = 5


def feature_digest(part: Features | Samples) -> str:
    """Digest of a split's rows and labels, computed once per pair of tensors (the test split
    is shared by every cell of a source); the memo forgets a pair when its rows are freed."""
    key = (id(part.x), id(part.y))
    held = _DIGESTS.get(key)
    if held is None or held[0]() is not part.x or held[1]() is not part.y:
        forget = lambda _ref, key=key: _DIGESTS.pop(key, None)  # noqa: E731
        held = (weakref.ref(part.x, forget), weakref.ref(part.y), digest(part.x, part.y))
        _DIGESTS[key] = held
    return held[2]


_DIGESTS: dict[tuple[int, int], tuple] = {}


def unlabelled_pool(train: Features) -> Features:
    """Every training row with its labels hidden (-1): all a semi-supervised protocol may read
    of the split. One object per split's rows (so its digest is computed once), forgotten with them."""
    key = id(train.x)
    held = _POOLS.get(key)
    if held is None or held[0]() is not train.x:
        forget = lambda _ref, key=key: _POOLS.pop(key, None)  # noqa: E731
        held = (weakref.ref(train.x, forget), Samples(train.x, torch.full_like(train.y, -1), train.index))
        _POOLS[key] = held
    return held[1]


_POOLS: dict[int, tuple] = {}


def labelled_subsets(labels: torch.Tensor, budgets: list[int], seeds: int, base_seed: int, first_seed: int = 0):
    """[(labels_per_class, seed, positions)]: ``seeds`` draws per budget (seeds ``first_seed`` ...
    ``first_seed + seeds - 1``, so runs given disjoint ranges draw disjoint subsets and share
    them with a reference evaluated over the whole range); for 0 (= all) every seed gets every
    position (what differs between them is the protocols' own randomness)."""
    out = []
    for per_class in budgets:
        for s in range(first_seed, first_seed + seeds):
            if per_class == 0:
                out.append((0, s, torch.arange(len(labels))))
            else:
                out.append((per_class, s, balanced_subset(labels, per_class, base_seed + 1000 * s + per_class)))
    return out


def validation_subset(val: Samples, per_class: int, mode: str, seed: int) -> Samples:
    """The validation images that select settings for a budget of ``per_class`` labels:
    ``full`` (or all labels): the whole split; ``matched``: max(5, per_class) per class."""
    if mode not in VAL_PER_CLASS_MODES:
        raise ConfigError(f"eval.val_per_class: {mode!r} is unknown; choose from {', '.join(VAL_PER_CLASS_MODES)}")
    if mode == "full" or per_class == 0:
        return val
    smallest = int(torch.bincount(val.y)[val.y.unique()].min())
    wanted = min(max(MIN_VAL_PER_CLASS, per_class), smallest)
    return val.take(balanced_subset(val.y, wanted, seed + 7919))  # a seed of its own: not the labelled draw's


def assert_disjoint(labelled_index: torch.Tensor, val_index: torch.Tensor, train_index: torch.Tensor) -> None:
    """Labelled subsets come from the training split only and never touch validation."""
    labelled, val = set(labelled_index.tolist()), set(val_index.tolist())
    if labelled & val:
        raise AssertionError(f"{len(labelled & val)} labelled images are also validation images")
    if not labelled <= set(train_index.tolist()):
        raise AssertionError("a labelled subset reaches outside the training split")


def runs_here(protocol, per_class: int, seed: int, first_seed: int, seeded_source: bool) -> bool:
    """With all labels, a deterministic protocol on a fixed source gives one answer: run it
    once; a protocol that does not run at a budget (``runs_at``) is left out there."""
    if not protocol.runs_at(per_class):
        return False
    return per_class != 0 or seed == first_seed or protocol.stochastic or seeded_source


def frozen_cell(
    cells: CellStore | None,
    protocol,
    parts: tuple,
    cfg: EvalConfig,
    num_classes: int,
    seed: int,
    pool: Features,
    digests: list[str] | None = None,
):
    """One frozen protocol on (train, val, test) Features, from ``cells`` where it was computed
    before; a protocol that ``uses_unlabelled`` also reads ``pool`` (every training row, labels
    hidden). ``digests``: of (train, val, test), computed once for every protocol on these parts."""
    train, val, test = parts
    extra = {"pool": pool, "cells": cells} if protocol.uses_unlabelled else {}
    compute = lambda: protocol.fit(train, val, test, cfg, num_classes, seed, **extra)  # noqa: E731
    if cells is None or not cells.enabled:
        return compute()
    key = {
        "protocol": protocol.name,
        "settings": protocol.cell_settings(cfg),
        "features": digests or part_digests(parts),
        "classes": num_classes,
        "seed": seed,
    }
    if protocol.uses_unlabelled:
        key["pool"] = feature_digest(pool)
    return cells.get(protocol.name, key, compute, code=protocol)


def part_digests(parts: tuple) -> list[str]:
    """Digests of (train, val, test) Features: the subsets' own, the shared test split's memoised."""
    train, val, test = parts
    return [digest(train.x, train.y), digest(val.x, val.y), feature_digest(test)]


def frozen_grid(
    features: dict[str, dict[str, Features]],
    cfg: EvalConfig,
    num_classes: int,
    base_seed: int,
    protocols: list,
    variants: dict[str, list[dict[str, Features]]] | None = None,
    first_seed: int = 0,
    cells: CellStore | None = None,
) -> list[Record]:
    """Every frozen protocol of ``protocols`` (evaluate.contract.FrozenProtocol) for every
    feature source at every label budget and seed, in one pass over the labelled subsets.
    ``variants[source][seed]`` replaces ``features[source]`` for sources drawn anew per seed
    (random init); ``cells`` keeps each finished cell (evaluate.cells)."""
    records, variants = [], variants or {}
    first = next(iter(features.values()))
    subsets = labelled_subsets(first["train"].y, cfg.labels_per_class, cfg.seeds, base_seed, first_seed)
    for per_class, seed, positions in tqdm(subsets, desc="label budgets", leave=False):
        assert_disjoint(first["train"].index[positions], first["val"].index, first["train"].index)
        val_rows = validation_subset(
            first["val"].with_rows(torch.arange(len(first["val"]))), per_class, cfg.val_per_class, base_seed + seed
        ).x
        for source, parts in features.items():
            parts = variants[source][seed % len(variants[source])] if source in variants else parts
            train, val = parts["train"].take(positions), parts["val"].take(val_rows)
            pool, split = unlabelled_pool(parts["train"]), (train, val, parts["test"])
            chosen = [p for p in protocols if runs_here(p, per_class, seed, first_seed, source in variants)]
            digests = part_digests(split) if chosen and cells is not None and cells.enabled else None
            for p in chosen:
                result = frozen_cell(cells, p, split, cfg, num_classes, seed, pool, digests)
                records.append(Record(source, p.name, per_class, seed, result))
    return records


def group_results(records: list[Record]) -> dict[tuple, dict[int, object]]:
    """{(source, protocol, labels_per_class): {seed: result}}."""
    groups: dict[tuple, dict[int, object]] = defaultdict(dict)
    for r in records:
        groups[(r.source, r.protocol, r.labels_per_class)][r.seed] = r.result
    return groups


def warning_flags(results: list) -> list[str]:
    """What may make a cell's number unsafe (each result's own ``flags()``), with how many of
    its seeds raised it, in the order its result type declares (``FLAGS``), others after."""
    counts: dict[str, int] = {}
    for r in results:
        for flag in r.flags():
            counts[flag] = counts.get(flag, 0) + 1
    declared = [f for f in getattr(type(results[0]), "FLAGS", ()) if f in counts] if results else []
    order = declared + [f for f in counts if f not in declared]
    return [f"{name} {counts[name]}/{len(results)}" for name in order]


def summarise(
    records: list[Record], test_labels: torch.Tensor, resamples: int = 1000, seed: int = 0
) -> list[SummaryRow]:
    """Per (source, protocol, budget): mean and std of test accuracy over seeds, and a 95%
    interval of the mean (t over seeds with few labels; bootstrap over test images with all)."""
    rows = []
    for (source, protocol, per_class), results in group_results(records).items():
        accuracies = [r.accuracy for r in results.values()]
        low, high, how = accuracy_interval(results, test_labels, per_class == 0, resamples, seed)
        rows.append(
            SummaryRow(
                source=source,
                protocol=protocol,
                labels_per_class=per_class,
                mean=statistics.fmean(accuracies),
                std=statistics.stdev(accuracies) if len(accuracies) > 1 else 0.0,
                n=len(accuracies),
                ci_low=low,
                ci_high=high,
                interval=how,
                balanced_accuracy=statistics.fmean(r.balanced_accuracy for r in results.values()),
                flags=warning_flags(list(results.values())),
                by_seed={str(seed): r.accuracy for seed, r in results.items()},  # for pairing across runs
            )
        )
    return rows


def comparisons(records: list[Record], references: tuple[str, ...]) -> list[tuple[str, str, str]]:
    """(protocol, learned source, reference source) pairs: each learned source against every
    reference (the baselines, and what protocols declare, e.g. supervised-from-scratch),
    under each protocol both ran."""
    ran = defaultdict(set)
    for r in records:
        ran[r.protocol].add(r.source)
    return [
        (protocol, a, b)
        for protocol, sources in ran.items()
        for a in sorted(s for s in sources if s not in references)
        for b in references
        if b in sources
    ]


def counterpart_differences(
    records: list[Record], test_labels: torch.Tensor, counterparts: dict[str, str], resamples: int = 1000, seed: int = 0
) -> list[Difference]:
    """Semi-supervised minus supervised on the same source: each protocol of ``counterparts``
    ({semi-supervised: supervised}) against its counterpart, per budget both ran, paired over
    the shared labelled subsets (their seeds)."""
    groups, rows = group_results(records), []
    for (source, protocol, per_class), semi in sorted(groups.items(), key=lambda kv: kv[0]):
        other = groups.get((source, counterparts[protocol], per_class)) if protocol in counterparts else None
        if other is not None:
            diff = paired_difference(semi, other, test_labels, per_class == 0, resamples, seed)
            rows.append(Difference(protocol, source, source, per_class, versus=counterparts[protocol], **diff))
    return rows


def paired_differences(
    records: list[Record],
    test_labels: torch.Tensor,
    resamples: int = 1000,
    seed: int = 0,
    references: tuple[str, ...] = BASELINES,
) -> list[Difference]:
    """Accuracy differences (learned − reference) per protocol and budget with 95% intervals and a verdict."""
    groups, rows = group_results(records), []
    budgets = sorted({r.labels_per_class for r in records}, key=lambda b: (b == 0, b))
    for protocol, a, b in comparisons(records, references):
        for per_class in budgets:
            if (a, protocol, per_class) in groups and (b, protocol, per_class) in groups:
                pair = (groups[(a, protocol, per_class)], groups[(b, protocol, per_class)])
                diff = paired_difference(*pair, test_labels, per_class == 0, resamples, seed)
                rows.append(Difference(protocol=protocol, a=a, b=b, labels_per_class=per_class, **diff))
    return rows
