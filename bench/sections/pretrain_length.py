"""Section 10: transfer against pretraining time.

Section 1 pretrains every method for 2-3 epochs; published curves (SimCLR, BYOL) keep rising
for hundreds. Here some of section 1's methods are pretrained at several lengths and each
point is evaluated as the leaderboard does (kNN and linear probe at a scarce budget and with
all labels; fine-tuned minus supervised-from-scratch at a larger one), beside raw pixels, PCA
and an MLP head on pixels, against the pretraining minutes the point took on the machine.

Beside length, capacity and views compete for the same minutes: variants of the best method
(a wider and a deeper small ResNet, stronger crops) run at two lengths on the same axis, and
each is set against the base method's point of the nearest pretraining time.

Points run shortest first, every method at a length before any method at the next, so a
sitting cut short (``stop_after_minutes``) has measured the same lengths of every method; the
same command run again reuses the finished runs and reads their evaluations back from the
store, and goes on with the rest. A point budget (``point_minutes``) cuts the points whose
pretraining, predicted from the same run's shorter points, would not fit, and says so.
"""

from __future__ import annotations

import dataclasses
import json
import time
from dataclasses import dataclass
from pathlib import Path

from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from bench.figures import monitor_plot, pretrain_length_plot
from bench.interface import Section, register_section
from bench.length_section import length_finding, length_section
from bench.runs import bench_config, finished, pretrain
from bench.scales import Scale
from bench.sections.leaderboard import ENTRIES, architecture, listed
from evaluate.entry import EvaluationSettings, evaluate_run
from evaluate.report_types import to_plain
from pretrain.core.config import Config

MONITOR_TAG = "monitor/val_knn_accuracy"  # what the trainer's kNN monitor logs (pretrain/engine.py)

# Capacity and views of the best method of the length study, on the same minutes axis:
# name -> (label, the leaderboard entry it varies, its overrides).
VARIANTS = {
    "vicreg_w64": ("VICReg, small ResNet width 64", "vicreg", ("encoder.width=64",)),
    "vicreg_deep": ("VICReg, small ResNet blocks [2, 2, 2]", "vicreg", ("encoder.blocks=[2,2,2]",)),
    "vicreg_crops20": ("VICReg, crops 20-100%", "vicreg", ("tasks.0.augment.crop_scale=[0.2,1.0]",)),
}


@dataclass(frozen=True)
class PretrainLengthSettings:
    methods: tuple[str, ...] = ("vicreg", "contrastive", "barlow_twins", "lejepa", "ae_m64")  # at every length
    ends_only: tuple[str, ...] = ("byol", "dino", "vae")  # at the shortest and the longest length only
    epochs: tuple[float, ...] = (1.0, 3.0, 10.0, 30.0)
    variants: tuple[str, ...] = tuple(VARIANTS)  # capacity and views, at ``variant_epochs``
    variant_epochs: tuple[float, ...] = (3.0, 10.0)
    seeds: int = 2  # labelled subsets per scarce budget
    scarce: int = 10  # labels per class of the scarce columns
    finetune_labels: int = 100  # fine-tuned minus scratch at this budget
    finetune_max_epochs: float = 4.0
    finetune_min_steps: int = 250
    # >0: pretrain no new point after this many minutes (finished ones are still read back; run again to go on)
    stop_after_minutes: float = 0.0
    # >0: start no point predicted to pretrain longer (its run's minutes per epoch at its longest
    # point so far × epochs); it is cut and listed, and an ends_only method ends at the longest length that fits
    point_minutes: float = 0.0
    # the kNN monitor in the longest runs (steps between checks; 0 = off): the curve's shape between
    # the points; its checks add about 1-2% to those runs' minutes
    monitor_longest: int = 1000
    # further pretraining runs (seeds 1 ...) of the seeded points, so section 1's 8 paired
    # comparisons (against raw pixels and the random-init encoder) count pretraining runs
    pretrain_seeds: int = 2
    seeded: tuple[str, ...] = ()  # methods or variants given pretrain_seeds runs (() = every one)
    seed_epochs: tuple[float, ...] = ()  # at these lengths (() = the shortest and the longest)


@dataclass(frozen=True)
class Point:
    name: str  # the run's name stem: an entry of section 1 or a variant
    label: str
    config: str
    epochs: float
    overrides: tuple[str, ...] = ()
    variant_of: str = ""  # the entry a capacity or views variant changes
    seed: int = 0  # the pretraining seed: > 0 for a seeded point's further runs

    @property
    def run(self) -> str:
        return f"{self.name}_e{self.epochs:g}" + (f"_seed{self.seed}" if self.seed else "")


