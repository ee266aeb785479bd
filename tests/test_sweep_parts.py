"""Section 7 measured in parts: ``--sections sweep --entries byol_fmnist`` reruns that grid only."""

from __future__ import annotations

from dataclasses import replace

import pytest

import bench.sweep as sweep
from bench.__main__ import parse_args
from bench.parts import MergeError, parts_lines
from bench.scales import SCALES

SMALL = SCALES["small"]


def row(config: str, setting: str, knn: float, seconds: float = 60.0) -> dict:
    return {
        "config": config,
        "setting": setting,
        "pretrain_seconds": seconds,
        "within_budget": seconds <= SMALL.sweep_budget_seconds,
        "val_knn_all": knn,
        "val_linear_all": 0.8,
        "val_knn_scarce": 0.6,
        "val_linear_scarce": 0.6,
    }


def stored_section() -> dict:
    rows = [
        row("configs/ae_fmnist.yaml", "as shipped", 0.87),
        row("configs/ae_fmnist.yaml", "encoder.code_dim=64", 0.88),
        row("configs/byol_fmnist.yaml", "as shipped", 0.70),
    ]
    source = {"date": "2026-11-28", "commit": "a" * 40, "command": "python -m bench --scale small --sections sweep"}
    return {
        "provenance": {**source, "scale": "small", "machine": {"cpu": "x86_64"}},
        "wall_seconds": 600.0,
        "data": sweep.sweep_data(rows, SMALL),
    }


def test_a_sweep_part_replaces_its_grids_rows_and_keeps_the_others(monkeypatch, tmp_path):
    ran = {}

    def fake_run(scale, root, only):
        ran["only"] = only
        fresh = [
            row("configs/vicreg_fmnist.yaml", "as shipped", 0.85),
            row("configs/vicreg_fmnist.yaml", "optim.lr=2.0e-3", 0.90, seconds=5000.0),  # over budget
            row("configs/byol_fmnist.yaml", "as shipped", 0.80),
            row("configs/byol_fmnist.yaml", "optim.lr=2.0e-3", 0.82),
        ]
        return sweep.sweep_data(fresh, scale)

    monkeypatch.setattr(sweep, "run_sweep", fake_run)
    source = {"date": "2026-12-02", "commit": "b" * 40, "command": "python -m bench --scale small --sections sweep"}
    source |= {"scale": "small", "machine": {"cpu": "x86_64", "auto_precision": "bf16"}}
    entries = ["vicreg_fmnist", "byol_fmnist"]
    result = sweep.merged_sweep(stored_section(), SMALL, entries, tmp_path, source, lambda: 300.0)
    assert ran["only"] == ("vicreg_fmnist", "byol_fmnist")
    data = result["data"]
    # grid order, the stored byol row replaced, the ae rows kept from part 0
    assert [(r["config"], r["part"]) for r in data["rows"]] == [
        ("configs/ae_fmnist.yaml", 0),
        ("configs/ae_fmnist.yaml", 0),
        ("configs/byol_fmnist.yaml", 1),
        ("configs/byol_fmnist.yaml", 1),
        ("configs/vicreg_fmnist.yaml", 1),
        ("configs/vicreg_fmnist.yaml", 1),
    ]
    assert data["chosen"] == {
        "configs/ae_fmnist.yaml": "encoder.code_dim=64",
        "configs/byol_fmnist.yaml": "optim.lr=2.0e-3",
        "configs/vicreg_fmnist.yaml": "as shipped",  # the better setting ran over the budget
    }
    assert result["wall_seconds"] == 900.0 and result["provenance"]["commit"] == "a" * 40
    lines = parts_lines(result)
    assert "configs/ae_fmnist.yaml" in lines[1] and "byol" not in lines[1]
    assert "--entries vicreg_fmnist,byol_fmnist" in lines[2] and "(auto precision bf16)" in lines[2]


def test_a_sweep_part_at_another_budget_is_refused_before_anything_runs(monkeypatch, tmp_path):
    monkeypatch.setattr(sweep, "run_sweep", lambda *a: pytest.fail("ran despite another budget"))
    other = replace(SMALL, sweep_budget_seconds=60.0)
    with pytest.raises(MergeError, match="other settings"):
        sweep.merged_sweep(stored_section(), other, ["byol_fmnist"], tmp_path, {}, lambda: 0.0)


def test_sweep_entries_are_config_stems():
    assert parse_args(["--sections", "sweep", "--entries", "dino_fmnist"]).entries == ["dino_fmnist"]
    with pytest.raises(MergeError, match="unknown dino; choose from .*dino_fmnist"):
        sweep.check_sweep_entries(["dino"])
