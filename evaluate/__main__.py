"""Evaluate how a pretrained encoder transfers, beside baselines.

    python -m evaluate --run runs/ae_fmnist

Extracts features once (cached in runs/NAME/features/), runs kNN and a linear probe on
the encoder's code and on each baseline, writes report.md / report.json and prints the table.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from evaluate.baselines import feature_sources
from evaluate.features import cached_features
from evaluate.protocols import default_device, evaluate_features
from evaluate.report import write_report
from pretrain.config import ConfigError, config_hash, load_run_config
from pretrain.data import load_splits
from pretrain.provenance import git_commit


def evaluate_run(run_dir: Path, baselines: list[str] | None = None) -> dict:
    cfg = load_run_config(run_dir)
    splits = load_splits(cfg.data)
    device = default_device()
    chosen = cfg.eval.baselines if baselines is None else baselines
    rows = []
    for source in feature_sources(run_dir, cfg, splits, chosen, device):
        print(f"evaluating {source.name} ...", flush=True)
        parts = {
            name: cached_features(
                run_dir / "features", source.identity, name, getattr(splits, name), source.extract, use_cache=source.cache
            )
            for name in ("train", "val", "test")
        }
        metrics = evaluate_features(parts["train"], parts["val"], parts["test"], cfg.eval, splits.num_classes)
        rows.append({"source": source.name, "description": source.description, "dim": parts["train"].x.shape[1], **metrics})
    return {
        "run": cfg.name,
        "dataset": cfg.data.name,
        "encoder": cfg.encoder.name,
        "code_dim": cfg.encoder.code_dim,
        "config_hash": config_hash(cfg),
        "git_commit": git_commit(),
        "settings": {
            "train_size": len(splits.train), "val_size": len(splits.val), "test_size": len(splits.test),
            "knn_k": cfg.eval.knn_k, "knn_temperature": cfg.eval.knn_temperature, "linear_l2": cfg.eval.linear_l2,
        },  # fmt: skip
        "rows": rows,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m evaluate", description=__doc__.split("\n\n")[0])
    parser.add_argument("--run", required=True, type=Path, help="a run directory written by python -m pretrain")
    parser.add_argument("--baselines", nargs="*", default=None, help="override eval.baselines (none: no baselines)")
    args = parser.parse_args(argv)
    try:
        report = evaluate_run(args.run, args.baselines)
    except (ConfigError, FileNotFoundError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(write_report(args.run, report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
