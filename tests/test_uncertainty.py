"""Intervals, paired differences and per-class scores, against answers worked out by hand."""

import pytest
import torch

from evaluate.results import EarlyStoppedResult, KnnResult, Record, prediction_scores
from evaluate.suite import paired_differences, summarise
from evaluate.uncertainty import bootstrap_interval, paired_difference, prediction_interval, t_interval, verdict


def result(predictions: torch.Tensor, labels: torch.Tensor) -> KnnResult:
    return KnnResult(
        **prediction_scores(predictions, labels, 2), train_size=1, val_size=0, selected_on="", k=1, temperature=1.0
    )


def test_t_interval_matches_the_textbook():
    low, high = t_interval([1.0, 2.0, 3.0])  # mean 2, sd 1, t(0.975, 2 df) = 4.3027
    assert low == pytest.approx(2 - 4.3027 / 3**0.5, abs=1e-3) and high == pytest.approx(2 + 4.3027 / 3**0.5, abs=1e-3)


def test_prediction_interval_is_wider_than_the_mean_s_by_the_new_draw_s_own_spread():
    low, high = prediction_interval([1.0, 2.0, 3.0])  # sd 1, t(0.975, 2 df) = 4.3027, sqrt(1 + 1/3)
    assert high - 2 == pytest.approx(4.3027 * (4 / 3) ** 0.5, abs=1e-3) and 2 - low == pytest.approx(high - 2)
    assert (high - low) / (t_interval([1.0, 2.0, 3.0])[1] - t_interval([1.0, 2.0, 3.0])[0]) == pytest.approx(2.0)
    low, high = prediction_interval([1.0, 2.0, 3.0], centre=5.0)  # two single draws: sd · √2
    assert (low + high) / 2 == pytest.approx(5.0) and high - 5 == pytest.approx(4.3027 * 2**0.5, abs=1e-3)


def test_bootstrap_interval_of_a_proportion():
    assert bootstrap_interval(torch.ones(50), 200, 0) == (1.0, 1.0)
    half = (torch.arange(10_000) % 2).double()  # p = 0.5: standard error 0.005, 95% half-width ~0.0098
    low, high = bootstrap_interval(half, 1000, 0)
    assert low == pytest.approx(0.5 - 0.0098, abs=0.002) and high == pytest.approx(0.5 + 0.0098, abs=0.002)


def test_verdict_needs_the_interval_to_exclude_zero():
    assert (
        verdict(0.01, 0.03) == "better" and verdict(-0.03, -0.01) == "worse" and verdict(-0.01, 0.02) == "within noise"
    )


def test_test_scores_give_per_class_and_balanced_accuracy():
    scores = prediction_scores(torch.tensor([0, 0, 0, 0]), torch.tensor([0, 0, 0, 1]), 3)
    assert scores["accuracy"] == 0.75 and scores["balanced_accuracy"] == 0.5
    assert scores["per_class_accuracy"] == [1.0, 0.0, None]  # class 2 has no test image


def test_paired_difference_over_shared_subsets():
    labels = torch.zeros(100, dtype=torch.long)

    def with_accuracy(acc: float) -> KnnResult:
        return result((torch.arange(100) >= 100 * acc).long(), labels)

    def over_subsets(a: list[float], b: list[float]) -> dict:
        runs = [{s: with_accuracy(x) for s, x in enumerate(accuracies)} for accuracies in (a, b)]
        return paired_difference(*runs, labels, all_labels=False, resamples=100, seed=0)

    steady = over_subsets([0.62, 0.71, 0.55], [0.60, 0.69, 0.53])
    assert steady["difference"] == pytest.approx(0.02) and steady["verdict"] == "better"  # the subsets' luck cancels
    assert steady["interval"] == "paired t over shared subsets" and steady["n"] == 3
    noisy = over_subsets([0.62, 0.50, 0.55], [0.60, 0.60, 0.53])
    assert noisy["verdict"] == "within noise"


