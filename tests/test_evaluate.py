"""Evaluation of tiny runs: every protocol, the report, the feature cache, exports, compare."""

import csv
import json

import numpy as np
import pytest

from evaluate.__main__ import main
from evaluate.features import cache_key
from evaluate.outputs import export_features
from evaluate.run import evaluate_run
from pretrain.core.datasets.synthetic import synthetic_images
from pretrain.engine import run_pretraining

PROTOCOLS = {"linear", "mlp_head", "knn", "finetune"}


def test_every_protocol_runs_on_a_tiny_run_with_held_out_classes(tiny_cfg, tmp_path, capsys):
    run_dir = run_pretraining(tiny_cfg(data={"holdout_classes": [3, 8]}))
    assert main(["--run", str(run_dir), "--export-features", str(tmp_path / "exported")]) == 0
    report = json.loads((run_dir / "report.json").read_text())
    assert list(report["sources"]) == ["encoder", "raw_pixels", "pca", "random_init"]
    cells = {(r["source"], r["protocol"], r["labels_per_class"]): r for r in report["summary"]}
    for source in report["sources"]:
        for protocol in ("linear", "mlp_head", "knn"):
            assert cells[(source, protocol, 2)]["n"] == 2 and cells[(source, protocol, 0)]["n"] == 1
    assert ("encoder", "finetune", 2) in cells and ("scratch", "finetune", 0) in cells  # supervised from scratch
    assert all(0.0 <= r["accuracy"] <= 1.0 for r in report["records"])
    assert {r["protocol"] for r in report["records"]} == PROTOCOLS
    for metrics in report["all_labels"].values():
        assert set(metrics) >= {"knn_accuracy_by_k", "retrieval", "clustering"}
    assert [row["layer"] for row in report["layers"]] == ["backbone.1", "backbone.3", "code"]
    aurocs = report["outliers"]["auroc"]
    assert "reconstruction_error[autoencoder]" in aurocs and "knn_distance[encoder]" in aurocs
    assert all(0.0 <= v <= 1.0 for v in aurocs.values())
    assert report["outliers"]["holdout_classes"] == [3, 8]
    for plot in (
        "label_efficiency",
        "feature_map",
        "confusion_matrix",
        "reconstructions_autoencoder",
        "latent_walk_autoencoder",
    ):
        assert (run_dir / "plots" / f"{plot}.png").stat().st_size > 1000, plot
    rows = list(csv.DictReader(open(run_dir / "results.csv")))
    assert len(rows) == len(report["records"]) and rows[0]["source"] == "encoder"
    by_protocol = {row["protocol"]: row for row in rows}  # the last row of each protocol
    assert float(by_protocol["linear"]["l2"]) > 0 and by_protocol["linear"]["best_step"] == ""
    assert int(by_protocol["mlp_head"]["best_step"]) <= int(by_protocol["mlp_head"]["steps_run"])
    assert int(by_protocol["knn"]["k"]) > 0 and by_protocol["knn"]["val_accuracy"] == ""
    assert list((run_dir / "tb" / "eval").rglob("events.out.tfevents.*"))
    markdown = capsys.readouterr().out
    assert (
        "## Scarce labels" in markdown
        and "## Outlier detection" in markdown
        and "What was selected on what" in markdown
    )
    # held-out classes never reach a labelled subset, validation or the classification test set
    for split in ("train", "val", "test"):
        data = np.load(tmp_path / "exported" / f"{split}.npz")
        assert not {3, 8} & set(data["labels"].tolist())


def test_export_round_trips(tiny_cfg, tmp_path):
    run_dir = run_pretraining(tiny_cfg())
    report, run = evaluate_run(run_dir, baselines=[], overrides=["eval.finetune.enabled=false"])
    export_features(run.features["encoder"], tmp_path / "out")
    for split, features in run.features["encoder"].items():
        data = np.load(tmp_path / "out" / f"{split}.npz")
        assert (
            data["features"].dtype == np.float32
            and data["labels"].dtype == np.int64
            and data["indices"].dtype == np.int64
        )
        assert np.array_equal(data["features"], features.x.numpy())
        assert np.array_equal(data["labels"], features.y.numpy()) and np.array_equal(
            data["indices"], features.index.numpy()
        )


