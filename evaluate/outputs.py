"""What an evaluation leaves besides the report: plots, TensorBoard logs, results.csv and
exported features."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import torch

from evaluate import plots
from evaluate.features import Features
from pretrain.checkpoint import atomic_write
from pretrain.config import Config
from pretrain.export import load_task_heads
from ssl_tasks.base import task_keys
from ssl_tasks.decoder_only import DecoderOnly
from ssl_tasks.losses import decoded_image

CSV_FIELDS = (
    "source",
    "protocol",
    "labels_per_class",
    "seed",
    "accuracy",
    "val_accuracy",
    "l2",
    "best_step",
    "train_size",
)


def write_results_csv(records: list[dict], path: Path) -> Path:
    rows = [{k: r.get(k, "") for k in CSV_FIELDS} for r in records]

    def write(tmp):
        with open(tmp, "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=CSV_FIELDS)
            writer.writeheader()
            writer.writerows(rows)

    atomic_write(path, write)
    return path


def best_encoder_protocol(records: list[dict]) -> tuple | None:
    """The encoder protocol with all labels whose *validation* accuracy is highest."""
    candidates = [r for r in records if r["source"] == "encoder" and r["labels_per_class"] == 0 and "val_accuracy" in r]
    if not candidates:
        return None
    best = max(candidates, key=lambda r: r["val_accuracy"])
    return best["source"], best["protocol"], best["labels_per_class"], best["seed"]


def decoder_views(run_dir: Path, cfg: Config, splits, device, shown: int = 16):
    """[(task key, decode(codes) -> images, codes to walk around, reconstructions of the first
    ``shown`` test images or None)] for every task with a decoder."""
    encoder, tasks = load_task_heads(run_dir, cfg, splits)
    encoder, tasks = encoder.to(device), tasks.to(device)
    images = splits.test.images[:256].to(device).float() / 255
    views = []
    for key, task_cfg, task in zip(task_keys([t.name for t in cfg.tasks]), cfg.tasks, tasks):
        if not hasattr(task, "decoder"):
            continue
        decode = lambda z, d=task.decoder, kind=task_cfg.loss: decoded_image(d(z.to(device)), kind).cpu()  # noqa: E731
        if isinstance(task, DecoderOnly):  # the learned table spans the decoder's manifold
            views.append((key, decode, task.codes.detach().cpu(), None))
        else:
            codes = encoder(images)
            views.append((key, decode, codes.cpu(), decode(codes[:shown])))
    return views


@torch.no_grad()
def write_plots(run_dir: Path, report: dict, artefacts: dict) -> list[str]:
    cfg, splits, features = artefacts["cfg"], artefacts["splits"], artefacts["features"]
    out = run_dir / "plots"
    full = int(torch.bincount(splits.train.labels).max())
    made = [
        plots.label_efficiency_plot(
            report["summary"], out / "label_efficiency.png", f"{cfg.name}: label efficiency (test)", full
        )
    ]
    test = features["encoder"]["test"]
    made.append(
        plots.feature_map_plot(
            test.x, test.y, splits.classes, out / "feature_map.png", cfg.eval.tsne_points, cfg.train.seed
        )
    )
    best = best_encoder_protocol(report["records"])
    if best is not None:
        title = f"confusion: encoder / {best[1]} / all labels (chosen on validation accuracy)"
        made.append(
            plots.confusion_matrix_plot(
                artefacts["predictions"][best], splits.test.labels, splits.classes, out / "confusion_matrix.png", title
            )
        )
    for key, decode, codes, recon in decoder_views(run_dir, cfg, splits, artefacts["device"]):
        if recon is not None:
            rows = [splits.test.images[: len(recon)].float() / 255, recon]
            made.append(
                plots.image_grid_plot(rows, ["test images", "reconstructions"], out / f"reconstructions_{key}.png", key)
            )
        walk_rows, names = plots.latent_walk_rows(decode, codes)
        made.append(
            plots.image_grid_plot(
                walk_rows, names, out / f"latent_walk_{key}.png", f"{key}: latent walk (-2 to +2 std)"
            )
        )
    return [str(p.relative_to(run_dir)) for p in made]


def log_tensorboard(run_dir: Path, report: dict, artefacts: dict) -> None:
    """Scalars and hparams of the evaluation, and the embedding projector on test images."""
    from torch.utils.tensorboard import SummaryWriter

    cfg, splits = artefacts["cfg"], artefacts["splits"]
    writer = SummaryWriter(str(run_dir / "tb" / "eval"))
    metrics = {}
    for row in report["summary"]:
        budget = "all" if row["labels_per_class"] == 0 else f"{row['labels_per_class']}pc"
        tag = f"eval/{row['source']}/{row['protocol']}/{budget}"
        writer.add_scalar(tag, row["mean"], 0)
        metrics[f"hparam/{row['source']}_{row['protocol']}_{budget}"] = row["mean"]
    hparams = {
        "encoder": cfg.encoder.name,
        "code_dim": cfg.encoder.code_dim,
        "tasks": "+".join(t.name for t in cfg.tasks),
        "epochs": cfg.train.epochs,
        "lr": cfg.optim.lr,
    }
    writer.add_hparams(hparams, metrics, run_name="hparams")
    n = min(cfg.eval.projector_points, len(splits.test))
    test = artefacts["features"]["encoder"]["test"]
    writer.add_embedding(
        test.x[:n],
        metadata=[splits.classes[int(c)] for c in test.y[:n]],
        label_img=splits.test.images[:n].float() / 255,
        tag="test_codes",
    )
    writer.close()


def export_features(features: dict[str, Features], out_dir: Path) -> list[Path]:
    """train.npz, val.npz, test.npz with features (float32 N x d), labels (int64), indices (int64)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for split, f in features.items():
        path = out_dir / f"{split}.npz"
        arrays = {"features": f.x.float().numpy(), "labels": f.y.long().numpy(), "indices": f.index.long().numpy()}
        atomic_write(path, lambda tmp, a=arrays: np.savez(open(tmp, "wb"), **a))
        paths.append(path)
    return paths
