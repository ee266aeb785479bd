"""Section 7, budgets tuned on validation: for each task, a small grid of settings (encoder,
learning rate, epochs, augmentation strength, crop size, code size), each pretrained within
the CPU budget, scored by kNN and linear-probe accuracy on the validation split, never the
test split. The chosen setting of each task is the one with the highest validation kNN
accuracy (all training labels) among those that finished within the budget.

The validation split is halved: one half chooses the probe's L2 strength, the other scores,
so no number that selects is also the number reported for that selection.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from bench.interface import Section, register_section
from bench.probes import knn_and_linear
from bench.runs import bench_config, pretrain
from bench.scales import Scale
from evaluate.baselines import encoder_source
from evaluate.features import source_features
from evaluate.report import minutes, pct
from evaluate.run import default_device, load_splits_checked
from evaluate.settings import load_run_config
from pretrain.core.run_folder import Run

# config -> settings tried (dotted overrides); every grid starts from the shipped config, which
# carries the choice of the last sweep (the settings it beat are listed as the alternatives)
GRIDS: dict[str, list[list[str]]] = {
    "configs/relpos_resnet_fmnist.yaml": [
        [],
        ["tasks.0.crop_size=7", "tasks.0.gap=2"],
        ["encoder.width=32"],
        ["train.epochs=6"],
    ],
    "configs/contrastive_fmnist.yaml": [[], ["tasks.0.augment.crop_scale=[0.2,1.0]"]],
    "configs/masked_fmnist.yaml": [[], ["tasks.0.mask_ratio=0.75"]],
    "configs/vae_fmnist.yaml": [[], ["tasks.0.beta=1.0"]],
    "configs/ae_fmnist.yaml": [[], ["encoder.code_dim=64"]],
    # the methods users pick instead: the papers' settings scaled to 28 px, then this
    # sweep (2026-12-02): BYOL's momentum 0.99 -> 0.996, VICReg's and Barlow Twins' lr 1e-3 -> 2e-3,
    # DINO's 2 local crops for 2 epochs -> none for 3
    "configs/byol_fmnist.yaml": [[], ["tasks.0.base_momentum=0.99"], ["optim.lr=2.0e-3"]],
    "configs/vicreg_fmnist.yaml": [[], ["tasks.0.invariance_weight=10.0"], ["optim.lr=1.0e-3"]],
    "configs/barlow_twins_fmnist.yaml": [[], ["tasks.0.off_diagonal_weight=1.0e-2"], ["optim.lr=1.0e-3"]],
    "configs/dino_fmnist.yaml": [[], ["tasks.0.local_crops_number=2", "train.epochs=2"], ["tasks.0.prototypes=4096"]],
    # LeJEPA: the paper's λ = 0.05 with VICReg's optimiser as shipped, against the λ and projector
    # size of the reference code's minimal script (0.02, 16-d), its 4 views, and a lower learning rate
    "configs/lejepa_fmnist.yaml": [
        [],
        ["tasks.0.trade_off=0.02", "tasks.0.projector_dim=16"],
        ["tasks.0.views=4"],
        ["optim.lr=1.0e-3"],
    ],
}


@dataclass(frozen=True)
class SweepSettings:
    tasks: int = 0  # the first N task grids (0 = all)
    settings: int = 0  # the first N settings of each grid (0 = all)
    budget_seconds: float = 1200.0  # pretraining time a setting may take on the machine (20 CPU-minutes)
    overrides: tuple[str, ...] = ()  # applied to every sweep run (tiny: short runs)
    labels: int = 10  # the scarce budget scored beside all labels
    seeds: int = 3  # labelled subsets per scarce-label score


def halves(val):
    """Two disjoint halves of the validation split (every other image, after a seeded shuffle)."""
    order = torch.randperm(len(val), generator=torch.Generator().manual_seed(0))
    return val.take(order[0::2].sort().values), val.take(order[1::2].sort().values)


def score_on_validation(run: Run, budget: int, seeds: int) -> dict:
    """Validation kNN and linear accuracy of the run's headline representation at ``budget``
    labels per class and with all labels."""
    cfg = load_run_config(run, [f"eval.seeds={seeds}"])
    splits = load_splits_checked(cfg)
    device = default_device()
    source = encoder_source(run, device, cfg.eval.batch_size, representation=cfg.eval.representation)
    features = source_features(run, source, splits, ("train", "val"))
    selecting, scoring = halves(features["val"])
    return knn_and_linear(
        features["train"], selecting, scoring, [budget, 0], cfg.eval, splits.num_classes, cfg.train.seed
    )


def run_sweep(scale: Scale, root: Path) -> dict:
    """Every setting of every grid, pretrained and scored (a finished run is reused)."""
    rows, sizes = [], scale.of("sweep")
    for base, grid in list(GRIDS.items())[: sizes.tasks or None]:
        for index, overrides in enumerate(grid[: sizes.settings or None]):
            name = f"{Path(base).stem}_{index}"
            extra = [*overrides, *sizes.overrides]
            cfg = bench_config(base, name, scale, root / "sweep", extra)
            seconds = pretrain(cfg)
            scores = score_on_validation(cfg.run, sizes.labels, sizes.seeds)
            rows.append(
                {
                    "config": base,
                    "setting": " ".join(overrides) or "as shipped",
                    "pretrain_seconds": seconds,
                    "within_budget": seconds <= sizes.budget_seconds,
                    "val_knn_all": scores["knn"][0],
                    "val_linear_all": scores["linear"][0],
                    "val_knn_scarce": scores["knn"][sizes.labels],
                    "val_linear_scarce": scores["linear"][sizes.labels],
                }
            )
    return sweep_data(rows, sizes)


def sweep_data(rows: list[dict], sizes: SweepSettings) -> dict:
    """The section's data: the rows, and the chosen setting of each config (the highest
    validation kNN accuracy with all labels among the settings within the budget)."""
    chosen = {}
    for row in rows:
        best = chosen.get(row["config"])
        if row["within_budget"] and (best is None or row["val_knn_all"] > best["val_knn_all"]):
            chosen[row["config"]] = row
    return {
        "rows": rows,
        "chosen": {config: row["setting"] for config, row in chosen.items()},
        "budget_seconds": sizes.budget_seconds,
        "labels_per_class": sizes.labels,
    }


def sweep_section(data: dict, plots: str) -> list[str]:
    n = data["labels_per_class"]
    lines = [
        f"| config | setting | pretraining | val kNN all | val linear all | val kNN {n}/class | val linear {n}/class |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for r in data["rows"]:
        chosen = data["chosen"].get(r["config"]) == r["setting"]
        over = "" if r["within_budget"] else " (over budget)"
        lines.append(
            f"| {r['config']} | {'**' if chosen else ''}{r['setting']}{'**' if chosen else ''} | "
            f"{minutes(r['pretrain_seconds'])}{over} | {pct(r['val_knn_all'])} | {pct(r['val_linear_all'])} | "
            f"{pct(r['val_knn_scarce'])} | {pct(r['val_linear_scarce'])} |"
        )
    return [
        f"Each setting pretrained once; scored on half of the validation split (the other half chooses the linear "
        f"probe's L2), never on test. Bold: the setting chosen for each config, the highest validation kNN "
        f"accuracy with all labels among those within {minutes(data['budget_seconds'])} of pretraining.",
        "",
        *lines,
    ]


def sweep_finding(data: dict) -> str:
    changed = {config: s for config, s in data["chosen"].items() if s != "as shipped"}
    return (
        f"Of {len(data['chosen'])} configs, {len(changed)} chose a setting other than the config's at the time"
        + (": " + "; ".join(f"{c} {s}" for c, s in changed.items()) if changed else "")
        + " (validation kNN with all labels, within the pretraining budget); the configs carry the choices."
    )


SECTION = register_section(
    Section("sweep", "7. Budgets tuned on validation", SweepSettings, run_sweep, sweep_section, finding=sweep_finding)
)
