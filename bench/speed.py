"""Section 4: speed.

- per task, the training step's images/s in each variant (fp32 / bf16, channels-last,
  torch.compile; bench.variants), and the toolkit's loop vs a bare PyTorch loop in the variant
  ``auto`` resolves to (bench.loop_speed);
- the roofline: the best fp32 and bf16 matmul FLOP/s of the machine, and each task's achieved
  training FLOP/s as a share of both;
- feature extraction images/s; FAISS exact kNN vs a plain torch matmul + top-k;
- the evaluation suite on cached features (everything but fine-tuning, which needs images);
- a linear probe on cached features vs the same SGD probe run through the frozen backbone
  each pass (as MAE's and DINO's linear evaluation do).
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from bench.leaderboard import BASELINES, ENTRIES
from bench.loop_speed import loop_speed_per_task
from bench.runs import bench_config, epochs_override, pretrain
from bench.scales import Scale
from bench.variants import matmul_peaks, roofline_shares, roofline_size
from evaluate.baselines import encoder_source
from evaluate.entry import EvaluationSettings, evaluate_run
from evaluate.features import source_features
from evaluate.run import default_device, load_splits_checked
from evaluate.settings import load_run_config
from evaluate.solvers.logistic_regression import linear_probe
from pretrain.core.encoders import encode_images
from pretrain.core.images import to_unit_float
from pretrain.core.run_folder import Run
from pretrain.core.saved_encoder import load_encoder
from pretrain.core.search import cosine_search


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


def run_speed(scale: Scale, root: Path) -> dict:
    device = default_device()
    cfg = bench_config(
        ENTRIES[0][2], ENTRIES[0][0], scale, root / "leaderboard", [*epochs_override(scale), "train.seed=0"]
    )
    pretrain(cfg)  # the leaderboard's AE run (already there when section 1 ran)
    cfg = load_run_config(cfg.run)
    splits = load_splits_checked(cfg)
    encoder = load_encoder(cfg.run).to(device)
    images = splits.test.x[: scale.extract_images]
    extract_s = median_seconds(lambda: encode_images(encoder, images, cfg.eval.batch_size, device), 3)
    features = source_features(cfg.run, encoder_source(cfg.run, device, cfg.eval.batch_size), splits)
    peaks = matmul_peaks(device, roofline_size(scale.roofline_size, device), scale.roofline_seconds)
    rows = loop_speed_per_task(scale, root)
    for row in rows:
        row["roofline"] = roofline_shares(row, peaks)
    return {
        "loop": rows,
        "variants": list(scale.speed_variants),
        "segment_seconds": scale.speed_segment_seconds,
        "loop_seconds": scale.speed_loop_seconds,
        "steps_cap": scale.speed_steps,
        "roofline": peaks,
        "feature_extraction": {
            "images": len(images),
            "images_per_s": len(images) / extract_s,
            "batch_size": cfg.eval.batch_size,
        },
        "knn_search": knn_search_speed(features["train"].x, features["test"].x, cfg.eval.settings("knn").k, 5),
        "eval_suite": eval_suite_seconds(cfg.run, scale.suite_overrides),
        "probe": probe_speed(encoder, splits, features, scale, device),
        "device": str(device),
    }
