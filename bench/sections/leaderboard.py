"""Section 1: every pretext task with the same epoch budget, pretrained with several seeds,
evaluated with the suite's protocols on cached features (linear, MLP head, kNN at 1/10/100/all
labels per class, k-means clustering) and fine-tuned, beside the baselines: raw pixels and
PCA once, a random-init encoder and supervised-from-scratch once per encoder architecture.

Pairing: every run draws its labelled subsets from one shared sequence (pretraining seed p
takes subsets p*S ... p*S+S-1, S = the scale's seeds); the baselines are evaluated on all of them,
so each task's difference to a baseline is taken on the same labelled images."""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from pathlib import Path

import torch

from bench.figures import leaderboard_plot
from bench.interface import Section, register_section
from bench.leaderboard_report import leaderboard_section
from bench.rows import label_free_scores, mean_metrics
from bench.runs import bench_config, pretrain
from bench.scales import Scale
from bench.targets import leaderboard_finding
from bench.verdicts import PER_ARCHITECTURE
from evaluate.entry import EvaluationSettings, evaluate_run
from evaluate.report_types import to_plain
from evaluate.run import load_splits_checked
from evaluate.suite import summarise
from pretrain.core.config import Config
from pretrain.core.run_folder import Run

# (run name, representation label, base config); decoder-only yields two representations.
ENTRIES = (
    ("ae_mirror", "AE, mirror decoder", "configs/ae_fmnist.yaml"),
    ("ae_m64", "AE, mirror decoder, m = 64", "configs/ae_m64_fmnist.yaml"),
    ("ae_linear", "AE, linear decoder", "configs/ae_linear_fmnist.yaml"),
    ("denoising", "denoising AE (50% masking)", "configs/dae_fmnist.yaml"),
    ("decoder_only", "decoder-only, distilled encoder", "configs/decoder_only_fmnist.yaml"),
    ("relpos", "relative position", "configs/relpos_fmnist.yaml"),
    ("ae_relpos", "AE + relative position (0.5)", "configs/ae_relpos_fmnist.yaml"),
    ("vae", "β-VAE (β = 0.25)", "configs/vae_fmnist.yaml"),
    ("relpos_resnet", "relative position, small ResNet, native crops", "configs/relpos_resnet_fmnist.yaml"),
    ("masked", "masked reconstruction, small ResNet", "configs/masked_fmnist.yaml"),
    ("contrastive", "contrastive (SimCLR), small ResNet", "configs/contrastive_fmnist.yaml"),
    ("byol", "BYOL, small ResNet", "configs/byol_fmnist.yaml"),
    ("vicreg", "VICReg, small ResNet", "configs/vicreg_fmnist.yaml"),
    ("barlow_twins", "Barlow Twins, small ResNet", "configs/barlow_twins_fmnist.yaml"),
    ("dino", "DINO, small ResNet", "configs/dino_fmnist.yaml"),
    ("lejepa", "LeJEPA, small ResNet", "configs/lejepa_fmnist.yaml"),
)
BASELINES = ("raw_pixels", "pca", "random_init")


@dataclass(frozen=True)
class LeaderboardSettings:
    """Section 1's sizes (sections 1b, 4, 6 and 9 run at some of them too)."""

    epochs: float = 0.0  # 0 = each config's own epochs (tuned on validation, section 7)
    only: tuple[str, ...] = ()  # these names of ENTRIES (() = all)
    frozen_labels: tuple[int, ...] = (1, 10, 100, 0)  # 0 = all labels
    finetune_labels: tuple[int, ...] = (1, 10, 100)
    seeds: int = 3  # labelled subsets per budget and pretraining run
    pretrain_seeds: int = 3  # pretraining runs per task (their subsets pooled: seeds x pretrain_seeds per cell)
    finetune_max_epochs: float = 4.0  # fine-tuning budget: epochs over the labelled set ...
    finetune_min_steps: int = 500  # ... but at least this many steps
    self_training_max_epochs: float = 1.0  # the self-trained student's budget: epochs over the unlabelled images ...
    self_training_min_steps: int = 200  # ... but at least this many steps
    skip: tuple[str, ...] = ()  # protocols its evaluations leave out (eval.skip)


def sizes(scale: Scale) -> LeaderboardSettings:
    return scale.of("leaderboard")


def scale_entries(scale: Scale) -> tuple:
    """The entries a scale runs, in ENTRIES order: those its ``only`` names (none named: all)."""
    only = sizes(scale).only
    return tuple(e for e in ENTRIES if not only or e[0] in only)


