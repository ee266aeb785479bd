"""Section 10 in BENCHMARKS.md, assembled: the finding, the section's lines, and LeJEPA read
against the better of VICReg and SimCLR, beside the run-to-run spread of VICReg's seeded runs.

LeJEPA is pretrained once per length, so whether it is "within noise" of its rivals is read as:
does its one run fall inside a 95% prediction interval for one more run of the better rival
(the interval's width from VICReg's runs: same encoder, views and optimiser)?
"""

from __future__ import annotations

import statistics

from bench.length_report import (
    best,
    cell,
    columns,
    cut_line,
    findings,
    most_won,
    named,
    pairs_table,
    points_table,
    seeded_points,
    target_lines,
    title,
    variant_lines,
)
from evaluate.report import pct, signed
from evaluate.uncertainty import prediction_interval


def lejepa_line(data: dict) -> str:
    """LeJEPA minus the better of VICReg and SimCLR at each length all three ran (same encoder
    and views, so equal epochs take about equal minutes), on the linear probe at the scarce budget."""
    column, said = columns(data)[1], []
    for epochs in sorted(r["epochs"] for r in data["rows"] if r["run"] == "lejepa"):
        mine, *rivals = (row_at(data, run, epochs) for run in ("lejepa", "vicreg", "contrastive"))
        means = [found.mean for r in (mine, *rivals) if r and (found := cell(r["cells"], column))]
        if len(means) == 3:
            said.append(f"{epochs:g} ep {signed(means[0] - max(means[1:]))}")
    return (
        f"LeJEPA minus the better of VICReg and SimCLR, {title(column)}, mean points: {'; '.join(said)}."
        if said
        else "LeJEPA against VICReg and SimCLR: not measured at a common length yet."
    )


def row_at(data: dict, run: str, epochs: float) -> dict | None:
    """The table's row (seed 0) of ``run`` at ``epochs``, if it was measured."""
    return next((r for r in data["rows"] if (r["run"], r["epochs"]) == (run, epochs)), None)


def against_rivals(data: dict) -> dict[float, list[tuple[str, float, float, float]]]:
    """{epochs: [(column, LeJEPA's mean, low, high), ...]} at each length where LeJEPA ran and
    VICReg has several runs: [low, high] is the 95% prediction interval of VICReg's runs, or, in a
    column where SimCLR's one run beats their mean, one centred on that run with VICReg's spread."""
    found = {}
    for runs in seeded_points(data):
        mine = row_at(data, "lejepa", runs[0]["epochs"])
        if runs[0]["run"] != "vicreg" or mine is None:
            continue
        simclr = row_at(data, "contrastive", runs[0]["epochs"]) or {}
        found[runs[0]["epochs"]] = []
        for column in columns(data):
            vicreg, lejepa = [cell(r["cells"], column) for r in runs], cell(mine["cells"], column)
            if not all(vicreg) or lejepa is None:
                continue
            values, rival = [c.mean for c in vicreg], cell(simclr.get("cells", {}), column)
            better = rival.mean if rival and rival.mean > statistics.fmean(values) else None
            found[runs[0]["epochs"]].append((column, lejepa.mean, *prediction_interval(values, better)))
    return found


def verdict(mean: float, low: float, high: float) -> str:
    return "ahead" if mean > high else "behind" if mean < low else "within"


def rival_lines(data: dict) -> list[str]:
    found = against_rivals(data)
    lines = [
        f"- {epochs:g} ep: "
        + "; ".join(f"{title(c)} {pct(m)} in [{pct(lo)}, {pct(hi)}]: {verdict(m, lo, hi)}" for c, m, lo, hi in cells)
        + "."
        for epochs, cells in sorted(found.items())
    ]
    head = (
        "LeJEPA's one run against the better of VICReg and SimCLR, with the run-to-run spread of VICReg's "
        f"{data['pretrain_seeds']} runs (a 95% interval for one more run; within it, one run cannot tell them apart):"
    )
    return [head, "", *lines] if lines else []


def lejepa_target_row(data: dict) -> str:
    """The target row, judged at the longest length with VICReg's runs."""
    found = against_rivals(data)
    if not found:
        return "| LeJEPA within noise of or ahead of VICReg and SimCLR | within | not measured | — |"
    epochs, cells = max(found.items())
    behind = [title(c) for c, m, lo, hi in cells if verdict(m, lo, hi) == "behind"]
    status = f"gap: behind in {', '.join(behind)}" if behind else "met"
    shown = f"{len(cells) - len(behind)} of {len(cells)} columns within or ahead ({epochs:g} ep)"
    return f"| LeJEPA within noise of or ahead of VICReg and SimCLR | within | {shown} | {status} |"


def length_finding(data: dict) -> str:
    """The best point at the scarce budget, and how it compares with raw pixels."""
    column = columns(data)[1]
    found = best(data, column)
    pixels = cell(data["references"]["raw pixels"], column)
    if found is None or pixels is None:
        return "Not measured yet."
    waiting = f" {len(data.get('pending', []))} point(s) are still to be measured." if data.get("pending") else ""
    count, _, where = most_won(data)
    paired = (
        f" Of section 1's 8 paired comparisons, over {data['pretrain_seeds']} pretraining runs, the seeded points "
        f"win at most {count} ({where})."
        if where
        else ""
    )
    return (
        f"Best {title(column)}: {pct(found[0])} ({found[1]}), against raw pixels' {pct(pixels.mean)}.{paired}{waiting}"
    )


def length_section(data: dict, plots: str) -> list[str]:
    pending = data.get("pending", [])
    variants, pairs, rivals = variant_lines(data), pairs_table(data), rival_lines(data)
    return [
        f"Each point is one pretraining run (seed 0) of the method's config at that many epochs, evaluated like "
        f"section 1: kNN and linear probe over {data['seeds']} labelled subsets at {data['scarce']} labels/class "
        "(mean ± std) and with all labels, fine-tuned minus supervised-from-scratch (same architecture) paired over "
        f"{data['seeds']} subsets at {data['finetune_labels']}/class. Pretraining is wall minutes on the machine "
        "the section names. The table shows one pretraining run per point (seed 0), so its intervals count "
        "labelled subsets, not pretraining runs; the seeded points below add runs.",
        "",
        *points_table(data),
        "",
        f"![transfer against pretraining time]({plots}/pretrain_length.png)",
        "",
        *findings(data),
        "",
        *([*variants, ""] if variants else []),
        *([*pairs, ""] if pairs else []),
        lejepa_line(data),
        "",
        *([*rivals, ""] if rivals else []),
        "Targets (bench/targets.yaml), over every point:",
        "",
        *target_lines(data),
        lejepa_target_row(data),
        *cut_line(data),
        *(
            ["", f"Not measured yet (the same command again goes on from here): {', '.join(map(named, pending))}."]
            if pending
            else []
        ),
    ]
