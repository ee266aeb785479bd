"""Section 3: the seeds' claims. A bottleneck width sweep of the autoencoder (test
reconstruction error falls as the code widens; does transfer follow?) with the mirror and
the linear decoder at every width (a simple decoder can force better features)."""

from __future__ import annotations

from pathlib import Path

from bench.probes import knn_and_linear
from bench.runs import bench_config, pretrain
from bench.scales import Scale
from evaluate.baselines import encoder_source
from evaluate.features import source_features
from evaluate.run import default_device, load_splits_checked
from evaluate.settings import load_run_config
from pretrain.core.saved_encoder import load_task_heads

DECODERS = ("mirror", "linear")


def sweep_overrides(scale: Scale, width: int, decoder: str) -> list[str]:
    subset = [f"data.train_subset={scale.width_train_subset}"] if scale.width_train_subset else []
    return [f"encoder.code_dim={width}", f"tasks.0.decoder={decoder}", f"train.epochs={scale.width_epochs}", *subset]


def run_bottleneck(scale: Scale, root: Path) -> dict:
    rows, device = [], default_device()
    for decoder in DECODERS:
        for width in scale.widths:
            cfg = bench_config(
                "configs/ae_fmnist.yaml",
                f"{decoder}_m{width}",
                scale,
                root / "bottleneck",
                sweep_overrides(scale, width, decoder),
            )
            seconds = pretrain(cfg)
            cfg = load_run_config(cfg.run, [f"eval.seeds={scale.seeds}"])
            splits = load_splits_checked(cfg)
            encoder, tasks = load_task_heads(cfg.run, cfg)
            test_error = tasks[0].anomaly_scores(encoder, splits.test.x, device)["reconstruction_error"].mean().item()
            source = encoder_source(cfg.run, device, cfg.eval.batch_size)
            f = source_features(cfg.run, source, splits)
            transfer = knn_and_linear(
                f["train"], f["val"], f["test"], [scale.width_labels, 0], cfg.eval, splits.num_classes, cfg.train.seed
            )
            rows.append(
                {
                    "decoder": decoder,
                    "code_dim": width,
                    "pretrain_seconds": seconds,
                    "test_error": test_error,
                    "knn_scarce": transfer["knn"][scale.width_labels],
                    "linear_scarce": transfer["linear"][scale.width_labels],
                    "knn_all": transfer["knn"][0],
                    "linear_all": transfer["linear"][0],
                }
            )
    return {
        "rows": rows,
        "labels_per_class": scale.width_labels,
        "epochs": scale.width_epochs,
        "train_subset": scale.width_train_subset,
        "seeds": scale.seeds,
    }
