"""Section 3: the seeds' claims. A bottleneck width sweep of the autoencoder (test
reconstruction error falls as the code widens; does transfer follow?) with the mirror and
the linear decoder at every width (a simple decoder can force better features)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from bench.figures import bottleneck_plot
from bench.interface import Section, register_section
from bench.probes import knn_and_linear
from bench.runs import bench_config, pretrain
from bench.scales import Scale
from evaluate.baselines import encoder_source
from evaluate.features import source_features
from evaluate.report import minutes, pct
from evaluate.run import default_device, load_splits_checked
from evaluate.settings import load_run_config
from pretrain.core.saved_encoder import load_task_heads

DECODERS = ("mirror", "linear")


@dataclass(frozen=True)
class BottleneckSettings:
    widths: tuple[int, ...] = (2, 8, 32, 128, 512)  # code sizes m
    train_subset: int = 0  # 0 = the whole training split
    epochs: float = 3.0
    labels: int = 10  # the scarce-label column of the sweep
    seeds: int = 3  # labelled subsets per scarce-label cell


def sweep_overrides(b: BottleneckSettings, width: int, decoder: str) -> list[str]:
    subset = [f"data.train_subset={b.train_subset}"] if b.train_subset else []
    return [f"encoder.code_dim={width}", f"tasks.0.decoder={decoder}", f"train.epochs={b.epochs}", *subset]


def run_bottleneck(scale: Scale, root: Path) -> dict:
    rows, device, b = [], default_device(), scale.of("bottleneck")
    for decoder in DECODERS:
        for width in b.widths:
            cfg = bench_config(
                "configs/ae_fmnist.yaml",
                f"{decoder}_m{width}",
                scale,
                root / "bottleneck",
                sweep_overrides(b, width, decoder),
            )
            seconds = pretrain(cfg)
            cfg = load_run_config(cfg.run, [f"eval.seeds={b.seeds}"])
            splits = load_splits_checked(cfg)
            encoder, tasks = load_task_heads(cfg.run, cfg)
            test_error = tasks[0].anomaly_scores(encoder, splits.test.x, device)["reconstruction_error"].mean().item()
            source = encoder_source(cfg.run, device, cfg.eval.batch_size)
            f = source_features(cfg.run, source, splits)
            transfer = knn_and_linear(
                f["train"], f["val"], f["test"], [b.labels, 0], cfg.eval, splits.num_classes, cfg.train.seed
            )
            rows.append(
                {
                    "decoder": decoder,
                    "code_dim": width,
                    "pretrain_seconds": seconds,
                    "test_error": test_error,
                    "knn_scarce": transfer["knn"][b.labels],
                    "linear_scarce": transfer["linear"][b.labels],
                    "knn_all": transfer["knn"][0],
                    "linear_all": transfer["linear"][0],
                }
            )
    return {
        "rows": rows,
        "labels_per_class": b.labels,
        "epochs": b.epochs,
        "train_subset": b.train_subset,
        "seeds": b.seeds,
    }


def bottleneck_section(data: dict, plots: str) -> list[str]:
    n = data["labels_per_class"]
    lines = [
        f"| decoder | m | test BCE | linear {n}/class | kNN {n}/class | linear all | kNN all | pretrain |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in data["rows"]:
        lines.append(
            f"| {r['decoder']} | {r['code_dim']} | {r['test_error']:.4f} | {pct(r['linear_scarce'])} | "
            f"{pct(r['knn_scarce'])} | "
            f"{pct(r['linear_all'])} | {pct(r['knn_all'])} | {minutes(r['pretrain_seconds'])} |"
        )
    lowest = min(data["rows"], key=lambda r: r["test_error"])
    best = max(data["rows"], key=lambda r: r["linear_scarce"])
    subset = f"{data['train_subset']} training images" if data["train_subset"] else "the whole training split"
    return [
        "The default autoencoder at code sizes m = "
        f"{', '.join(str(w) for w in sorted({r['code_dim'] for r in data['rows']}))}, "
        f"with the mirror and the linear decoder, {data['epochs']} epochs on {subset}; scarce-label columns are means "
        f"over {data['seeds']} labelled subsets.",
        "",
        *lines,
        "",
        f"![bottleneck sweep]({plots}/bottleneck.png)",
        "",
        f"Lowest test reconstruction error: {lowest['decoder']} decoder, m = {lowest['code_dim']} "
        f"({lowest['test_error']:.4f}); "
        f"highest mean linear probe at {n} labels/class (a description, not a verdict: no interval): "
        f"{best['decoder']} decoder, m = {best['code_dim']} "
        f"({pct(best['linear_scarce'])}).",
    ]


def bottleneck_finding(data: dict) -> str:
    """Does the lowest reconstruction error come with the best transfer?"""
    n = data["labels_per_class"]
    lowest = min(data["rows"], key=lambda r: r["test_error"])
    best = max(data["rows"], key=lambda r: r["linear_scarce"])
    same = (lowest["decoder"], lowest["code_dim"]) == (best["decoder"], best["code_dim"])
    return (
        f"The lowest test reconstruction error ({lowest['decoder']} decoder, m = {lowest['code_dim']}) "
        f"{'is' if same else 'is not'} the best linear probe at {n} labels/class ({best['decoder']} decoder, "
        f"m = {best['code_dim']}, {pct(best['linear_scarce'])}): a lower reconstruction loss is not a better code."
        if not same
        else f"The lowest test reconstruction error is also the best linear probe at {n} labels/class "
        f"({best['decoder']} decoder, m = {best['code_dim']}, {pct(best['linear_scarce'])})."
    )


SECTION = register_section(
    Section("bottleneck", "3. The seeds' claims: bottleneck width and decoder capacity", BottleneckSettings,
            run_bottleneck, bottleneck_section, lambda data, folder: [bottleneck_plot(data, folder / "bottleneck.png")],
            finding=bottleneck_finding)
)  # fmt: skip
