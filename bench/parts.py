"""A section measured in parts: ``python -m bench --sections S --entries a,b`` runs some of the
section's entries and merges their rows into the stored section (bench/leaderboard_parts.py
for section 1, bench/sweep.py for section 7). Each row remembers the part that measured it, and
BENCHMARKS.md names every part's commit, date, machine and command."""

from __future__ import annotations

from evaluate.report import minutes


class MergeError(ValueError):
    """``--entries`` cannot run: an unknown entry, or a stored section it cannot join."""


def check_known(entries: list[str], known: list[str]) -> None:
    """A MergeError naming each unknown entry and the known ones."""
    unknown = [e for e in entries if e not in known]
    if unknown:
        raise MergeError(f"--entries: unknown {', '.join(unknown)}; choose from {', '.join(known)}")


def part(provenance: dict, wall_seconds: float, entries: list[str]) -> dict:
    return {"provenance": provenance, "wall_seconds": wall_seconds, "entries": list(entries)}


def parts_with(stored: dict | None, source: dict, wall_seconds: float, entries: list[str], fresh: list[dict]):
    """The stored section's parts (one, the whole section, where it was measured in one go)
    followed by this one; each ``fresh`` row is marked as this part's."""
    parts = list(stored.get("parts") or [part(stored["provenance"], stored["wall_seconds"], [])]) if stored else []
    for row in fresh:
        row["part"] = len(parts)
    return [*parts, part(source, wall_seconds, entries)]


def stored_rows(data: dict) -> list[dict]:
    """The stored section's rows, those measured in one go marked as part 0."""
    return [{"part": 0, **row} for row in data["rows"]]


def merged_result(stored: dict | None, parts: list[dict], data: dict) -> dict:
    """The section as results.json holds it: the first part's provenance, the parts' wall summed."""
    first = stored["provenance"] if stored else parts[0]["provenance"]
    return {"provenance": first, "wall_seconds": sum(p["wall_seconds"] for p in parts), "parts": parts, "data": data}


def row_name(row: dict) -> str:
    return row.get("representation") or row["config"]  # a leaderboard row, or a sweep row


def parts_lines(result: dict) -> list[str]:
    """One line per part that still holds rows: which rows, when, at which commit, by which command."""
    parts = result.get("parts", [])  # sections measured in one go have none
    if len(parts) < 2:
        return []
    rows = result["data"]["rows"]
    lines = ["Measured in parts (`--entries` runs some entries and merges their rows):"]
    for index, each in enumerate(parts):
        names = list(dict.fromkeys(row_name(r) for r in rows if r.get("part", 0) == index))
        if not names:
            continue
        p = each["provenance"]
        command = p["command"] + (f" --entries {','.join(each['entries'])}" if each["entries"] else "")
        lines.append(
            f"- {p['date']}, commit `{p['commit'][:12]}`, {p['machine']['cpu']} "
            f"(auto precision {p['machine'].get('auto_precision', 'not recorded')}), `{command}` "
            f"({minutes(each['wall_seconds'])} wall): {'; '.join(names)}."
        )
    return lines
