"""Evaluation of tiny runs: every protocol, the report, the feature cache, exports, compare."""

import csv
import dataclasses
import shutil
from pathlib import Path

import matplotlib.colors
import numpy as np
import pytest
import torch
from conftest import tiny_config_dict

from evaluate.__main__ import main
from evaluate.contract import all_protocols
from evaluate.entry import EvaluationSettings, evaluate_run
from evaluate.features import cache_key
from evaluate.outputs import export_features
from evaluate.plots import image_strip
from evaluate.report_types import Report, SummaryRow
from evaluate.run import encoder_features
from pretrain.core.datasets.synthetic import synthetic_images
from pretrain.core.run_folder import Run
from pretrain.engine import run_pretraining

# every registered one runs by default, but for what the tiny config skips (CI time)
GRID_PROTOCOLS = {p.name for p in all_protocols() if not p.label_free} - set(tiny_config_dict(Path())["eval"]["skip"])
LABEL_FREE = {p.name for p in all_protocols() if p.label_free}


def test_every_protocol_runs_on_a_tiny_run_with_held_out_classes(tiny_cfg, tmp_path, capsys):
    run_dir = run_pretraining(tiny_cfg(data={"holdout_classes": [3, 8]}))
    assert main(["--run", str(run_dir)]) == 0
    report = Report.from_json((run_dir / "report.json").read_text())
    assert list(report.sources) == ["encoder", "raw_pixels", "pca", "random_init"]
    cells = {(r.source, r.protocol, r.labels_per_class): r for r in report.summary}
    for source in report.sources:
        for protocol in ("linear", "mlp_head", "knn"):
            # with all labels only what is random reruns per seed: the head, and every random-init draw
            reruns = protocol == "mlp_head" or source == "random_init"
            assert cells[(source, protocol, 2)].n == 2 and cells[(source, protocol, 0)].n == (2 if reruns else 1)
    assert ("encoder", "finetune", 2) in cells and ("scratch", "finetune", 2) in cells  # supervised from scratch
    assert ("encoder", "finetune", 0) not in cells  # fine-tuning runs at the scarce budgets by default
    assert all(0.0 <= r.result.accuracy <= 1.0 for r in report.records)
    assert len(report.encoder_weights_sha256) == 16 and report.pretrain_steps > 0
    for r in report.records:  # held-out classes have no test image, so no per-class accuracy
        assert [i for i, a in enumerate(r.result.per_class_accuracy) if a is None] == [3, 8]
        assert 0 <= r.result.balanced_accuracy <= 1
    assert {(d.a, d.b) for d in report.differences} >= {("encoder", "raw_pixels"), ("encoder", "scratch")}
    assert all(r.ci_low <= r.mean <= r.ci_high for r in report.summary)
    assert {r.protocol for r in report.records} == GRID_PROTOCOLS
    assert {m.protocol for m in report.label_free} == LABEL_FREE  # label-free protocols run on labelled runs too
    assert {m.source for m in report.measurements("rankme")} == set(report.sources)  # baselines measured alike
    for metrics in report.all_labels.values():
        assert set(metrics) >= {"knn_accuracy_by_k", "retrieval", "clustering"}
    assert [row.layer for row in report.layers] == ["backbone.1", "backbone.3", "code"]
    aurocs = report.outliers["auroc"]
    assert "reconstruction_error[autoencoder]" in aurocs and "knn_distance[encoder]" in aurocs
    assert all(0.0 <= v <= 1.0 for v in aurocs.values())
    assert report.outliers["holdout_classes"] == [3, 8]
    for plot in (
        "label_efficiency",
        "feature_map",
        "confusion_matrix",
        "reconstructions_autoencoder",
        "latent_walk_autoencoder",
        "feature_spectrum",
        "anomalies",
    ):
        assert (run_dir / "plots" / f"{plot}.png").stat().st_size > 1000, plot
    rows = list(csv.DictReader(open(run_dir / "results.csv")))
    assert len(rows) == len(report.records) and rows[0]["source"] == "encoder"
    for column in ("k", "temperature", "l2", "l2_at_edge", "converged", "best_step", "at_cap", "val_size", "lr"):
        assert column in rows[0], column
    assert {row["encoder_weights_sha256"] for row in rows} == {report.encoder_weights_sha256}
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
    assert main(["--run", str(run_dir), "--export-features", str(tmp_path / "exported")]) == 0
    for split in ("train", "val", "test"):
        data = np.load(tmp_path / "exported" / f"{split}.npz")
        assert not {3, 8} & set(data["labels"].tolist())


def test_export_round_trips(tiny_cfg, tmp_path):
    run_dir = run_pretraining(tiny_cfg())
    features_by_split = encoder_features(Run.at(run_dir))
    export_features(features_by_split, tmp_path / "out")
    for split, features in features_by_split.items():
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


