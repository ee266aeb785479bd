"""Shared fixtures: tiny synthetic configs that run the real code in seconds."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TQDM_DISABLE", "1")

from pretrain.core.config import config_from_dict  # noqa: E402


@pytest.fixture(autouse=True)
def evaluation_store(tmp_path_factory, monkeypatch):
    """Each test's own evaluation store (eval.store's default reads $SSL_EVAL_STORE): no test
    reads another's cells, and none writes into the checkout's data/cache/eval."""
    path = tmp_path_factory.mktemp("store")
    monkeypatch.setenv("SSL_EVAL_STORE", str(path))
    return path


def tiny_config_dict(run_dir: Path, **sections) -> dict:
    """A synthetic-data run small enough for a unit test; sections override defaults."""
    data = {
        "name": "tiny",
        "run_dir": str(run_dir),
        "data": {"name": "synthetic", "synthetic_size": 200, "val_size": 60},
        "encoder": {"name": "paper_conv", "code_dim": 8},
        "tasks": [{"name": "autoencoder"}],
        "optim": {"lr": 2e-3},
        "train": {"epochs": 1, "batch_size": 16, "log_every": 4, "ckpt_every": 5, "image_log_every": 10},
        "monitor": {"every": 0},
        "eval": {
            "labels_per_class": [2, 0],
            "seeds": 2,
            "linear": {"l2": [1e-3], "max_iter": 30},
            "mlp_head": {"max_epochs": 0.0, "min_steps": 60, "eval_every": 20},
            "finetune": {
                "max_epochs": 0.0,
                "min_steps": 20,
                "eval_every": 10,
                "val_images": 40,
                "scratch_lr_encoder": [3e-4, 1e-3],
            },
            "self_training": {"labels_per_class": [2], "min_steps": 20, "eval_every": 10, "max_epochs": 0.0},
            # CI time: self-training doubles fine-tuning's cost in every evaluation; its own tests
            # (test_semi_supervised, test_protocols) call it directly
            "skip": ["self_training"],
            "label_propagation": {"ks": [5, 10]},
            "bootstrap": 200,
            "layer_probe_labels_per_class": 5,
            "tsne_points": 100,
            "projector_points": 50,
            "knn_ks": [1, 5],
            "alignment_uniformity": {"images": 40},
            "view_retrieval": {"images": 40},
            "anomaly": {"images": 40, "shown": 4},
        },
    }
    for key, value in sections.items():
        data[key] = {**data.get(key, {}), **value} if isinstance(value, dict) else value
    return data


@pytest.fixture
def tiny_cfg(tmp_path):
    def make(run_dir=None, **sections):
        return config_from_dict(tiny_config_dict(run_dir or tmp_path / "run", **sections))

    return make


@pytest.fixture
def evaluation_dir():
    """Where an evaluation with eval.* overrides wrote (RUN/evals/<settings>); the run
    directory itself keeps only the full report."""

    def find(run_dir: Path) -> Path:
        (out,) = (Path(run_dir) / "evals").iterdir()
        assert not (Path(run_dir) / "report.json").exists()
        return out

    return find
