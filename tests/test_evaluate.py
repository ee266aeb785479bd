"""Evaluation of tiny runs: report rows per feature source, the feature cache, decoder-only codes."""

import json

import torch

from evaluate.__main__ import evaluate_run, main
from evaluate.features import cache_key
from pretrain.data import synthetic_images
from pretrain.engine import run_pretraining


def test_decoder_only_run_reports_encoder_and_inferred_codes(tiny_cfg):
    cfg = tiny_cfg(tasks=[{"name": "decoder_only", "infer_steps": 5}], train={"epochs": 2})
    run_dir = run_pretraining(cfg)
    report = evaluate_run(run_dir, baselines=[])
    rows = {row["source"]: row for row in report["rows"]}
    assert list(rows) == ["encoder", "decoder_only_codes"]
    assert rows["decoder_only_codes"]["dim"] == cfg.encoder.code_dim
    for row in rows.values():
        assert 0.0 <= row["knn"]["accuracy"] <= 1.0 and 0.0 <= row["linear"]["accuracy"] <= 1.0
    cached = sorted(p.name.split("-")[0] for p in (run_dir / "features").glob("*.pt"))
    assert cached == ["test", "test", "train", "train", "val", "val"]  # two sources x three splits


def test_evaluate_cli_writes_report_and_reuses_cache(tiny_cfg, capsys):
    run_dir = run_pretraining(tiny_cfg())
    assert main(["--run", str(run_dir)]) == 0
    first = json.loads((run_dir / "report.json").read_text())
    stamps = {p: p.stat().st_mtime_ns for p in (run_dir / "features").glob("*.pt")}
    assert main(["--run", str(run_dir)]) == 0
    assert {p: p.stat().st_mtime_ns for p in (run_dir / "features").glob("*.pt")} == stamps  # read, not rewritten
    second = json.loads((run_dir / "report.json").read_text())
    assert [r["knn"] for r in first["rows"]] == [r["knn"] for r in second["rows"]]
    assert [r["source"] for r in first["rows"]] == ["encoder", "raw_pixels", "random_init"]
    assert "| encoder |" in capsys.readouterr().out


def test_cache_key_depends_on_source_split_and_pixels():
    images = synthetic_images(20, seed=0)
    key = cache_key("encoder:abc", "train", images, "unit_float")
    assert key == cache_key("encoder:abc", "train", images, "unit_float")
    assert key != cache_key("encoder:abd", "train", images, "unit_float")
    assert key != cache_key("encoder:abc", "val", images, "unit_float")
    changed = synthetic_images(20, seed=0)
    changed.images[0, 0, 0, 0] += 1
    assert key != cache_key("encoder:abc", "train", changed, "unit_float")


def test_missing_run_is_a_clear_error(tmp_path, capsys):
    assert main(["--run", str(tmp_path / "nope")]) == 2
    assert "config.yaml" in capsys.readouterr().err
