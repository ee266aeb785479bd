"""The leaderboard's pieces: pooling pretraining seeds, pairing with baselines, the targets."""

from __future__ import annotations

import pytest
import torch

from bench.rows import mean_metrics
from bench.scales import load_scale
from bench.sections.leaderboard import ENTRIES, evaluated, scale_entries
from bench.targets import TARGETS, Target, target_line, versus_simclr_section
from bench.verdicts import paired_difference, paired_differences, per_run, reference_row, versus
from evaluate import suite
from evaluate.cells import KindStats
from evaluate.report_types import CellStats, SummaryRow


def summary(protocol: str, per_class: int, by_seed: dict[int, float]) -> SummaryRow:
    values = list(by_seed.values())
    mean = sum(values) / len(values)
    return SummaryRow(
        source="encoder",
        protocol=protocol,
        labels_per_class=per_class,
        mean=mean,
        std=0.0,
        n=len(values),
        ci_low=None,
        ci_high=None,
        interval="",
        balanced_accuracy=mean,
        flags=[],
        by_seed={str(s): v for s, v in by_seed.items()},
    )


def test_seed_ranges_draw_the_subsets_of_one_long_sequence():
    labels = torch.arange(200) % 5
    whole = suite.labelled_subsets(labels, [3], seeds=4, base_seed=0)
    second_run = suite.labelled_subsets(labels, [3], seeds=2, base_seed=0, first_seed=2)
    assert [s for _, s, _ in second_run] == [2, 3]
    for (_, _, a), (_, _, b) in zip(whole[2:], second_run):
        assert torch.equal(a, b)
    assert not torch.equal(whole[0][2], whole[2][2])


def test_a_reference_measured_once_is_subtracted_from_every_seed():
    mine = summary("knn", 0, {0: 0.90, 2: 0.86})
    once = summary("knn", 0, {0: 0.80})
    assert paired_differences(mine, once) == pytest.approx({0: 0.10, 2: 0.06})
    paired = summary("knn", 0, {0: 0.85, 2: 0.84})
    assert paired_differences(mine, paired) == pytest.approx({0: 0.05, 2: 0.02})
    assert paired_differences(mine, summary("knn", 0, {5: 0.8, 6: 0.8})) == {}  # nothing shared


def test_intervals_count_pretraining_runs_not_subsets():
    mine = summary("linear", 10, {0: 0.80, 1: 0.82, 2: 0.70, 3: 0.72})  # runs 0 and 1, two subsets each
    base = summary("linear", 10, {0: 0.75, 1: 0.75, 2: 0.75, 3: 0.75})
    assert per_run(paired_differences(mine, base), 2) == pytest.approx([0.06, -0.04])
    mean, low, high = paired_difference(mine, base, seeds_per_run=2)
    assert mean == pytest.approx(0.01) and low < 0 < high  # two runs that disagree: within noise
    _, low_subsets, _ = paired_difference(mine, base, seeds_per_run=1)
    assert low_subsets > low  # counting subsets as independent would narrow the interval


def leaderboard(task_linear_all: float, task_finetune: float, scratch: float) -> dict:
    task = {
        "kind": "task",
        "source": "encoder",
        "run": "contrastive",
        "representation": "contrastive",
        "architecture": "resnet_small",
        "summary": [summary("linear", 0, {0: task_linear_all}), summary("finetune", 100, {0: task_finetune})],
        "all_labels": {"clustering": {"nmi": 0.72}},
    }
    scratch_rows = [
        {"kind": "baseline", "source": "scratch", "architecture": arch, "summary": [summary("finetune", 100, {0: acc})]}
        for arch, acc in (("paper_conv", 0.10), ("resnet_small", scratch))
    ]
    return {"rows": [task, *scratch_rows], "finetune_labels": [100], "epochs": 2}


def test_baselines_are_matched_by_architecture():
    data = leaderboard(0.9, 0.85, 0.80)
    task = data["rows"][0]
    assert reference_row(data, "scratch", "resnet_small")["summary"][0].mean == 0.80
    mine, theirs = versus(data, task, "finetune", "scratch", 10)  # fine-tuning ran at 100 only: the nearest
    assert (mine.mean, theirs.mean) == (0.85, 0.80)


