"""Sections 4 and 5's pieces at the tiny scale: training-step variants, the GPU check run on
the CPU, bf16 vs fp32 loss agreement, and the Markdown they render to.

Figures here say nothing about speed (BENCHMARKS.md does); the tests check that each piece
measures what it claims and returns what the report reads."""

from __future__ import annotations

import contextlib
import io
import json
import time
from pathlib import Path

import pytest
import torch

from bench.interface import SectionResult
from bench.loop_speed import measure_task
from bench.markdown import write_benchmarks
from bench.runs import bench_config, provenance
from bench.scales import load_scale
from bench.sections.gpu_check import GPU_CONFIGS, agreement_stats, compare_precisions, run_gpu_check
from bench.speed_report import gpu_section, speed_section
from bench.variants import VARIANTS, Runner, Variant, time_runners, variant_status
from pretrain.core.data import load_splits
from pretrain.core.precision import supported_precisions
from pretrain.engine import build_model
from pretrain.optim import build_optimizers

# one-step segments: quick
TINY = load_scale("tiny").with_sizes("speed", steps=1, repeats=2).with_sizes("gpu", agreement_steps=2)
AE = "configs/ae_fmnist.yaml"
CPU = torch.device("cpu")
VARIANT_KEYS = {"name", "precision", "memory_format", "compile", "status", "first_step_seconds", "images_per_s"}


@pytest.fixture(scope="module")
def ae_variants(tmp_path_factory):
    """The speed worker's measurement of the paper's AE in three variants (one compiled)."""
    cfg = bench_config(AE, "speed", TINY, tmp_path_factory.mktemp("speed"))
    return measure_task(cfg, TINY.of("speed"), ("fp32", "bf16", "fp32+channels_last+compile"))


@pytest.fixture(scope="module")
def gpu_on_cpu(tmp_path_factory):
    """The GPU check's code path on the CPU, for the AE config (SimCLR's small ResNet is slower),
    compiling into the usual inductor cache (warm after a first run) instead of a fresh one."""
    printed = io.StringIO()
    with pytest.MonkeyPatch.context() as patch, contextlib.redirect_stdout(printed):
        patch.setattr("bench.sections.gpu_check.fresh_compile_cache", contextlib.nullcontext)
        data = run_gpu_check(TINY, tmp_path_factory.mktemp("gpu"), require_cuda=False, configs=GPU_CONFIGS[1:])
    return data, printed.getvalue()


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
        Runner("reporting", lambda steps: 1234.0),  # its own figure (the toolkit: what its trainer logs)
    ]
    out = time_runners(runners, CPU, batch_size=8, repeats=3, max_steps=20)
    assert out["broken"] == {"error": "RuntimeError: no compiler"}
    assert out["fast"]["steps_per_segment"] == out["paced"]["steps_per_segment"] > 1  # paced by its twin
    assert fast == [1, 1] + [out["fast"]["steps_per_segment"]] * 3
    assert out["slow"]["steps_per_segment"] == 1 and slow == [1, 1, 1, 1]  # its second step is its first segment
    for name in ("fast", "slow", "paced"):
        assert out[name]["segments"] == 3 and out[name]["images_per_s"] > 0 and out[name]["first_step_seconds"] > 0
    assert out["slow"]["images_per_s"] < out["fast"]["images_per_s"]
    assert out["reporting"]["images_per_s"] == 1234.0 and out["reporting"]["steps_per_segment"] == 20


