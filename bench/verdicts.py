"""Which leaderboard differences are beyond noise: each representation against the baselines,
paired over the labelled subsets every run shares (the same seeds draw the same subsets, so
the subsets' own luck cancels in the difference; evaluate.uncertainty has the interval)."""

from __future__ import annotations

import statistics

from bench.rows import REFERENCE_TITLES, grid_protocols, summary_of
from evaluate.baselines import BASELINES
from evaluate.protocol_registry import PROTOCOLS
from evaluate.report import budget_name, pct, signed
from evaluate.report_types import SummaryRow
from evaluate.uncertainty import t_interval, verdict


def baseline_columns(data: dict) -> list[tuple[str, str, str]]:
    """[(protocol, reference row's source, column title)]: every grid protocol the rows hold
    against the references it declares (fine-tuning: scratch), else against every baseline."""
    columns = []
    for protocol in grid_protocols(data["rows"]):
        references = PROTOCOLS[protocol].references or BASELINES
        columns += [(protocol, ref, f"{protocol} − {REFERENCE_TITLES.get(ref, ref)}") for ref in references]
    return columns


PER_ARCHITECTURE = ("random_init", "scratch")  # compared with the row of the task's own architecture


def seeds_per_run(data: dict) -> int:
    """Labelled subsets per pretraining run (1 for results written before pretraining seeds)."""
    return data["seeds"] if data.get("pretrain_seeds", 1) > 1 else 1


def cell(row: dict, protocol: str, budget: int) -> SummaryRow | None:
    return next((r for r in summary_of(row) if r.protocol == protocol and r.labels_per_class == budget), None)


def paired_differences(a: SummaryRow, b: SummaryRow) -> dict[int, float]:
    """{seed: a − b} over shared seeds; a reference measured once (deterministic with all
    labels) is subtracted from every seed of ``a``."""
    mine, theirs = a.by_seed, b.by_seed
    if len(theirs) == 1 and len(mine) > 1:
        (only,) = theirs.values()
        return {int(s): accuracy - only for s, accuracy in mine.items()}
    return {int(s): mine[s] - theirs[s] for s in sorted(set(mine) & set(theirs))}


def per_run(differences: dict[int, float], seeds_per_run: int) -> list[float]:
    """The differences averaged within each pretraining run (seeds r*S ... r*S+S-1 belong to
    run r): subsets of one run share its encoder, so the runs, not the subsets, are the
    independent draws an interval may count."""
    runs: dict[int, list[float]] = {}
    for seed, value in differences.items():
        runs.setdefault(seed // seeds_per_run, []).append(value)
    return [statistics.fmean(values) for values in runs.values()]


def paired_difference(
    a: SummaryRow | None, b: SummaryRow | None, seeds_per_run: int = 1
) -> tuple[float, float, float] | None:
    """(mean, low, high) of a − b with a 95% t interval over independent draws (pretraining
    runs where a run spans ``seeds_per_run`` subsets); None where fewer than two."""
    if a is None or b is None:
        return None
    diffs = per_run(paired_differences(a, b), seeds_per_run)
    if len(diffs) < 2:
        return None
    return (statistics.fmean(diffs), *t_interval(diffs))


def paired_cell(a: SummaryRow | None, b: SummaryRow | None, seeds_per_run: int = 1) -> str:
    """ "+2.1 [+0.4, +4.6] ↑" from two summary rows' per-seed accuracies: ↑ / ↓ where the
    interval lies above / below zero (MARKS), no mark where it holds zero."""
    if a is None or b is None:
        return "—"
    found = paired_difference(a, b, seeds_per_run)
    if found is None:
        return "too few seeds"
    mean, low, high = found
    return f"{signed(mean)} [{signed(low)}, {signed(high)}]{MARKS[verdict(low, high)]}"


MARKS = {"better": " ↑", "worse": " ↓", "within noise": ""}
MARKS_LEGEND = "↑ / ↓: better / worse beyond noise (the 95% interval excludes zero); no mark: within noise."


def reference_row(data: dict, source: str, architecture: str) -> dict | None:
    """The baseline row ``source`` (of ``architecture`` for the per-architecture baselines)."""
    for row in data["rows"]:
        if row["kind"] == "baseline" and row["source"] == source:
            if source not in PER_ARCHITECTURE or row.get("architecture") == architecture:
                return row
    return None


def protocol_budget(data: dict, protocol: str, budget: int) -> int:
    """``budget``, or for the protocols that train on images (fine-tuning, self-training) with
    scarce labels the nearest budget they ran at."""
    if "images" not in PROTOCOLS[protocol].needs or budget in data["finetune_labels"] or budget == 0:
        return budget
    return min(data["finetune_labels"], key=lambda b: abs(b - budget))


def versus(data: dict, row: dict, protocol: str, reference: str, budget: int) -> tuple:
    """(the task's cell, the reference's cell) at ``budget`` under ``protocol``."""
    ref = reference_row(data, reference, row.get("architecture"))
    budget = protocol_budget(data, protocol, budget)
    return cell(row, protocol, budget), cell(ref, protocol, budget) if ref else None


def baseline_table(data: dict, budget: int) -> str:
    """One table per reference (raw pixels, PCA, random init, scratch): rows the learned
    representations, columns the protocols compared with it, cells the paired difference at
    ``budget`` (fine-tuning: at the nearest budget it ran at). Rows with no measured cell are left out."""
    blocks = []
    columns = baseline_columns(data)
    for reference in dict.fromkeys(ref for _, ref, _ in columns):
        mine = [protocol for protocol, ref, _ in columns if ref == reference]
        lines = [
            f"Minus {REFERENCE_TITLES.get(reference, reference)}:",
            "",
            "| representation | " + " | ".join(mine) + " |",
            "|---|" + "---:|" * len(mine),
        ]
        for row in (r for r in data["rows"] if r["kind"] == "task"):
            cells = [paired_cell(*versus(data, row, p, reference, budget), seeds_per_run(data)) for p in mine]
            if any(c not in ("—", "too few seeds") for c in cells):
                lines.append(f"| {row['representation']} | " + " | ".join(cells) + " |")
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)


def highest_line(data: dict, protocol: str, budget: int) -> str:
    """The representation with the highest mean at one protocol and budget (a description, not a verdict)."""
    scored = [(r.mean, row["representation"]) for row in data["rows"] if (r := cell(row, protocol, budget)) is not None]
    if not scored:
        return ""
    mean, who = max(scored)
    return f"{protocol} at {budget_name(budget)} labels/class: {who} ({pct(mean)})"
