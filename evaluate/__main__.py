"""Evaluate how a pretrained encoder transfers when labels are scarce, beside baselines.

    python -m evaluate --run runs/ae_fmnist
    python -m evaluate --run runs/ae_fmnist eval.seeds=5 eval.labels_per_class=[1,5,10]
    python -m evaluate --run runs/ae_fmnist --export-features exported/
    python -m evaluate compare runs/ae_fmnist runs/dae_fmnist [--out comparisons/]

Features are extracted once (cached in runs/NAME/features/) and every finished grid cell is
kept (runs/NAME/cells/), so a rerun only redoes what a changed setting touches; the report
(report.md, report.json, results.csv), plots/ and TensorBoard logs (tb/eval) land in the run
directory, or, for an evaluation with eval.* overrides or --baselines, in
runs/NAME/evals/<settings>/. --export-features writes the features alone, without the grid.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from evaluate.compare import compare_runs
from evaluate.entry import EvaluationSettings, evaluate_run
from evaluate.outputs import export_features
from evaluate.report import render_markdown
from evaluate.report_types import ReportVersionError
from evaluate.run import encoder_features, evaluation_dir
from pretrain.core.config import ConfigError
from pretrain.core.data import DataError
from pretrain.core.export import UnfinishedRunError


def export_command(args: argparse.Namespace) -> int:
    paths = export_features(encoder_features(args.run, args.overrides), args.export_features)
    print(f"exported encoder features: {', '.join(map(str, paths))}")
    return 0


def evaluate_command(args: argparse.Namespace) -> int:
    if args.export_features:
        return export_command(args)
    settings = EvaluationSettings(overrides=list(args.overrides), baselines=args.baselines, out_dir=args.out)
    report = evaluate_run(args.run, settings)
    print(render_markdown(report))
    out_dir = Path(args.out) if args.out else evaluation_dir(args.run, list(args.overrides), args.baselines)
    if out_dir != Path(args.run):
        print(f"\nwrote this evaluation to {out_dir} (not over the run's full report, {args.run}/report.md)")
    return 0


def compare_command(args: argparse.Namespace) -> int:
    print(compare_runs(args.runs, args.out))
    print(f"\nwrote {args.out}/leaderboard.md and {args.out}/label_efficiency.png")
    return 0


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["compare"]:
        parser = argparse.ArgumentParser(prog="python -m evaluate compare", description="compare evaluated runs")
        parser.add_argument("runs", nargs="+", type=Path)
        parser.add_argument("--out", type=Path, default=Path("runs/compare"))
        args = parser.parse_args(argv[1:])
        args.command = compare_command
        return args
    parser = argparse.ArgumentParser(prog="python -m evaluate", description=__doc__.split("\n\n")[0])
    parser.add_argument("--run", required=True, type=Path, help="a run directory written by python -m pretrain")
    parser.add_argument(
        "--baselines",
        default=None,
        type=lambda text: [] if text == "none" else text.split(","),
        help="comma-separated baselines instead of eval.baselines, or 'none'",
    )
    parser.add_argument(
        "--export-features",
        type=Path,
        default=None,
        help="only write train/val/test.npz of the encoder's features into this folder (no protocol runs)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help="where the report, plots and logs go (default: the run directory; RUN/evals/<settings> with overrides)",
    )
    parser.add_argument("overrides", nargs="*", help="eval.* overrides, e.g. eval.seeds=5 eval.finetune.enabled=false")
    args = parser.parse_intermixed_args(argv)
    args.command = evaluate_command
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        return args.command(args)
    except (ConfigError, DataError, FileNotFoundError, UnfinishedRunError, ReportVersionError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
