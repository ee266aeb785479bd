"""The headline table atop BENCHMARKS.md (and quoted in README, a test keeps the two equal):
the best few methods of section 1 beside raw pixels, PCA, the random-init encoder and
supervised training from scratch, with better / worse marks from the paired intervals."""

from __future__ import annotations

from bench.interface import SectionResult
from bench.verdicts import cell, paired_difference, reference_row, seeds_per_run
from evaluate.report import minutes, pct

COLUMNS = (("knn", 10), ("linear", 10), ("knn", 0), ("linear", 0), ("finetune", 100))
SHOWN = 4  # methods: the best by linear probe at 10 labels per class


def title(protocol: str, budget: int) -> str:
    name = {"knn": "kNN", "linear": "linear", "finetune": "fine-tuned"}[protocol]
    return f"{name} {'all' if budget == 0 else budget}"


def marked(data: dict, row: dict, protocol: str, budget: int) -> str:
    """The cell's mean, marked ↑ / ↓ where it is better / worse than raw pixels (fine-tuning:
    than scratch of the same architecture) beyond noise."""
    mine = cell(row, protocol, budget)
    if mine is None:
        return "—"
    if row["kind"] != "task":
        return pct(mine.mean)
    reference = reference_row(data, "scratch" if protocol == "finetune" else "raw_pixels", row.get("architecture"))
    found = paired_difference(mine, cell(reference, protocol, budget), seeds_per_run(data)) if reference else None
    mark = "" if found is None else " ↑" if found[1] > 0 else " ↓" if found[2] < 0 else ""
    return pct(mine.mean) + mark


def chosen_rows(data: dict) -> list[dict]:
    """The best SHOWN headline rows by linear at 10 labels/class, then the references of the best one's architecture."""
    tasks = [r for r in data["rows"] if r["kind"] == "task" and r["source"] == "encoder" and cell(r, "linear", 10)]
    best = sorted(tasks, key=lambda r: -cell(r, "linear", 10).mean)[:SHOWN]
    if not best:
        return []
    arch = best[0].get("architecture")
    references = [reference_row(data, source, arch) for source in ("raw_pixels", "pca", "random_init", "scratch")]
    return best + [r for r in references if r is not None]


def headline_lines(results: dict[str, SectionResult]) -> list[str]:
    if "leaderboard" not in results:
        return ["The leaderboard (section 1) has not been measured yet."]
    result = results["leaderboard"]
    data, machine = result.data, result.provenance.machine
    where = (
        "pretraining minutes as measured in each row's sitting, whose machines section 1 names"
        if len(result.parts) > 1
        else f"pretraining minutes on a {machine.cpu_cores}-core {machine.cpu}"
    )
    rows = chosen_rows(data)
    lines = [
        "| representation | " + " | ".join(title(p, b) for p, b in COLUMNS) + " | pretraining |",
        "|---|" + "---:|" * (len(COLUMNS) + 1),
    ]
    for row in rows:
        seconds = row.get("pretrain_seconds")
        shown = [marked(data, row, p, b) for p, b in COLUMNS]
        lines.append(
            f"| {row['representation']} | " + " | ".join(shown) + f" | {minutes(seconds) if seconds else '—'} |"
        )
    return [
        f"Test accuracy % on Fashion-MNIST at 10 labels per class and with all labels (section 1; {where}). "
        "↑ / ↓: better / worse than raw "
        "pixels beyond noise (fine-tuned: than supervised training from scratch of the same encoder), paired 95% "
        f"intervals over labelled subsets and pretraining runs. The {SHOWN} methods best at 10 labels per class "
        "under the linear probe, then the references of the first one's architecture.",
        "",
        *lines,
    ]
