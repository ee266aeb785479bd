"""What an evaluation leaves besides the report: plots, TensorBoard logs, results.csv and
exported features."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import torch

from evaluate import plots
from evaluate.cells import digest
from evaluate.context import EvalContext
from evaluate.contract import all_protocols
from evaluate.report_types import Report
from evaluate.results import Record, table_columns
from pretrain.core.checkpoint import atomic_write
from pretrain.core.images import to_unit_float
from pretrain.core.samples import Features

RUN_COLUMNS = ("encoder_weights_sha256", "val_per_class")  # the report's settings, repeated on every row


def results_csv_columns() -> list[str]:
    """The record's keys, then the scalar fields of every grid protocol's result type (the registry's order)."""
    return table_columns([p.result_type for p in all_protocols() if not p.label_free])


def write_results_csv(report: Report, path: Path) -> Path:
    """One row per record: its key, its result's settings and flags (columns from the
    registered protocols' result types), and the weights and validation mode of the evaluation."""
    run = {"encoder_weights_sha256": report.encoder_weights_sha256, "val_per_class": report.settings["val_per_class"]}
    record_columns = results_csv_columns()
    columns = [*record_columns, *RUN_COLUMNS]
    dicts = [r.as_dict() for r in report.records]
    rows = [{k: "" if r.get(k) is None else r[k] for k in record_columns} | run for r in dicts]

    def write(tmp):
        with open(tmp, "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=columns)
            writer.writeheader()
            writer.writerows(rows)

    atomic_write(path, write)
    return path


def best_encoder_protocol(records: list[Record]) -> tuple | None:
    """The encoder protocol with all labels whose *validation* accuracy is highest."""
    candidates = [
        r for r in records if r.source == "encoder" and r.labels_per_class == 0 and r.result.val_accuracy is not None
    ]
    if not candidates:
        return None
    return max(candidates, key=lambda r: r.result.val_accuracy).key


def shown_images(splits) -> torch.Tensor:
    """uint8 images the decoder figures show: test images, or validation images without a test split."""
    return (splits.test if splits.test is not None else splits.val).x


@torch.no_grad()
def decoder_views(run: EvalContext, shown: int = 16, walked: int = 256):
    """[(task key, decode(codes) -> images, codes to walk around, reconstructions of the first
    ``shown`` test images)] for every task that decodes (``SSLTask.decode``); the codes are
    those its decoder reads for the first ``walked`` test images (``SSLTask.decoder_codes``)."""
    device, encoder, images = run.device, run.run_encoder.to(run.device), shown_images(run.splits)[:walked]
    views = []
    for key, task in zip(run.task_keys, run.tasks.to(device)):
        codes = task.decoder_codes(encoder, images, device)
        if codes is None:
            continue

        def decode(z: torch.Tensor, task=task) -> torch.Tensor:
            return task.decode(z.to(device)).cpu()

        views.append((key, decode, codes, decode(codes[:shown])))
    return views


@torch.no_grad()
def write_plots(report: Report, run: EvalContext) -> list[str]:
    """Every figure of the evaluation into RUN/plots/; -> their paths relative to the run directory."""
    out = run.outputs.plots
    made = labelled_plots(report, run, out) if report.labelled else []
    made += decoder_plots(run, out)
    for protocol in all_protocols():
        measured = report.measurements(protocol.name)
        if measured:
            made += protocol.plot(measured, run, out)
    return [str(p.relative_to(run.outputs.path)) for p in made]


def labelled_plots(report: Report, run: EvalContext, out: Path) -> list[Path]:
    """Label efficiency, the 2-D map of the test features and the best protocol's confusion matrix."""
    cfg, splits, features = run.cfg, run.splits, run.features
    full = int(torch.bincount(splits.train.y).max())
    title = f"{cfg.name}: label efficiency (test)"
    made = [plots.label_efficiency_plot(report.summary, out / "label_efficiency.png", title, full)]
    test = features["encoder"]["test"]
    points, seed = cfg.eval.tsne_points, cfg.train.seed
    key = {"features": digest(test.x, test.y), "points": points, "seed": seed}
    coordinates = run.cells.get("feature_map", key, lambda: plots.feature_map_coordinates(test.x, test.y, points, seed))
    made.append(plots.feature_map_plot(coordinates, splits.classes, out / "feature_map.png"))
    best = best_encoder_protocol(report.records)
    if best is not None:
        title = f"confusion: encoder / {best[1]} / all labels (chosen on validation accuracy)"
        path = out / "confusion_matrix.png"
        made.append(plots.confusion_matrix_plot(run.predictions[best], splits.test.y, splits.classes, path, title))
    return made


def decoder_plots(run: EvalContext, out: Path) -> list[Path]:
    """Reconstructions and a latent walk of every task that decodes, on the first images
    (test images of a labelled run, validation images of an unlabelled one)."""
    made, splits = [], run.splits
    for key, decode, codes, recon in decoder_views(run):
        rows = [to_unit_float(shown_images(splits)[: len(recon)]), recon]
        path = out / f"reconstructions_{key}.png"
        made.append(plots.image_grid_plot(rows, ["test images", "reconstructions"], path, key))
        walk_rows, names = plots.latent_walk_rows(decode, codes)
        title = f"{key}: latent walk (-2 to +2 std)"
        made.append(plots.image_grid_plot(walk_rows, names, out / f"latent_walk_{key}.png", title))
    return made


def log_tensorboard(report: Report, run: EvalContext) -> None:
    """Scalars and hparams of the evaluation, and the embedding projector on test images."""
    from torch.utils.tensorboard import SummaryWriter

    cfg, splits = run.cfg, run.splits
    writer = SummaryWriter(str(run.outputs.tb))
    metrics = {}
    for row in report.summary:
        budget = "all" if row.labels_per_class == 0 else f"{row.labels_per_class}pc"
        tag = f"eval/{row.source}/{row.protocol}/{budget}"
        writer.add_scalar(tag, row.mean, 0)
        metrics[f"hparam/{row.source}_{row.protocol}_{budget}"] = row.mean
    hparams = {
        "encoder": cfg.encoder.name,
        "code_dim": cfg.encoder.code_dim,
        "tasks": "+".join(t.name for t in cfg.tasks),
        "epochs": cfg.train.epochs,
        "lr": cfg.optim.lr,
    }
    writer.add_hparams(hparams, metrics, run_name="hparams")
    n = min(cfg.eval.projector_points, len(splits.test))
    test = run.features["encoder"]["test"]
    writer.add_embedding(
        test.x[:n],
        metadata=[splits.classes[int(c)] for c in test.y[:n]],
        label_img=to_unit_float(splits.test.x[:n]),
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
