"""Leaderboard rows as bench/results.json holds them, read back typed: each row's summary as
evaluate's SummaryRow, and the grid protocols they hold in the registry's order."""

from __future__ import annotations

from evaluate.protocol import protocol_rank
from evaluate.report_types import SummaryRow, from_plain

REFERENCE_TITLES = {"raw_pixels": "raw pixels", "pca": "PCA", "random_init": "random init", "scratch": "scratch"}


def summary_of(row: dict) -> list[SummaryRow]:
    """The row's summary cells, typed (results.json stores them as plain mappings)."""
    return [r if isinstance(r, SummaryRow) else from_plain(SummaryRow, r) for r in row["summary"]]


def grid_protocols(rows: list[dict]) -> list[str]:
    """The protocols the rows hold cells of, in table order (the registry's ranks)."""
    return sorted({r.protocol for row in rows for r in summary_of(row)}, key=protocol_rank)
