"""The benchmark machinery end to end at the tiny scale (synthetic images), plus its pieces.

Figures here say nothing about speed or accuracy (those live in BENCHMARKS.md); the tests
check that every section produces what the Markdown reports and that its pieces compute
what they claim."""

from __future__ import annotations

import json

import pytest

from bench.__main__ import main as bench_main
from bench.interface import ordered_sections
from bench.scales import load_scale
from bench.sections.leaderboard import BASELINES, scale_entries
from bench.sections.paper_fig2 import paper_epochs, verdict
from bench.sections.score_correlation import SCORES, trusted
from evaluate.report_types import Report
from ssl_tasks.decoder_only import decoder_load, encoder_load

TINY = load_scale("tiny")


@pytest.fixture(scope="module")
def tiny_bench(tmp_path_factory):
    out = tmp_path_factory.mktemp("bench")
    argv = ["--scale", "tiny", "--out", str(out), "--markdown", str(out / "BENCHMARKS.md"), "--runs", str(out / "runs")]
    assert bench_main(argv) == 0
    return out, json.loads((out / "results.json").read_text())


def test_every_section_is_reported(tiny_bench):
    out, results = tiny_bench
    assert set(results) == {s.name for s in ordered_sections()}
    text = (out / "BENCHMARKS.md").read_text()
    assert "Not run yet" not in text
    for section in ordered_sections():
        assert f"## {section.title}" in text
    for section in ("leaderboard", "paper", "bottleneck", "speed"):
        assert f"python -m bench --scale tiny --sections {section}" in text
    assert {p.name for p in (out / "plots").iterdir()} >= {
        "leaderboard_label_efficiency.png",
        "paper_fig2.png",
        "bottleneck.png",
        "speed.png",
    }


def test_leaderboard_has_every_task_and_baseline(tiny_bench):
    rows = tiny_bench[1]["leaderboard"]["data"]["rows"]
    names = [r["representation"] for r in rows]
    assert all(label in names for _, label, _ in scale_entries(TINY))
    assert "decoder-only, inferred codes" in names  # the decoder-only run gives two representations
    assert {r["source"] for r in rows if r["kind"] == "baseline"} == {*BASELINES, "scratch"}
    for row in rows:
        if row["kind"] == "task":
            protocols = {(r["protocol"], r["labels_per_class"]) for r in row["summary"]}
            assert ("linear", 0) in protocols and ("knn", 2) in protocols
            assert 0 <= row["all_labels"]["clustering"]["nmi"] <= 1
    tuned = {r["representation"] for r in rows for s in r["summary"] if s["protocol"] == "finetune"}
    assert any(n.startswith("supervised from scratch (") for n in tuned)
    assert "AE, mirror decoder" in tuned and "raw pixels" not in tuned


def test_the_semi_supervised_leaderboard_pairs_each_protocol_with_its_supervised_counterpart(tiny_bench):
    data = tiny_bench[1]["semi"]["data"]
    tasks = [r for r in data["rows"] if r["kind"] == "task"]
    assert {r["run"] for r in tasks} == set(TINY.of("semi").entries)
    held = {(s["protocol"], s["labels_per_class"]) for r in data["rows"] for s in r["summary"]}
    assert held == {("knn", 2), ("linear", 2), ("label_propagation", 2), ("finetune", 2), ("self_training", 2)}
    raw = next(r for r in data["rows"] if r["source"] == "raw_pixels")
    assert {s["protocol"] for s in raw["summary"]} == {"knn", "linear", "label_propagation"}  # no encoder to train
    scratch = next(r for r in data["rows"] if r["source"] == "scratch")
    assert {s["protocol"] for s in scratch["summary"]} == {"finetune", "self_training"}
    text = (tiny_bench[0] / "BENCHMARKS.md").read_text()
    assert "| label_propagation − knn, 2 | self_training − finetune, 2 |" in text
    assert "Minus raw pixels:" in text and "| representation | linear | knn | label_propagation |" in text
    assert "Minus scratch:" in text and "| representation | finetune | self_training |" in text
    assert "| best task, label propagation: 1 label/class | 60.0 | not measured | — |" in text  # tiny runs 2/class
    assert "| best task self-trained − scratch self-trained, 2 labels/class | reported | " in text