def test_targets_say_met_or_the_gap():
    data = leaderboard(0.875, 0.86, 0.80)
    linear = Target("contrastive linear", "linear", 0, 0.886, "contrastive")
    assert target_line(data, linear).endswith("| 87.5 (contrastive) | gap -1.1 points |")
    gain = next(t for t in TARGETS if t.measure == "finetune_gain")
    assert target_line(data, gain).endswith("| met |")  # 86 − 80 = 6 points ≥ 4
    nmi = next(t for t in TARGETS if t.measure == "nmi")
    assert "0.720 (contrastive) | met" in target_line(data, nmi)
    absent = Target("relpos", "knn", 0, 0.83, "relpos_resnet")
    assert target_line(data, absent).endswith("| not measured | — |")


def test_metrics_are_averaged_over_pretraining_runs():
    runs = [
        {"clustering": {"nmi": 0.5, "method": "kmeans"}, "k": 5},
        {"clustering": {"nmi": 0.7, "method": "kmeans"}, "k": 5},
    ]
    assert mean_metrics(runs) == {"clustering": {"nmi": pytest.approx(0.6), "method": "kmeans"}, "k": 5}


def test_an_evaluation_costs_its_cells_whether_computed_now_or_read_from_the_store():
    cells = CellStats(
        feature_seconds=2.0, kinds={"knn": KindStats(1, 0, 3.0, 0.0), "linear": KindStats(0, 4, 0.0, 5.0)}
    )
    report = type("R", (), {"records": [], "all_labels": {}, "label_free": [], "cells": cells})()
    assert evaluated(report)["seconds"] == 10.0  # a restarted bench reports what the figures cost, not 0


def test_the_benchmark_scales_run_every_entry_and_the_test_scale_the_named_ones():
    assert scale_entries(load_scale("small")) == scale_entries(load_scale("full")) == ENTRIES
    tiny = load_scale("tiny").of("leaderboard").only
    assert [name for name, _, _ in scale_entries(load_scale("tiny"))] == [e[0] for e in ENTRIES if e[0] in tiny]
    assert set(tiny) <= {e[0] for e in ENTRIES}  # a renamed entry is not silently dropped


def two_run_row(run: str, knn_all: tuple[float, float], linear_all: tuple[float, float]) -> dict:
    """A task row with two pretraining runs (seeds 0 and 2 hold their all-label figures)."""
    return {
        "kind": "task",
        "source": "encoder",
        "run": run,
        "representation": run,
        "summary": [
            summary("knn", 0, {0: knn_all[0], 2: knn_all[1]}),
            summary("linear", 0, {0: linear_all[0], 2: linear_all[1]}),
        ],
    }


def test_a_method_beats_simclr_only_beyond_noise_on_knn_and_linear():
    simclr = two_run_row("contrastive", (0.84, 0.845), (0.85, 0.855))
    vicreg = two_run_row("vicreg", (0.85, 0.856), (0.86, 0.866))  # +1 point in both runs, both protocols
    byol = two_run_row("byol", (0.86, 0.80), (0.86, 0.86))  # the runs disagree on kNN
    data = {"rows": [simclr, byol, vicreg], "seeds": 2, "pretrain_seeds": 2, "finetune_labels": [100]}
    lines = versus_simclr_section(data)
    assert lines[-1].endswith("met (vicreg).")
    vicreg_line = next(line for line in lines if line.startswith("| vicreg |"))
    assert "+1.1 [+0.4, +1.7] ↑" in vicreg_line  # (1.0 + 1.1) / 2, t with 1 df
    byol_line = next(line for line in lines if line.startswith("| byol |"))
    assert "↑" not in byol_line and "↓" not in byol_line  # within noise: no mark
    data["rows"] = [simclr, byol]
    assert versus_simclr_section(data)[-1].endswith("gap: none beyond noise on both.")
    assert versus_simclr_section({**data, "rows": [byol]}) == []  # no SimCLR row: nothing to compare
