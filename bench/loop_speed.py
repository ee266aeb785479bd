"""Speed of the training step per task: bare-loop variants (precision x memory format x
torch.compile, bench.variants) and the toolkit's loop (pretrain.engine.train_loop: reseeding,
loss meter, logging, tqdm, its checkpoint at the end of each timed segment) in the variant
``auto`` resolves to, against its bare twin, all timed in turn in one process. Each task runs
in a worker subprocess of its own, which also gives its peak memory and a fresh torch.compile
cache (so the first step of a compiled variant shows a cold compile):

    python -m bench.loop_speed --worker CONFIG --scale SCALE [--all-variants]   (called by bench.sections.speed)
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from bench.runs import bench_config
from bench.scales import Scale, load_scale
from bench.variants import VARIANTS, Runner, Variant, bare_loop, sync, time_runners, variant_rows
from pretrain.core.augment import augment
from pretrain.core.config import Config
from pretrain.core.data import Splits, load_splits
from pretrain.core.images import to_unit_float
from pretrain.core.run_folder import Run
from pretrain.engine import build_loop, build_model, train_loop
from pretrain.hardware import compile_model, make_accelerator
from pretrain.optim import build_optimizers
from pretrain.tb import RunLogger


@dataclass(frozen=True)
class SpeedSettings:
    """Section 4's sizes (section 5 times its configs the same way)."""

    steps: int = 50  # steps per timed segment (with *_seconds > 0: the most a segment takes)
    repeats: int = 5  # timed segments per variant (median), after two warm-up steps
    segment_seconds: float = 0.0  # >0: a variant's segment takes as many steps as fill this ...
    loop_seconds: float = 0.0  # ... and the toolkit loop's and its bare twin's (the ratio) this
    variants: tuple[str, ...] = VARIANTS  # bare-loop variants, ratios to the first
    variant_tasks: int = 0  # the first N tasks are timed in every variant (0 = all), the rest in auto's only
    extract_images: int = 10000  # test images encoded in the feature-extraction timing
    suite_overrides: tuple[str, ...] = ()  # eval.* overrides of the timed suite (default: the default eval config)


PEAK_BF16_FLOPS = {"H100": 989e12, "H200": 989e12, "A100": 312e12}  # dense bf16 tensor-core peaks


def training_flops_per_image(model: nn.Module, images: torch.Tensor, batch_size: int) -> float:
    """FLOPs of one forward + backward per image, counted by torch.utils.flop_counter."""
    from torch.utils.flop_counter import FlopCounterMode

    index = torch.arange(batch_size, device=images.device)
    counter = FlopCounterMode(display=False)
    with counter:
        model(to_unit_float(images[index]), index)[0].backward()
    model.zero_grad(set_to_none=True)
    return counter.get_total_flops() / batch_size


def augmentation_seconds(model: nn.Module, images: torch.Tensor, batch_size: int, steps: int) -> float:
    """Seconds the tasks' augmentation takes over ``steps`` batches (both views where a task
    draws two): its share of a step, since the loop and the bare loop both run it in forward."""
    x = to_unit_float(images[:batch_size])
    views = [(t.cfg.augment, 2 if t.draws_own_views else 1) for t in model.tasks if t.cfg.augment.enabled]
    sync(x.device)
    started = time.perf_counter()
    for _ in range(steps):
        for settings, count in views:
            for _ in range(count):
                augment(x, settings)
    sync(x.device)
    return time.perf_counter() - started


def peak_memory_mib(device: torch.device) -> float:
    """Peak allocated GPU memory, or this process's peak resident set: VmHWM, which exec
    resets (ru_maxrss would carry over the parent's peak into the worker)."""
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated() / 2**20
    status = Path("/proc/self/status")
    if status.is_file():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024  # kB
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def variant_runner(variant: Variant, cfg: Config, splits: Splits, images: torch.Tensor, seconds: float) -> Runner:
    """A bare loop over a fresh copy of the task's model (seeded: every variant starts alike)."""
    torch.manual_seed(cfg.train.seed)
    model = build_model(cfg, splits).to(images.device)
    if variant.memory_format == "channels_last":
        model = model.to(memory_format=torch.channels_last)
    if variant.compile:
        compile_model(model)
    optimizers = build_optimizers(model, cfg.optim)
    batch, precision, memory_format = cfg.train.batch_size, variant.precision, variant.memory_format

    def run(steps: int) -> None:
        bare_loop(model, optimizers, images, batch, steps, precision, memory_format)

    return Runner(variant.name, run, seconds)


def toolkit_runner(cfg: Config, parts, twin: str, seconds: float) -> Runner:
    """The toolkit's loop, resumed segment after segment; its images/s is what the trainer logs
    at the segment's end (the figure a user's progress bar shows: checkpoints left out)."""
    done = [0]
    cfg.train.log_every = 10**9  # logged once per segment, at its end

    def run(steps: int) -> float:
        cfg.train.halt_after_steps = steps
        done[0] = train_loop(parts, cfg, done[0])
        return parts.logger.latest["pretrain/images_per_s"]

    return Runner("toolkit", run, seconds, pace_from=twin)


def auto_variant(cfg: Config) -> Variant:
    """What ``auto`` resolved to (after make_accelerator): what a user's run trains in."""
    return Variant(cfg.train.precision, cfg.train.memory_format, cfg.train.compile)


