"""Section 5: the GPU check, sized to finish within about 5 minutes on one GPU.

For the SimCLR config (configs/contrastive_fmnist.yaml at data.image_size=32) and the paper's
AE (configs/ae_fmnist.yaml):

- training images/s in bf16 + channels-last, torch.compile off and on (bench.variants: bare
  loops timed in turn), the first step's seconds (a compiled variant compiles there, cold cache);
- model FLOP utilisation: achieved training FLOP/s against the card's dense bf16 peak
  (bench.loop_speed.PEAK_BF16_FLOPS);
- the toolkit's loop / bare loop ratio in the variant ``auto`` resolves to; peak memory;
- bf16 vs fp32 training loss over ``agreement_steps`` steps (same seed, same batches);

then FAISS GPU vs CPU exact kNN search (pretrain.core.search.cosine_search) with the share of
identical neighbour lists. Without CUDA it returns {"skipped": reason}; ``require_cuda=False``
runs the same code on the CPU (the tests do, at the tiny scale), bf16 emulated there.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import faiss
import torch

from bench.interface import Section, register_section
from bench.loop_speed import gpu_peak_bf16_flops, measure_task
from bench.runs import bench_config
from bench.scales import Scale
from bench.sections.speed import median_seconds
from bench.speed_report import gpu_finding, gpu_section
from pretrain.core.arrays import in_memory
from pretrain.core.config import Config
from pretrain.core.data import Splits, load_splits
from pretrain.core.encoders import encode_images
from pretrain.core.images import to_unit_float
from pretrain.core.precision import autocast, describe_device, to_memory_format
from pretrain.core.search import cosine_search, faiss_gpu_available
from pretrain.engine import build_model
from pretrain.hardware import training_device
from pretrain.optim import build_optimizers

GPU_CONFIGS = (  # (label, base config, overrides)
    ("SimCLR, small ResNet, 32 px", "configs/contrastive_fmnist.yaml", ("data.image_size=32",)),
    ("AE, mirror decoder (paper, m = 20)", "configs/ae_fmnist.yaml", ()),
)
GPU_VARIANTS = ("bf16+channels_last", "bf16+channels_last+compile")


@dataclass(frozen=True)
class GpuSettings:
    agreement_steps: int = 200  # training steps compared in fp32 and bf16 (same seed, same batches)


def loss_curve(model, optimizers, images, batches, precision: str, memory_format: str) -> list[float]:
    """Training losses of ``model`` over ``batches`` (positions into ``images``), step ``i``
    reseeded with ``i`` so augmentation and sampling draw alike in every precision."""
    losses = []
    for step, index in enumerate(batches):
        torch.manual_seed(step)
        x = to_memory_format(to_unit_float(images[index]), memory_format)
        with autocast(precision, images.device):
            loss = model(x, index)[0]
        loss.backward()
        for optimizer in optimizers:
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
        losses.append(loss.detach().float())
    return torch.stack(losses).cpu().tolist()


def agreement_stats(reference: list[float], other: list[float]) -> dict:
    """Largest, final and mean absolute / relative difference of two loss curves."""
    ref, oth = torch.tensor(reference, dtype=torch.float64), torch.tensor(other, dtype=torch.float64)
    diff = (oth - ref).abs()
    rel = diff / ref.abs().clamp_min(1e-12)
    return {
        "steps": len(ref),
        "max_abs_diff": diff.max().item(),
        "max_rel_diff": rel.max().item(),
        "final_abs_diff": diff[-1].item(),
        "final_rel_diff": rel[-1].item(),
        "mean_rel_diff": rel.mean().item(),
        "fp32_final_loss": ref[-1].item(),
        "bf16_final_loss": oth[-1].item(),
    }


def compare_precisions(build: Callable[[], tuple], images, batches, memory_format: str = "contiguous") -> dict:
    """fp32 vs bf16 autocast: ``build()`` -> (model, optimizers), the same weights each call."""
    curves = {}
    for precision in ("fp32", "bf16"):
        model, optimizers = build()
        curves[precision] = loss_curve(model, optimizers, images, batches, precision, memory_format)
    return agreement_stats(curves["fp32"], curves["bf16"])


def precision_agreement(cfg: Config, splits: Splits, steps: int, device: torch.device) -> dict:
    """bf16 vs fp32 over ``steps`` training steps of ``cfg``'s model, channels-last, same
    initial weights (seeded), same batches, same augmentation draws."""
    images = in_memory(splits.pretrain_images).to(device)
    order = torch.Generator().manual_seed(cfg.train.seed)
    batches = [torch.randint(len(images), (cfg.train.batch_size,), generator=order).to(device) for _ in range(steps)]

    def build():
        torch.manual_seed(cfg.train.seed)
        model = build_model(cfg, splits).to(device).to(memory_format=torch.channels_last)
        return model, build_optimizers(model, cfg.optim)

    return compare_precisions(build, images, batches, "channels_last")


def fresh_compile_cache():
    """A fresh, temporary inductor cache (a cold compile, as a first run gets)."""
    from torch._inductor import utils

    fresh = getattr(utils, "fresh_cache", None) or getattr(utils, "fresh_inductor_cache", None)
    return fresh() if fresh else contextlib.nullcontext()


def check_config(label: str, base: str, overrides: tuple[str, ...], scale: Scale, root: Path) -> dict:
    """One config's figures: variant speeds and MFU, loop ratio, peak memory, loss agreement."""
    cfg = bench_config(base, "gpu_check", scale, root, list(overrides))
    splits = load_splits(cfg.data)
    with fresh_compile_cache():
        result = measure_task(cfg, scale.of("speed"), GPU_VARIANTS, splits)
    flops, spec = result["train_gflops_per_image"] * 1e9, gpu_peak_bf16_flops()
    for row in result["variants"]:
        if "images_per_s" in row:
            row["mfu"] = flops * row["images_per_s"] / spec if spec else None
    device = torch.device(result["device"])
    fresh = bench_config(base, "gpu_check", scale, root, list(overrides))
    agreement = precision_agreement(fresh, splits, scale.of("gpu").agreement_steps, device)
    return {"label": label, "config": base, "overrides": list(overrides), **result, "agreement": agreement}


