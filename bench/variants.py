"""Training-step variants (precision x memory format x torch.compile) timed in one process.

A variant is named ``PRECISION[+channels_last][+compile]`` (``fp32``, ``bf16+channels_last+compile``).
Each one trains its own copy of a task's model (same initial weights) in a bare loop; the
variants and the toolkit's own loop (``pretrain.engine.train_loop``, in the variant ``auto``
resolves to) take turns, so a drift in the machine's speed touches them alike:

1. one step each, timed alone: ``first_step_seconds`` (torch.compile compiles here);
2. a second step each, whose time sizes the segments: as many steps as fill the runner's
   ``segment_seconds`` (at least 1, at most ``max_steps``; 0 seconds: always ``max_steps``);
   the toolkit's loop takes the segment length of its bare twin;
3. rounds of one segment each until every runner has ``repeats`` segments (where a segment is
   one step, the second step is its first); images/s is the median over a runner's segments.

bf16 where the device cannot do it (``train.precision=bf16`` raises ConfigError there) is still
timed through torch.autocast directly, and its status says so. A runner that fails (torch.compile
without a C++ compiler, say) is recorded with its error and leaves the rounds.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from pretrain.core.images import to_unit_float
from pretrain.core.precision import autocast, fast_bf16, resolve_precision, to_memory_format
from pretrain.core.typed_yaml import ConfigError


@dataclass(frozen=True)
class Variant:
    precision: str  # fp32 | bf16 | fp16
    memory_format: str = "contiguous"  # contiguous | channels_last
    compile: bool = False

    @property
    def name(self) -> str:
        cl = "+channels_last" if self.memory_format == "channels_last" else ""
        return f"{self.precision}{cl}{'+compile' if self.compile else ''}"

    @classmethod
    def parse(cls, name: str) -> Variant:
        precision, *flags = name.split("+")
        unknown = set(flags) - {"channels_last", "compile"}
        if unknown or precision not in ("fp32", "bf16", "fp16"):
            raise ValueError(f"variant {name!r}: PRECISION[+channels_last][+compile], PRECISION fp32 | bf16 | fp16")
        memory_format = "channels_last" if "channels_last" in flags else "contiguous"
        return cls(precision, memory_format, "compile" in flags)


def variant_status(precision: str, device: torch.device) -> str:
    """Whether ``train.precision=<precision>`` is accepted on ``device``, and how it runs."""
    try:
        resolve_precision(precision, device)
    except ConfigError as err:
        return f"emulated / unsupported by config: {err}"
    if precision == "bf16" and not fast_bf16(device):
        return "supported by config, not native (auto picks fp32)"
    return "supported"


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def timed(fn: Callable[[], object], device: torch.device) -> float:
    """Wall seconds of ``fn()``, the device's queue drained before and after."""
    sync(device)
    started = time.perf_counter()
    fn()
    sync(device)
    return time.perf_counter() - started


def bare_loop(
    model: nn.Module,
    optimizers: list,
    images: torch.Tensor,
    batch_size: int,
    steps: int,
    precision: str,
    memory_format: str = "contiguous",
) -> None:
    """The reference: sample a batch, forward (autocast as ``precision`` says), backward, step."""
    device = images.device
    for _ in range(steps):
        index = torch.randint(len(images), (batch_size,), device=device)
        x = to_memory_format(to_unit_float(images[index]), memory_format)
        with autocast(precision, device):
            loss = model(x, index)[0]
        loss.backward()
        for optimizer in optimizers:
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)


@dataclass
class Runner:
    """One timed thing: ``run(steps)`` trains that many steps."""

    name: str
    run: Callable[[int], None]
    segment_seconds: float = 0.0
    pace_from: str | None = None  # take the segment length of this runner (the toolkit: its bare twin)


def segment_steps(runner: Runner, step_seconds: float, max_steps: int) -> int:
    if runner.segment_seconds <= 0:
        return max_steps
    return max(1, min(max_steps, round(runner.segment_seconds / max(step_seconds, 1e-9))))


