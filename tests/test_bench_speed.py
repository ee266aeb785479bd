"""Sections 4 and 5's pieces at the tiny scale: training-step variants, the roofline, the GPU
check run on the CPU, bf16 vs fp32 loss agreement, and the Markdown they render to.

Figures here say nothing about speed (BENCHMARKS.md does); the tests check that each piece
measures what it claims and returns what the report reads."""

from __future__ import annotations

import contextlib
import json
import time
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from bench.gpu_check import GPU_CONFIGS, agreement_stats, compare_precisions, run_gpu_check
from bench.loop_speed import measure_task
from bench.markdown import write_benchmarks
from bench.runs import bench_config, provenance
from bench.scales import SCALES, VARIANTS
from bench.speed_report import gpu_section, speed_section
from bench.variants import Runner, Variant, matmul_peak, matmul_peaks, roofline_shares, time_runners, variant_status
from pretrain.core.data import load_splits
from pretrain.core.precision import supported_precisions
from pretrain.engine import build_model
from pretrain.optim import build_optimizers

TINY = replace(SCALES["tiny"], speed_steps=1, speed_repeats=2, agreement_steps=2)  # one-step segments: quick
AE = "configs/ae_fmnist.yaml"
CPU = torch.device("cpu")
VARIANT_KEYS = {"name", "precision", "memory_format", "compile", "status", "first_step_seconds", "images_per_s"}


@pytest.fixture(scope="module")
def ae_variants(tmp_path_factory):
    """The speed worker's measurement of the default AE in three variants (one compiled)."""
    cfg = bench_config(AE, "speed", TINY, tmp_path_factory.mktemp("speed"))
    return measure_task(cfg, TINY, ("fp32", "bf16", "fp32+channels_last+compile"))


