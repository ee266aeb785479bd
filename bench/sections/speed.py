"""Section 4: speed.

- per task, the training step's images/s in each variant (fp32 / bf16, channels-last,
  torch.compile; bench.variants), and the toolkit's loop vs a bare PyTorch loop in the variant
  ``auto`` resolves to (bench.loop_speed);
- feature extraction images/s;
- the evaluation suite on cached features (everything but fine-tuning, which needs images).
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path

from bench.figures import speed_plot
from bench.interface import Section, register_section
from bench.loop_speed import SpeedSettings, model_flop_utilisation, run_worker
from bench.runs import pretrain
from bench.scales import Scale
from bench.sections.leaderboard import BASELINES, ENTRIES, scale_entries, seed_runs
from bench.speed_report import speed_finding, speed_section
from evaluate.entry import EvaluationSettings, evaluate_run
from evaluate.run import default_device, load_splits_checked
from evaluate.settings import load_run_config
from pretrain.core.encoders import encode_images
from pretrain.core.run_folder import Run
from pretrain.core.saved_encoder import load_encoder


def median_seconds(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def eval_suite_seconds(run: Run, overrides: tuple[str, ...] = ()) -> dict:
    """Wall time of the (default) evaluation config's frozen grid and all-label metrics over the
    cached features of the encoder and every baseline, through the evaluation's entry point
    with its cells off (features computed beforehand, by a cheap label-free pass)."""
    fill = EvaluationSettings([*overrides, "eval.protocols=[rankme]"], list(BASELINES), diagnostics=False, write=False)
    evaluate_run(run, fill)  # the feature cache; not timed
    timed = [*overrides, "eval.protocols=[linear,mlp_head,knn]", "eval.layer_probe_labels_per_class=-1"]
    started = time.perf_counter()
    report = evaluate_run(run, EvaluationSettings(timed, list(BASELINES), write=False, cells=False))
    cfg = load_run_config(run, list(overrides))
    return {
        "seconds": time.perf_counter() - started,
        "sources": list(report.sources),
        "labels_per_class": cfg.eval.labels_per_class,
        "seeds": cfg.eval.seeds,
    }


def loop_speed_per_task(scale: Scale) -> list[dict]:
    """One worker per task (section 1's entries); the first ``variant_tasks`` (0: all) in every
    variant of ``variants``, the others in auto's only."""
    rows, sizes = [], scale.of("speed")
    for i, (_name, label, base) in enumerate(scale_entries(scale)):
        all_variants = not sizes.variant_tasks or i < sizes.variant_tasks
        print(f"   speed: {label} ({'every variant' if all_variants else 'auto only'})", flush=True)
        result = run_worker(base, scale, all_variants)
        rows.append({"task": label, "config": base, **result, "mfu": model_flop_utilisation(result["achieved_tflops"])})
    return rows


def run_speed(scale: Scale, root: Path) -> dict:
    device, sizes = default_device(), scale.of("speed")
    cfg = seed_runs(ENTRIES[0][0], ENTRIES[0][2], scale, root)[0]
    pretrain(cfg)  # the leaderboard's AE run (already there when section 1 ran)
    cfg = load_run_config(cfg.run)
    splits = load_splits_checked(cfg)
    encoder = load_encoder(cfg.run).to(device)
    images = splits.test.x[: sizes.extract_images]
    extract_s = median_seconds(lambda: encode_images(encoder, images, cfg.eval.batch_size, device), 3)
    return {
        "loop": loop_speed_per_task(scale),
        "toolkit_rate": "trainer log",  # the toolkit loop's images/s: as its trainer logs it
        "variants": list(sizes.variants),
        "segment_seconds": sizes.segment_seconds,
        "loop_seconds": sizes.loop_seconds,
        "steps_cap": sizes.steps,
        "feature_extraction": {
            "images": len(images),
            "images_per_s": len(images) / extract_s,
            "batch_size": cfg.eval.batch_size,
        },
        "eval_suite": eval_suite_seconds(cfg.run, sizes.suite_overrides),
        "device": str(device),
    }


SECTION = register_section(
    Section("speed", "4. Speed (CPU)", SpeedSettings, run_speed, speed_section,
            lambda data, folder: [speed_plot(data, folder / "speed.png")], finding=speed_finding)
)  # fmt: skip
