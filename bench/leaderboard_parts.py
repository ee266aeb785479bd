"""Section 1 built in parts: ``python -m bench --sections leaderboard --entries vicreg,dino`` runs
only those entries (with the random-init and scratch baselines of their architectures,
measured anew beside them) and
merges their rows into the stored section, replacing the rows they remeasure.

Why: at ``small`` size the whole section takes hours of CPU; a new task (or a fix to one) needs
its own rows and the baselines it is compared with, not every other task again. The merge keeps
the table one table: it refuses a stored section with other settings (seeds, budgets, epochs),
and the new rows run the stored rows' protocols only, so no column is half empty. Each row
remembers the part that measured it, and BENCHMARKS.md names every part's commit, date and
command. ``make bench`` still measures the whole section from scratch.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from bench.leaderboard import ENTRIES, compute_seconds, run_leaderboard
from bench.parts import MergeError, check_known, merged_result, parts_with, stored_rows
from bench.rows import grid_protocols
from bench.scales import Scale
from bench.verdicts import PER_ARCHITECTURE
from evaluate.protocol_registry import PROTOCOLS

# the settings a merged part must share with the stored section: (data key, Scale field)
SHARED_SETTINGS = (
    ("epochs", "leaderboard_epochs"),
    ("seeds", "seeds"),
    ("pretrain_seeds", "pretrain_seeds"),
    ("frozen_labels", "frozen_labels"),
    ("finetune_labels", "finetune_labels"),
    ("finetune_max_epochs", "finetune_max_epochs"),
    ("finetune_min_steps", "finetune_min_steps"),
)


def check_entries(entries: list[str]) -> None:
    """A MergeError naming each unknown entry and the known ones."""
    check_known(entries, [name for name, _, _ in ENTRIES])


def check_settings(stored: dict, scale: Scale) -> None:
    """A MergeError naming each setting where ``scale`` differs from the stored section's data."""
    differ = [
        f"{key} (stored {stored[key]!r}, scale {scale.name} {getattr(scale, field)!r})"
        for key, field in SHARED_SETTINGS
        if key in stored and _plain(stored[key]) != _plain(getattr(scale, field))
    ]
    if differ:
        raise MergeError(
            "--entries: the stored leaderboard was measured with other settings: "
            f"{'; '.join(differ)}. Run the whole section: python -m bench --scale {scale.name} --sections leaderboard"
        )


def _plain(value):
    return list(value) if isinstance(value, (tuple, list)) else value


def skipped_protocols(stored_rows: list[dict], scale: Scale) -> tuple[str, ...]:
    """Every registered protocol the stored rows hold no cell of (so the new rows have the same
    columns), besides those the scale skips anyway."""
    held = set(grid_protocols(stored_rows))
    return tuple(sorted(set(scale.leaderboard_skip) | {name for name in PROTOCOLS.names() if name not in held}))


def baseline_key(row: dict) -> tuple:
    """Raw pixels and PCA are one row each; random init and scratch one per architecture."""
    return row["source"], row.get("architecture") if row["source"] in PER_ARCHITECTURE else None


def entry_rank(row: dict) -> int:
    names = [name for name, _, _ in ENTRIES]
    return names.index(row["run"]) if row["run"] in names else len(names)


def merge_rows(stored: list[dict], fresh: list[dict], entries: list[str]) -> list[dict]:
    """The stored rows with those of ``entries`` and of the per-architecture baselines in
    ``fresh`` replaced by ``fresh``'s: tasks in ENTRIES order (a task's rows kept together), then
    the baselines. Raw pixels and PCA stay the stored ones where there are any: they are one row
    for the whole table, and PCA takes the code size of the table's first entry (m = 20), which
    a part's first entry need not share."""
    held = {baseline_key(r) for r in stored if r["kind"] == "baseline"}
    fresh = [r for r in fresh if r["kind"] == "task" or r["source"] in PER_ARCHITECTURE or baseline_key(r) not in held]
    remeasured = {baseline_key(r) for r in fresh if r["kind"] == "baseline"}
    kept = [
        r
        for r in stored
        if (r["kind"] == "task" and r["run"] not in entries)
        or (r["kind"] == "baseline" and baseline_key(r) not in remeasured)
    ]
    tasks = sorted([r for r in kept + fresh if r["kind"] == "task"], key=entry_rank)  # stable: readings stay in order
    baselines = [r for r in kept if r["kind"] == "baseline"] + [r for r in fresh if r["kind"] == "baseline"]
    return tasks + baselines


def merged_section(stored: dict | None, scale: Scale, entries: list[str], root: Path, source: dict, wall) -> dict:
    """Run ``entries`` and return the leaderboard section with their rows merged into ``stored``
    (a section dict as bench/results.json holds it; None: the part is the whole section).
    ``source`` is this part's provenance; ``wall()`` the seconds since it started."""
    check_entries(entries)
    stored_data = stored["data"] if stored else None
    if stored_data is not None:
        check_settings(stored_data, scale)
    skip = skipped_protocols(stored_data["rows"], scale) if stored_data else scale.leaderboard_skip
    fresh = run_leaderboard(replace(scale, leaderboard_only=tuple(entries), leaderboard_skip=skip), root)
    parts = parts_with(stored, source, wall(), entries, fresh["rows"])
    if stored_data is None:
        return merged_result(None, parts, fresh)
    rows = merge_rows(stored_rows(stored_data), fresh["rows"], entries)
    return merged_result(stored, parts, {**stored_data, "rows": rows, "compute_seconds": compute_seconds(rows)})
