"""Section 10 in BENCHMARKS.md: transfer against pretraining time, from the stored points only.

Where a method "overtakes" a reference is read off means (a description: every point is one
pretraining run); the fine-tuning gain carries its paired interval over labelled subsets.
"""

from __future__ import annotations

import dataclasses

from bench.rows import REFERENCE_TITLES
from bench.targets import TARGET_FILE
from bench.verdicts import MARKS_LEGEND, paired_cell, paired_difference
from evaluate.report import difference_cell, mean_std, minutes, pct, signed
from evaluate.report_types import Difference, SummaryRow, from_plain

COLUMNS = ("knn {scarce}", "linear {scarce}", "knn 0", "linear 0")
BARS = TARGET_FILE["pretrain_length"]


def columns(data: dict) -> list[str]:
    return [c.format(scarce=data["scarce"]) for c in COLUMNS]


def title(column: str) -> str:
    protocol, budget = column.split()
    return f"{protocol} {'all' if budget == '0' else budget + '/class'}"


def cell(cells: dict, column: str) -> SummaryRow | None:
    return from_plain(SummaryRow, cells[column]) if column in cells else None


def gain(row: dict) -> Difference | None:
    return from_plain(Difference, row["finetune_gain"]) if row.get("finetune_gain") else None


def points_table(data: dict) -> list[str]:
    head = ["method", "epochs", "pretraining", *map(title, columns(data))]
    head.append(f"fine-tuned − scratch, {data['finetune_labels']}/class [95% interval]")
    lines = ["| " + " | ".join(head) + " |", "|---|---:|---:|" + "---:|" * (len(head) - 3)]
    for r in sorted(data["rows"], key=lambda r: (r["method"], r["epochs"])):
        shown = [mean_std(cell(r["cells"], c)) for c in columns(data)]
        lines.append(
            f"| {r['method']} | {r['epochs']:g} | {minutes(r['pretrain_seconds'])} | "
            + " | ".join(shown)
            + f" | {difference_cell(gain(r))} |"
        )
    for name, cells in data["references"].items():
        shown = [mean_std(cell(cells, c.replace("linear", "mlp_head") if "MLP" in name else c)) for c in columns(data)]
        lines.append(f"| {name} | — | — | " + " | ".join(shown) + " | — |")
    return lines


def overtakes(data: dict, method: str, column: str, reference: dict) -> str:
    """The shortest measured length whose mean beats ``reference``'s, or that none does."""
    ref = cell(reference, column)
    mine = sorted((r for r in data["rows"] if r["method"] == method), key=lambda r: r["epochs"])
    for r in mine:
        found = cell(r["cells"], column)
        if ref and found and found.mean > ref.mean:
            return f"from the {r['epochs']:g}-epoch point ({minutes(r['pretrain_seconds'])})"
    return f"at none of {', '.join(format(r['epochs'], 'g') for r in mine)} ep"


def findings(data: dict) -> list[str]:
    pixels = data["references"]["raw pixels"]
    scarce = [c for c in columns(data) if not c.endswith(" 0")]
    lines = []
    for method in dict.fromkeys(r["method"] for r in data["rows"]):
        longest = max((r for r in data["rows"] if r["method"] == method), key=lambda r: r["epochs"])
        reached = ", ".join(f"{title(c)} {pct(cell(longest['cells'], c).mean)}" for c in columns(data))
        beats = "; ".join(f"{title(c)} {overtakes(data, method, c, pixels)}" for c in scarce)
        lines.append(f"- {method}: above raw pixels' mean {beats}; at {longest['epochs']:g} ep {reached}.")
    return lines


def best(data: dict, column: str) -> tuple[float, str] | None:
    scored = [
        (found.mean, f"{r['method']}, {r['epochs']:g} ep") for r in data["rows"] if (found := cell(r["cells"], column))
    ]
    return max(scored) if scored else None


def target_lines(data: dict) -> list[str]:
    lines = ["| target | at least | measured (point) | status |", "|---|---:|---|---|"]
    for bar in BARS["accuracy"]:
        found = best(data, f"{bar['measure']} {bar['budget']}")
        measured = f"{pct(found[0])} ({found[1]})" if found else "not measured"
        gap = f"gap {signed(found[0] - bar['threshold'])} points" if found else "—"
        status = "met" if found and found[0] >= bar["threshold"] else gap
        lines.append(f"| {bar['text']} | {pct(bar['threshold'])} | {measured} | {status} |")
    want = BARS["finetune_gain"]
    gains = [(g, r) for r in data["rows"] if (g := gain(r)) is not None and g.low is not None]
    meeting = [(g, r) for g, r in gains if g.low > 0 and g.difference >= want]
    top = max(meeting, key=lambda gr: gr[0].low, default=None) or max(gains, key=lambda gr: gr[0].low, default=None)
    if top:
        g, r = top
        status = "met" if g.low > 0 and g.difference >= want else "gap: below the bar or the interval reaches 0"
        shown = f"{difference_cell(g)} ({r['method']}, {r['epochs']:g} ep)"
    else:
        shown, status = "not measured", "—"
    lines.append(f"| fine-tuned − scratch, interval above 0 | {signed(want)} | {shown} | {status} |")
    return [*lines, all_comparisons_line(data)]


def seeded_points(data: dict) -> list[list[dict]]:
    """[every run's row, the first run's row first] of each point with further pretraining runs."""
    found = []
    for row in data["rows"]:
        key = (row["run"], row["epochs"])
        more = [r for r in data.get("seed_rows", []) if (r["run"], r["epochs"]) == key]
        found += [[row, *more]] if more else []
    return found


