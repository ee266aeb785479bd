"""Section 10's plan (which points, in what order, the capacity and views variants), how a
variant is read against length, and the validation sweep's grids: all without pretraining."""

from __future__ import annotations

import dataclasses

import pytest

from bench.length_report import all_comparisons_line, cut_line, pairs_table, seeded_points, variant_lines, won
from bench.length_section import against_rivals, lejepa_target_row, rival_lines
from bench.scales import load_scale
from bench.sections.pretrain_length import points, within_budget
from bench.sections.sweep import GRIDS
from evaluate.uncertainty import prediction_interval
from pretrain.core.config import load_config


def test_pretrain_length_runs_every_method_at_a_length_before_the_next_length():
    full = load_scale("full").of("pretrain_length")
    found = [(p.name, p.epochs) for p in points(full) if not p.seed]
    methods = ("vicreg", "contrastive", "barlow_twins", "lejepa", "ae_m64")
    assert found[:8] == [(m, 1.0) for m in (*methods, "byol", "dino", "vae")]
    assert found[8:14] == [(m, 3.0) for m in methods] + [("vicreg_w64", 3.0)]
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


def test_seeded_points_add_their_further_runs_after_every_first_run_of_their_length():
    full = load_scale("full").of("pretrain_length")
    plan = points(full)
    further = [(p.run, p.seed) for p in plan if p.seed]
    assert ("vicreg_e1_seed1", 1) in further and ("byol_e30_seed1", 1) in further  # () = all, at both ends
    assert not any(p.seed and p.epochs in (3.0, 10.0) for p in plan)
    shortest = [p for p in plan if p.epochs == 1.0]
    assert [p.seed for p in shortest] == [0] * 8 + [1] * 8  # every first run of the length before any second
    small = load_scale("small").of("pretrain_length")
    assert {(p.name, p.epochs) for p in points(small) if p.seed} == {
        (m, e) for m in ("ae_m64", "vicreg") for e in (1.0, 10.0)
    }
    with pytest.raises(ValueError, match="seeded: dino not among"):
        points(dataclasses.replace(full, ends_only=(), seeded=("dino",)))


def test_the_point_budget_cuts_long_points_and_ends_an_ends_only_method_at_the_longest_that_fits():
    full = load_scale("full").of("pretrain_length")
    sizes = dataclasses.replace(full, point_minutes=25.0)
    plan = {(p.name, p.epochs, p.seed): p for p in points(sizes)}
    rates = {"vicreg": 2.1, "byol": 2.0, "vae": 0.45}  # minutes per epoch measured so far
    assert within_budget(plan["vicreg", 10.0, 0], sizes, rates) == plan["vicreg", 10.0, 0]  # 21 min fits
    assert within_budget(plan["vicreg", 30.0, 0], sizes, rates) is None  # 63 min: cut
    assert within_budget(plan["contrastive", 30.0, 0], sizes, rates) == plan["contrastive", 30.0, 0]  # unknown
    moved = within_budget(plan["byol", 30.0, 0], sizes, rates)
    assert (moved.run, moved.epochs, moved.config) == ("byol_e10", 10.0, plan["byol", 30.0, 0].config)
    assert within_budget(plan["byol", 30.0, 1], sizes, rates).run == "byol_e10_seed1"
    assert within_budget(plan["byol", 30.0, 0], sizes, {"byol": 9.0}) is None  # not even 3 epochs fit
    assert within_budget(plan["vae", 30.0, 0], sizes, rates) == plan["vae", 30.0, 0]  # 13.5 min fits
    assert within_budget(plan["vicreg", 30.0, 0], full, rates) == plan["vicreg", 30.0, 0]  # no budget
    cut = [{"method": "VICReg", "epochs": 30.0, "seed": 0, "minutes": 62.6}]
    assert cut_line({"cut": cut, "point_minutes": 25.0})[1] == (
        "Cut by the point budget of 25 pretraining minutes: VICReg 30 ep (63 min predicted)."
    )
    assert cut_line({"cut": [], "point_minutes": 0.0}) == []


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


