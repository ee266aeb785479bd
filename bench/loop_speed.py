"""Speed of the training loop: the toolkit's loop (pretrain.engine.train_loop: reseeding, loss
meter, logging, tqdm, its checkpoint at the end of each timed segment) against a bare PyTorch
loop of the same model, batch and optimizers, timed in one process in alternating segments.
Each task runs in a worker subprocess of its own, which also gives its peak memory:

    python -m bench.loop_speed --worker CONFIG --scale SCALE      (called by bench.speed)
"""

from __future__ import annotations

import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
from torch import nn

from bench.leaderboard import ENTRIES
from bench.runs import bench_config
from bench.scales import SCALES, Scale
from pretrain.core.augment import augment
from pretrain.core.config import Config
from pretrain.core.data import load_splits
from pretrain.core.images import to_unit_float
from pretrain.engine import build_loop, build_model, make_accelerator, train_loop
from pretrain.optim import build_optimizers
from pretrain.tb import RunLogger

PEAK_BF16_FLOPS = {"H100": 989e12, "H200": 989e12, "A100": 312e12}  # dense bf16 tensor-core peaks


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def bare_loop(
    model: nn.Module, optimizers: list, images: torch.Tensor, batch_size: int, steps: int, precision: str
) -> None:
    """The reference: sample a batch, forward, backward, step. Nothing else."""
    device = images.device
    for _ in range(steps):
        index = torch.randint(len(images), (batch_size,), device=device)
        x = to_unit_float(images[index])
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=precision == "bf16"):
            loss = model(x, index)[0]
        loss.backward()
        for optimizer in optimizers:
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)


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


def measure_loop(cfg: Config, steps: int, repeats: int) -> dict:
    """Median images/s of the toolkit's loop and of the bare loop, alternating segments of
    ``steps`` steps after one warm-up segment of each."""
    accelerator = make_accelerator(cfg)
    splits = load_splits(cfg.data)
    device, batch = accelerator.device, cfg.train.batch_size
    with tempfile.TemporaryDirectory() as tmp:
        cfg.train.halt_after_steps, cfg.train.ckpt_every = steps, 10**9
        parts, _ = build_loop(cfg, accelerator, Path(tmp), splits)
        parts.total_steps = steps * (repeats + 1)
        parts.logger = RunLogger(Path(tmp), True)
        bare = build_model(cfg, splits).to(device)
        bare_optimizers = build_optimizers(bare, cfg.optim)
        images = parts.feed.images  # the bench configs fit the device: a tensor there
        flops = training_flops_per_image(bare, images, batch)
        times: dict[str, list[float]] = {"toolkit": [], "bare": []}
        for repeat in range(repeats + 1):
            for name in ("toolkit", "bare"):
                sync(device)
                started = time.perf_counter()
                if name == "toolkit":
                    train_loop(parts, cfg, repeat * steps)
                else:
                    bare_loop(bare, bare_optimizers, images, batch, steps, accelerator.mixed_precision)
                sync(device)
                if repeat:  # the first segment of each is the warm-up
                    times[name].append(time.perf_counter() - started)
        parts.logger.close()
    rates = {name: statistics.median(steps * batch / t for t in ts) for name, ts in times.items()}
    step_seconds = batch / rates["toolkit"]
    augment_share = augmentation_seconds(bare, images, batch, steps) / steps / step_seconds
    return {
        "augment_share": augment_share,
        "toolkit_images_per_s": rates["toolkit"],
        "bare_images_per_s": rates["bare"],
        "ratio": rates["toolkit"] / rates["bare"],
        "repeats": repeats,
        "steps_per_repeat": steps,
        "batch_size": batch,
        "precision": accelerator.mixed_precision,
        "device": str(device),
        "train_gflops_per_image": flops / 1e9,
        "achieved_tflops": flops * rates["toolkit"] / 1e12,
        "peak_memory_mib": peak_memory_mib(device),
    }


def model_flop_utilisation(tflops: float) -> float | None:
    """Achieved / peak bf16 FLOP/s of the GPU, where its peak is known."""
    if not torch.cuda.is_available():
        return None
    name = torch.cuda.get_device_name(0)
    peak = next((p for key, p in PEAK_BF16_FLOPS.items() if key in name), None)
    return tflops * 1e12 / peak if peak else None


def loop_speed_per_task(scale: Scale, root: Path) -> list[dict]:
    """One subprocess per task: its own peak memory, no warm caches from the previous task."""
    rows = []
    for _name, label, base in ENTRIES:
        command = [sys.executable, "-m", "bench.loop_speed", "--worker", base, "--scale", scale.name]
        done = subprocess.run(command, capture_output=True, text=True, cwd=Path(__file__).resolve().parents[1])
        if done.returncode != 0:
            raise RuntimeError(f"speed worker for {base} failed:\n{done.stderr[-3000:]}")
        result = json.loads(done.stdout.strip().splitlines()[-1])
        rows.append({"task": label, "config": base, **result, "mfu": model_flop_utilisation(result["achieved_tflops"])})
    return rows


def worker(config: str, scale_name: str) -> None:
    scale = SCALES[scale_name]
    cfg = bench_config(config, "speed", scale, Path(tempfile.gettempdir()), [])
    print(json.dumps(measure_loop(cfg, scale.speed_steps, scale.speed_repeats)))


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "--worker" and sys.argv[3] == "--scale":
        worker(sys.argv[2], sys.argv[4])
    else:
        sys.exit("usage: python -m bench.loop_speed --worker CONFIG --scale SCALE (called by python -m bench)")
