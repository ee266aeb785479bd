"""Runs against a reference run, on the same labelled subsets and the same test images: the
linear probe and kNN at every label budget, paired 95% intervals of each run minus the
reference, and of every run minus raw pixels and the random-init encoder (evaluated beside the
reference, whose architecture the runs must share).

    python scripts/versus_reference.py --reference runs/bench/small/leaderboard/contrastive \\
        runs/bench/small/leaderboard/{byol,vicreg,barlow_twins,dino} [--out versus.md]

Intervals are those of the report (evaluate.uncertainty): with all labels, a bootstrap over
test images; with few, a paired t over the shared labelled subsets. One pretraining run per
method: the spread between pretraining seeds is not in them.
"""

import argparse
import dataclasses
import time
from pathlib import Path

from evaluate.entry import EvaluationSettings, evaluate_run
from evaluate.report import budget_name, difference_cell
from evaluate.run import load_splits_checked
from evaluate.settings import load_run_config
from evaluate.suite import paired_differences, summarise
from pretrain.core.run_folder import Run

BUDGETS = "[1,10,100,0]"
OVERRIDES = [
    "eval.protocols=[linear,knn]",
    f"eval.labels_per_class={BUDGETS}",
    "eval.seeds=2",
    "eval.layer_probe_labels_per_class=-1",
]
BASELINES = ["raw_pixels", "random_init"]


def records_of(run_dir: Path, baselines: list[str]) -> list:
    """The run's encoder records, named after the run, and the baselines' under their own names."""
    settings = EvaluationSettings(
        overrides=OVERRIDES, baselines=baselines, other_readings=False, diagnostics=False, write=False
    )
    report = evaluate_run(run_dir, settings)
    return [dataclasses.replace(r, source=run_dir.name) if r.source == "encoder" else r for r in report.records]


def pretrain_minutes(run_dir: Path) -> str:
    info = Run.at(run_dir).exported
    return f"{info['train_seconds_last_invocation'] / 60:.1f} min, {info['steps']} steps"


def accuracy_table(records: list, labels, names: list[str]) -> list[str]:
    rows = {(r.source, r.protocol, r.labels_per_class): r for r in summarise(records, labels)}
    budgets = sorted({r.labels_per_class for r in records}, key=lambda b: (b == 0, b))
    columns = [(p, b) for p in ("linear", "knn") for b in budgets]
    head = ["source"] + [f"{p} {budget_name(b)}" for p, b in columns]
    lines = ["| " + " | ".join(head) + " |", "|---|" + "---:|" * len(columns)]
    for name in names:
        cells = [rows.get((name, p, b)) for p, b in columns]
        lines.append(f"| {name} | " + " | ".join(f"{100 * c.mean:.1f}" if c else "—" for c in cells) + " |")
    return lines


def difference_table(differences: list) -> list[str]:
    lines = ["| a − b | protocol | labels/class | difference in points [95% interval] |", "|---|---|---:|---|"]
    for d in differences:
        lines.append(f"| {d.a} − {d.b} | {d.protocol} | {budget_name(d.labels_per_class)} | {difference_cell(d)} |")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reference", type=Path, required=True)
    parser.add_argument("runs", type=Path, nargs="+")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    started = time.perf_counter()
    records = records_of(args.reference, BASELINES)
    for run in args.runs:
        records += records_of(run, [])
    labels = load_splits_checked(load_run_config(args.reference, [])).test.y
    names = [args.reference.name] + [r.name for r in args.runs]
    versus_reference = paired_differences(
        [r for r in records if r.source in names], labels, references=(args.reference.name,)
    )
    versus_baselines = paired_differences(records, labels, references=tuple(BASELINES))
    lines = ["Test accuracy % (mean over 2 labelled subsets; all labels: one fit)", ""]
    lines += accuracy_table(records, labels, names + BASELINES)
    lines += ["", "Pretraining: " + "; ".join(f"{r.name} {pretrain_minutes(r)}" for r in [args.reference, *args.runs])]
    lines += ["", f"Each run minus {args.reference.name}", ""] + difference_table(versus_reference)
    all_labels = [d for d in versus_baselines if d.labels_per_class == 0]
    lines += ["", "Each run minus the baselines, all labels", ""] + difference_table(all_labels)
    lines += ["", f"({time.perf_counter() - started:.0f} s of evaluation)"]
    text = "\n".join(lines)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()