def faiss_gpu_absence() -> str:
    if not hasattr(faiss, "StandardGpuResources"):
        return "absent: this faiss build has no GPU support (faiss-cpu; install faiss-gpu for it)"
    return "absent: faiss-gpu is installed but sees no GPU (faiss.get_num_gpus() == 0)"


def knn_gpu_vs_cpu(bank: torch.Tensor, queries: torch.Tensor, k: int, repeats: int = 3) -> dict:
    """Exact cosine kNN through FAISS on the GPU (where faiss-gpu is there) and on the CPU."""
    cpu_search = lambda: cosine_search(bank, queries, k, gpu_max_k=0)  # noqa: E731 (gpu_max_k=0: never the GPU)
    out = {
        "bank": list(bank.shape),
        "queries": len(queries),
        "k": k,
        "cpu_seconds": median_seconds(cpu_search, repeats),
    }
    if not faiss_gpu_available():
        return {**out, "faiss_gpu": faiss_gpu_absence()}
    gpu_search = lambda: cosine_search(bank, queries, k)  # noqa: E731
    gpu_seconds = median_seconds(gpu_search, repeats)
    same = cpu_search()[1] == gpu_search()[1]
    return {
        **out,
        "faiss_gpu": "used",
        "gpu_seconds": gpu_seconds,
        "gpu_speedup": out["cpu_seconds"] / gpu_seconds,
        "same_lists": same.all(1).float().mean().item(),
        "same_neighbours": same.float().mean().item(),
    }


def knn_check(base: str, scale: Scale, root: Path, device: torch.device) -> dict:
    """kNN of the test split's codes among the training split's, from ``base``'s (random-init) encoder."""
    cfg = bench_config(base, "gpu_check", scale, root)
    splits = load_splits(cfg.data)
    torch.manual_seed(cfg.train.seed)
    encoder = build_model(cfg, splits).encoder.to(device)
    bank, queries = (encode_images(encoder, s.x, cfg.eval.batch_size, device) for s in (splits.train, splits.test))
    return knn_gpu_vs_cpu(bank, queries, min(cfg.eval.settings("knn").k, len(bank)))


def run_gpu_check(scale: Scale, root: Path, require_cuda: bool = True, configs=GPU_CONFIGS) -> dict:
    """The GPU figures (module docstring); prints them as BENCHMARKS.md will show them, for whoever
    watches the output of a GPU machine that is handed back afterwards."""
    if require_cuda and not torch.cuda.is_available():
        return {"skipped": "no CUDA GPU on the machine that ran the benchmark"}
    device, started = training_device(), time.perf_counter()
    rows = [check_config(label, base, overrides, scale, root) for label, base, overrides in configs]
    data = {
        "device": describe_device(device),
        "peak_bf16_flops": gpu_peak_bf16_flops(),
        "configs": rows,
        "knn_search": knn_check(configs[-1][1], scale, root, device),
    }
    data["seconds"] = time.perf_counter() - started
    print("\n".join(gpu_section(data, "bench/plots")), flush=True)
    return data


SECTION = register_section(
    Section("gpu", "5. GPU", GpuSettings, run_gpu_check, gpu_section, uses=("speed",), finding=gpu_finding)
)