def test_a_seeded_point_is_paired_over_its_pretraining_runs_against_pixels_and_random_init():
    def summary(protocol, budget, by_seed):
        mean = sum(by_seed.values()) / len(by_seed)
        keys = {"source": "encoder", "protocol": protocol, "labels_per_class": budget, "mean": mean, "std": 0.0}
        return (
            keys
            | {"n": len(by_seed), "ci_low": mean, "ci_high": mean, "interval": "t"}
            | {
                "balanced_accuracy": mean,
                "flags": [],
                "by_seed": {str(s): a for s, a in by_seed.items()},
            }
        )

    def cells(scarce, full, seeds=(0, 1), all_seeds=(0,)):
        found = {f"{p} 10": summary(p, 10, {s: scarce + s / 1000 for s in seeds}) for p in ("knn", "linear")}
        return found | {f"{p} 0": summary(p, 0, {s: full for s in all_seeds}) for p in ("knn", "linear")}

    arch = "resnet_small w32 [1, 1, 1], m = 128, pooled"
    first = {"method": "VICReg", "run": "vicreg", "epochs": 10.0, "architecture": arch, "cells": cells(0.73, 0.88)}
    second = first | {"seed": 1, "cells": cells(0.729, 0.879, seeds=(2, 3), all_seeds=(2,))}
    baselines = [
        {"source": "raw_pixels", "architecture": arch, "cells": cells(0.67, 0.85, seeds=(0, 1, 2, 3))},
        {"source": "random_init", "architecture": arch, "cells": cells(0.53, 0.79, (0, 1, 2, 3), (0, 1, 2, 3))},
    ]
    data = {"rows": [first], "seed_rows": [second], "paired_baselines": baselines, "seeds": 2, "scarce": 10}
    data["pretrain_seeds"] = 2
    runs = seeded_points(data)[0]
    assert won(data, runs) == [True] * 8  # both runs clear both baselines by about the same margin
    table = pairs_table(data)
    assert "| comparison | VICReg, 10 ep (2 runs) |" in table and "| won beyond noise | 8 of 8 |" in table
    assert all_comparisons_line(data).endswith("| 8 of 8 (VICReg, 10 ep) | met |")
    data["seed_rows"] = [second | {"cells": cells(0.60, 0.84, seeds=(2, 3), all_seeds=(2,))}]  # a poor second run
    found = won(data, seeded_points(data)[0])
    assert found[0::2] == [False] * 4  # against raw pixels the two runs disagree: within noise
    assert all_comparisons_line(data).endswith(
        f"| {sum(found)} of 8 (VICReg, 10 ep) | gap: {8 - sum(found)} lost or within noise |"
    )
    assert seeded_points(data | {"seed_rows": []}) == [] and pairs_table(data | {"seed_rows": []}) == []


def test_lejepa_is_read_against_the_run_to_run_spread_of_the_better_rival():
    def cells(knn10, lin10, knn0, lin0):
        means = {"knn 10": knn10, "linear 10": lin10, "knn 0": knn0, "linear 0": lin0}
        return {
            column: {"source": "encoder", "protocol": column.split()[0], "labels_per_class": int(column.split()[1])}
            | {"mean": mean, "std": 0.0, "n": 2, "ci_low": mean, "ci_high": mean, "interval": "t"}
            | {"balanced_accuracy": mean, "flags": [], "by_seed": {}}
            for column, mean in means.items()
        }

    def row(run, seed, *means):
        return {"method": run, "run": run, "epochs": 10.0, "seed": seed, "cells": cells(*means)}

    vicreg = [row("vicreg", s, 0.69 + s / 100, 0.73 + s / 100, 0.870 + s / 1000, 0.88) for s in range(3)]
    lejepa = row("lejepa", 0, 0.66, 0.70, 0.847, 0.95)
    simclr = row("contrastive", 0, 0.80, 0.71, 0.850, 0.86)  # the better rival at kNN 10/class only
    data = {"rows": [vicreg[0], lejepa, simclr], "seed_rows": vicreg[1:], "scarce": 10, "pretrain_seeds": 3}
    found = dict((c, (m, lo, hi)) for c, m, lo, hi in against_rivals(data)[10.0])
    assert found["linear 10"] == pytest.approx((0.70, *prediction_interval([0.73, 0.74, 0.75])))
    assert found["knn 10"][1:] == pytest.approx(prediction_interval([0.69, 0.70, 0.71], centre=0.80))  # SimCLR's
    assert found["knn 0"][0] < found["knn 0"][1] and found["linear 0"][0] > found["linear 0"][2]
    assert lejepa_target_row(data).endswith(
        "| 2 of 4 columns within or ahead (10 ep) | gap: behind in knn 10/class, knn all |"
    )
    assert (
        rival_lines(data)[2].startswith("- 10 ep: knn 10/class 66.0 in [")
        and "linear all 95.0 in" in rival_lines(data)[2]
    )
    partial = lejepa | {"cells": {k: v for k, v in lejepa["cells"].items() if k != "knn 0"}}
    assert [c for c, *_ in against_rivals(data | {"rows": [vicreg[0], partial, simclr]})[10.0]] == [
        "knn 10",
        "linear 10",
        "linear 0",
    ]
    assert against_rivals(data | {"seed_rows": []}) == {} and lejepa_target_row(data | {"seed_rows": []}).endswith(
        "| — |"
    )