def test_paired_bootstrap_with_all_labels():
    labels = torch.zeros(1000, dtype=torch.long)
    perfect = {0: result(labels.clone(), labels)}
    misses_a_tenth = {0: result((torch.arange(1000) % 10 == 0).long(), labels)}
    diff = paired_difference(perfect, misses_a_tenth, labels, all_labels=True, resamples=500, seed=0)
    assert diff["difference"] == pytest.approx(0.1) and diff["verdict"] == "better"
    assert 0.08 < diff["low"] < 0.1 < diff["high"] < 0.12
    same = paired_difference(perfect, perfect, labels, all_labels=True, resamples=100, seed=0)
    assert same["difference"] == 0 and same["verdict"] == "within noise"


def test_summary_and_differences_from_records():
    labels = torch.tensor([0, 1] * 50)
    right, wrong_half = labels.clone(), torch.where(torch.arange(100) < 50, labels, 1 - labels)
    records = [
        Record("encoder", "knn", 0, 0, result(right, labels)),
        Record("pca", "knn", 0, 0, result(wrong_half, labels)),
    ]
    records += [Record("encoder", "knn", 1, s, result(right if s < 2 else wrong_half, labels)) for s in range(3)] + [
        Record("pca", "knn", 1, s, result(wrong_half, labels)) for s in range(3)
    ]
    rows = {(r.source, r.labels_per_class): r for r in summarise(records, labels, 200, 0)}
    assert rows[("encoder", 0)].interval == "bootstrap over test images" and rows[("encoder", 0)].ci_low == 1.0
    assert rows[("encoder", 1)].interval == "t over seeds" and rows[("encoder", 1)].n == 3
    assert rows[("encoder", 1)].ci_low < rows[("encoder", 1)].mean < rows[("encoder", 1)].ci_high
    diffs = {d.labels_per_class: d for d in paired_differences(records, labels, 200, 0)}
    assert diffs[0].a == "encoder" and diffs[0].b == "pca" and diffs[0].verdict == "better"
    assert diffs[1].difference == pytest.approx(1 / 3) and diffs[1].verdict == "within noise"


def early_stopped(labels: torch.Tensor, at_cap: bool, lr_at_edge: bool = False) -> EarlyStoppedResult:
    return EarlyStoppedResult(
        **prediction_scores(labels, labels, 1),
        train_size=4,
        val_size=4,
        selected_on="",
        best_step=9,
        steps_run=9,
        max_steps=9,
        at_cap=at_cap,
        lr_at_edge=lr_at_edge,
    )


def test_flags_reach_the_summary():
    labels = torch.zeros(4, dtype=torch.long)
    (row,) = summarise([Record("encoder", "mlp_head", 1, 0, early_stopped(labels, at_cap=True))], labels, 50, 0)
    assert row.flags == ["at_cap 1/1"]


def test_one_labelled_subset_gives_no_verdict():
    labels = torch.zeros(10, dtype=torch.long)
    one = {0: result(labels.clone(), labels)}
    diff = paired_difference(one, {0: result(1 - labels, labels)}, labels, all_labels=False, resamples=50, seed=0)
    assert diff["verdict"] == "too few seeds" and diff["low"] is None and diff["difference"] == 1.0


def test_all_label_interval_includes_the_spread_between_seeds():
    """Three seeds of a random protocol that disagree by 10 points: the image bootstrap alone
    would call a 4-point lead certain; widened by the seeds' spread it is within noise."""
    labels = torch.zeros(10_000, dtype=torch.long)

    def accurate(share: float) -> KnnResult:
        return result((torch.arange(10_000) >= 10_000 * share).long(), labels)

    noisy = {0: accurate(0.80), 1: accurate(0.90), 2: accurate(0.85)}
    steady = {0: accurate(0.81)}
    diff = paired_difference(noisy, steady, labels, all_labels=True, resamples=200, seed=0)
    assert diff["difference"] == pytest.approx(0.04, abs=1e-6) and diff["verdict"] == "within noise"
    assert "widened" in diff["interval"]


def test_flags_keep_their_result_types_order_whichever_seed_raised_them():
    labels = torch.zeros(4, dtype=torch.long)
    runs = [early_stopped(labels, at_cap=False, lr_at_edge=True), early_stopped(labels, at_cap=True)]
    records = [Record("scratch", "finetune", 1, s, r) for s, r in enumerate(runs)]
    (row,) = summarise(records, labels, 50, 0)
    assert row.flags == ["at_cap 1/2", "lr_at_edge 1/2"]