def pooled(runs: list[dict], column: str) -> SummaryRow | None:
    """One point's cell over its pretraining runs: their per-subset accuracies together (each run
    drew its own labelled subsets), what a paired difference reads."""
    found = [cell(r["cells"], column) for r in runs]
    if not all(found):
        return None
    return dataclasses.replace(found[0], by_seed={s: a for c in found for s, a in c.by_seed.items()})


def reference_cell(data: dict, source: str, architecture: str, column: str) -> SummaryRow | None:
    """A paired baseline's cell (the random-init encoder: of ``architecture``)."""
    for b in data.get("paired_baselines", []):
        if b["source"] == source and (source == "raw_pixels" or b["architecture"] == architecture):
            return cell(b["cells"], column)
    return None


def comparisons(data: dict, runs: list[dict]) -> list[tuple[str, SummaryRow | None, SummaryRow | None]]:
    """Section 1's 8 comparisons of one seeded point: (name, the point's pooled cell, the baseline's)."""
    return [
        (f"{title(column)} − {REFERENCE_TITLES[source]}", pooled(runs, column),
         reference_cell(data, source, runs[0]["architecture"], column))
        for column in columns(data)
        for source in ("raw_pixels", "random_init")
    ]  # fmt: skip


def beaten(found: list[tuple], seeds_per_run: int) -> list[bool]:
    """Per comparison of ``comparisons``: whether the point beats the baseline beyond noise."""
    differences = [paired_difference(mine, theirs, seeds_per_run) for _, mine, theirs in found]
    return [bool(d and d[1] > 0) for d in differences]


def won(data: dict, runs: list[dict]) -> list[bool]:
    """Per comparison: whether the point beats the baseline beyond noise (interval above 0)."""
    return beaten(comparisons(data, runs), data["seeds"])


def pairs_table(data: dict) -> list[str]:
    """The seeded points' 8 paired comparisons, a column per point."""
    seeded = seeded_points(data)
    if not seeded:
        return []
    head = ["comparison", *(f"{runs[0]['method']}, {runs[0]['epochs']:g} ep ({len(runs)} runs)" for runs in seeded)]
    lines = ["| " + " | ".join(head) + " |", "|---|" + "---:|" * len(seeded)]
    found = [comparisons(data, runs) for runs in seeded]
    for i, (name, _, _) in enumerate(found[0]):
        lines.append(f"| {name} | " + " | ".join(paired_cell(f[i][1], f[i][2], data["seeds"]) for f in found) + " |")
    wins = [beaten(f, data["seeds"]) for f in found]
    lines.append("| won beyond noise | " + " | ".join(f"{sum(w)} of {len(w)}" for w in wins) + " |")
    return [
        f"The seeded points, {data['pretrain_seeds']} pretraining runs each: section 1's 8 paired comparisons, "
        "the point minus raw pixels and minus the random-init encoder of its architecture, paired over the "
        f"labelled subsets every run and baseline share, the interval over pretraining runs. {MARKS_LEGEND}",
        "",
        *lines,
    ]


def most_won(data: dict) -> tuple[int, int, str]:
    """(the most comparisons a seeded point wins, out of how many, which points win that many)."""
    scored = [
        (sum(w := won(data, runs)), len(w), f"{runs[0]['method']}, {runs[0]['epochs']:g} ep")
        for runs in seeded_points(data)
    ]
    if not scored:
        return 0, 0, ""
    top = max(count for count, _, _ in scored)
    return top, scored[0][1], "; ".join(where for count, _, where in scored if count == top)


def all_comparisons_line(data: dict) -> str:
    """The target row: some point wins all 8 paired comparisons."""
    count, total, where = most_won(data)
    if not where:
        return "| wins all 8 paired comparisons | 8 of 8 | not measured (no point has 2 pretraining runs) | — |"
    status = "met" if count == total == 8 else f"gap: {total - count} lost or within noise"
    return f"| wins all 8 paired comparisons | 8 of 8 | {count} of {total} ({where}) | {status} |"


def variant_lines(data: dict) -> list[str]:
    """Each capacity or views variant against its base method's point of the nearest pretraining
    time, on the scarce-budget linear probe and all-label kNN: which buys more per minute."""
    lines = []
    for r in (r for r in data["rows"] if r.get("variant_of")):
        bases = [b for b in data["rows"] if b["run"] == r["variant_of"]]
        if not bases:
            continue
        base = min(bases, key=lambda b: abs(b["pretrain_seconds"] - r["pretrain_seconds"]))
        said = []
        for column in (f"linear {data['scarce']}", "knn 0"):
            mine, theirs = cell(r["cells"], column), cell(base["cells"], column)
            if mine and theirs:
                said.append(
                    f"{title(column)} {pct(mine.mean)} vs {pct(theirs.mean)} ({signed(mine.mean - theirs.mean)})"
                )
        lines.append(
            f"- {r['method']}, {r['epochs']:g} ep ({minutes(r['pretrain_seconds'])}) against {base['method']}, "
            f"{base['epochs']:g} ep ({minutes(base['pretrain_seconds'])}): {'; '.join(said)}."
        )
    return (
        ["Capacity and views against length at about equal minutes (means, one run each):", "", *lines] if lines else []
    )


def named(point: dict) -> str:
    return f"{point['method']} {point['epochs']:g} ep" + (f" seed {point['seed']}" if point.get("seed") else "")


def cut_line(data: dict) -> list[str]:
    """The points the point budget cut, with their predicted pretraining minutes."""
    cut = data.get("cut", [])
    listed = ", ".join(f"{named(p)} ({p['minutes']:.0f} min predicted)" for p in cut)
    return ["", f"Cut by the point budget of {data['point_minutes']:g} pretraining minutes: {listed}."] if cut else []
