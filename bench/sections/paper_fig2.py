"""Section 2: the decoder-only paper's MNIST experiment (Schuster & Krogh 2021, sec. 3.1 and
Fig. 2; shared/sources/paper-decoder-without-encoder.txt) on Fashion-MNIST.

A decoder trained alone (codes by SGD 0.02 + momentum 0.9, test codes found by the same
descent with the decoder frozen, from zero) against the autoencoder of the same decoder,
on balanced training subsets of 500 to 15000 images: per-pixel BCE on the training subset
and on the same 1000 test images, the loads alpha_d and alpha_e at each size and, beyond
the paper, kNN and linear accuracy of each representation (labelled bank = the subset).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from bench.figures import paper_fig2_plot
from bench.interface import Section, register_section
from bench.probes import knn_and_linear
from bench.runs import bench_config, pretrain
from bench.scales import Scale
from evaluate.report import minutes, pct
from evaluate.run import default_device
from evaluate.settings import load_run_config
from pretrain.core.config import Config
from pretrain.core.data import Splits, load_splits
from pretrain.core.encoders import encode_images
from pretrain.core.images import to_unit_float
from pretrain.core.run_folder import Run
from pretrain.core.samples import Features
from pretrain.core.saved_encoder import load_task_heads
from ssl_tasks.decoder_only import DecoderOnly

MODELS = {"autoencoder": "configs/ae_fmnist.yaml", "decoder": "configs/decoder_only_fmnist.yaml"}  # paper settings


@dataclass(frozen=True)
class PaperSettings:
    """Sec. 3.1 of the paper: 200 epochs, 1000 test images."""

    sizes: tuple[int, ...] = (500, 1000, 5000, 15000)  # training images
    epochs: float = 200.0
    max_images: int = 0  # >0: at most this many images seen per model (epochs shrink for large N)
    test_images: int = 1000
    infer_steps: int = 200  # test codes: as many SGD steps as a training code gets (one per epoch)


def model_overrides(model: str, p: PaperSettings) -> list[str]:
    """The decoder trains with no encoder at all (no distillation) and infers test codes from zero."""
    if model == "decoder":
        return [
            "tasks.0.distill_weight=0",
            "tasks.0.infer_init=zeros",
            f"tasks.0.infer_steps={p.infer_steps}",
        ]
    return []


def paper_epochs(p: PaperSettings, size: int) -> float:
    if not p.max_images:
        return p.epochs
    return min(p.epochs, p.max_images / size)


def features_and_errors(run: Run, cfg: Config, splits: Splits, device) -> tuple[dict[str, Features], dict]:
    """Train/val/test representations, the train/test per-pixel reconstruction error and, for the
    decoder, its loads alpha_d and alpha_e at this training-set size (paper eqs. 3-4)."""
    encoder, tasks = load_task_heads(run, cfg)
    task = tasks[0]
    decoder_alone = isinstance(task, DecoderOnly)  # this section is that task's paper: it may name it
    parts = {"train": splits.train, "val": splits.val, "test": splits.test}
    x, errors = {}, {}
    for name, images in parts.items():
        if decoder_alone and name == "train":
            # the paper's training error is that of the learned table (row k = training image k); the
            # probes get inferred codes, the same kind as the test split's (not the table's)
            x[name] = task.infer(encoder, images.x, device)[0]
            targets = to_unit_float(images.x.to(device))
            errors[name] = task.to(device).reconstruction_error(task.codes.to(device), targets).cpu()
        elif decoder_alone:
            x[name], errors[name] = task.infer(encoder, images.x, device)
        else:
            x[name] = encode_images(encoder, images.x, device=device)
            errors[name] = task.anomaly_scores(encoder, images.x, device)["reconstruction_error"]
    features = {name: images.with_rows(x[name]) for name, images in parts.items()}
    metrics = {"train_error": errors["train"].mean().item(), "test_error": errors["test"].mean().item()}
    if decoder_alone:
        metrics |= {"alpha_d": task.alpha_d, "alpha_e": task.alpha_e}
    return features, metrics


def run_paper_fig2(scale: Scale, root: Path) -> dict:
    rows, device, p = [], default_device(), scale.of("paper")
    for size in p.sizes:
        epochs = paper_epochs(p, size)
        for model, base in MODELS.items():
            overrides = [
                f"data.train_subset={size}",
                f"data.test_subset={p.test_images}",
                f"train.epochs={epochs}",
                *model_overrides(model, p),
            ]
            cfg = bench_config(base, f"{model}_{size}", scale, root / "paper_fig2", overrides)
            seconds = pretrain(cfg)
            cfg = load_run_config(cfg.run, ["eval.seeds=1"])
            splits = load_splits(cfg.data)
            splits.val = splits.val.subsample(p.test_images, cfg.data.split_seed)
            features, errors = features_and_errors(cfg.run, cfg, splits, device)
            transfer = knn_and_linear(
                features["train"], features["val"], features["test"], [0], cfg.eval, splits.num_classes, cfg.train.seed
            )
            rows.append(
                {
                    "model": model,
                    "train_size": size,
                    "epochs": round(epochs, 2),
                    "pretrain_seconds": seconds,
                    **errors,
                    "knn_accuracy": transfer["knn"][0],
                    "linear_accuracy": transfer["linear"][0],
                }
            )
    return {
        "rows": rows,
        "test_images": p.test_images,
        "infer_steps": p.infer_steps,
        "max_images": p.max_images,
        "paper_epochs": p.epochs,
    }


def verdict(rows: list[dict]) -> str:
    """One sentence: does the decoder alone reach a lower test error than the autoencoder at
    the smallest size, and at how many of the sizes?"""
    by = {(r["model"], r["train_size"]): r for r in rows}
    sizes = sorted({r["train_size"] for r in rows})
    wins = [s for s in sizes if by[("decoder", s)]["test_error"] < by[("autoencoder", s)]["test_error"]]
    small = sizes[0]
    d, a = by[("decoder", small)]["test_error"], by[("autoencoder", small)]["test_error"]
    holds = "holds" if small in wins else "does not hold"
    return (
        f"The paper's claim {holds} here at the smallest size: with {small} training images the decoder alone "
        f"reaches test BCE {d:.4f} vs the autoencoder's {a:.4f}; the decoder is lower at "
        f"{len(wins)} of {len(sizes)} sizes ({', '.join(map(str, wins)) or 'none'})."
    )


def paper_section(data: dict, plots: str) -> list[str]:
    head = "| model | training images | epochs | train BCE | test BCE | α_d | α_e | kNN % | linear % | pretrain |"
    lines = [head, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in sorted(data["rows"], key=lambda r: (r["train_size"], r["model"])):
        loads = [f"{r['alpha_d']:.2f}", f"{r['alpha_e']:.3f}"] if "alpha_d" in r else ["—", "—"]
        lines.append(
            f"| {r['model']} | {r['train_size']} | {r['epochs']:g} | {r['train_error']:.4f} | {r['test_error']:.4f} | "
            + " | ".join(loads)
            + f" | {pct(r['knn_accuracy'])} | {pct(r['linear_accuracy'])} | {minutes(r['pretrain_seconds'])} |"
        )
    return [
        "Schuster & Krogh (2021), sec. 3.1, on Fashion-MNIST: the appendix's conv decoder, m = 20, BCE, Adam 1e-3 "
        "with weight decay 1e-5, codes by SGD 0.02 with momentum 0.9. The decoder trains alone (no encoder, no "
        f"distillation); its test codes come from {data['infer_steps']} SGD steps from zero with the decoder frozen. "
        f"Errors are per-pixel BCE on the training subset and on the same {data['test_images']} test images; kNN "
        "(k = 20) and linear probe use the subset's labels as the labelled set (probe strength chosen on "
        f"{data['test_images']} validation images). Loads are those of the decoder-only setting at each size.",
        "",
        *lines,
        "",
        f"![Fig. 2]({plots}/paper_fig2.png)",
        "",
        verdict(data["rows"]),
    ]


SECTION = register_section(
    Section("paper", "2. The decoder-only paper's experiment (Fig. 2)", PaperSettings, run_paper_fig2, paper_section,
            lambda data, folder: [paper_fig2_plot(data, folder / "paper_fig2.png")],
            finding=lambda data: verdict(data["rows"]))
)  # fmt: skip
