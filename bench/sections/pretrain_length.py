"""Section 10: transfer against pretraining time.

Section 1 pretrains every method for 2-3 epochs; published curves (SimCLR, BYOL) keep rising
for hundreds. Here some of section 1's methods are pretrained at several lengths and each
point is evaluated as the leaderboard does (kNN and linear probe at a scarce budget and with
all labels; fine-tuned minus supervised-from-scratch at a larger one), beside raw pixels, PCA
and an MLP head on pixels, against the pretraining minutes the point took on the machine.

Points run shortest first, every method at a length before any method at the next, so a
sitting cut short (``stop_after_minutes``) has measured the same lengths of every method; the
same command run again reuses the finished runs and reads their evaluations back from the
store, and goes on with the rest.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from bench.figures import pretrain_length_plot
from bench.interface import Section, register_section
from bench.length_report import length_finding, length_section
from bench.runs import bench_config, pretrain
from bench.scales import Scale
from bench.sections.leaderboard import ENTRIES, architecture, listed
from evaluate.entry import EvaluationSettings, evaluate_run
from evaluate.report_types import to_plain
from pretrain.core.config import Config


@dataclass(frozen=True)
class PretrainLengthSettings:
    methods: tuple[str, ...] = ("vicreg", "contrastive", "barlow_twins", "lejepa", "ae_m64")  # at every length
    ends_only: tuple[str, ...] = ("byol", "dino", "vae")  # at the shortest and the longest length only
    epochs: tuple[float, ...] = (3.0, 10.0, 30.0)
    seeds: int = 2  # labelled subsets per scarce budget
    scarce: int = 10  # labels per class of the scarce columns
    finetune_labels: int = 100  # fine-tuned minus scratch at this budget
    finetune_max_epochs: float = 4.0
    finetune_min_steps: int = 250
    stop_after_minutes: float = 0.0  # >0: start no new point after this many minutes (run again to go on)


def points(sizes: PretrainLengthSettings) -> list[tuple[str, str, str, float]]:
    """(entry, label, config, epochs), shortest first; ``ends_only`` methods at both ends only."""
    entries = {name: (label, base) for name, label, base in ENTRIES}
    ends = (min(sizes.epochs), max(sizes.epochs))
    return [
        (name, *entries[name], epochs)
        for epochs in sorted(sizes.epochs)
        for name in (*sizes.methods, *sizes.ends_only)
        if name in sizes.methods or epochs in ends
    ]


def eval_overrides(sizes: PretrainLengthSettings, protocols: str) -> list[str]:
    return [
        f"eval.labels_per_class={listed([sizes.scarce, 0])}",
        f"eval.seeds={sizes.seeds}",
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


def measure_point(cfg: Config, sizes: PretrainLengthSettings) -> dict:
    """One method at one length: its pretraining minutes, kNN and linear at the scarce budget
    and with all labels, and fine-tuned minus scratch with its paired interval."""
    seconds = pretrain(cfg)
    overrides = eval_overrides(sizes, "knn,linear,finetune")
    settings = EvaluationSettings(overrides, baselines=[], other_readings=False, write=False)
    report = evaluate_run(cfg.run, settings)
    gain = next(
        (d for d in report.differences if (d.protocol, d.a, d.b) == ("finetune", "encoder", "scratch")),
        None,
    )
    return {
        "pretrain_seconds": seconds,
        "cells": cells(report, "encoder", ("knn", "linear"), (sizes.scarce, 0)),
        "finetune_gain": to_plain(gain) if gain else None,
        "architecture": architecture(cfg.run, cfg.eval.representation),
    }


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


def run_pretrain_length(scale: Scale, root: Path) -> dict:
    sizes, started = scale.of("pretrain_length"), time.perf_counter()
    rows, pending, configs = [], [], []
    for name, label, base, epochs in points(sizes):
        if configs and sizes.stop_after_minutes and time.perf_counter() - started > 60 * sizes.stop_after_minutes:
            pending.append({"method": label, "epochs": epochs})
            continue
        print(f"   pretrain_length: {label}, {epochs:g} epochs", flush=True)
        overrides = [f"train.epochs={epochs}", "train.seed=0"]
        configs.append(bench_config(base, f"{name}_e{epochs:g}", scale, root / "pretrain_length", overrides))
        rows.append({"method": label, "run": name, "epochs": epochs, **measure_point(configs[-1], sizes)})
    return {
        "rows": rows,
        "pending": pending,
        "references": references(configs[0], sizes),  # the baselines only: its encoder is not read
        "scarce": sizes.scarce,
        "finetune_labels": sizes.finetune_labels,
        "seeds": sizes.seeds,
    }


SECTION = register_section(
    Section("pretrain_length", "10. Transfer against pretraining time", PretrainLengthSettings, run_pretrain_length,
            length_section, lambda data, folder: [pretrain_length_plot(data, folder / "pretrain_length.png")],
            finding=length_finding)
)  # fmt: skip