def test_decoder_only_run_reports_encoder_and_inferred_codes(tiny_cfg, evaluation_dir):
    cfg = tiny_cfg(tasks=[{"name": "decoder_only", "infer_steps": 5}], train={"epochs": 2})
    run_dir = run_pretraining(cfg)
    overrides = ["eval.skip=[finetune,self_training]", "eval.labels_per_class=[0]"]
    assert main(["--run", str(run_dir), "--baselines", "none", *overrides]) == 0  # report, plots, logs
    out = evaluation_dir(run_dir)
    report = Report.from_json((out / "report.json").read_text())
    assert list(report.sources) == ["encoder", "decoder_only_codes"]
    for plot in ("reconstructions_decoder_only", "latent_walk_decoder_only"):  # from codes inferred for test images
        assert (out / "plots" / f"{plot}.png").stat().st_size > 1000, plot
    assert {r.source for r in report.summary} == {"encoder", "decoder_only_codes"}
    cached = sorted(p.name.split("-")[0] for p in (run_dir / "features").glob("*.pt"))
    assert cached == ["test", "test", "train", "train", "val", "val"]  # two sources x three splits


def test_evaluate_reuses_cached_features(tiny_cfg):
    run_dir = run_pretraining(tiny_cfg())
    overrides = ["eval.skip=[finetune,self_training]", "eval.labels_per_class=[0]"]
    first = evaluate_run(run_dir, EvaluationSettings(overrides=overrides))
    stamps = {p: p.stat().st_mtime_ns for p in (run_dir / "features").glob("*.pt")}
    assert stamps
    second = evaluate_run(run_dir, EvaluationSettings(overrides=overrides))
    assert {p: p.stat().st_mtime_ns for p in (run_dir / "features").glob("*.pt")} == stamps  # read, not rewritten
    assert first.summary == second.summary


def test_compare_two_runs(tiny_cfg, tmp_path, capsys, evaluation_dir):
    """Both runs are named "tiny": compare keys them by path, and shows each one's evaluation settings."""
    runs = []
    for name, decoder, seeds in (("mirror", "mirror", 2), ("linear", "linear", 1)):
        run_dir = run_pretraining(
            tiny_cfg(run_dir=tmp_path / name, tasks=[{"name": "autoencoder", "decoder": decoder}])
        )
        overrides = ["eval.skip=[finetune,self_training]", f"eval.seeds={seeds}"]
        assert main(["--run", str(run_dir), "--baselines", "none", *overrides]) == 0
        runs.append(str(evaluation_dir(run_dir)))
    capsys.readouterr()
    assert main(["compare", *runs, "--out", str(tmp_path / "cmp")]) == 0
    table = capsys.readouterr().out
    assert f"| {runs[0]} |" in table and f"| {runs[1]} |" in table and "linear all" in table
    assert "seeds=2" in table and "seeds=1" in table
    assert (tmp_path / "cmp" / "label_efficiency.png").stat().st_size > 1000
    assert (tmp_path / "cmp" / "leaderboard.md").read_text().startswith("| run |")
    # each run's verdict, here none: --baselines none left nothing to compare with
    assert f"- {runs[0]}: No verdict: no baseline was evaluated" in table


def test_cache_key_depends_on_source_split_and_pixels():
    images = synthetic_images(20, seed=0)
    key = cache_key("encoder:abc", "train", images)
    assert key == cache_key("encoder:abc", "train", images)
    assert key != cache_key("encoder:abd", "train", images)
    assert key != cache_key("encoder:abc", "val", images)
    changed = synthetic_images(20, seed=0)
    changed.x[0, 0, 0, 0] += 1
    assert key != cache_key("encoder:abc", "train", changed)


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


def _summary_rows(source, protocol, means, **extra):
    """Summary rows of one (source, protocol) line at budgets 2, 5 and all labels."""
    fields = {"ci_low": None, "ci_high": None, "interval": "", "balanced_accuracy": 0.0, "flags": [], "by_seed": {}}
    return [
        SummaryRow(source=source, protocol=protocol, labels_per_class=b, mean=m, std=0.02, n=3, **(fields | extra))
        for b, m in zip((2, 5, 0), means)
    ]


