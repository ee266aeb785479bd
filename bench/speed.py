"""Section 4 (and 5 on a GPU): speed.

- the toolkit's loop (pretrain.engine.train_loop: reseeding, loss meter, logging, tqdm, its
  checkpoint at the end of each timed segment) vs a bare PyTorch loop of the same model,
  batch and optimizers, timed in one process in alternating segments; each task runs in a
  subprocess of its own, which also gives its peak memory;
- feature extraction images/s; FAISS exact kNN vs a plain torch matmul + top-k;
- the evaluation suite on cached features (everything but fine-tuning, which needs images);
- a linear probe on cached features vs the same SGD probe run through the frozen backbone
  each pass (as MAE's and DINO's linear evaluation do).
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
import torch.nn.functional as F
from torch import nn

from bench.leaderboard import BASELINES, ENTRIES
from bench.runs import bench_config, pretrain
from bench.scales import SCALES, Scale
from evaluate.baselines import encoder_source, feature_sources
from evaluate.features import source_features
from evaluate.linear import linear_probe
from evaluate.run import all_label_metrics, default_device, load_splits_checked
from evaluate.suite import frozen_grid
from pretrain.core.config import Config, load_run_config
from pretrain.core.data import load_splits
from pretrain.core.encoders import encode_images
from pretrain.core.export import load_encoder, load_task_heads
from pretrain.core.images import to_unit_float
from pretrain.core.search import cosine_search
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
        images = parts.train_images
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
    return {
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
        command = [sys.executable, "-m", "bench.speed", "--worker", base, "--scale", scale.name]
        done = subprocess.run(command, capture_output=True, text=True, cwd=Path(__file__).resolve().parents[1])
        if done.returncode != 0:
            raise RuntimeError(f"speed worker for {base} failed:\n{done.stderr[-3000:]}")
        result = json.loads(done.stdout.strip().splitlines()[-1])
        rows.append({"task": label, "config": base, **result, "mfu": model_flop_utilisation(result["achieved_tflops"])})
    return rows


def median_seconds(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def torch_topk_search(bank: torch.Tensor, queries: torch.Tensor, k: int, chunk: int = 4096):
    """Exact cosine kNN with a matmul and top-k per chunk of queries: the plain-torch reference."""
    bank = F.normalize(bank.float(), dim=1)
    out = [torch.topk(F.normalize(q.float(), dim=1) @ bank.T, k, dim=1) for q in queries.split(chunk)]
    return torch.cat([o.values for o in out]), torch.cat([o.indices for o in out])


def knn_search_speed(bank: torch.Tensor, queries: torch.Tensor, k: int, repeats: int) -> dict:
    faiss_s = median_seconds(lambda: cosine_search(bank, queries, k), repeats)
    torch_s = median_seconds(lambda: torch_topk_search(bank, queries, k), repeats)
    agree = (cosine_search(bank, queries, k)[1] == torch_topk_search(bank, queries, k)[1]).float().mean().item()
    return {
        "bank": list(bank.shape),
        "queries": len(queries),
        "k": k,
        "faiss_seconds": faiss_s,
        "torch_seconds": torch_s,
        "faiss_speedup": torch_s / faiss_s,
        "same_neighbours": agree,
    }


def sgd_linear_probe(
    inputs: torch.Tensor,
    labels: torch.Tensor,
    features_of,
    dim: int,
    classes: int,
    passes: int,
    batch_size: int = 256,
    seed: int = 0,
) -> nn.Module:
    """A linear classifier behind a non-affine BatchNorm (MAE's probe head), trained by SGD for
    ``passes`` epochs on ``features_of(inputs[batch])`` (cached features or a frozen backbone)."""
    torch.manual_seed(seed)
    head = nn.Sequential(nn.BatchNorm1d(dim, affine=False), nn.Linear(dim, classes))
    optimizer = torch.optim.SGD(head.parameters(), lr=0.1, momentum=0.9)
    order = torch.Generator().manual_seed(seed)
    for _ in range(passes):
        for index in torch.randperm(len(inputs), generator=order).split(batch_size):
            with torch.no_grad():
                features = features_of(inputs[index])
            loss = F.cross_entropy(head(features), labels[index])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
    return head.eval()


def probe_speed(encoder: nn.Module, splits, features: dict, scale: Scale, device: torch.device) -> dict:
    """Same SGD probe, same passes: on features cached once vs through the frozen backbone."""
    encoder = encoder.to(device).eval()
    train, test, classes, dim = splits.train, splits.test, splits.num_classes, encoder.code_dim

    test_x = encode_images(encoder, test.x, device=device)

    def accuracy(head):
        with torch.no_grad():
            return (head(test_x).argmax(1) == test.y).float().mean().item()

    started = time.perf_counter()
    cached = encode_images(encoder, train.x, device=device)  # the one pass the cached probe needs
    head = sgd_linear_probe(cached, train.y, lambda x: x, dim, classes, scale.probe_passes)
    cached_s = time.perf_counter() - started
    cached_acc = accuracy(head)
    started = time.perf_counter()
    through = lambda x: encoder(to_unit_float(x.to(device))).float().cpu()  # noqa: E731
    head = sgd_linear_probe(train.x, train.y, through, dim, classes, scale.probe_passes)
    through_s = time.perf_counter() - started
    started = time.perf_counter()
    lbfgs = linear_probe(features["train"], features["val"], features["test"], [1e-4, 1e-3], 200, classes)
    return {
        "passes": scale.probe_passes,
        "train_images": len(train),
        "cached_seconds": cached_s,
        "through_backbone_seconds": through_s,
        "speedup": through_s / cached_s,
        "cached_accuracy": cached_acc,
        "through_backbone_accuracy": accuracy(head),
        "lbfgs_probe_seconds": time.perf_counter() - started,
        "lbfgs_probe_accuracy": lbfgs.accuracy,
    }


def eval_suite_seconds(run_dir: Path, overrides: tuple[str, ...] = ()) -> dict:
    """Wall time of the (default) evaluation config's frozen grid and all-label metrics over the
    cached features of the encoder and every baseline (features computed beforehand)."""
    cfg = load_run_config(run_dir, list(overrides))
    splits, device = load_splits_checked(cfg), default_device()
    encoder, tasks = load_task_heads(run_dir, cfg, splits)
    sources = feature_sources(run_dir, cfg, splits, list(BASELINES), device, encoder, tasks)
    for source in sources:
        source_features(run_dir, source, splits)  # fill the cache; not timed
    started = time.perf_counter()
    features = {s.name: source_features(run_dir, s, splits) for s in sources}
    frozen_grid(features, cfg.eval, splits.num_classes, cfg.train.seed)
    for parts in features.values():
        all_label_metrics(parts, cfg, splits.num_classes)
    return {
        "seconds": time.perf_counter() - started,
        "sources": list(features),
        "labels_per_class": cfg.eval.labels_per_class,
        "seeds": cfg.eval.seeds,
    }


def run_speed(scale: Scale, root: Path) -> dict:
    device = default_device()
    cfg = bench_config(
        ENTRIES[0][2], ENTRIES[0][0], scale, root / "leaderboard", [f"train.epochs={scale.leaderboard_epochs}"]
    )
    pretrain(cfg)  # the leaderboard's AE run (already there when section 1 ran)
    cfg = load_run_config(cfg.run_path)
    splits = load_splits_checked(cfg)
    encoder = load_encoder(cfg.run_path).to(device)
    images = splits.test.x[: scale.extract_images]
    extract_s = median_seconds(lambda: encode_images(encoder, images, cfg.eval.batch_size, device), 3)
    features = source_features(cfg.run_path, encoder_source(cfg.run_path, device, cfg.eval.batch_size), splits)
    return {
        "loop": loop_speed_per_task(scale, root),
        "feature_extraction": {
            "images": len(images),
            "images_per_s": len(images) / extract_s,
            "batch_size": cfg.eval.batch_size,
        },
        "knn_search": knn_search_speed(features["train"].x, features["test"].x, cfg.eval.knn_k, 5),
        "eval_suite": eval_suite_seconds(cfg.run_path, scale.suite_overrides),
        "probe": probe_speed(encoder, splits, features, scale, device),
        "device": str(device),
    }


def worker(config: str, scale_name: str) -> None:
    scale = SCALES[scale_name]
    cfg = bench_config(config, "speed", scale, Path(tempfile.gettempdir()), [])
    print(json.dumps(measure_loop(cfg, scale.speed_steps, scale.speed_repeats)))


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "--worker" and sys.argv[3] == "--scale":
        worker(sys.argv[2], sys.argv[4])
    else:
        sys.exit("usage: python -m bench.speed --worker CONFIG --scale SCALE (called by python -m bench)")
