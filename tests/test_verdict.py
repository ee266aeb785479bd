"""The verdict atop every report and the collapse alarm: sentences generated from fixed report
objects, the alarm on constructed and real encoders, and the report text as it ran."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from bench.sections.score_correlation import trusted
from evaluate.baselines import random_encoder
from evaluate.collapse import alarm_lines, check_collapse, mean_pair_cosine
from evaluate.context import Measurement
from evaluate.entry import EvaluationSettings, evaluate_run
from evaluate.report_types import CollapseCheck, Difference, Report, SummaryRow
from evaluate.verdict import LABEL_FREE_LIMIT, make_verdict, verdict_lines
from evaluate.views import LabelFreeResult
from pretrain.core.encoders import EncoderSpec, encode_images
from pretrain.engine import run_pretraining

HEADER = dict(
    run="r", run_dir="runs/r", dataset="synthetic", dataset_root="", pretrain_dataset="synthetic", pretrain_root="",
    cross_dataset=False, encoder="paper_conv", code_dim=8, encoder_weights_sha256="0", pretrain_steps=10,
    config_hash="0", git_commit="0", overrides=[], device="cpu", precision={"train": "fp32", "eval": "fp32"},
    memory_format={"train": "contiguous", "eval": "contiguous"},
    settings={"labels_per_class": [1, 10, 100, 0]},
)  # fmt: skip


def diff(protocol: str, b: str, budget: int, value: float, verdict: str, a: str = "encoder", **extra) -> Difference:
    low, high = (value - 0.02, value + 0.02) if verdict != "within noise" else (value - 0.05, value + 0.05)
    return Difference(protocol, a, b, budget, value, low, high, "t", 4, verdict, **extra)


def frozen(verdicts: dict[str, str]) -> list[Difference]:
    """kNN and linear at 10 labels/class against the three baselines, each with ``verdicts[baseline]``."""
    sign = {"better": 0.05, "worse": -0.05, "within noise": 0.01}
    return [diff(p, b, 10, sign[v], v) for p in ("knn", "linear") for b, v in verdicts.items()]


def labelled_report(differences: list[Difference], **fields) -> Report:
    return Report(**HEADER, differences=differences, **fields)


def test_better_than_every_baseline_says_pretraining_helped():
    found = make_verdict(labelled_report(frozen(dict.fromkeys(("raw_pixels", "pca", "random_init"), "better"))))
    assert found.judged and found.sentences[0].startswith("Pretraining helped.")
    assert "all 6 comparisons" in found.sentences[0] and "10 labels per class" in found.sentences[0]
    assert found.table[0] == "| encoder minus | knn 10 | linear 10 |"
    assert found.table[2] == "| raw pixels | **better** +5.0 | **better** +5.0 |" and len(found.table) == 5


def test_worse_within_noise_and_mixed_say_so():
    worse = make_verdict(labelled_report(frozen(dict.fromkeys(("raw_pixels", "pca", "random_init"), "worse"))))
    assert worse.sentences[0].startswith("Pretraining did not help.") and "worse in 6 of 6" in worse.sentences[0]
    noise = make_verdict(labelled_report(frozen(dict.fromkeys(("raw_pixels", "pca"), "within noise"))))
    assert noise.sentences[0].startswith("No sign that pretraining helped.")
    assert "within noise in 4 of 4 comparisons" in noise.sentences[0]
    mixed = make_verdict(
        labelled_report(frozen({"raw_pixels": "worse", "pca": "within noise", "random_init": "better"}))
    )
    assert mixed.sentences[0].startswith("Mixed.")
    counted = (
        "better beyond noise in 2 of 6 comparisons (raw pixels 0 of 2, PCA 0 of 2, its random-init encoder 2 of 2)"
    )
    assert f"{counted}, worse in 2, within noise in 2" in mixed.sentences[0]


def test_fine_tuning_semi_supervised_and_flags_are_read_from_the_report():
    tuned = diff("finetune", "scratch", 100, 0.058, "within noise")
    semi = [
        diff("label_propagation", "encoder", 10, 0.035, "better", versus="knn"),
        diff("label_propagation", "raw_pixels", 10, 0.076, "better", a="raw_pixels", versus="knn"),
    ]
    flagged = SummaryRow("encoder", "linear", 10, 0.7, 0.01, 4, None, None, "t", 0.7, ["edge 2/4"], {})
    found = make_verdict(
        labelled_report(frozen({"raw_pixels": "better"}) + [tuned], semi_supervised=semi, summary=[flagged])
    )
    text = " ".join(found.sentences)
    assert "within noise of supervised training from scratch at 100 labels per class (+5.8 [+0.8, +10.8]" in text
    assert (
        "label_propagation adds +3.5 [+1.5, +5.5] (better) points to knn on the encoder at 10 labels per class" in text
    )
    assert "against +7.6 [+5.6, +9.6] on raw pixels" in text
    assert "⚑ 1 of the encoder's scarce-label cells" in text
    assert "| scratch | — | — | within noise +5.8 |" in found.table


def test_without_a_baseline_no_verdict_is_invented():
    found = make_verdict(labelled_report([]))
    assert not found.judged and found.sentences[0].startswith("No verdict: no baseline was evaluated")
    assert found.table == []


def label_free(source: str, **scores) -> Measurement:
    class Scored(LabelFreeResult):
        def scores(self):
            return scores

    return Measurement(source, "rankme", Scored(images=300))


def test_unlabelled_verdict_reads_the_scores_against_the_baselines_and_says_their_limit():
    report = Report(
        **HEADER, labelled=False, label_free=[label_free("encoder", rankme=9.2), label_free("random_init", rankme=75.5)]
    )
    found = make_verdict(report)
    assert found.judged and "rankme 9.200 (its random-init encoder 75.500)" in found.sentences[0]
    assert found.sentences[1] == LABEL_FREE_LIMIT and "eval.data.name=image_folder" in found.sentences[2]
    alone = make_verdict(Report(**HEADER, labelled=False, label_free=[label_free("encoder", rankme=9.2)]))
    assert not alone.judged and "no baseline was scored" in alone.sentences[0]


def test_the_label_free_limit_quotes_the_benchmark():
    data = json.loads((Path(__file__).resolve().parents[1] / "bench" / "results.json").read_text())["label_free"][
        "data"
    ]
    runs = {c["runs"] for c in data["correlations"]}
    assert runs == {11} and "11 pretraining runs" in LABEL_FREE_LIMIT
    assert trusted(data) == [] and "no score's 95% interval lay above zero for all four" in LABEL_FREE_LIMIT


def random_features(seed: int, images: torch.Tensor) -> torch.Tensor:
    spec = EncoderSpec(name="paper_conv", code_dim=16, in_chans=1, image_size=28, mean=0.5, std=0.25)
    return encode_images(random_encoder(spec, seed), images)


@pytest.fixture(scope="module")
def images():
    return torch.randint(0, 256, (300, 1, 28, 28), generator=torch.Generator().manual_seed(0), dtype=torch.uint8)


def test_the_alarm_fires_on_a_constant_and_on_a_rank_one_encoder(images):
    reference = random_features(0, images)
    constant = check_collapse(torch.ones(300, 16), reference)
    assert len(constant.fired) == 4  # rank, same direction, constant dimensions, no spread
    g = torch.Generator().manual_seed(1)
    rank_one = torch.randn(300, 1, generator=g) * torch.randn(1, 16, generator=g)
    found = check_collapse(rank_one, reference)
    assert found.rank < 1.5 and any(f.startswith("effective rank (RankMe) 1.0 of 16") for f in found.fired)
    assert alarm_lines(found)[0].startswith("**Collapse alarm**") and "train.epochs" in alarm_lines(found)[-1]


def test_the_alarm_stays_quiet_on_a_random_init_encoder(images):
    found = check_collapse(random_features(1, images), random_features(0, images))
    assert found.fired == [] and alarm_lines(found) == []
    assert 0.3 < found.rank / found.random_rank < 3


def test_mean_pair_cosine_never_pairs_an_image_with_itself():
    z = torch.eye(5)  # orthogonal rows: any pair of different rows has cosine 0
    assert mean_pair_cosine(z, pairs=500) == 0.0
    assert mean_pair_cosine(torch.zeros(4, 3)) == 1.0  # all zero: nothing tells the images apart


def test_a_trained_smoke_run_gets_a_verdict_a_quiet_alarm_and_counts_as_ran(tiny_cfg, tmp_path, capsys):
    cfg = tiny_cfg(
        eval={
            "protocols": ["knn", "linear", "rankme", "alignment_uniformity"],
            "alignment_uniformity": {"images": 2000},
        }
    )
    run_pretraining(cfg)
    report = evaluate_run(cfg.run_path, EvaluationSettings())
    assert report.collapse is not None and report.collapse.fired == [] and report.verdict.judged
    text = (Path(cfg.run_path) / "report.md").read_text()
    assert text.index("## Verdict") < text.index("## Scarce labels")
    assert "\n".join(verdict_lines(report)) in text
    assert "alignment_uniformity: on 60 validation images" in text  # as it ran, not the 2000 asked for
    again = Report.from_json((Path(cfg.run_path) / "report.json").read_text())
    assert again.verdict == report.verdict and again.collapse == report.collapse
    assert isinstance(again.collapse, CollapseCheck)
