"""Evaluate how a pretrained encoder transfers when labels are scarce, beside baselines.

    python -m evaluate --run runs/ae_fmnist
    python -m evaluate --run runs/ae_fmnist eval.seeds=5 eval.labels_per_class=[1,5,10]
    python -m evaluate --run runs/ae_fmnist --export-features exported/
    python -m evaluate compare runs/ae_fmnist runs/dae_fmnist [--out comparisons/]
    python -m evaluate store [--prune]
    python -m evaluate schema      # rewrite the eval.* schema pretraining configs are checked against
    python -m evaluate --run runs/ae_fmnist --print-config eval.seeds=5   # the resolved config, every default
    python -m evaluate --list protocols     # also: tasks, encoders, datasets, configs

Features are extracted once (the encoder's cached in runs/NAME/features/, the baselines' in
the machine-wide store) and every finished grid cell is kept in that store (eval.store,
default data/cache/eval/), shared by every run on this machine: a rerun only redoes what a
changed setting touches, and a new run on the same data reuses every baseline; the report
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
from evaluate.protocol_registry import PROTOCOLS
from evaluate.report import render_markdown
from evaluate.report_types import ReportVersionError
from evaluate.run import encoder_features, evaluation_folder
from evaluate.settings import load_run_config, write_schema
from evaluate.store import describe, megabytes, prune, store_path, survey
from evaluate.verdict import verdict_lines
from pretrain.core.catalogue import REGISTRIES, catalogue, resolved_yaml
from pretrain.core.config import ConfigError
from pretrain.core.data import DataError
from pretrain.core.run_folder import Run
from pretrain.core.saved_encoder import UnfinishedRunError


def export_command(args: argparse.Namespace) -> int:
    paths = export_features(encoder_features(Run.at(args.run), args.overrides), args.export_features)
    print(f"exported encoder features: {', '.join(map(str, paths))}")
    return 0


def evaluate_command(args: argparse.Namespace) -> int:
    if args.export_features:
        return export_command(args)
    settings = EvaluationSettings(overrides=list(args.overrides), baselines=args.baselines, out_dir=args.out)
    report = evaluate_run(args.run, settings)
    print(render_markdown(report))
    out_dir = Path(args.out) if args.out else evaluation_folder(Run.at(args.run), args.overrides, args.baselines).path
    if out_dir != Path(args.run):
        print(f"\nwrote this evaluation to {out_dir} (not over the run's full report, {args.run}/report.md)")
    print("\n" + "\n".join(verdict_lines(report)))  # the answer last, where the reader's eye is
    return 0


def list_command(args: argparse.Namespace) -> int:
    print("\n".join(catalogue(args.list, {"protocols": PROTOCOLS, **REGISTRIES})))
    return 0


def config_command(args: argparse.Namespace) -> int:
    print(resolved_yaml(load_run_config(Run.at(args.run), list(args.overrides))), end="")
    return 0


def compare_command(args: argparse.Namespace) -> int:
    print(compare_runs(args.runs, args.out))
    print(f"\nwrote {args.out}/leaderboard.md and {args.out}/label_efficiency.png")
    return 0


def store_command(args: argparse.Namespace) -> int:
    root = store_path(args.store)
    if root is None or not root.is_dir():
        print(f"no evaluation store at {root}" if root else "the evaluation store is off (eval.store=none)")
        return 0
    if args.prune:
        removed, freed = prune(root)
        print(f"removed {removed} entries ({megabytes(freed)}) that no current code on this machine can use")
    print(describe(root, survey(root, check=args.check), args.check))
    return 0


def store_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m evaluate store",
        description="the machine-wide evaluation store: size per kind of entry; --prune removes what no current "
        "code on this machine can use (entries of changed code, of another machine, torn files)",
    )
    parser.add_argument("--store", default="", help="the store's folder (default: eval.store's default)")
    parser.add_argument("--prune", action="store_true", help="remove stale entries first")
    parser.add_argument("--check", action="store_true", help="also count the stale entries of each kind")
    parser.set_defaults(command=store_command)
    return parser


def schema_command(args: argparse.Namespace) -> int:
    print(f"wrote {write_schema()}: the eval.* keys, types, defaults and choices pretraining checks")
    return 0


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["schema"]:
        parser = argparse.ArgumentParser(
            prog="python -m evaluate schema",
            description="rewrite pretrain/core/eval_schema.json from the evaluation settings and every protocol's",
        )
        args = parser.parse_args(argv[1:])
        args.command = schema_command
        return args
    if argv[:1] == ["store"]:
        return store_parser().parse_args(argv[1:])
    if argv[:1] == ["compare"]:
        parser = argparse.ArgumentParser(prog="python -m evaluate compare", description="compare evaluated runs")
        parser.add_argument("runs", nargs="+", type=Path)
        parser.add_argument("--out", type=Path, default=Path("runs/compare"))
        args = parser.parse_args(argv[1:])
        args.command = compare_command
        return args
    parser = argparse.ArgumentParser(prog="python -m evaluate", description=__doc__.split("\n\n")[0])
    parser.add_argument("--run", type=Path, help="a run directory written by python -m pretrain")
    parser.add_argument(
        "--print-config",
        action="store_true",
        help="print the run's resolved config with the overrides as YAML, and exit",
    )
    parser.add_argument("--list", metavar="KIND", help="list protocols, tasks, encoders, datasets or configs")
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
    parser.add_argument(
        "overrides", nargs="*", help="eval.* overrides, e.g. eval.seeds=5 eval.skip=[finetune,self_training]"
    )
    args = parser.parse_intermixed_args(argv)
    if not args.list and args.run is None:
        parser.error("--run is required (or --list KIND)")
    args.command = list_command if args.list else config_command if args.print_config else evaluate_command
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