def representation_label(label: str, source: str) -> str:
    """The leaderboard row name of ``source`` from the run labelled ``label``."""
    if source == "encoder":
        return label
    if source in ("encoder_code", "encoder_pooled"):  # the representation beside the headline
        return f"{label} ({source.removeprefix('encoder_')})"
    return LABELS[source]


LABELS = {
    "decoder_only_codes": "decoder-only, inferred codes",
    "raw_pixels": "raw pixels",
    "pca": "PCA (m = code size)",
    "random_init": "random-init encoder",
    "scratch": "supervised from scratch",
}


LABEL_SEED = 0  # base seed of the labelled draws: every run and baseline shares them (pairing)
OTHER_READINGS = ("encoder_code", "encoder_pooled")  # evaluate.baselines.encoder_sources


def listed(values) -> str:
    return f"[{','.join(map(str, values))}]"


def eval_overrides(scale: Scale, seeds: int) -> list[str]:
    s = sizes(scale)
    return [
        f"eval.labels_per_class={listed(s.frozen_labels)}",
        f"eval.seeds={seeds}",
        f"eval.finetune.max_epochs={s.finetune_max_epochs}",
        f"eval.finetune.min_steps={s.finetune_min_steps}",
        f"eval.finetune.labels_per_class={listed(s.finetune_labels)}",
        f"eval.self_training.labels_per_class={listed(s.finetune_labels)}",
        f"eval.self_training.max_epochs={s.self_training_max_epochs}",
        f"eval.self_training.min_steps={s.self_training_min_steps}",
        "eval.layer_probe_labels_per_class=-1",  # the leaderboard shows no layer probe
        f"eval.skip={listed(s.skip)}",
    ]


def epochs_override(scale: Scale) -> list[str]:
    """Section 1's epoch budget: the scale's, or each config's own (tuned on validation,
    section 7) where that is 0."""
    return [f"train.epochs={sizes(scale).epochs}"] if sizes(scale).epochs else []


def seed_runs(name: str, base: str, scale: Scale, root: Path) -> list[Config]:
    """One run of ``base`` per pretraining seed (the first keeps the plain name)."""
    return [
        bench_config(
            base,
            name if p == 0 else f"{name}_seed{p}",
            scale,
            root / "leaderboard",
            [*epochs_override(scale), f"train.seed={p}"],
        )
        for p in range(sizes(scale).pretrain_seeds)
    ]


def architecture(run: Run, representation: str) -> str:
    """The name random-init and scratch baselines are shared under: same encoder, same reading."""
    spec = run.spec
    shape = f" w{spec.settings().width} {spec.settings().blocks}" if spec.name == "resnet_small" else ""
    stem = ", small stem" if spec.options.get("small_stem") else ""
    return f"{spec.name}{shape}{stem}, m = {spec.code_dim}" + (", pooled" if representation == "pooled" else "")


def evaluated(report) -> dict:
    """What the leaderboard keeps of an evaluation: its records (with their test predictions, for
    pooling), the all-label metrics, the label-free measurements and its cost: the seconds its
    cells took to compute, whether this evaluation computed them or read them from the store
    (a restarted bench reads every finished cell, evaluate.cells)."""
    c = report.cells
    seconds = c.feature_seconds + sum(k.seconds + k.saved_seconds for k in c.kinds.values())
    return {
        "records": report.records,
        "metrics": report.all_labels,
        "label_free": report.label_free,
        "seconds": round(seconds, 1),
    }


def task_records(run: Run, scale: Scale, first_seed: int) -> dict:
    """The run's own representations (encoder, what its tasks offer, and for the first run the
    reading beside the headline) on the labelled subsets ``first_seed`` ... ``first_seed + seeds - 1``,
    fine-tuning (without scratch) included, through the evaluation's one entry point."""
    settings = EvaluationSettings(
        overrides=[
            *eval_overrides(scale, sizes(scale).seeds),
            "eval.finetune.scratch=false",
            "eval.self_training.scratch=false",
        ],
        baselines=[],
        other_readings=not first_seed,  # the reading beside the headline: first pretraining run only (CPU time)
        first_seed=first_seed,
        write=False,
    )
    return evaluated(evaluate_run(run, settings))


def baseline_records(run: Run, names: list[str], scale: Scale) -> dict:
    """``names`` (random init drawn anew per seed) and supervised-from-scratch with the run's
    encoder architecture, over the labelled subsets of every pretraining seed."""
    overrides = eval_overrides(scale, sizes(scale).pretrain_seeds * sizes(scale).seeds)
    settings = EvaluationSettings(overrides=overrides, baselines=list(names), run_sources=False, write=False)
    return evaluated(evaluate_run(run, settings))