def points(sizes: PretrainLengthSettings) -> list[Point]:
    """Shortest first; ``ends_only`` methods at both ends only, variants at their own lengths."""
    entries = {name: (label, base) for name, label, base in ENTRIES}
    unknown = [v for v in sizes.variants if v not in VARIANTS]
    if unknown:
        raise ValueError(f"pretrain_length.variants: unknown {', '.join(unknown)}; choose from {', '.join(VARIANTS)}")
    orphans = [v for v in sizes.variants if VARIANTS[v][1] not in sizes.methods]
    if orphans:
        raise ValueError(f"pretrain_length.variants: {', '.join(orphans)} vary a method not in pretrain_length.methods")
    strays = [n for n in sizes.seeded if n not in (*sizes.methods, *sizes.ends_only, *sizes.variants)]
    if strays:
        raise ValueError(f"pretrain_length.seeded: {', '.join(strays)} not among the methods and variants measured")
    ends = (min(sizes.epochs), max(sizes.epochs))
    found = []
    for epochs in sorted({*sizes.epochs, *(sizes.variant_epochs if sizes.variants else ())}):
        group = []
        if epochs in sizes.epochs:
            group += [Point(n, *entries[n], epochs) for n in sizes.methods]
            group += [Point(n, *entries[n], epochs) for n in sizes.ends_only if epochs in ends]
        if epochs in sizes.variant_epochs:
            for name in sizes.variants:
                label, base, overrides = VARIANTS[name]
                group.append(Point(name, label, entries[base][1], epochs, overrides, base))
        found += group + further_seeds(group, sizes)
    return found


def further_seeds(group: list[Point], sizes: PretrainLengthSettings) -> list[Point]:
    """The further pretraining runs of the seeded points among ``group`` (one length), after
    every first run of that length."""
    lengths = sizes.seed_epochs or (min(sizes.epochs), max(sizes.epochs))
    chosen = [p for p in group if p.epochs in lengths and (not sizes.seeded or p.name in sizes.seeded)]
    return [dataclasses.replace(p, seed=seed) for seed in range(1, sizes.pretrain_seeds) for p in chosen]


def within_budget(point: Point, sizes: PretrainLengthSettings, minutes_per_epoch: dict[str, float]) -> Point | None:
    """``point``, or the shorter point to run in its place, or None (cut) under ``sizes.point_minutes``
    of predicted pretraining. A run with no point measured yet is not predicted; an ends_only
    method's longest end moves to the longest length between its ends that fits."""
    rate = minutes_per_epoch.get(point.name)
    if not sizes.point_minutes or rate is None or rate * point.epochs <= sizes.point_minutes:
        return point
    shortest, longest = min(sizes.epochs), max(sizes.epochs)
    if point.name in sizes.ends_only and point.epochs == longest:
        fits = [e for e in sizes.epochs if shortest < e < longest and rate * e <= sizes.point_minutes]
        return dataclasses.replace(point, epochs=max(fits)) if fits else None
    return None


def eval_overrides(sizes: PretrainLengthSettings, protocols: str, runs: int = 1) -> list[str]:
    """The section's evaluation, over the labelled subsets of ``runs`` pretraining runs."""
    return [
        f"eval.labels_per_class={listed([sizes.scarce, 0])}",
        f"eval.seeds={sizes.seeds * runs}",
        f"eval.protocols=[{protocols}]",
        f"eval.finetune.labels_per_class={listed([sizes.finetune_labels])}",
        f"eval.finetune.max_epochs={sizes.finetune_max_epochs}",
        f"eval.finetune.min_steps={sizes.finetune_min_steps}",
        "eval.layer_probe_labels_per_class=-1",
    ]


def cells(report, source: str, protocols: tuple[str, ...], budgets: tuple[int, ...]) -> dict[str, dict]:
    """{"<protocol> <budget>": summary row} of ``source`` (plain, as results.json holds it)."""
    found = {f"{p} {b}": report.summary_cell(source, p, b) for p in protocols for b in budgets}
    return {key: to_plain(row) for key, row in found.items() if row is not None}


def measure_point(cfg: Config, sizes: PretrainLengthSettings, seed: int = 0) -> dict:
    """One method at one length: its pretraining minutes, kNN and linear at the scarce budget
    and with all labels, and fine-tuned minus scratch with its paired interval. A further
    seed's run is read on its own labelled subsets (seed × seeds ...), without fine-tuning."""
    seconds = pretrain(cfg)
    overrides = eval_overrides(sizes, "knn,linear" if seed else "knn,linear,finetune")
    first = seed * sizes.seeds
    settings = EvaluationSettings(overrides, baselines=[], other_readings=False, first_seed=first, write=False)
    report = evaluate_run(cfg.run, settings)
    gain = next(
        (d for d in report.differences if (d.protocol, d.a, d.b) == ("finetune", "encoder", "scratch")),
        None,
    )
    return {
        "pretrain_seconds": seconds,
        "monitor": monitor_curve(cfg.run_path, seconds),
        "cells": cells(report, "encoder", ("knn", "linear"), (sizes.scarce, 0)),
        "finetune_gain": to_plain(gain) if gain else None,
        "architecture": architecture(cfg.run, cfg.eval.representation),
    }


def monitor_curve(run_dir: Path, seconds: float) -> list[list[float]]:
    """[[pretraining minutes, validation kNN accuracy], ...] from the run's TensorBoard log, the
    minutes read off the step (step / total steps × the run's minutes); [] without a monitor."""
    if not (run_dir / "tb").is_dir():
        return []
    tags = EventAccumulator(str(run_dir / "tb"), size_guidance={"scalars": 0}).Reload()
    if MONITOR_TAG not in tags.Tags()["scalars"]:
        return []
    total = json.loads((run_dir / "progress.json").read_text())["total_steps"]
    return [[e.step / total * seconds / 60, e.value] for e in tags.Scalars(MONITOR_TAG)]


