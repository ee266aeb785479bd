"""Compare runs: one leaderboard of the encoders' test accuracy per protocol and label
budget, and one label-efficiency plot with every run's encoder.

Runs are keyed by their path (two runs may share a name), and each row lists the
evaluation settings its numbers came from, so rows evaluated differently can be told apart."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from evaluate import plots
from evaluate.contract import protocol_rank
from evaluate.report import budget_name, mean_std
from evaluate.report_types import Report
from evaluate.verdict import make_verdict
from pretrain.core.run_folder import EvaluationFolder

SETTINGS_SHOWN = ("seeds", "val_per_class", "labels_per_class")


def load_report(folder: EvaluationFolder) -> Report:
    """The report of an evaluation's folder (a run, or one of its evals/...)."""
    path = folder.report_json
    if not path.is_file():
        raise FileNotFoundError(
            f"{path} is missing: run `python -m evaluate --run {folder.path}` first, or pass one of its evaluations "
            f"with overrides ({folder.path}/evals/...)"
        )
    return Report.from_json(path.read_text())


def eval_settings(report: Report) -> str:
    """The evaluation settings a run's numbers depend on, in one cell."""
    s = report.settings
    shown = [f"{k}={s[k]}" for k in SETTINGS_SHOWN if k in s]
    shown.append(f"linear.l2={s['linear']['l2']}")
    shown.append(f"finetune.max_epochs={s['finetune']['max_epochs']:g}")
    return "; ".join(shown + [f"weights {report.encoder_weights_sha256}"])


def leaderboard(reports: dict[str, Report]) -> str:
    """Rows: run (by path); columns: protocol x budget of the encoder's features (mean ± std), its settings."""
    columns = sorted(
        {(r.protocol, r.labels_per_class) for rep in reports.values() for r in rep.rows("encoder")},
        key=lambda c: (protocol_rank(c[0]), c[1] == 0, c[1]),
    )
    head = ["run", "tasks"] + [f"{p} {budget_name(b)}" for p, b in columns] + ["evaluation settings"]
    lines = ["| " + " | ".join(head) + " |", "|---|---|" + "---:|" * len(columns) + "---|"]
    for path, rep in reports.items():
        cells = {(r.protocol, r.labels_per_class): r for r in rep.rows("encoder")}
        row = [path, rep.tasks] + [mean_std(cells.get(c)) for c in columns] + [eval_settings(rep)]
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def verdicts(reports: dict[str, Report]) -> str:
    """Each run's verdict, generated from its own report: its first sentence and its alarm."""
    lines = ["Verdicts (each run against its own baselines):", ""]
    for path, rep in reports.items():
        verdict = rep.verdict or make_verdict(rep)
        alarm = " **Collapse alarm.**" if rep.collapse and rep.collapse.fired else ""
        lines.append(f"- {path}:{alarm} {verdict.sentences[0]}")
    return "\n".join(lines)


def compare_runs(run_dirs: list[Path], out_dir: Path) -> str:
    reports = {str(Path(d)): load_report(EvaluationFolder(Path(d))) for d in run_dirs}
    table = leaderboard(reports) + "\n\n" + verdicts(reports)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "leaderboard.md").write_text(table + "\n")
    rows = [dataclasses.replace(r, source=f"run:{path}") for path, rep in reports.items() for r in rep.rows("encoder")]
    full = max(rep.settings["train_size"] // max(1, len(rep.settings["classes"])) for rep in reports.values())
    plots.label_efficiency_plot(rows, out_dir / "label_efficiency.png", "encoders compared (test accuracy)", full)
    return table
