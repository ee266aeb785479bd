"""The leaderboard's targets (bench/targets.yaml), read off its rows: each says met, or the measured gap.

A target on "the best task" takes the highest mean over the tasks, which is biased upward
(the best of several noisy means); the table names which task it was.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from bench.verdicts import (
    MARKS_LEGEND,
    cell,
    paired_cell,
    paired_difference,
    protocol_budget,
    reference_row,
    seeds_per_run,
    versus,
)
from evaluate.report import budget_name, pct, signed
from pretrain.core.typed_yaml import read_yaml


@dataclass(frozen=True)
class Target:
    """``measure`` of run ``run`` (or of the best task where ``run`` is empty) is at least ``threshold``."""

    text: str
    # a grid protocol's name (its mean at ``budget``), nmi, or <protocol>_gain (the encoder − scratch under it)
    measure: str
    budget: int
    threshold: float
    run: str = ""


TARGET_FILE = read_yaml((Path(__file__).with_name("targets.yaml")).read_text())  # every bar, in one data file
TARGETS = tuple(Target(**t) for t in TARGET_FILE["leaderboard"])
SEMI_TARGETS = tuple(Target(**t) for t in TARGET_FILE["semi"])  # and two paired ones: bench.sections.semi_leaderboard
# the methods users would pick instead of SimCLR, compared with it in the same budget
USER_METHODS = ("byol", "vicreg", "barlow_twins", "dino")
VERSUS_SIMCLR = (("knn", 0), ("linear", 0), ("knn", 10), ("linear", 10))
# "every task beats raw pixels and a random-init encoder of its architecture" (interval excludes zero)
BEAT_COMPARISONS = tuple(
    (protocol, reference, budget)
    for budget in (0, 10)
    for protocol in ("knn", "linear")
    for reference in ("raw_pixels", "random_init")
)


def measured(data: dict, row: dict, target: Target) -> float | None:
    if target.measure == "nmi":
        clustering = row["all_labels"].get("clustering")
        return clustering["nmi"] if clustering else None
    if target.measure.endswith("_gain"):
        mine, scratch = versus(data, row, target.measure.removesuffix("_gain"), "scratch", target.budget)
        return mine.mean - scratch.mean if mine and scratch else None
    found = cell(row, target.measure, target.budget)
    return found.mean if found else None


def measured_at(data: dict, target: Target) -> str:
    """Where the figure was measured when it is not where the target asks (fine-tuning budgets)."""
    if not target.measure.endswith("_gain"):
        return ""
    used = protocol_budget(data, target.measure.removesuffix("_gain"), target.budget)
    return "" if used == target.budget else f", measured at {used} labels/class"


def target_line(data: dict, target: Target) -> str:
    tasks = [r for r in data["rows"] if r["kind"] == "task" and r["source"] == "encoder"]
    if target.run:
        tasks = [r for r in tasks if r["run"] == target.run]
    scored = [(value, row["representation"]) for row in tasks if (value := measured(data, row, target)) is not None]
    if not scored:
        return f"| {target.text} | {shown(target, target.threshold)} | not measured | — |"
    value, who = max(scored)
    status = "met" if value >= target.threshold else f"gap {shown(target, value - target.threshold, difference=True)}"
    where = f"{who}{measured_at(data, target)}"
    return f"| {target.text} | {shown(target, target.threshold)} | {shown(target, value)} ({where}) | {status} |"


def shown(target: Target, value: float, difference: bool = False) -> str:
    if target.measure == "nmi":
        return f"{value:+.3f}" if difference else f"{value:.3f}"
    return f"{signed(value)} points" if difference else pct(value)


def beat_results(data: dict, row: dict) -> list[tuple]:
    """[(paired (mean, low, high) or None, comparison name)] of the task's 8 comparisons."""
    results = []
    for protocol, reference, budget in BEAT_COMPARISONS:
        ref = reference_row(data, reference, row.get("architecture"))
        mine, theirs = cell(row, protocol, budget), cell(ref, protocol, budget) if ref else None
        found = paired_difference(mine, theirs, seeds_per_run(data))
        results.append((found, f"{protocol} {budget_name(budget)} − {reference.replace('_', ' ')}"))
    return results


def wins(data: dict, row: dict) -> int:
    """How many of the 8 comparisons the task wins beyond noise."""
    return sum(1 for found, _ in beat_results(data, row) if found and found[1] > 0)