def test_leaderboard_pools_pretraining_seeds_and_baselines_per_architecture(tiny_bench):
    data = tiny_bench[1]["leaderboard"]["data"]
    scale = TINY.of("leaderboard")
    tasks = [r for r in data["rows"] if r["kind"] == "task" and r["source"] == "encoder"]
    for row in tasks:  # each scarce-label cell pools every pretraining run's subsets
        assert {s["n"] for s in row["summary"] if s["labels_per_class"] != 0} == {scale.pretrain_seeds * scale.seeds}
        knn_all = next(s for s in row["summary"] if (s["protocol"], s["labels_per_class"]) == ("knn", 0))
        assert knn_all["n"] == scale.pretrain_seeds  # deterministic with all labels: once per pretraining run
    for source in ("random_init", "scratch"):  # one row per architecture the tasks use
        baselines = [r for r in data["rows"] if r["source"] == source]
        assert sorted(r["architecture"] for r in baselines) == sorted({r["architecture"] for r in tasks})
    assert any("resnet_small" in r["architecture"] for r in tasks)
    text = (tiny_bench[0] / "BENCHMARKS.md").read_text()
    assert "| best task: kNN, all labels | 89.0 |" in text and "Minus random init:" in text


def test_paper_section_rows_and_loads(tiny_bench):
    data = tiny_bench[1]["paper"]["data"]
    assert sorted((r["model"], r["train_size"]) for r in data["rows"]) == sorted(
        (m, n) for m in ("autoencoder", "decoder") for n in TINY.of("paper").sizes
    )
    for r in data["rows"]:
        assert 0 < r["test_error"] < 1 and 0 < r["train_error"] < 1 and 0 <= r["knn_accuracy"] <= 1
        if r["model"] == "decoder":  # loads grow with N, as eqs. 3-4 say
            assert r["alpha_d"] > 0 and r["alpha_e"] > 0
    loads = sorted((r["train_size"], r["alpha_d"]) for r in data["rows"] if r["model"] == "decoder")
    assert loads[0][1] < loads[1][1]


def test_bottleneck_and_speed_sections(tiny_bench):
    results = tiny_bench[1]
    rows = results["bottleneck"]["data"]["rows"]
    assert sorted((r["decoder"], r["code_dim"]) for r in rows) == sorted(
        (d, m) for d in ("mirror", "linear") for m in (2, 16)
    )
    speed = results["speed"]["data"]
    assert [r["config"] for r in speed["loop"]] == [base for _, _, base in scale_entries(TINY)]
    for r in speed["loop"]:
        assert r["toolkit_images_per_s"] > 0 and r["bare_images_per_s"] > 0 and r["peak_memory_mib"] > 0
        assert r["ratio"] == pytest.approx(r["toolkit_images_per_s"] / r["bare_images_per_s"])
    assert speed["eval_suite"]["seconds"] > 0


def test_report_only_rewrites_from_results(tiny_bench, tmp_path):
    out, _ = tiny_bench
    markdown = tmp_path / "B.md"
    assert bench_main(["--report-only", "--out", str(out), "--markdown", str(markdown)]) == 0
    assert markdown.read_text().replace("../", "") != ""
    assert "## 2. The decoder-only paper's experiment" in markdown.read_text()


def test_a_section_run_again_reuses_its_finished_runs(tiny_bench, tmp_path):
    out, results = tiny_bench
    checkpoints = sorted((out / "runs" / "tiny" / "paper_fig2").glob("*/checkpoints/*"))
    stamps = [p.stat().st_mtime_ns for p in checkpoints]
    argv = ["--scale", "tiny", "--sections", "paper", "--out", str(tmp_path), "--runs", str(out / "runs")]
    assert bench_main([*argv, "--markdown", str(tmp_path / "B.md")]) == 0
    again = json.loads((tmp_path / "results.json").read_text())["paper"]["data"]["rows"]
    assert [r["pretrain_seconds"] for r in again] == [r["pretrain_seconds"] for r in results["paper"]["data"]["rows"]]
    assert checkpoints and [p.stat().st_mtime_ns for p in checkpoints] == stamps  # nothing pretrained again


