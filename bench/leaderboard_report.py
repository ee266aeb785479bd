"""Section 1 in BENCHMARKS.md: the leaderboard table, its plot, the targets and the paired
comparisons against every baseline, written from the section's stored rows only."""

from __future__ import annotations

from bench.rows import leaderboard_table, protocol_tables
from bench.targets import TARGET_FILE, targets_section
from bench.verdicts import MARKS_LEGEND, baseline_table, highest_line, protocol_budget
from evaluate.report import minutes


def epochs_text(epochs: float) -> str:
    return f"{epochs:g} epochs" if epochs else "its config's epochs (tuned on validation for the new tasks, section 7)"


def evaluation_share(rows: list[dict]) -> str:
    """Evaluation's share of the pretraining + evaluation time of the rows (a run's readings share
    one evaluation), against the target of at most a third, with the commits that measured it."""
    runs = {(r["run"], r["kind"]): r for r in rows}.values()
    evaluation = sum(r["eval_seconds"] for r in runs)
    total = evaluation + sum(sum(r.get("run_seconds", [])) for r in runs)
    share, bar = evaluation / max(total, 1e-9), TARGET_FILE["leaderboard_evaluation_share"]
    return (
        f" Evaluation took {minutes(evaluation)} of that, {100 * share:.0f}% (target ≤ {100 * bar:.0f}%: "
        f"{'met' if share <= bar else 'missed'}, as measured by the parts listed above)."
    )


def leaderboard_section(data: dict, plots: str) -> list[str]:
    tuned = data["finetune_labels"]
    budget = 10 if 10 in data["frozen_labels"] else data["frozen_labels"][0]
    runs, subsets = data.get("pretrain_seeds", 1), data["seeds"]
    highest = [
        highest_line(data, "linear", budget),
        highest_line(data, "knn", budget),
        highest_line(data, "finetune", tuned[len(tuned) // 2]),
    ]
    return [
        f"Every task pretrains its config's encoder (the paper's conv net with m = 20 unless the name says small "
        f"ResNet) for {epochs_text(data['epochs'])}, in {runs} pretraining run(s) with their own seeds (the pretrain "
        "column: mean minutes per run, epochs); test accuracy % as mean ± std over "
        f"{runs} × {subsets} labelled subsets per budget, each pretraining run with its own {subsets} ('all': over "
        "runs and seeds where something is random); the headline representation of each task is its config's "
        "`eval.representation` (the other reading, the row marked code or pooled, from the first pretraining run "
        "only); random-init and supervised-from-scratch baselines use the architecture named in brackets. Frozen "
        "protocols run on cached "
        "features with validation images as scarce as the labels; fine-tuning runs for at most "
        f"{data['finetune_max_epochs']:g} epochs (at least {data['finetune_min_steps']} steps) with the step chosen "
        "on validation; ⚑ marks a cell with a choice at its budget's cap or grid's edge; NMI and cluster accuracy "
        "from k-means fitted on the training features, scored on the test features (mean over pretraining runs)."
        + (
            f" Pretraining and evaluation took {minutes(data['compute_seconds'])} summed over runs (what a resumed "
            "bench reused is counted at the time it first took)." + evaluation_share(data["rows"])
            if "compute_seconds" in data
            else ""
        ),
        "",
        leaderboard_table(data),
        "",
        *protocol_tables(data),
        "",
        f"![label efficiency]({plots}/leaderboard_label_efficiency.png)",
        "",
        "Highest means (not a verdict: the best of several means is biased upward): "
        + "; ".join(h for h in highest if h)
        + ".",
        "",
        *targets_section(data),
        "",
        f"Is each representation better than the baselines? In accuracy points, paired over the {runs * subsets} "
        "shared labelled subsets (with all labels: over the pretraining runs, against a reference measured once) "
        "[95% t interval]. " + MARKS_LEGEND + " "
        f"At {budget} labels per class (fine-tuning: {protocol_budget(data, 'finetune', budget)}):",
        "",
        baseline_table(data, budget),
        "",
        "With all labels:",
        "",
        baseline_table(data, 0),
    ]