def test_speed_worker_times_every_variant(ae_variants):
    r = ae_variants
    names = [v["name"] for v in r["variants"]]
    assert names[:3] == ["fp32", "bf16", "fp32+channels_last+compile"]
    assert r["auto_variant"] in names  # auto's bare twin is timed too (here fp32+channels_last)
    for v in r["variants"]:
        assert VARIANT_KEYS <= set(v) and v["images_per_s"] > 0 and v["first_step_seconds"] > 0
        assert v["status"] == variant_status(v["precision"], CPU)
        assert v["steps_per_segment"] == TINY.of("speed").steps and v["segments"] == TINY.of("speed").repeats
    assert r["variants"][0]["ratio_to_first"] == 1
    bare = next(v for v in r["variants"] if v["name"] == r["auto_variant"])
    assert r["bare_images_per_s"] == bare["images_per_s"]
    assert r["ratio"] == pytest.approx(r["toolkit_images_per_s"] / r["bare_images_per_s"])
    assert r["train_gflops_per_image"] > 0 and r["peak_memory_mib"] > 0 and 0 <= r["augment_share"]
    assert r["precision"] in ("fp32", "bf16") and r["device"] == "cpu"


def test_gpu_check_needs_cuda_unless_told():
    if torch.cuda.is_available():
        pytest.skip("a CUDA machine runs the check itself")
    assert run_gpu_check(TINY, Path("unused"))["skipped"].startswith("no CUDA GPU")


def test_gpu_check_runs_on_the_cpu(gpu_on_cpu):
    data, printed = gpu_on_cpu
    assert printed.strip() == "\n".join(gpu_section(data, "bench/plots")).strip()  # the figures, as Markdown
    assert {"device", "peak_bf16_flops", "configs", "knn_search", "seconds"} <= set(data)
    (row,) = data["configs"]
    assert row["label"] == GPU_CONFIGS[1][0] and row["config"] == AE
    assert [v["name"] for v in row["variants"]][:2] == ["bf16+channels_last", "bf16+channels_last+compile"]
    for v in row["variants"]:
        assert v["images_per_s"] > 0
        assert v["mfu"] is None  # no known GPU peak on a CPU
    assert row["ratio"] > 0 and row["peak_memory_mib"] > 0
    assert row["agreement"]["steps"] == TINY.of("gpu").agreement_steps
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


def speed_data(ae_variants) -> dict:
    return {
        "loop": [{"task": "AE, mirror decoder", "config": AE, **ae_variants, "mfu": None}],
        "variants": list(VARIANTS),
        "segment_seconds": 1.0,
        "loop_seconds": 2.0,
        "steps_cap": 100,
        "feature_extraction": {"images": 100, "images_per_s": 1000.0, "batch_size": 64},
        "eval_suite": {"seconds": 10.0, "sources": ["encoder"], "labels_per_class": [2, 0], "seeds": 1},
        "device": "cpu",
    }


def test_report_renders_speed_and_gpu_sections(ae_variants, gpu_on_cpu, tmp_path):
    results = {
        section: SectionResult(provenance(TINY, section), 1.0, data)
        for section, data in (("speed", speed_data(ae_variants)), ("gpu", gpu_on_cpu[0]))
    }
    text = write_benchmarks(results, tmp_path / "B.md", tmp_path / "plots").read_text()
    for title in ("## 4. Speed (CPU)", "## 5. GPU"):
        body = text.split(title)[1].split("\n## ")[0]
        assert "Not run yet" not in body and "Not measured" not in body
    assert "| task | batch | fp32 |" in text and "fp32+channels_last+compile" in text
    assert "speed.steps = 1 (full: 50)" in text  # the sizes it ran at, below full, section by section
    assert "bf16 vs fp32 loss" in text and "FAISS kNN" in text
    if variant_status("bf16", CPU).startswith("emulated"):
        assert "`bf16`: emulated / unsupported by config" in text and "bf16 †" in text


def test_speed_section_renders_results_without_variants():
    """Results written before the variants existed still render (their section says so)."""
    path = Path(__file__).resolve().parents[1] / "bench" / "results.json"
    data = json.loads(path.read_text())["speed"]["data"]
    old = {**data, "loop": [{k: v for k, v in r.items() if k != "variants"} for r in data["loop"]]}
    assert any(line.startswith("Variants: not measured") for line in speed_section(old, "plots"))
    assert gpu_section({"skipped": "no CUDA GPU"}, "plots")[0].startswith("Not measured: no CUDA GPU")