def test_pretrain_length_section_measures_each_point_beside_the_references(tiny_bench):
    out, results = tiny_bench
    data = results["pretrain_length"]["data"]
    assert [(r["run"], r["epochs"]) for r in data["rows"]] == [("ae_mirror", 1.0), ("ae_mirror", 2.0)]
    for row in data["rows"]:
        assert set(row["cells"]) == {"knn 2", "linear 2", "knn 0", "linear 0"} and row["pretrain_seconds"] > 0
        assert row["finetune_gain"]["b"] == "scratch" and row["finetune_gain"]["low"] is not None
    assert set(data["references"]) == {"raw pixels", "PCA (m = 20)", "MLP head on raw pixels"}
    assert set(data["references"]["MLP head on raw pixels"]) == {"mlp_head 2", "mlp_head 0"}
    assert data["pending"] == [] and (out / "plots" / "pretrain_length.png").is_file()
    assert "| AE, mirror decoder | 2 | " in (out / "BENCHMARKS.md").read_text()
    shortest, longest = data["rows"]
    assert shortest["monitor"] == [] and len(longest["monitor"]) >= 2  # the monitor runs in the longest runs only
    assert all(0 < minutes <= longest["pretrain_seconds"] / 60 and 0 <= acc <= 1 for minutes, acc in longest["monitor"])
    assert (out / "plots" / "pretrain_length_monitor.png").is_file()
    (again,) = data["seed_rows"]  # the tiny scale seeds its longest point: a second run on its own subsets
    assert (again["run"], again["epochs"], again["seed"]) == ("ae_mirror", 2.0, 1) and again["finetune_gain"] is None
    assert set(again["cells"]["knn 2"]["by_seed"]) == {"2", "3"} and set(again["cells"]["knn 0"]["by_seed"]) == {"2"}
    assert {b["source"] for b in data["paired_baselines"]} == {"raw_pixels", "random_init"}
    assert all(set(b["cells"]["linear 2"]["by_seed"]) == {"0", "1", "2", "3"} for b in data["paired_baselines"])
    assert "| won beyond noise | " in (out / "BENCHMARKS.md").read_text()


def test_a_sitting_cut_short_lists_the_points_left_and_the_next_one_goes_on(tiny_bench, tmp_path):
    out, _ = tiny_bench
    argv = ["--scale", "tiny", "--sections", "pretrain_length", "--out", str(tmp_path), "--runs", str(out / "runs")]
    cut = ["--set", "pretrain_length.stop_after_minutes=0.000001", "--markdown", str(tmp_path / "B.md")]
    assert bench_main([*argv, *cut]) == 0  # every run finished before: all read back, none left
    data = json.loads((tmp_path / "results.json").read_text())["pretrain_length"]
    assert [r["epochs"] for r in data["data"]["rows"]] == [1.0, 2.0] and data["data"]["pending"] == []
    fresh = [*argv[:-1], str(tmp_path / "runs"), *cut]
    assert bench_main(fresh) == 0  # nothing pretrained yet: the first point always runs, then it stops
    data = json.loads((tmp_path / "results.json").read_text())["pretrain_length"]
    assert [r["epochs"] for r in data["data"]["rows"]] == [1.0]
    assert data["data"]["pending"] == [
        {"method": "AE, mirror decoder", "epochs": 2.0, "seed": 0},
        {"method": "AE, mirror decoder", "epochs": 2.0, "seed": 1},
    ]
    assert "--set pretrain_length.stop_after_minutes=0.000001" in data["provenance"]["command"]
    assert (
        "Not measured yet (the same command again goes on from here): AE, mirror decoder 2 ep, "
        "AE, mirror decoder 2 ep seed 1." in " ".join((tmp_path / "B.md").read_text().split())
    )


def test_a_bad_size_on_the_command_line_is_one_error(capsys):
    assert bench_main(["--sections", "sweep", "--set", "sweep.taskz=2", "--report-only"]) == 2
    assert "sweep.taskz" in capsys.readouterr().err


def test_unknown_section_is_an_error():
    with pytest.raises(SystemExit):
        bench_main(["--sections", "leaderbord"])


def test_paper_epochs_are_capped_by_the_image_budget():
    small = load_scale("small").of("paper")
    assert paper_epochs(small, 500) == 200  # the paper's 200 epochs where the budget allows
    assert paper_epochs(small, 15000) == pytest.approx(small.max_images / 15000)
    assert paper_epochs(load_scale("full").of("paper"), 15000) == 200


