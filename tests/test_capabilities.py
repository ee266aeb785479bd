"""A task plugs in through the registry and is evaluated by what it offers, not by what it is.

The toy task below is written here, outside ssl_tasks/ and evaluate/: registering it is all
it takes for pretraining to train it and for evaluation to show its reconstructions, latent
walk, outlier scores and extra representation.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from evaluate.__main__ import main
from pretrain.core.encoders import encode_images, map_batches
from pretrain.core.tasks import TASKS, FeatureSource, SSLTask, TaskConfig, TaskOutput, register_task
from pretrain.engine import run_pretraining

EVAL = ["--baselines", "none", "eval.skip=[finetune,self_training]", "eval.labels_per_class=[0]"]


@dataclass
class ToyConfig(TaskConfig):
    units: int = 4  # code units offered as a representation of their own


class ToyDecoderTask(SSLTask):
    """Reconstruct the image from the shared code with one linear layer."""

    Config = ToyConfig

    def __init__(self, cfg: ToyConfig, encoder: nn.Module, ctx):
        super().__init__(cfg, encoder, ctx)
        c, h, w = ctx.image_shape
        self.decoder = nn.Sequential(nn.Linear(encoder.code_dim, c * h * w), nn.Unflatten(1, (c, h, w)))

    def forward(self, encoder, batch) -> TaskOutput:
        return TaskOutput(F.mse_loss(torch.sigmoid(self.decoder(encoder(batch.images))), batch.images))

    def decode(self, codes):
        return torch.sigmoid(self.decoder(codes))

    def decoder_codes(self, encoder, images, device):
        return encode_images(encoder, images, device=device)

    def anomaly_scores(self, encoder, images, device):
        return {"toy_error": map_batches(lambda x: (self.decode(encoder(x)) - x).pow(2).flatten(1).mean(1), images)}

    def feature_sources(self, encoder, device):
        def extract(split, images):
            return encode_images(encoder, images.x, device=device)[:, : self.cfg.units]

        return [FeatureSource("toy_codes", f"toy:{self.cfg.units}", extract, "the first code units")]


@pytest.fixture
def toy_task():
    register_task("toy_decoder")(ToyDecoderTask)
    yield "toy_decoder"
    TASKS.unregister("toy_decoder")


def test_a_new_task_is_evaluated_by_what_it_offers(toy_task, tiny_cfg, evaluation_dir):
    run_dir = run_pretraining(tiny_cfg(tasks=[{"name": toy_task, "units": 3}], data={"holdout_classes": [3]}))
    assert main(["--run", str(run_dir), *EVAL]) == 0
    out = evaluation_dir(run_dir)
    report = json.loads((out / "report.json").read_text())
    assert list(report["sources"]) == ["encoder", "toy_codes"]
    assert {r["source"] for r in report["summary"]} == {"encoder", "toy_codes"}
    assert set(report["outliers"]["auroc"]) == {
        "knn_distance[encoder]",
        "knn_distance[toy_codes]",
        "toy_error[toy_decoder]",
    }
    for plot in ("reconstructions_toy_decoder", "latent_walk_toy_decoder"):
        assert (out / "plots" / f"{plot}.png").stat().st_size > 1000, plot
    cached = [torch.load(path) for path in (run_dir / "features").glob("*.pt")]
    toy = [c for c in cached if c["source"].startswith("toy:3:")]  # the task's identity, then its weights' digest
    assert sorted(c["split"] for c in toy) == ["outliers", "test", "train", "val"]
    assert all(c["x"].shape[1] == 3 for c in toy)


def test_a_task_that_offers_nothing_gets_the_generic_evaluation(tiny_cfg, evaluation_dir):
    run_dir = run_pretraining(tiny_cfg(tasks=[{"name": "relative_position"}], data={"holdout_classes": [3]}))
    assert main(["--run", str(run_dir), *EVAL]) == 0
    out = evaluation_dir(run_dir)
    report = json.loads((out / "report.json").read_text())
    assert list(report["sources"]) == ["encoder"]
    assert set(report["outliers"]["auroc"]) == {"knn_distance[encoder]"}
    assert not list((out / "plots").glob("reconstructions_*.png"))
    assert not list((out / "plots").glob("latent_walk_*.png"))
