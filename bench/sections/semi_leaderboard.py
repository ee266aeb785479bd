"""Section 1b, the semi-supervised leaderboard: some of section 1's tasks and every baseline
under the protocols that use the unlabelled training images (label propagation, Zhou et al.
2004; self-training, SimCLRv2's third stage, Chen et al. 2020b) beside their supervised
counterparts (kNN; fine-tuning), at the scarce budgets.

It is section 1's machinery (bench/leaderboard.py) run at another scale: the same pretraining
runs (reused where section 1 finished them), the same labelled draws (so the two sections'
cells pair), the protocols ``Scale.semi_protocols`` only. Propagation lifts raw pixels as much
as a learned code (a quick first try), so every gain is shown twice: semi-supervised minus
supervised for the same features, and learned minus reference under the same protocol."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from bench.interface import Section, register_section
from bench.rows import grid_columns, grid_protocols, leaderboard_table
from bench.scales import Scale
from bench.sections.leaderboard import run_leaderboard
from bench.targets import SEMI_TARGETS, target_line
from bench.verdicts import (
    MARKS_LEGEND,
    baseline_table,
    cell,
    paired_cell,
    paired_difference,
    reference_row,
    seeds_per_run,
)
from evaluate.protocol_registry import PROTOCOLS
from evaluate.report import budget_name, signed


@dataclass(frozen=True)
class SemiSettings:
    entries: tuple[str, ...] = ("ae_mirror", "ae_m64", "vae", "contrastive", "vicreg")  # of section 1's
    frozen_labels: tuple[int, ...] = (1, 10)
    protocols: tuple[str, ...] = ("knn", "linear", "label_propagation", "finetune", "self_training")


def semi_scale(scale: Scale) -> Scale:
    """Section 1's scale with 1b's entries, budgets and protocols (every other one skipped)."""
    mine = scale.of("semi")
    skip = tuple(name for name in PROTOCOLS.names() if name not in mine.protocols)
    return scale.with_sizes("leaderboard", only=mine.entries, frozen_labels=mine.frozen_labels, skip=skip)


def run_semi_leaderboard(scale: Scale, root: Path) -> dict:
    return run_leaderboard(semi_scale(scale), root)


def semi_pairs(data: dict) -> list[tuple[str, str, int]]:
    """[(semi-supervised protocol, its supervised counterpart, budget)] the rows hold both of."""
    held = grid_protocols(data["rows"])
    pairs = []
    for protocol in held:
        counterpart = PROTOCOLS[protocol].supervised_counterpart
        if PROTOCOLS[protocol].uses_unlabelled and counterpart in held:
            trains = "images" in PROTOCOLS[protocol].needs
            pairs += [(protocol, counterpart, b) for b in data["finetune_labels" if trains else "frozen_labels"]]
    return pairs


def semi_minus_supervised_table(data: dict) -> str:
    """Rows: every representation (baselines too); columns: semi-supervised − supervised, same features."""
    pairs = semi_pairs(data)
    head = [f"{p} − {q}, {budget_name(b)}" for p, q, b in pairs]
    lines = ["| representation | " + " | ".join(head) + " |", "|---|" + "---:|" * len(head)]
    for row in data["rows"]:
        cells = [paired_cell(cell(row, p, b), cell(row, q, b), seeds_per_run(data)) for p, q, b in pairs]
        if any(c != "—" for c in cells):
            lines.append(f"| {row['representation']} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def best_task(data: dict, protocol: str, budget: int) -> dict | None:
    """The headline row with the highest mean under ``protocol`` at ``budget`` (biased upward)."""
    tasks = [r for r in data["rows"] if r["kind"] == "task" and r["source"] == "encoder" and cell(r, protocol, budget)]
    return max(tasks, key=lambda r: cell(r, protocol, budget).mean) if tasks else None


def paired_target_line(data: dict, text: str, protocol: str, reference: str, budget: int, must_exceed: bool) -> str:
    """The paired targets: the best task under ``protocol`` minus ``reference`` under the
    same protocol (scratch: of the task's architecture), with its interval; met when the
    interval lies above zero (``must_exceed``), else only reported."""
    wanted = "> 0" if must_exceed else "reported"
    best = best_task(data, protocol, budget)
    ref = reference_row(data, reference, best.get("architecture")) if best else None
    found = (
        paired_difference(cell(best, protocol, budget), cell(ref, protocol, budget), seeds_per_run(data))
        if ref
        else None
    )
    if found is None:
        return f"| {text} | {wanted} | not measured | — |"
    mean, low, high = found
    status = ("met" if low > 0 else "gap: the interval reaches 0") if must_exceed else "reported"
    return (
        f"| {text} | {wanted} | {signed(mean)} [{signed(low)}, {signed(high)}] ({best['representation']}) | {status} |"
    )


def paired_target_lines(data: dict) -> list[str]:
    scarce = 10 if 10 in data["frozen_labels"] else data["frozen_labels"][-1]
    tuned = 100 if 100 in data["finetune_labels"] else data["finetune_labels"][-1]
    return [
        paired_target_line(
            data, f"best task − raw pixels, label propagation, {scarce} labels/class", "label_propagation",
            "raw_pixels", scarce, must_exceed=True,
        ),
        paired_target_line(
            data, f"best task self-trained − scratch self-trained, {tuned} labels/class", "self_training",
            "scratch", tuned, must_exceed=False,
        ),
    ]  # fmt: skip


def reference_table(data: dict, budget: int) -> list[str]:
    return [
        f"Learned minus reference under the same protocol, at {budget_name(budget)} label(s) per class "
        "(fine-tuning and self-training: at the budget they ran at, against scratch under the same protocol):",
        "",
        baseline_table(data, budget),
        "",
    ]


def semi_section(data: dict, plots: str) -> list[str]:
    runs, subsets = data.get("pretrain_seeds", 1), data["seeds"]
    budgets = [b for b in data["frozen_labels"] if b]
    return [
        f"Section 1's runs and labelled draws (cells pair with section 1's), {runs} pretraining run(s) × {subsets} "
        "labelled subsets per budget, test accuracy % as mean ± std; only the protocols "
        f"{', '.join(grid_protocols(data['rows']))}. Label propagation builds its kNN graph over every training "
        "image's frozen features, labelled or not, with k and α chosen on validation images as scarce as the "
        "labels, and predicts test images from their training neighbours (the test set is never in the graph); "
        "self-training trains a student of the same architecture on the fine-tuned teacher's soft labels over "
        "the unlabelled training images, its step chosen on validation. ⚑: a choice at its grid's edge or cap.",
        "",
        leaderboard_table(data, clustering=False, columns=grid_columns(data)),
        "",
        "Semi-supervised minus supervised, same features (paired over shared labelled subsets, the interval "
        "counting pretraining runs where there are several) [95% t interval]. " + MARKS_LEGEND,
        "",
        semi_minus_supervised_table(data),
        "",
        *(line for b in budgets for line in reference_table(data, b)),
        "Targets (bench/targets.yaml):",
        "",
        "| target | at least | measured (representation) | status |",
        "|---|---:|---|---|",
        *(target_line(data, t) for t in SEMI_TARGETS),
        *paired_target_lines(data),
    ]


def semi_finding(data: dict) -> str:
    """What label propagation adds over kNN at the scarcest budget, on the best task and on raw pixels."""
    budget = min(b for b in data["frozen_labels"] if b)
    best = best_task(data, "label_propagation", budget)
    pixels = reference_row(data, "raw_pixels", None)
    if best is None or pixels is None:
        return "Label propagation was not measured against raw pixels."
    gain = {r["representation"]: cell(r, "label_propagation", budget).mean - cell(r, "knn", budget).mean
            for r in (best, pixels) if cell(r, "knn", budget) and cell(r, "label_propagation", budget)}  # fmt: skip
    said = "; ".join(f"{name} {signed(g)}" for name, g in gain.items())
    return (
        f"At {budget_name(budget)} label{'' if budget == 1 else 's'}/class, label propagation over the unlabelled "
        f"images adds to kNN: {said} "
        "points (means): compare the gain on a learned code with the same gain on raw pixels."
    )


SECTION = register_section(
    Section("semi", "1b. Semi-supervised leaderboard: the unlabelled images used", SemiSettings,
            run_semi_leaderboard, semi_section, uses=("leaderboard",), finding=semi_finding)
)  # fmt: skip