def leaderboard_finding(data: dict) -> str:
    """Section 1 in a sentence: who wins most of the 8 comparisons, and whether anyone wins all."""
    tasks = [r for r in data["rows"] if r["kind"] == "task" and r["source"] == "encoder"]
    if not tasks:
        return "No task measured."
    won = {r["representation"]: wins(data, r) for r in tasks}  # each task's 8 paired comparisons, once
    best = max(won.values())
    leaders = ", ".join(name for name, count in won.items() if count == best)
    every = sum(count == len(BEAT_COMPARISONS) for count in won.values())
    return (
        f"{every} of {len(tasks)} tasks beat raw pixels and their random-init encoder in all "
        f"{len(BEAT_COMPARISONS)} paired comparisons (kNN and linear, 10 labels/class and all labels); the most "
        f"won, {best}: {leaders}."
    )


def beats_baselines_line(data: dict, row: dict) -> str:
    """How many of the 8 comparisons the task wins beyond noise, and the weakest one."""
    results = beat_results(data, row)
    measured = [(found, name) for found, name in results if found]
    won = sum(1 for found, _ in measured if found[1] > 0)
    if not measured:
        return f"| {row['representation']} | 0 / 0 | — | not measured |"
    (mean, low, high), name = min(measured, key=lambda fn: fn[0][1])
    status = "met" if won == len(results) else f"{len(measured) - won} not beyond noise or worse"
    if len(measured) < len(results):
        status += f"; {len(results) - len(measured)} not measured"
    weakest = f"{name}: {signed(mean)} [{signed(low)}, {signed(high)}]"
    return f"| {row['representation']} | {won} / {len(measured)} | {weakest} | {status} |"


def targets_section(data: dict) -> list[str]:
    tasks = [r for r in data["rows"] if r["kind"] == "task" and r["source"] == "encoder"]
    return [
        "Targets; the calibration figures were taken at 3 pretraining epochs (the pretrain column says each task's):",
        "",
        "Every task against raw pixels and the random-init encoder of its own architecture: kNN and linear "
        "probe with all labels and at 10 labels/class (8 comparisons, paired over shared labelled subsets, the "
        "interval counting pretraining runs as the independent draws; a comparison is won when its 95% interval "
        "lies above zero):",
        "",
        "| task | won | weakest comparison [95% interval] | target |",
        "|---|---:|---|---|",
        *(beats_baselines_line(data, row) for row in tasks),
        "",
        "| target | at least | measured (representation) | status |",
        "|---|---:|---|---|",
        *(target_line(data, t) for t in TARGETS),
        "",
        *versus_simclr_section(data),
    ]


def headline_row(data: dict, run: str) -> dict | None:
    return next((r for r in data["rows"] if r["kind"] == "task" and r["run"] == run and r["source"] == "encoder"), None)


def beats_simclr(data: dict, row: dict, simclr: dict) -> bool:
    """kNN and linear with all labels both above SimCLR's, paired intervals excluding 0."""
    found = [paired_difference(cell(row, p, 0), cell(simclr, p, 0), seeds_per_run(data)) for p in ("knn", "linear")]
    return all(f is not None and f[1] > 0 for f in found)


def versus_simclr_section(data: dict) -> list[str]:
    """Each of BYOL, VICReg, Barlow Twins and DINO minus SimCLR, paired, and whether one
    beats it on kNN and linear with all labels. Empty where the rows are not there."""
    simclr = headline_row(data, "contrastive")
    rows = [row for run in USER_METHODS if (row := headline_row(data, run))]
    if simclr is None or not rows:
        return []
    heads = [f"{p} {budget_name(b)} − SimCLR" for p, b in VERSUS_SIMCLR]
    lines = [
        "The methods users pick instead, minus SimCLR (same encoder; each config's epochs fit SimCLR's "
        "pretraining time, the pretrain column says each; paired over shared labelled subsets, the interval "
        "counting pretraining runs) [95% t interval]. " + MARKS_LEGEND,
        "",
        "| method | " + " | ".join(heads) + " |",
        "|---|" + "---:|" * len(heads),
    ]
    spr = seeds_per_run(data)
    for row in rows:
        cells = [paired_cell(cell(row, p, b), cell(simclr, p, b), spr) for p, b in VERSUS_SIMCLR]
        lines.append(f"| {row['representation']} | " + " | ".join(cells) + " |")
    winners = [row["representation"] for row in rows if beats_simclr(data, row, simclr)]
    status = f"met ({', '.join(winners)})" if winners else "gap: none beyond noise on both"
    return [
        *lines,
        "",
        f"Target: a method users pick instead of SimCLR beats it on kNN and linear with all labels: {status}.",
    ]
