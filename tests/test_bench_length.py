"""Section 10's plan (which points, in what order, the capacity and views variants), how a
variant is read against length, and the validation sweep's grids: all without pretraining."""

from __future__ import annotations

import dataclasses

import pytest

from bench.length_report import variant_lines
from bench.scales import load_scale
from bench.sections.pretrain_length import points
from bench.sections.sweep import GRIDS
from pretrain.core.config import load_config


def test_pretrain_length_runs_every_method_at_a_length_before_the_next_length():
    full = load_scale("full").of("pretrain_length")
    found = [(p.name, p.epochs) for p in points(full)]
    assert found[:11] == [(m, 3.0) for m in ("vicreg", "contrastive", "barlow_twins", "lejepa", "ae_m64")] + [
        (m, 3.0) for m in ("byol", "dino", "vae", "vicreg_w64", "vicreg_deep", "vicreg_crops20")
    ]
    assert ("byol", 10.0) not in found and ("byol", 30.0) in found and ("vicreg", 10.0) in found
    assert ("vicreg_w64", 10.0) in found and ("vicreg_w64", 30.0) not in found
    assert [epochs for _, epochs in found] == sorted(epochs for _, epochs in found)
    wide = next(p for p in points(full) if p.name == "vicreg_w64")
    assert wide.config == "configs/vicreg_fmnist.yaml" and wide.overrides == ("encoder.width=64",)
    assert wide.variant_of == "vicreg"
    with pytest.raises(ValueError, match="unknown vicreg_w99"):
        points(dataclasses.replace(full, variants=("vicreg_w99",)))
    with pytest.raises(ValueError, match="vicreg_w64 vary a method not in pretrain_length.methods"):
        points(dataclasses.replace(full, methods=("ae_m64",), variants=("vicreg_w64",)))


def test_a_variant_is_set_against_its_base_point_of_the_nearest_minutes():
    def summary(protocol, budget, mean):
        keys = {"source": "encoder", "protocol": protocol, "labels_per_class": budget, "mean": mean, "std": 0.0}
        return keys | {
            "n": 2,
            "ci_low": mean,
            "ci_high": mean,
            "interval": "t",
            "balanced_accuracy": mean,
            "flags": [],
            "by_seed": {},
        }

    def row(run, epochs, seconds, linear, knn, variant_of=""):
        cells = {"linear 10": summary("linear", 10, linear), "knn 0": summary("knn", 0, knn)}
        found = {"method": run, "run": run, "epochs": epochs, "pretrain_seconds": seconds, "cells": cells}
        return found | ({"variant_of": variant_of} if variant_of else {})

    rows = [row("vicreg", 3.0, 400, 0.70, 0.85), row("vicreg", 10.0, 1200, 0.73, 0.87)]
    rows.append(row("wide", 3.0, 1100, 0.72, 0.88, variant_of="vicreg"))
    lines = variant_lines({"rows": rows, "scarce": 10})
    assert lines[2] == (
        "- wide, 3 ep (18.3 min) against vicreg, 10 ep (20.0 min): linear 10/class 72.0 vs 73.0 (-1.0); "
        "knn all 88.0 vs 87.0 (+1.0)."
    )
    assert variant_lines({"rows": rows[:2], "scarce": 10}) == []


@pytest.mark.parametrize("base", sorted(GRIDS))
def test_every_sweep_setting_is_a_valid_config(base):
    for overrides in GRIDS[base]:
        load_config(base, overrides)