def test_label_efficiency_figure_has_a_panel_per_protocol_grey_references_and_intervals(tmp_path):
    from matplotlib.collections import PolyCollection

    from evaluate.plots import label_efficiency_figure, label_efficiency_plot

    summary = [
        *_summary_rows("encoder", "knn", (0.5, 0.6, 0.8), ci_low=0.4, ci_high=0.9),
        *_summary_rows("pca", "knn", (0.3, 0.4, 0.5)),
        *_summary_rows("encoder", "linear", (0.55, 0.65, 0.85)),
        *_summary_rows("pca", "linear", (0.35, 0.45, 0.55)),
    ]
    fig = label_efficiency_figure(summary, "t", full_per_class=10)
    assert [ax.get_title() for ax in fig.axes] == ["linear", "knn"]  # the order of PROTOCOLS
    knn = fig.axes[1]
    colours = {line.get_label(): line.get_color() for line in knn.get_lines()}
    r, g, b, _ = matplotlib.colors.to_rgba(colours["pca"])
    assert r == g == b  # a reference: grey
    assert len(set(matplotlib.colors.to_rgba(colours["encoder"])[:3])) > 1  # learned: a colour
    assert colours["encoder"] == {ln.get_label(): ln.get_color() for ln in fig.axes[0].get_lines()}["encoder"]
    bands = [c for c in knn.collections if isinstance(c, PolyCollection)]
    ys = [band.get_paths()[0].vertices[:, 1] for band in bands]
    assert any(np.isclose(y.min(), 40) and np.isclose(y.max(), 90) for y in ys)  # ci_low/ci_high in %
    assert any(np.isclose(y.min(), 28) and np.isclose(y.max(), 52) for y in ys)  # no interval: mean ± std
    assert len(label_efficiency_figure(summary + _summary_rows("x", "mine", (0.1,) * 3), "t", 10).axes) == 3
    many = [dataclasses.replace(r, protocol=p) for p in ("linear", "mlp_head", "knn", "finetune") for r in summary[:3]]
    assert [ax.get_subplotspec().rowspan.start for ax in label_efficiency_figure(many, "t", 10).axes] == [0, 0, 1, 1]
    assert label_efficiency_plot(summary, tmp_path / "le.png", "t", 10).stat().st_size > 1000


def test_feature_identity_names_precision_code_and_random_weights(tiny_cfg, monkeypatch):
    """The cache key changes with everything that changes the features."""
    import evaluate.features as features
    from evaluate.baselines import encoder_source, random_init_source
    from pretrain.core.run_folder import Run

    run_dir = Run.at(run_pretraining(tiny_cfg()))
    plain = encoder_source(run_dir, torch.device("cpu"), 64).identity
    assert "precision=fp32" in plain and "device=cpu" in plain
    assert encoder_source(run_dir, torch.device("cpu"), 64, precision="bf16").identity != plain  # as on a GPU
    monkeypatch.setattr(features, "memory_format_of", lambda module: "channels_last")
    assert encoder_source(run_dir, torch.device("cpu"), 64).identity != plain
    monkeypatch.undo()
    monkeypatch.setattr(features, "module_code_digest", lambda module: "edited")  # the encoder's code changed
    assert encoder_source(run_dir, torch.device("cpu"), 64).identity != plain
    monkeypatch.undo()
    spec = run_dir.spec
    first, again = (random_init_source(spec, 0, torch.device("cpu"), 64).identity for _ in range(2))
    assert first == again != random_init_source(spec, 1, torch.device("cpu"), 64).identity


def test_an_unfinished_run_is_not_evaluated(tiny_cfg, capsys):
    cfg = tiny_cfg(train={"halt_after_steps": 3})
    run_dir = run_pretraining(cfg)
    assert main(["--run", str(run_dir)]) == 2
    err = capsys.readouterr().err
    assert "pretraining stopped at step 3 of" in err and "--resume train.halt_after_steps=0" in err
    assert not (run_dir / "report.json").exists()


def test_a_rerun_killed_before_export_is_not_evaluated_with_the_old_export(tiny_cfg, capsys):
    run_dir = run_pretraining(tiny_cfg())
    cfg = tiny_cfg(train={"halt_after_steps": 2, "epochs": 2})  # the same directory, started again
    cfg.run_dir = str(run_dir)
    shutil.rmtree(run_dir / "checkpoints")
    run_pretraining(cfg)
    assert (run_dir / "encoder.safetensors").exists()  # the old export is still there ...
    assert main(["--run", str(run_dir)]) == 2  # ... and is not passed off as this config's
    assert "pretraining stopped at step 2 of" in capsys.readouterr().err


def test_overridden_evaluations_write_beside_the_full_report(tmp_path):
    from evaluate.run import evaluation_folder
    from pretrain.core.run_folder import Run

    run = Run.at(tmp_path)
    assert evaluation_folder(run, [], None).path == tmp_path
    one = evaluation_folder(run, ["eval.seeds=5"], None).path
    other = evaluation_folder(run, ["eval.seeds=6"], None).path
    assert one.parent == tmp_path / "evals" and one != other and one.name.startswith("eval.seeds=5")
    assert evaluation_folder(run, [], []).path != tmp_path  # other baselines are a partial evaluation too


def test_image_strip_places_each_image_and_leaves_missing_slots_white():
    grey = torch.stack([torch.full((1, 4, 3), v) for v in (0.0, 0.5)])  # (2, 1, 4, 3)
    strip = image_strip(grey, slots=3, gap=1)
    assert strip.shape == (4, 3 * 3 + 2)  # one channel: (H, slots·(W + gap) − gap)
    assert (strip[:, 0:3] == 0.0).all() and (strip[:, 4:7] == 0.5).all()
    assert (strip[:, 3] == 1.0).all() and (strip[:, 7:] == 1.0).all()  # the gap and the empty third slot
    colour = image_strip(torch.rand(2, 3, 4, 3) * 3 - 1, slots=2)  # clamped into [0, 1]
    assert colour.shape == (4, 2 * 5 - 2, 3) and colour.min() >= 0 and colour.max() <= 1
