"""Section 2: the decoder-only paper's MNIST experiment (Schuster & Krogh 2021, sec. 3.1 and
Fig. 2; shared/sources/paper-decoder-without-encoder.txt) on Fashion-MNIST.

A decoder trained alone (codes by SGD 0.02 + momentum 0.9, test codes found by the same
descent with the decoder frozen, from zero) against the autoencoder of the same decoder,
on balanced training subsets of 500 to 15000 images: per-pixel BCE on the training subset
and on the same 1000 test images, the loads alpha_d and alpha_e at each size and, beyond
the paper, kNN and linear accuracy of each representation (labelled bank = the subset).
"""

from __future__ import annotations

from pathlib import Path

from bench.probes import knn_and_linear
from bench.runs import bench_config, pretrain
from bench.scales import Scale
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


def model_overrides(model: str, scale: Scale) -> list[str]:
    """The decoder trains with no encoder at all (no distillation) and infers test codes from zero."""
    if model == "decoder":
        return [
            "tasks.0.distill_weight=0",
            "tasks.0.infer_init=zeros",
            f"tasks.0.infer_steps={scale.paper_infer_steps}",
        ]
    return []


def paper_epochs(scale: Scale, size: int) -> float:
    if not scale.paper_max_images:
        return scale.paper_epochs
    return min(scale.paper_epochs, scale.paper_max_images / size)


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
    rows, device = [], default_device()
    for size in scale.paper_sizes:
        epochs = paper_epochs(scale, size)
        for model, base in MODELS.items():
            overrides = [
                f"data.train_subset={size}",
                f"data.test_subset={scale.paper_test_images}",
                f"train.epochs={epochs}",
                *model_overrides(model, scale),
            ]
            cfg = bench_config(base, f"{model}_{size}", scale, root / "paper_fig2", overrides)
            seconds = pretrain(cfg)
            cfg = load_run_config(cfg.run, ["eval.seeds=1"])
            splits = load_splits(cfg.data)
            splits.val = splits.val.subsample(scale.paper_test_images, cfg.data.split_seed)
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
        "test_images": scale.paper_test_images,
        "infer_steps": scale.paper_infer_steps,
        "max_images": scale.paper_max_images,
        "paper_epochs": scale.paper_epochs,
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
