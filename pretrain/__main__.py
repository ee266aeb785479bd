"""Pretrain an encoder with one or more pretext tasks.

    python -m pretrain --config configs/ae_fmnist.yaml optim.lr=3e-4
    accelerate launch -m pretrain --config configs/ae_fmnist.yaml
    torchrun --nproc_per_node 2 -m pretrain --config configs/ae_fmnist.yaml
    python -m pretrain --config configs/ae_fmnist.yaml --resume      # continue from the last checkpoint

Overrides are dotted config keys (key.sub=value); an unknown key or a wrong type is an error.
"""

from __future__ import annotations

import argparse
import sys

from pretrain.core.config import ConfigError, load_config
from pretrain.core.data import DataError
from pretrain.meter import NonFiniteLossError


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m pretrain", description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", required=True, help="YAML file in configs/")
    parser.add_argument("--resume", action="store_true", help="continue the run from its last checkpoint")
    parser.add_argument("overrides", nargs="*", help="dotted overrides, e.g. optim.lr=3e-4 tasks.0.decoder=linear")
    return parser.parse_intermixed_args(argv)  # overrides may come before or after --resume


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        cfg = load_config(args.config, args.overrides)
        from pretrain.engine import run_pretraining  # heavy imports after the config is known good

        run_pretraining(cfg, resume=args.resume)
    except (ConfigError, DataError, FileNotFoundError, NonFiniteLossError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2 if isinstance(err, ConfigError) else 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