def time_runners(
    runners: list[Runner], device: torch.device, batch_size: int, repeats: int, max_steps: int
) -> dict[str, dict]:
    """Time ``runners`` in turn (module docstring) -> name -> images_per_s, first_step_seconds,
    steps_per_segment, segments; or name -> error."""
    results: dict[str, dict] = {r.name: {} for r in runners}
    live = list(runners)

    def attempt(runner: Runner, steps: int) -> float | None:
        try:
            return timed(lambda: runner.run(steps), device)
        except Exception as err:  # recorded, not raised: one variant's failure is a finding
            results[runner.name] = {"error": f"{type(err).__name__}: {err}"[:600]}
            live.remove(runner)
            return None

    first = {r.name: attempt(r, 1) for r in list(live)}
    second = {r.name: attempt(r, 1) for r in list(live)}
    own = {r.name: segment_steps(r, second[r.name], max_steps) for r in live}
    steps = {r.name: own.get(r.pace_from, own[r.name]) for r in live}
    # a runner whose segment is one step (a slow variant) counts its second step as its first segment
    times = {r.name: [second[r.name]] if steps[r.name] == 1 else [] for r in live}
    for _ in range(repeats):
        for runner in [r for r in live if len(times[r.name]) < repeats]:
            seconds = attempt(runner, steps[runner.name])
            times[runner.name].append(seconds)
    for r in live:
        rates = [steps[r.name] * batch_size / t for t in times[r.name]]
        results[r.name] = {
            "first_step_seconds": first[r.name],
            "images_per_s": statistics.median(rates),
            "steps_per_segment": steps[r.name],
            "segments": len(rates),
        }
    return results


def variant_rows(names: list[str], timings: dict[str, dict], device: torch.device, batch_size: int) -> list[dict]:
    """One row per variant: its settings, status and timing, images/s as a ratio to the first."""
    rows = []
    for name in names:
        variant, timing = Variant.parse(name), timings[name]
        row = {"name": name, **vars(variant), "status": variant_status(variant.precision, device), **timing}
        if "images_per_s" in timing:  # the first step's extra time: compiling, oneDNN's first primitives
            row["first_step_overhead_seconds"] = timing["first_step_seconds"] - batch_size / timing["images_per_s"]
        rows.append(row)
    first = rows[0].get("images_per_s")
    for row in rows:
        if first and "images_per_s" in row:
            row["ratio_to_first"] = row["images_per_s"] / first
    return rows


def matmul_seconds(a: torch.Tensor, b: torch.Tensor) -> float:
    return timed(lambda: a @ b, a.device)


def matmul_peak(dtype: torch.dtype, device: torch.device, max_size: int, budget_seconds: float, repeats: int = 3):
    """Median FLOP/s of square matmuls a @ b in ``dtype``, sizes doubling from 256 (or
    ``max_size`` if smaller) to ``max_size``, stopping at the first size whose ``repeats`` would
    take more than ``budget_seconds`` (that size timed once). -> best FLOP/s, its size, all sizes."""
    by_size: dict[str, float] = {}
    size = min(256, max_size)
    while size <= max_size:
        a, b = (torch.randn(size, size, device=device).to(dtype) for _ in range(2))
        first = matmul_seconds(a, b)
        slow = first * repeats > budget_seconds
        seconds = first if slow else statistics.median(matmul_seconds(a, b) for _ in range(repeats))
        by_size[str(size)] = 2 * size**3 / seconds
        if slow:
            break
        size *= 2
    best = max(by_size, key=by_size.get)
    return {"flops_per_s": by_size[best], "size": int(best), "by_size": by_size}


def roofline_size(size: int, device: torch.device) -> int:
    """The largest matmul side timed: ``size``, at least 8192 on a GPU (smaller ones do not fill it)."""
    return max(size, 8192) if device.type == "cuda" else size


def matmul_peaks(device: torch.device, max_size: int, budget_seconds: float) -> dict:
    """The roofline's two ceilings: the best fp32 and bf16 matmul FLOP/s measured on ``device``."""
    return {
        "fp32": matmul_peak(torch.float32, device, max_size, budget_seconds),
        "bf16": matmul_peak(torch.bfloat16, device, max_size, budget_seconds),
        "device": str(device),
    }


def roofline_shares(row: dict, peaks: dict) -> dict:
    """A task's achieved training FLOP/s (FLOPs per image x images/s) as shares of the matmul
    peaks: the toolkit's loop against both, the fastest variant of each precision against its own."""
    flops = row["train_gflops_per_image"] * 1e9
    toolkit = flops * row["toolkit_images_per_s"]
    out = {
        "toolkit_flops_per_s": toolkit,
        "toolkit_share_fp32": toolkit / peaks["fp32"]["flops_per_s"],
        "toolkit_share_bf16": toolkit / peaks["bf16"]["flops_per_s"],
    }
    for precision in ("fp32", "bf16"):
        timed_rows = [v for v in row.get("variants", []) if v["precision"] == precision and "images_per_s" in v]
        if timed_rows:
            best = max(timed_rows, key=lambda v: v["images_per_s"])
            achieved = flops * best["images_per_s"]
            share = achieved / peaks[precision]["flops_per_s"]
            out[f"best_{precision}"] = {"variant": best["name"], "flops_per_s": achieved, "share": share}
    return out
