"""Pretrain an encoder with one or more pretext tasks.

    python -m pretrain --config configs/ae_fmnist.yaml optim.lr=3e-4
    accelerate launch -m pretrain --config configs/ae_fmnist.yaml
    torchrun --nproc_per_node 2 -m pretrain --config configs/ae_fmnist.yaml
    python -m pretrain --config configs/ae_fmnist.yaml --resume      # continue from the last checkpoint
    python -m pretrain --config configs/smoke.yaml --print-config     # the resolved config, every default
    python -m pretrain --list configs                                # also: tasks, encoders, datasets

Overrides are dotted config keys (key.sub=value); an unknown key or a wrong type is an error.
"""

from __future__ import annotations

import argparse
import sys

from pretrain.core.catalogue import catalogue, resolved_yaml
from pretrain.core.config import ConfigError, load_config
from pretrain.core.data import DataError
from pretrain.meter import NonFiniteLossError


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m pretrain", description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", help="a YAML file (python -m pretrain --list configs)")
    parser.add_argument("--resume", action="store_true", help="continue the run from its last checkpoint")
    parser.add_argument(
        "--print-config", action="store_true", help="print the resolved config with every default as YAML, and exit"
    )
    parser.add_argument("--list", metavar="KIND", help="list tasks, encoders, datasets or configs, one line each")
    parser.add_argument("overrides", nargs="*", help="dotted overrides, e.g. optim.lr=3e-4 tasks.0.decoder=linear")
    return parser.parse_intermixed_args(argv)  # overrides may come before or after --resume


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if not args.list and not args.config:
        print("error: --config is required (python -m pretrain --list configs shows the shipped ones)", file=sys.stderr)
        return 2
    try:
        if args.list:
            print("\n".join(catalogue(args.list)))
            return 0
        cfg = load_config(args.config, args.overrides)
        if args.print_config:
            print(resolved_yaml(cfg), end="")
            return 0
        from pretrain.engine import run_pretraining  # heavy imports after the config is known good

        run_pretraining(cfg, resume=args.resume)
    except (ConfigError, DataError, FileNotFoundError, NonFiniteLossError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2 if isinstance(err, ConfigError) else 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
