"""Which leaderboard differences are beyond noise: each representation against the baselines,
paired over the labelled subsets every run shares (the same seeds draw the same subsets, so
the subsets' own luck cancels in the difference; evaluate.uncertainty has the interval)."""

from __future__ import annotations

import statistics

from evaluate.report import budget_name, pct, signed
from evaluate.uncertainty import t_interval, verdict

# (protocol of the representation, reference row's source, protocol of the reference, column title)
BASELINE_COLUMNS = (
    ("linear", "raw_pixels", "linear", "linear − raw pixels"),
    ("linear", "pca", "linear", "linear − PCA"),
    ("knn", "raw_pixels", "knn", "kNN − raw pixels"),
    ("knn", "pca", "knn", "kNN − PCA"),
    ("finetune", "scratch", "finetune", "fine-tuned − scratch"),
)


def cell(row: dict, protocol: str, budget: int) -> dict | None:
    return next((r for r in row["summary"] if r["protocol"] == protocol and r["labels_per_class"] == budget), None)


def paired_cell(a: dict | None, b: dict | None) -> str:
    """ "+2.1 [-0.4, +4.6] within noise" from two summary rows' per-seed accuracies."""
    if a is None or b is None:
        return "—"
    shared = sorted(set(a.get("by_seed", {})) & set(b.get("by_seed", {})))
    diffs = [a["by_seed"][s] - b["by_seed"][s] for s in shared]
    if len(diffs) < 2:
        return "too few seeds"
    low, high = t_interval(diffs)
    said = {"better": "**better**", "worse": "**worse**", "within noise": "within noise"}[verdict(low, high)]
    return f"{signed(statistics.fmean(diffs))} [{signed(low)}, {signed(high)}] {said}"


def baseline_table(data: dict, budget: int) -> str:
    """Rows: learned representations; columns: differences against each baseline at ``budget``."""
    references = {row["source"]: row for row in data["rows"] if row["kind"] == "baseline"}
    lines = [
        "| representation | " + " | ".join(title for *_, title in BASELINE_COLUMNS) + " |",
        "|---|" + "---:|" * len(BASELINE_COLUMNS),
    ]
    for row in (r for r in data["rows"] if r["kind"] == "task"):
        cells = [
            paired_cell(cell(row, mine, budget), cell(references[ref], theirs, budget) if ref in references else None)
            for mine, ref, theirs, _ in BASELINE_COLUMNS
        ]
        lines.append(f"| {row['representation']} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def highest_line(data: dict, protocol: str, budget: int) -> str:
    """The representation with the highest mean at one protocol and budget (a description, not a verdict)."""
    scored = [
        (r["mean"], row["representation"]) for row in data["rows"] if (r := cell(row, protocol, budget)) is not None
    ]
    if not scored:
        return ""
    mean, who = max(scored)
    return f"{protocol} at {budget_name(budget)} labels/class: {who} ({pct(mean)})"