def measure_task(cfg: Config, sizes: SpeedSettings, variants: tuple[str, ...], splits: Splits | None = None) -> dict:
    """Every variant's bare loop and the toolkit's loop of ``cfg``'s task, timed in turn
    (bench.variants) -> per-variant rows, the toolkit / bare-twin ratio, FLOPs, memory."""
    accelerator = make_accelerator(cfg)  # resolves train.precision and train.memory_format in place
    auto, splits = auto_variant(cfg), load_splits(cfg.data) if splits is None else splits
    device, batch = accelerator.device, cfg.train.batch_size
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    names = list(dict.fromkeys([*variants, auto.name]))  # auto's bare twin, even where not listed
    with tempfile.TemporaryDirectory() as tmp:
        cfg.train.ckpt_every = 10**9
        parts, _ = build_loop(cfg, accelerator, Run.at(tmp), splits)
        parts.total_steps, parts.logger = 10**9, RunLogger(Path(tmp), True)
        images = parts.feed.images  # the bench configs fit the device: a tensor there
        flops = training_flops_per_image(build_model(cfg, splits).to(device), images, batch)
        loop_seconds = sizes.loop_seconds or sizes.segment_seconds  # the ratio's pair: longer
        seconds = {n: loop_seconds if n == auto.name else sizes.segment_seconds for n in names}
        runners = [variant_runner(Variant.parse(n), cfg, splits, images, seconds[n]) for n in names]
        runners.append(toolkit_runner(cfg, parts, auto.name, loop_seconds))
        timings = time_runners(runners, device, batch, sizes.repeats, sizes.steps)
        parts.logger.close()
    for name in ("toolkit", auto.name):  # what users get must run: its failure is a bug, not a finding
        if "error" in timings[name]:
            raise RuntimeError(f"{name} loop failed: {timings[name]['error']}")
    toolkit, bare = timings["toolkit"], timings[auto.name]
    model = parts.accelerator.unwrap_model(parts.model)
    augment_s = augmentation_seconds(model, images, batch, toolkit["steps_per_segment"])
    return {
        "variants": variant_rows(names, timings, device, batch),
        "auto_variant": auto.name,
        "toolkit_images_per_s": toolkit["images_per_s"],
        "bare_images_per_s": bare["images_per_s"],
        "ratio": toolkit["images_per_s"] / bare["images_per_s"],
        "toolkit_first_step_seconds": toolkit["first_step_seconds"],
        "augment_share": augment_s / toolkit["steps_per_segment"] / (batch / toolkit["images_per_s"]),
        "repeats": sizes.repeats,
        "steps_per_repeat": toolkit["steps_per_segment"],
        "batch_size": batch,
        "precision": cfg.train.precision,
        "memory_format": cfg.train.memory_format,
        "compile": cfg.train.compile,
        "device": str(device),
        "train_gflops_per_image": flops / 1e9,
        "achieved_tflops": flops * toolkit["images_per_s"] / 1e12,
        "peak_memory_mib": peak_memory_mib(device),
    }


def model_flop_utilisation(tflops: float) -> float | None:
    """Achieved / peak bf16 FLOP/s of the GPU, where its peak is known."""
    peak = gpu_peak_bf16_flops()
    return tflops * 1e12 / peak if peak else None


def gpu_peak_bf16_flops() -> float | None:
    """The dense bf16 peak of GPU 0 from its name (PEAK_BF16_FLOPS), None without one known."""
    if not torch.cuda.is_available():
        return None
    name = torch.cuda.get_device_name(0)
    return next((p for key, p in PEAK_BF16_FLOPS.items() if key in name), None)


def run_worker(config: str, scale: Scale, all_variants: bool) -> dict:
    """One worker subprocess: its own peak memory, no warm caches, a fresh inductor cache."""
    command = [sys.executable, "-m", "bench.loop_speed", "--worker", config, "--scale", scale.name]
    with tempfile.TemporaryDirectory(prefix="bench-inductor-") as cache:
        env = {**os.environ, "TORCHINDUCTOR_CACHE_DIR": cache, "TQDM_DISABLE": "1"}
        done = subprocess.run(
            command + (["--all-variants"] if all_variants else []),
            capture_output=True,
            text=True,
            cwd=Path(__file__).resolve().parents[1],
            env=env,
        )
    if done.returncode != 0:
        raise RuntimeError(f"speed worker for {config} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def worker(config: str, scale_name: str, all_variants: bool) -> None:
    scale = load_scale(scale_name)
    cfg = bench_config(config, "speed", scale, Path(tempfile.gettempdir()), [])
    sizes = scale.of("speed")
    print(json.dumps(measure_task(cfg, sizes, sizes.variants if all_variants else ())))


if __name__ == "__main__":
    args = sys.argv[1:]
    if len(args) in (4, 5) and args[0] == "--worker" and args[2] == "--scale" and args[4:] in ([], ["--all-variants"]):
        worker(args[1], args[3], args[4:] == ["--all-variants"])
    else:
        sys.exit(
            "usage: python -m bench.loop_speed --worker CONFIG --scale SCALE [--all-variants] (from python -m bench)"
        )