def summary_rows(records: list, evaluations: list[dict], test_labels: torch.Tensor, cfg: Config, **fields) -> list:
    """One leaderboard row per source in ``records``: its summary, and its all-label metrics and
    label-free scores averaged over ``evaluations`` (one per pretraining run)."""
    summary = summarise(records, test_labels, cfg.eval.bootstrap, LABEL_SEED)
    metrics = [e["metrics"] for e in evaluations]
    return [
        {
            **fields,
            "source": source,
            "summary": [to_plain(r) for r in summary if r.source == source],
            "all_labels": mean_metrics([m[source] for m in metrics if source in m]) if source != "scratch" else {},
            "label_free": label_free_scores(evaluations, source),
        }
        for source in dict.fromkeys(r.source for r in summary)
    ]


def baseline_rows(run: Config, names: list[str], scale: Scale, test_labels: torch.Tensor, arch: str) -> list[dict]:
    """Rows of the baselines ``names`` and supervised-from-scratch, evaluated beside ``run``."""
    done = baseline_records(run.run, names, scale)
    rows = summary_rows(done["records"], [done], test_labels, run, run=run.name, architecture=arch)
    for row in rows:
        where = f" ({arch})" if row["source"] in PER_ARCHITECTURE else ""
        row.update(
            representation=LABELS[row["source"]] + where,
            kind="baseline",
            pretrain_seconds=None,
            eval_seconds=done["seconds"],
        )
    return rows


def entry_rows(
    name: str, label: str, base: str, scale: Scale, root: Path, test_labels: torch.Tensor, architectures: set
) -> list[dict]:
    """Rows of one task (every pretraining seed pooled), followed by the baselines of its
    architecture when it is the first task with that architecture (raw pixels and PCA: the first task)."""
    runs = [(cfg, pretrain(cfg)) for cfg in seed_runs(name, base, scale, root)]
    evaluated = [task_records(cfg.run, scale, p * sizes(scale).seeds) for p, (cfg, _) in enumerate(runs)]
    first = runs[0][0]
    arch = architecture(first.run, first.eval.representation)
    rows = summary_rows(
        [r for e in evaluated for r in e["records"]],
        evaluated,
        test_labels,
        first,
        run=name,
        architecture=arch,
        kind="task",
        pretrain_seconds=statistics.fmean(seconds for _, seconds in runs),
        epochs=first.train.epochs,
        eval_seconds=sum(e["seconds"] for e in evaluated),
        run_seconds=[seconds for _, seconds in runs],
    )
    for row in rows:
        row["representation"] = representation_label(label, row["source"])
        if row["source"] != "encoder":  # another reading: no random-init baseline read that way
            row["architecture"] = f"{arch} ({row['source']})"
    if arch not in architectures:
        rows += baseline_rows(first, ["random_init"] if architectures else list(BASELINES), scale, test_labels, arch)
        architectures.add(arch)
    return rows


def compute_seconds(rows: list[dict]) -> float:
    """Pretraining + evaluation, summed over runs (resumes included): each evaluation's time once."""
    first_rows = {(r["run"], r["kind"]): r for r in rows}.values()  # a run's readings share one evaluation
    return sum(sum(r.get("run_seconds", [])) + r["eval_seconds"] for r in first_rows)


def run_leaderboard(scale: Scale, root: Path) -> dict:
    rows, architectures, s = [], set(), sizes(scale)
    splits = load_splits_checked(bench_config(ENTRIES[0][2], ENTRIES[0][0], scale, root / "leaderboard"))
    for name, label, base in scale_entries(scale):
        rows += entry_rows(name, label, base, scale, root, splits.test.y, architectures)
    rows.sort(key=lambda r: r["kind"] == "baseline")  # tasks first, then the baselines
    return {
        "rows": rows,
        **{k: getattr(s, k) for k in ("epochs", "seeds", "pretrain_seeds", "finetune_max_epochs")},
        **{k: list(getattr(s, k)) for k in ("frozen_labels", "finetune_labels")},
        "finetune_min_steps": s.finetune_min_steps,
        "full_per_class": len(splits.train) // splits.num_classes,
        "compute_seconds": compute_seconds(rows),
    }


SECTION = register_section(
    Section("leaderboard", "1. Transfer leaderboard", LeaderboardSettings, run_leaderboard, leaderboard_section,
            lambda data, folder: [leaderboard_plot(data, folder / "leaderboard_label_efficiency.png")],
            finding=leaderboard_finding)
)  # fmt: skip