def references(cfg: Config, sizes: PretrainLengthSettings) -> dict[str, dict]:
    """Raw pixels and PCA (to the code size of ``cfg``'s encoder) under kNN and the linear
    probe, and an MLP head on raw pixels: the horizontal lines every method is read against."""
    settings = EvaluationSettings(
        eval_overrides(sizes, "knn,linear,mlp_head"), ["raw_pixels", "pca"], run_sources=False, write=False
    )
    report = evaluate_run(cfg.run, settings)
    budgets = (sizes.scarce, 0)
    return {
        "raw pixels": cells(report, "raw_pixels", ("knn", "linear"), budgets),
        f"PCA (m = {cfg.run.spec.code_dim})": cells(report, "pca", ("knn", "linear"), budgets),
        "MLP head on raw pixels": cells(report, "raw_pixels", ("mlp_head",), budgets),
    }


def paired_baselines(configs: dict[str, Config], sizes: PretrainLengthSettings) -> list[dict]:
    """Raw pixels, and the random-init encoder of each architecture ({architecture: a config of
    it}), on the labelled subsets of every pretraining seed: the seeded points' references."""
    rows, budgets = [], (sizes.scarce, 0)
    overrides = eval_overrides(sizes, "knn,linear", runs=sizes.pretrain_seeds)
    for n, (arch, cfg) in enumerate(configs.items()):
        names = ["random_init", "raw_pixels"] if n == 0 else ["random_init"]
        report = evaluate_run(cfg.run, EvaluationSettings(overrides, names, run_sources=False, write=False))
        rows += [
            {"source": name, "architecture": arch, "cells": cells(report, name, ("knn", "linear"), budgets)}
            for name in names
        ]
    return rows


def point_config(point: Point, sizes: PretrainLengthSettings, scale: Scale, root: Path) -> Config:
    overrides = [f"train.epochs={point.epochs}", f"train.seed={point.seed}", *point.overrides]
    if point.epochs == max(sizes.epochs) and sizes.monitor_longest and not point.seed:
        overrides.append(f"monitor.every={sizes.monitor_longest}")
    return bench_config(point.config, point.run, scale, root / "pretrain_length", overrides)


def run_pretrain_length(scale: Scale, root: Path) -> dict:
    sizes, started = scale.of("pretrain_length"), time.perf_counter()
    rows, seed_rows, pending, cut, configs, seeded, rates = [], [], [], [], [], {}, {}
    for planned in points(sizes):
        cfg = point_config(planned, sizes, scale, root)
        point = planned if finished(cfg) else within_budget(planned, sizes, rates)
        if point is None:
            predicted = round(rates[planned.name] * planned.epochs, 1)
            cut.append({"method": planned.label, "epochs": planned.epochs, "seed": planned.seed, "minutes": predicted})
            continue
        cfg = cfg if point == planned else point_config(point, sizes, scale, root)
        late = sizes.stop_after_minutes and time.perf_counter() - started > 60 * sizes.stop_after_minutes
        if configs and late and not finished(cfg):  # a finished run is read back whatever the time
            pending.append({"method": point.label, "epochs": point.epochs, "seed": point.seed})
            continue
        print(f"   pretrain_length: {point.label}, {point.epochs:g} epochs, seed {point.seed}", flush=True)
        configs.append(cfg)
        measured = measure_point(cfg, sizes, point.seed)
        row = {"method": point.label, "run": point.name, "epochs": point.epochs, **measured}
        row.update({"variant_of": point.variant_of} if point.variant_of else {})
        (seed_rows if point.seed else rows).append(row | ({"seed": point.seed} if point.seed else {}))
        if point.seed:
            seeded.setdefault(row["architecture"], cfg)
        else:  # shortest first: the rate of the run's longest point so far
            rates[point.name] = measured["pretrain_seconds"] / 60 / point.epochs
    return {
        "rows": rows,
        "seed_rows": seed_rows,  # the seeded points' further runs (seed > 0)
        "paired_baselines": paired_baselines(seeded, sizes),
        "pretrain_seeds": sizes.pretrain_seeds,
        "pending": pending,
        "cut": cut,  # over the point budget (point_minutes)
        "point_minutes": sizes.point_minutes,
        "references": references(configs[0], sizes),  # the baselines only: its encoder is not read
        "scarce": sizes.scarce,
        "finetune_labels": sizes.finetune_labels,
        "seeds": sizes.seeds,
    }


SECTION = register_section(
    Section("pretrain_length", "10. Transfer against pretraining time", PretrainLengthSettings, run_pretrain_length,
            length_section, lambda data, folder: [pretrain_length_plot(data, folder / "pretrain_length.png"),
                                                   *monitor_plot(data, folder / "pretrain_length_monitor.png")],
            finding=length_finding)
)  # fmt: skip