@pytest.fixture(scope="module")
def gpu_on_cpu(tmp_path_factory):
    """The GPU check's code path on the CPU, for the AE config (SimCLR's small ResNet is slower),
    compiling into the usual inductor cache (warm after a first run) instead of a fresh one."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("bench.gpu_check.fresh_compile_cache", contextlib.nullcontext)
        return run_gpu_check(TINY, tmp_path_factory.mktemp("gpu"), require_cuda=False, configs=GPU_CONFIGS[1:])


@pytest.fixture(scope="module")
def peaks():
    return matmul_peaks(CPU, 128, 0.5)


def test_variant_names_round_trip():
    for name in VARIANTS:
        assert Variant.parse(name).name == name
    assert Variant.parse("bf16+channels_last+compile") == Variant("bf16", "channels_last", True)
    with pytest.raises(ValueError):
        Variant.parse("fp32+nhwc")


def test_variant_status_says_what_the_config_accepts():
    assert variant_status("fp32", CPU) == "supported"
    status = variant_status("bf16", CPU)
    if "bf16" in supported_precisions(CPU):
        assert status.startswith("supported")
    else:  # this CPU: the config refuses bf16, the bare loop still times it through torch.autocast
        assert status.startswith("emulated / unsupported by config: train.precision: bf16 is not available")


def sleeper(seconds_per_step: float, calls: list):
    def run(steps: int) -> None:
        calls.append(steps)
        time.sleep(seconds_per_step * steps)

    return run


def test_time_runners_paces_segments_and_records_failures():
    fast, slow, paced = [], [], []

    def broken(steps: int) -> None:
        raise RuntimeError("no compiler")

    runners = [
        Runner("fast", sleeper(0.001, fast), segment_seconds=0.05),
        Runner("slow", sleeper(0.03, slow), segment_seconds=0.01),
        Runner("paced", sleeper(0.001, paced), segment_seconds=0.01, pace_from="fast"),
        Runner("broken", broken),
    ]
    out = time_runners(runners, CPU, batch_size=8, repeats=3, max_steps=20)
    assert out["broken"] == {"error": "RuntimeError: no compiler"}
    assert out["fast"]["steps_per_segment"] == out["paced"]["steps_per_segment"] > 1  # paced by its twin
    assert fast == [1, 1] + [out["fast"]["steps_per_segment"]] * 3
    assert out["slow"]["steps_per_segment"] == 1 and slow == [1, 1, 1, 1]  # its second step is its first segment
    for name in ("fast", "slow", "paced"):
        assert out[name]["segments"] == 3 and out[name]["images_per_s"] > 0 and out[name]["first_step_seconds"] > 0
    assert out["slow"]["images_per_s"] < out["fast"]["images_per_s"]


def test_speed_worker_times_every_variant(ae_variants):
    r = ae_variants
    names = [v["name"] for v in r["variants"]]
    assert names[:3] == ["fp32", "bf16", "fp32+channels_last+compile"]
    assert r["auto_variant"] in names  # auto's bare twin is timed too (here fp32+channels_last)
    for v in r["variants"]:
        assert VARIANT_KEYS <= set(v) and v["images_per_s"] > 0 and v["first_step_seconds"] > 0
        assert v["status"] == variant_status(v["precision"], CPU)
        assert v["steps_per_segment"] == TINY.speed_steps and v["segments"] == TINY.speed_repeats
    assert r["variants"][0]["ratio_to_first"] == 1
    bare = next(v for v in r["variants"] if v["name"] == r["auto_variant"])
    assert r["bare_images_per_s"] == bare["images_per_s"]
    assert r["ratio"] == pytest.approx(r["toolkit_images_per_s"] / r["bare_images_per_s"])
    assert r["train_gflops_per_image"] > 0 and r["peak_memory_mib"] > 0 and 0 <= r["augment_share"]
    assert r["precision"] in ("fp32", "bf16") and r["device"] == "cpu"


def test_matmul_peak_stops_at_the_time_budget():
    out = matmul_peak(torch.float32, CPU, 512, budget_seconds=0.0)
    assert list(out["by_size"]) == ["256"] and out["size"] == 256 and out["flops_per_s"] > 0
    out = matmul_peak(torch.float32, CPU, 512, budget_seconds=60.0)
    assert list(out["by_size"]) == ["256", "512"]


def test_roofline_shares_of_both_peaks(ae_variants, peaks):
    assert peaks["fp32"]["flops_per_s"] > 0 and peaks["bf16"]["flops_per_s"] > 0 and peaks["fp32"]["size"] == 128
    s = roofline_shares(ae_variants, peaks)
    flops = ae_variants["train_gflops_per_image"] * 1e9
    assert s["toolkit_flops_per_s"] == pytest.approx(flops * ae_variants["toolkit_images_per_s"])
    assert s["toolkit_share_fp32"] == pytest.approx(s["toolkit_flops_per_s"] / peaks["fp32"]["flops_per_s"])
    assert s["toolkit_share_bf16"] > 0
    assert s["best_fp32"]["variant"] in ("fp32", "fp32+channels_last+compile", "fp32+channels_last")
    # which bf16 variant is fastest is a timing (auto is bf16+channels_last on a CPU with native bf16)
    assert s["best_bf16"]["variant"] in ("bf16", "bf16+channels_last") and s["best_bf16"]["share"] > 0


def test_gpu_check_needs_cuda_unless_told():
    if torch.cuda.is_available():
        pytest.skip("a CUDA machine runs the check itself")
    assert run_gpu_check(TINY, Path("unused"))["skipped"].startswith("no CUDA GPU")


def test_gpu_check_runs_on_the_cpu(gpu_on_cpu, capsys):
    data = gpu_on_cpu
    assert {"device", "peak_bf16_flops", "roofline", "configs", "knn_search", "seconds"} <= set(data)
    (row,) = data["configs"]
    assert row["label"] == GPU_CONFIGS[1][0] and row["config"] == AE
    assert [v["name"] for v in row["variants"]][:2] == ["bf16+channels_last", "bf16+channels_last+compile"]
    for v in row["variants"]:
        assert v["images_per_s"] > 0 and v["share_of_bf16_matmul_peak"] > 0
        assert v["mfu"] is None  # no known GPU peak on a CPU
    assert row["ratio"] > 0 and row["peak_memory_mib"] > 0
    assert row["agreement"]["steps"] == TINY.agreement_steps
    knn = data["knn_search"]
    assert knn["cpu_seconds"] > 0 and knn["k"] > 0
    assert knn["faiss_gpu"].startswith("absent") or knn["same_lists"] > 0.99


def test_loss_agreement_on_a_fixed_batch(tmp_path):
    cfg = bench_config(AE, "agree", TINY, tmp_path)
    splits = load_splits(cfg.data)
    images = splits.train.x[:32]

    def build():
        torch.manual_seed(0)
        model = build_model(cfg, splits)
        return model, build_optimizers(model, cfg.optim)

    out = compare_precisions(build, images, [torch.arange(16)] * 3)
    assert out["steps"] == 3
    assert 0 < out["max_rel_diff"] < 0.05 and out["final_abs_diff"] <= out["max_abs_diff"]
    assert out["fp32_final_loss"] == pytest.approx(out["bf16_final_loss"], rel=0.05)


def test_agreement_stats():
    out = agreement_stats([2.0, 1.0, 0.5], [2.0, 1.1, 0.45])
    assert out["max_abs_diff"] == pytest.approx(0.1) and out["max_rel_diff"] == pytest.approx(0.1)
    assert out["final_abs_diff"] == pytest.approx(0.05) and out["final_rel_diff"] == pytest.approx(0.1)
    assert out["fp32_final_loss"] == 0.5 and out["bf16_final_loss"] == 0.45


def speed_data(ae_variants, peaks) -> dict:
    row = {"task": "AE, mirror decoder", "config": AE, **ae_variants, "mfu": None}
    row["roofline"] = roofline_shares(row, peaks)
    return {
        "loop": [row],
        "variants": list(VARIANTS),
        "roofline": peaks,
        "segment_seconds": 1.0,
        "loop_seconds": 2.0,
        "steps_cap": 100,
        "feature_extraction": {"images": 100, "images_per_s": 1000.0, "batch_size": 64},
        "knn_search": {"bank": [420, 20], "queries": 240, "k": 20, "faiss_seconds": 0.01, "torch_seconds": 0.02}
        | {"faiss_speedup": 2.0, "same_neighbours": 1.0},
        "eval_suite": {"seconds": 10.0, "sources": ["encoder"], "labels_per_class": [2, 0], "seeds": 1},
        "probe": {"passes": 1, "train_images": 420, "cached_seconds": 1.0, "through_backbone_seconds": 2.0}
        | {"speedup": 2.0, "cached_accuracy": 0.5, "through_backbone_accuracy": 0.5}
        | {"lbfgs_probe_seconds": 0.5, "lbfgs_probe_accuracy": 0.6},
        "device": "cpu",
    }


def test_report_renders_speed_and_gpu_sections(ae_variants, peaks, gpu_on_cpu, tmp_path):
    speed = speed_data(ae_variants, peaks)
    results = {
        section: {"provenance": provenance(TINY, section), "wall_seconds": 1.0, "data": data}
        for section, data in (("speed", speed), ("gpu", gpu_on_cpu))
    }
    text = write_benchmarks(results, tmp_path / "B.md", tmp_path / "plots").read_text()
    for title in ("## 4. Speed (CPU)", "## 5. GPU"):
        body = text.split(title)[1].split("\n## ")[0]
        assert "Not run yet" not in body and "Not measured" not in body
    assert "| task | batch | fp32 |" in text and "fp32+channels_last+compile" in text
    assert "Roofline" in text and "% of bf16 peak" in text
    assert "bf16 vs fp32 loss" in text and "FAISS kNN" in text
    if variant_status("bf16", CPU).startswith("emulated"):
        assert "`bf16`: emulated / unsupported by config" in text and "bf16 †" in text


def test_speed_section_renders_results_without_variants():
    """Results written before the variants existed still render (their section says so)."""
    path = Path(__file__).resolve().parents[1] / "bench" / "results.json"
    data = json.loads(path.read_text())["speed"]["data"]
    old = {**data, "loop": [{k: v for k, v in r.items() if k not in ("variants", "roofline")} for r in data["loop"]]}
    old.pop("roofline", None)
    assert any(line.startswith("Variants: not measured") for line in speed_section(old, "plots"))
    assert gpu_section({"skipped": "no CUDA GPU"}, "plots")[0].startswith("Not measured: no CUDA GPU")