def test_decoder_only_run_reports_encoder_and_inferred_codes(tiny_cfg):
    cfg = tiny_cfg(tasks=[{"name": "decoder_only", "infer_steps": 5}], train={"epochs": 2})
    run_dir = run_pretraining(cfg)
    overrides = ["eval.finetune.enabled=false", "eval.labels_per_class=[0]"]
    assert main(["--run", str(run_dir), "--baselines", "none", *overrides]) == 0  # report, plots, logs
    report = json.loads((run_dir / "report.json").read_text())
    assert list(report["sources"]) == ["encoder", "decoder_only_codes"]
    for plot in ("reconstructions_decoder_only", "latent_walk_decoder_only"):  # from codes inferred for test images
        assert (run_dir / "plots" / f"{plot}.png").stat().st_size > 1000, plot
    assert {r["source"] for r in report["summary"]} == {"encoder", "decoder_only_codes"}
    cached = sorted(p.name.split("-")[0] for p in (run_dir / "features").glob("*.pt"))
    assert cached == ["test", "test", "train", "train", "val", "val"]  # two sources x three splits


def test_evaluate_reuses_cached_features(tiny_cfg):
    run_dir = run_pretraining(tiny_cfg())
    overrides = ["eval.finetune.enabled=false", "eval.labels_per_class=[0]"]
    first, _ = evaluate_run(run_dir, overrides=overrides)
    stamps = {p: p.stat().st_mtime_ns for p in (run_dir / "features").glob("*.pt")}
    assert stamps
    second, _ = evaluate_run(run_dir, overrides=overrides)
    assert {p: p.stat().st_mtime_ns for p in (run_dir / "features").glob("*.pt")} == stamps  # read, not rewritten
    assert first["summary"] == second["summary"]


def test_compare_two_runs(tiny_cfg, tmp_path, capsys):
    runs = []
    for name, decoder in (("mirror", "mirror"), ("linear", "linear")):
        run_dir = run_pretraining(
            tiny_cfg(run_dir=tmp_path / name, tasks=[{"name": "autoencoder", "decoder": decoder}])
        )
        assert main(["--run", str(run_dir), "--baselines", "none", "eval.finetune.enabled=false"]) == 0
        runs.append(str(run_dir))
    capsys.readouterr()
    assert main(["compare", *runs, "--out", str(tmp_path / "cmp")]) == 0
    table = capsys.readouterr().out
    assert "| mirror |" in table and "| linear |" in table and "linear all" in table
    assert (tmp_path / "cmp" / "label_efficiency.png").stat().st_size > 1000
    assert (tmp_path / "cmp" / "leaderboard.md").read_text().startswith("| run |")


def test_cache_key_depends_on_source_split_and_pixels():
    images = synthetic_images(20, seed=0)
    key = cache_key("encoder:abc", "train", images, "unit_float")
    assert key == cache_key("encoder:abc", "train", images, "unit_float")
    assert key != cache_key("encoder:abd", "train", images, "unit_float")
    assert key != cache_key("encoder:abc", "val", images, "unit_float")
    changed = synthetic_images(20, seed=0)
    changed.x[0, 0, 0, 0] += 1
    assert key != cache_key("encoder:abc", "train", changed, "unit_float")


def test_errors_are_clear(tmp_path, capsys):
    assert main(["--run", str(tmp_path / "nope")]) == 2
    assert "config.yaml" in capsys.readouterr().err
    assert main(["compare", str(tmp_path / "nope")]) == 2
    assert "report.json" in capsys.readouterr().err


@pytest.mark.parametrize("override", ["data.name=x", "train.epochs=3"])
def test_only_eval_settings_change_after_pretraining(tiny_cfg, override, capsys):
    run_dir = run_pretraining(tiny_cfg())
    assert main(["--run", str(run_dir), override]) == 2
    assert "only eval.*" in capsys.readouterr().err
