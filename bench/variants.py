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

VARIANTS = (  # PRECISION[+channels_last][+compile], timed in this order, ratios to the first
    "fp32",
    "fp32+channels_last",
    "bf16",
    "bf16+channels_last",
    "bf16+channels_last+compile",
    "fp32+channels_last+compile",
)


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
    """One timed thing: ``run(steps)`` trains that many steps and may return the images/s it
    measured itself (the toolkit's loop: what its trainer logs); otherwise it is timed."""

    name: str
    run: Callable[[int], float | None]
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
        """The segment's images/s: the runner's own figure where it reports one, else from wall time."""
        try:
            reported = []
            seconds = timed(lambda: reported.append(runner.run(steps)), device)
        except Exception as err:  # recorded, not raised: one variant's failure is a finding
            results[runner.name] = {"error": f"{type(err).__name__}: {err}"[:600]}
            live.remove(runner)
            return None
        return reported[0] or steps * batch_size / seconds

    first = {r.name: attempt(r, 1) for r in list(live)}
    second = {r.name: attempt(r, 1) for r in list(live)}
    own = {r.name: segment_steps(r, batch_size / second[r.name], max_steps) for r in live}
    steps = {r.name: own.get(r.pace_from, own[r.name]) for r in live}
    # a runner whose segment is one step (a slow variant) counts its second step as its first segment
    rates = {r.name: [second[r.name]] if steps[r.name] == 1 else [] for r in live}
    for _ in range(repeats):
        for runner in [r for r in live if len(rates[r.name]) < repeats]:
            rates[runner.name].append(attempt(runner, steps[runner.name]))
    for r in live:
        results[r.name] = {
            "first_step_seconds": batch_size / first[r.name],
            "images_per_s": statistics.median(rates[r.name]),
            "steps_per_segment": steps[r.name],
            "segments": len(rates[r.name]),
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