def test_verdict_reads_the_rows():
    rows = [
        {"model": "decoder", "train_size": 500, "test_error": 0.30},
        {"model": "autoencoder", "train_size": 500, "test_error": 0.35},
        {"model": "decoder", "train_size": 5000, "test_error": 0.28},
        {"model": "autoencoder", "train_size": 5000, "test_error": 0.27},
    ]
    text = verdict(rows)
    assert "holds here" in text and "1 of 2 sizes (500)" in text
    rows[0]["test_error"] = 0.40
    assert "does not hold" in verdict(rows)


def test_loads_match_the_paper_equations():
    # N = 1000 images of n = 784 pixels, m = 20, decoder 50k, encoder 100k parameters
    assert decoder_load(1000, 784, 20, 50_000) == pytest.approx(784_000 / 70_000)
    assert encoder_load(1000, 20, 100_000) == pytest.approx(0.2)


def test_data_section_measures_every_storage_mode_and_unseen_classes(tiny_bench):
    data = tiny_bench[1]["data"]["data"]
    assert [r["storage"] for r in data["feeds"]] == ["device", "host", "memmap", "stream"]
    assert all(r["images_per_s"] > 0 for r in data["feeds"])
    assert {r["folder"] for r in data["decode"]} == {"train", "photos"}
    transfer = data["transfer"]
    assert transfer["classes"] == ["class5", "class6", "class7", "class8", "class9"]  # only the unseen ones
    sources = {r["source"] for r in transfer["summary"]}
    assert sources == {"encoder", "raw_pixels", "random_init"}
    assert "Transfer to unseen classes" in (tiny_bench[0] / "BENCHMARKS.md").read_text()


def test_sweep_scores_on_validation_and_chooses_within_budget(tiny_bench):
    data = tiny_bench[1]["sweep"]["data"]
    assert len(data["rows"]) == 4  # tiny: two settings of two task grids
    for row in data["rows"]:
        assert 0 <= row["val_knn_all"] <= 1 and row["pretrain_seconds"] > 0
    for config, setting in data["chosen"].items():
        candidates = [r for r in data["rows"] if r["config"] == config and r["within_budget"]]
        assert setting == max(candidates, key=lambda r: r["val_knn_all"])["setting"]
    assert "## 7. Budgets tuned on validation" in (tiny_bench[0] / "BENCHMARKS.md").read_text()


def test_label_free_section_scores_every_run_and_correlates_each_score_with_each_target(tiny_bench):
    out, results = tiny_bench
    data = results["label_free"]["data"]
    tasks = [r for r in data["rows"] if r["kind"] == "task"]
    assert [r["representation"] for r in tasks] == [label for _, label, _ in scale_entries(TINY)]
    assert {r["source"] for r in data["rows"] if r["kind"] == "baseline"} == set(BASELINES)
    assert all(set(r["scores"]) >= {"rankme", "alignment", "uniformity", "view_retrieval"} for r in data["rows"])
    assert data["targets"] == ["knn 2", "knn 0", "linear 2", "linear 0"]
    assert len(data["correlations"]) == len(SCORES) * len(data["targets"])
    for c in data["correlations"]:
        assert c["runs"] == len(scale_entries(TINY))
        assert c["rho"] is None or -1 <= c["low"] <= c["high"] <= 1
    assert "## 9. Do label-free scores predict transfer?" in (out / "BENCHMARKS.md").read_text()


def test_a_score_is_trusted_only_where_every_interval_excludes_zero_the_right_way():
    row = {"score": "rankme", "target": "knn 0", "rho": 0.8, "low": 0.2, "high": 0.95, "runs": 11}
    against = {"score": "alignment", "target": "knn 0", "rho": 0.8, "low": 0.2, "high": 0.95, "runs": 11}
    assert trusted({"correlations": [row, against]}) == ["rankme"]  # alignment should fall as accuracy rises
    assert trusted({"correlations": [row, {**row, "target": "linear 0", "low": -0.1}]}) == []


def test_make_run_keeps_the_fresh_report_with_its_store_named_as_a_user_sees_it(tiny_bench):
    out, results = tiny_bench
    shipped = Report.from_json((out / "runs" / "tiny" / "make_run" / "report.json").read_text())
    assert shipped.cells.computed > 0 and "make_run/clone" not in shipped.cells.directory  # never the clone's path
    assert shipped.cells.computed == results["make_run"]["data"]["evaluation"]["computed"]
