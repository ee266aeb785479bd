"""Section 9: do label-free scores predict transfer?

Every leaderboard task's first pretraining run (the same run directory section 1 uses) is
evaluated through ``evaluate_run`` with the label-free protocols and with kNN and the linear
probe at a scarce and at the full label budget; the Spearman rank correlation between each
label-free score and each accuracy across the runs, with a bootstrap interval over runs
(evaluate.label_free.spearman_interval), says whether a user with no labels could rank runs
by that score. The baselines are scored beside the first run, shown but not correlated (a
different dimension and no pretraining)."""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from pathlib import Path

from bench.interface import Section, register_section
from bench.runs import pretrain
from bench.scales import Scale
from bench.sections.leaderboard import BASELINES, scale_entries, seed_runs
from evaluate.entry import EvaluationSettings, evaluate_run
from evaluate.label_free import spearman_interval
from evaluate.report import budget_name, pct

LABEL_FREE = ("rankme", "alignment_uniformity", "view_retrieval")  # protocols with one score per source
SCORES = ("rankme", "rankme_per_dim", "alignment", "uniformity", "view_retrieval")
BETTER_HIGH = {"rankme": True, "rankme_per_dim": True, "alignment": False, "uniformity": False, "view_retrieval": True}


@dataclass(frozen=True)
class LabelFreeSettings:
    scarce: int = 10  # the scarce budget the scores are correlated with (and all labels)
    resamples: int = 2000  # bootstrap resamples of the runs for the correlation's interval


def targets(scale: Scale) -> list[tuple[str, int]]:
    """(protocol, labels per class) the scores are correlated with: kNN and linear, scarce and all."""
    return [(p, b) for p in ("knn", "linear") for b in (scale.of("label_free").scarce, 0)]


def run_row(report, source: str, label: str, kind: str, wanted: list[tuple[str, int]]) -> dict:
    """One representation: its label-free scores and its mean test accuracy per target."""
    scores = {}
    for m in report.label_free:
        if m.source == source:
            scores |= m.result.scores()
    accuracy = {f"{p} {b}": report.summary_cell(source, p, b).mean for p, b in wanted}
    return {"representation": label, "source": source, "kind": kind, "scores": scores, "accuracy": accuracy}


def evaluate_entry(name: str, label: str, base: str, scale: Scale, root: Path, baselines: list[str]) -> list[dict]:
    cfg = seed_runs(name, base, scale, root)[0]  # section 1's first pretraining run
    pretrain(cfg)
    wanted = targets(scale)
    budgets = ",".join(map(str, sorted({b for _, b in wanted}, key=lambda b: (b == 0, b))))
    overrides = [
        f"eval.labels_per_class=[{budgets}]",
        f"eval.seeds={scale.of('leaderboard').seeds}",
        f"eval.protocols=[knn,linear,{','.join(LABEL_FREE)}]",
    ]
    settings = EvaluationSettings(overrides, baselines, other_readings=False, diagnostics=False, write=False)
    report = evaluate_run(cfg.run, settings)
    rows = [run_row(report, "encoder", label, "task", wanted)]
    return rows + [run_row(report, b, b, "baseline", wanted) for b in baselines]


def correlations(rows: list[dict], wanted: list[str], resamples: int) -> list[dict]:
    """Spearman rho [95% bootstrap interval over runs] of every score against every target, task rows only."""
    tasks = [r for r in rows if r["kind"] == "task"]
    out = []
    for score in SCORES:
        have = [r for r in tasks if score in r["scores"]]
        for target in wanted:
            xs, ys = [r["scores"][score] for r in have], [r["accuracy"][target] for r in have]
            try:
                rho, low, high = spearman_interval(xs, ys, resamples)
            except ValueError:  # fewer than 3 runs, or a side constant across them: no correlation to state
                rho = low = high = None
            out.append({"score": score, "target": target, "rho": rho, "low": low, "high": high, "runs": len(have)})
    return out


def run_label_free(scale: Scale, root: Path) -> dict:
    rows = []
    for i, (name, label, base) in enumerate(scale_entries(scale)):
        rows += evaluate_entry(name, label, base, scale, root, list(BASELINES) if i == 0 else [])
    wanted = [f"{p} {b}" for p, b in targets(scale)]
    return {
        "rows": rows,
        "targets": wanted,
        "correlations": correlations(rows, wanted, scale.of("label_free").resamples),
        "seeds": scale.of("leaderboard").seeds,
    }


def trusted(data: dict) -> list[str]:
    """Scores whose interval excludes zero, in the direction that says "better", for every target."""
    found = []
    for score in SCORES:
        rows = [c for c in data["correlations"] if c["score"] == score]
        agrees = (
            (lambda c: c["rho"] is not None and c["low"] > 0)
            if BETTER_HIGH[score]
            else (lambda c: c["rho"] is not None and c["high"] < 0)
        )
        if rows and all(agrees(c) for c in rows):
            found.append(score)
    return found


def rho_cell(c: dict) -> str:
    if c["rho"] is None:
        return "— (too few runs or a constant side)"
    return f"{c['rho']:+.2f} [{c['low']:+.2f}, {c['high']:+.2f}]"


def trust_sentence(data: dict) -> str:
    trust = trusted(data)
    if trust:
        return (
            f"Trustworthy here for picking a run without labels: {', '.join(trust)} (interval excludes 0 in the "
            "expected direction for every target)."
        )
    return (
        "No label-free score's interval excludes 0 in the expected direction for every target: none can be "
        "trusted to pick a run without labels on this evidence."
    )


def label_free_section(data: dict, plots: str) -> list[str]:
    wanted = data["targets"]
    head = ["representation", *SCORES, *(t.replace(" 0", " all") for t in wanted)]
    lines = ["| " + " | ".join(head) + " |", "|---|" + "---:|" * (len(head) - 1)]
    for r in data["rows"]:
        scores = [f"{r['scores'][s]:.3f}" if s in r["scores"] else "—" for s in SCORES]
        lines.append(
            f"| {r['representation']} | " + " | ".join(scores + [pct(r["accuracy"][t]) for t in wanted]) + " |"
        )
    table = ["| score | " + " | ".join(t.replace(" 0", " all") for t in wanted) + " |", "|---|" + "---:|" * len(wanted)]
    for score in SCORES:
        cells = {c["target"]: c for c in data["correlations"] if c["score"] == score}
        shown = [rho_cell(cells[t]) for t in wanted]
        table.append(
            f"| {score} ({'higher' if BETTER_HIGH[score] else 'lower'} = better?) | " + " | ".join(shown) + " |"
        )
    runs = statistics.mode(c["runs"] for c in data["correlations"])
    verdict = trust_sentence(data)
    return [
        f"Each leaderboard task's first pretraining run, evaluated with `eval.protocols=[knn,linear,rankme,"
        f"alignment_uniformity,view_retrieval]` on the validation split's images (label-free) and the test split "
        f"(accuracy, {data['seeds']} labelled draws at {budget_name(int(wanted[0].split()[1]))} labels/class). "
        "Baselines are shown for scale, not correlated.",
        "",
        *lines,
        "",
        f"Spearman rank correlation across the {runs} runs [95% bootstrap interval over runs]:",
        "",
        *table,
        "",
        verdict,
    ]


SECTION = register_section(
    Section("label_free", "9. Do label-free scores predict transfer?", LabelFreeSettings, run_label_free,
            label_free_section, uses=("leaderboard",), finding=lambda data: trust_sentence(data))
)  # fmt: skip
