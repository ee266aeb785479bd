"""Leaderboard rows as bench/results.json holds them: their numbers averaged over pretraining
runs, and read back typed: each row's summary as evaluate's SummaryRow, the grid protocols
they hold in the registry's order, and their table."""

from __future__ import annotations

import statistics

from evaluate.contract import protocol_rank
from evaluate.protocol_registry import PROTOCOLS
from evaluate.report import budget_name, mean_std, minutes, pct
from evaluate.report_types import SummaryRow, from_plain

REFERENCE_TITLES = {"raw_pixels": "raw pixels", "pca": "PCA", "random_init": "random init", "scratch": "scratch"}


def summary_of(row: dict) -> list[SummaryRow]:
    """The row's summary cells, typed (results.json stores them as plain mappings)."""
    return [r if isinstance(r, SummaryRow) else from_plain(SummaryRow, r) for r in row["summary"]]


def grid_protocols(rows: list[dict]) -> list[str]:
    """The protocols the rows hold cells of, in table order (the registry's ranks)."""
    return sorted({r.protocol for row in rows for r in summary_of(row)}, key=protocol_rank)


def grid_columns(data: dict) -> list[tuple[str, int]]:
    """(protocol, budget) of every grid cell the rows hold: each protocol at each budget it ran at."""
    frozen, tuned = data["frozen_labels"], data["finetune_labels"]
    return [(p, b) for p in grid_protocols(data["rows"]) for b in (tuned if "images" in PROTOCOLS[p].needs else frozen)]


def headline_columns(data: dict) -> list[tuple[str, int]]:
    """The grid columns of the main table: 10 labels per class and all labels (what trains on
    images: its largest budget); the rest go to the per-protocol tables."""
    largest = max(data["finetune_labels"])
    scarce = 10 if 10 in data["frozen_labels"] else min((b for b in data["frozen_labels"] if b), default=0)
    kept = [
        (p, b)
        for p, b in grid_columns(data)
        if p != "mlp_head" and (b == largest if "images" in PROTOCOLS[p].needs else b in (scarce, 0))
    ]
    return kept or grid_columns(data)


def leaderboard_table(data: dict, clustering: bool = True, columns: list | None = None) -> str:
    """One line per row: ``columns`` (default: the headline columns; mean ± std), then k-means
    NMI and cluster accuracy (``clustering``) and the pretraining time."""
    columns = headline_columns(data) if columns is None else columns
    head = ["representation"] + [f"{p} {budget_name(b)}" for p, b in columns]
    head += ["NMI", "cluster acc", "pretrain"] if clustering else ["pretrain"]
    lines = ["| " + " | ".join(head) + " |", "|---|" + "---:|" * (len(head) - 1)]
    for row in data["rows"]:
        cells = {(r.protocol, r.labels_per_class): r for r in summary_of(row)}
        if not any(c in cells for c in columns) and not clustering:
            continue  # a row that holds nothing here
        found = row["all_labels"].get("clustering")
        extra = [f"{found['nmi']:.3f}", pct(found["accuracy"])] if found else ["—", "—"]
        seconds = minutes(row["pretrain_seconds"]) if row["pretrain_seconds"] is not None else "—"
        seconds += f", {row['epochs']:g} ep" if "epochs" in row else ""
        lines.append(
            f"| {row['representation']} | "
            + " | ".join(mean_std(cells.get(c)) for c in columns)
            + "".join(f" | {e}" for e in (extra if clustering else []))
            + f" | {seconds} |"
        )
    return "\n".join(lines)


def protocol_tables(data: dict) -> list[str]:
    """One table per grid protocol at every budget it ran at, folded away (the detail)."""
    out = ["<details><summary>Every protocol at every budget</summary>", ""]
    for protocol in grid_protocols(data["rows"]):
        columns = [(p, b) for p, b in grid_columns(data) if p == protocol]
        out += [f"{protocol}:", "", leaderboard_table(data, clustering=False, columns=columns), ""]
    return [*out, "</details>"]


def mean_metrics(runs: list[dict]) -> dict:
    """Numbers averaged over runs (pretraining seeds), leaf by leaf; anything else from the first."""
    first = runs[0]
    if isinstance(first, dict):
        return {k: mean_metrics([r[k] for r in runs if k in r]) for k in first}
    if isinstance(first, (int, float)) and not isinstance(first, bool):
        return statistics.fmean(runs)
    return first


def label_free_scores(evaluations: list[dict], source: str) -> dict[str, float]:
    """{score: mean over pretraining runs} of every label-free score measured on ``source``."""
    runs = [
        {
            name: value
            for m in e.get("label_free", [])
            if m.source == source
            for name, value in m.result.scores().items()
        }
        for e in evaluations
    ]
    runs = [r for r in runs if r]
    return mean_metrics(runs) if runs else {}
