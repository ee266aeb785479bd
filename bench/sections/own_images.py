"""Section 6, your own images: decoding into the cache, where batches come from, and transfer
to classes pretraining never saw, all through the image-folder path a user takes.

1. Decode throughput: the toolkit's parallel decode into the cache beside torchvision's
   ``ImageFolder`` + ``DataLoader`` reading the same files with the same resize, and the
   time a second run takes to start from the cache.
2. Training images/s with the same model and batch, the batches served from the device,
   host memory, the memory-mapped cache, or files streamed by DataLoader workers.
3. Unseen classes: pretrain on the images of classes 0-4 only, write classes 5-9 out as a
   labelled PNG folder, evaluate on it with ``eval.data`` beside raw pixels and random init.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch.utils.data import DataLoader
from torchvision import transforms
from torchvision.datasets import ImageFolder

from bench.interface import Section, register_section
from bench.runs import bench_config, pretrain
from bench.scales import Scale
from bench.sections.leaderboard import epochs_override
from evaluate.entry import EvaluationSettings, evaluate_run
from evaluate.report import differences_table, scarce_label_table
from evaluate.report_types import Difference, SummaryRow, from_plain, to_plain
from pretrain.core.data import load_dataset, load_splits
from pretrain.core.run_folder import Run
from pretrain.core.samples import ImageSet
from pretrain.engine import build_loop, make_accelerator, train_loop
from pretrain.tb import RunLogger

BASE = "configs/ae_fmnist.yaml"
UNSEEN = [5, 6, 7, 8, 9]
STORAGES = ("device", "host", "memmap", "stream")


@dataclass(frozen=True)
class OwnImagesSettings:
    train_per_class: int = 0  # training images per unseen class written as PNG (0 = all)
    photo_images: int = 10000  # colour JPEG "photos" decoded in the throughput test ...
    photo_side: int = 256  # ... of this side ...
    photo_size: int = 64  # ... resized to this
    feed_steps: int = 200  # training steps timed per storage mode


def safe_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name)


def write_png_folder(images: ImageSet, classes: tuple[str, ...], wanted: list[int], folder: Path, per_class: int):
    """images of the ``wanted`` classes as folder/<class name>/<i>.png (at most ``per_class`` each; 0 = all)."""
    for c in wanted:
        members = (images.y == c).nonzero().flatten()
        members = members[:per_class] if per_class else members
        out = folder / safe_name(classes[c])
        out.mkdir(parents=True, exist_ok=True)
        for i in members.tolist():
            pixels = images.x[i].numpy()
            Image.fromarray(pixels[0] if pixels.shape[0] == 1 else pixels.transpose(1, 2, 0)).save(out / f"{i}.png")


def write_photo_folder(images: ImageSet, folder: Path, count: int, side: int) -> None:
    """``count`` colour JPEG 'photos' of side x side: images upscaled, tinted and noised."""
    rng = np.random.default_rng(0)
    for i in range(count):
        grey = Image.fromarray(images.x[i % len(images)].numpy()[0]).resize((side, side), Image.BILINEAR)
        tint = rng.uniform(0.5, 1.0, 3)
        pixels = np.asarray(grey, np.float32)[..., None] * tint + rng.normal(0, 6, (side, side, 3))
        out = folder / f"c{i % 3}"  # three "classes" so torchvision's ImageFolder accepts it
        out.mkdir(parents=True, exist_ok=True)
        Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8)).save(out / f"{i}.jpg", quality=90)


def torchvision_rate(folder: Path, size: int, workers: int) -> float:
    """Images/s of ImageFolder + DataLoader decoding and resizing every file once."""
    transform = transforms.Compose([transforms.Resize(size), transforms.CenterCrop(size), transforms.PILToTensor()])
    dataset = ImageFolder(str(folder), transform=transform)
    loader = DataLoader(dataset, batch_size=256, num_workers=workers)
    started = time.perf_counter()
    count = sum(len(x) for x, _ in loader)
    return count / (time.perf_counter() - started)


def decode_rates(folder: Path, size: int, cache: Path, scale: Scale) -> dict:
    """Toolkit cache build vs torchvision on the same files; then the second start from the cache."""
    workers = os.cpu_count() or 1
    shutil.rmtree(cache, ignore_errors=True)
    overrides = ["data.name=image_folder", f"data.root={folder}", "data.val_size=0", "data.test_size=0"]
    cfg = bench_config(BASE, "decode", scale, cache, overrides)
    cfg.data.image_size, cfg.data.cache_dir = size, str(cache)
    started = time.perf_counter()
    splits = load_splits(cfg.data)
    first = time.perf_counter() - started
    images = len(splits.train) + len(splits.val) + (len(splits.test) if splits.test is not None else 0)
    started = time.perf_counter()
    load_splits(cfg.data)
    second = time.perf_counter() - started
    return {
        "folder": folder.name,
        "images": images,
        "size": size,
        "workers": workers,
        "toolkit_images_per_s": images / first,
        "torchvision_images_per_s": torchvision_rate(folder, size, workers),
        "second_start_seconds": second,
    }


def feed_rate(folder: Path, storage: str, scale: Scale, root: Path) -> float:
    """Pretraining images/s of the paper's AE config on the folder, batches served from ``storage``:
    the trainer's own logged figure over ``feed_steps`` steps after as many warm-up steps."""
    overrides = ["data.name=image_folder", f"data.root={folder}", f"data.cache_dir={root / 'cache'}", "data.val_size=0",
                 f"data.storage={storage}", f"data.cache={str(storage != 'stream').lower()}"]  # fmt: skip
    cfg = bench_config(BASE, f"feed_{storage}", scale, root, overrides)
    steps = scale.of("data").feed_steps
    cfg.train.halt_after_steps, cfg.train.ckpt_every = steps, 10**9
    cfg.train.log_every = cfg.train.image_log_every = 10**9
    accelerator = make_accelerator(cfg)
    with tempfile.TemporaryDirectory() as tmp:
        parts, _ = build_loop(cfg, accelerator, Run.at(tmp), load_splits(cfg.data))
        parts.total_steps = 2 * steps
        parts.logger = RunLogger(Path(tmp), True)
        train_loop(parts, cfg, 0)  # warm-up
        train_loop(parts, cfg, steps)
        parts.logger.close()
    return parts.logger.latest["pretrain/images_per_s"]  # as the trainer logs it over the timed steps


def unseen_class_transfer(scale: Scale, root: Path, folder: Path) -> dict:
    """Pretrain on classes 0-4 (holdout 5-9), evaluate on the PNG folder of classes 5-9."""
    held = f"data.holdout_classes=[{','.join(map(str, UNSEEN))}]"
    cfg = bench_config(BASE, "seen_classes_only", scale, root, [held, *epochs_override(scale)])
    seconds, board = pretrain(cfg), scale.of("leaderboard")
    labels = ",".join(map(str, board.frozen_labels))
    overrides = ["eval.data.name=image_folder", f"eval.data.root={folder}", f"eval.data.cache_dir={root / 'cache'}",
                 f"eval.labels_per_class=[{labels}]", f"eval.seeds={board.seeds}",
                 "eval.protocols=[linear,mlp_head,knn]", *scale.of("speed").suite_overrides]  # fmt: skip
    settings = EvaluationSettings(overrides, ["raw_pixels", "random_init"], out_dir=root / "unseen_eval")
    report = evaluate_run(cfg.run, settings)
    return {
        "pretrain_seconds": seconds,
        "epochs": cfg.train.epochs,
        "classes": report.settings["classes"],
        "train_size": report.settings["train_size"],
        "test_size": report.settings["test_size"],
        "summary": to_plain(report.summary),
        "differences": to_plain(report.differences),
    }


def run_data(scale: Scale, root: Path) -> dict:
    root.mkdir(parents=True, exist_ok=True)
    dataset = load_dataset(bench_config(BASE, "source", scale, root).data)
    folder, photos = root / "unseen_classes", root / "photos"
    for path in (folder, photos):
        shutil.rmtree(path, ignore_errors=True)
    sizes = scale.of("data")
    per_class = sizes.train_per_class
    write_png_folder(dataset.train, dataset.classes, UNSEEN, folder / "train", per_class)
    write_png_folder(dataset.test, dataset.classes, UNSEEN, folder / "test", 0)
    write_photo_folder(dataset.train, photos, sizes.photo_images, sizes.photo_side)
    side = dataset.train.image_shape[-1]
    decode = [
        decode_rates(folder / "train", side, root / "decode_cache", scale),
        decode_rates(photos, sizes.photo_size, root / "decode_cache", scale),
    ]
    feeds = [{"storage": s, "images_per_s": feed_rate(folder, s, scale, root)} for s in STORAGES]
    device = "cuda" if torch.cuda.is_available() else "cpu"
    return {
        "device": device,
        "decode": decode,
        "photo_side": sizes.photo_side,
        "feeds": feeds,
        "feed_steps": sizes.feed_steps,
        "transfer": unseen_class_transfer(scale, root, folder),
    }


def data_section(data: dict, plots: str) -> list[str]:
    decode = ["| files | images | resized to | toolkit decode into cache, img/s | torchvision ImageFolder + "
              "DataLoader, img/s | second start from cache |", "|---|---:|---:|---:|---:|---:|"]  # fmt: skip
    for r in data["decode"]:
        decode.append(
            f"| {r['folder']} | {r['images']} | {r['size']} px | {r['toolkit_images_per_s']:.0f} | "
            f"{r['torchvision_images_per_s']:.0f} | {r['second_start_seconds']:.2f} s |"
        )
    feeds = ["| batches from | images/s |", "|---|---:|"]
    feeds += [f"| {r['storage']} | {r['images_per_s']:.0f} |" for r in data["feeds"]]
    t = data["transfer"]
    return [
        f"Decoding ({data['decode'][0]['workers']} worker processes each; `unseen_classes` = the PNG folder written "
        f"below, `photos` = {data['photo_side']} px colour JPEGs): the toolkit's figure includes listing, decoding, "
        "writing the cache and the pixel statistics; torchvision's only decoding and resizing into batches.",
        "",
        *decode,
        "",
        f"Pretraining throughput of the paper's AE config ({data['feed_steps']} steps after as many warm-up steps, "
        f"{data['device']}), the same batches from each place; `stream` decodes the PNG files in DataLoader workers "
        "(data.cache=false):",
        "",
        *feeds,
        "",
        f"Transfer to unseen classes: the autoencoder pretrained for {t['epochs']:g} epoch(s) on the images of "
        "classes 0-4 only, evaluated through `eval.data.name=image_folder` on a PNG folder of classes "
        f"{', '.join(t['classes'])} "
        f"({t['train_size']} training, {t['test_size']} test images); test accuracy % (mean ± std over seeds):",
        "",
        scarce_label_table(from_plain(list[SummaryRow], t["summary"]), ["encoder", "raw_pixels", "random_init"]),
        "",
        "Encoder minus reference, accuracy points [95% interval]; better or worse only where it excludes zero:",
        "",
        differences_table(from_plain(list[Difference], t["differences"])),
    ]


def own_images_finding(data: dict) -> str:
    d = data["decode"][0]
    best = max(data["feeds"], key=lambda r: r["images_per_s"])
    return (
        f"The toolkit decodes a PNG folder into its cache at {d['toolkit_images_per_s']:.0f} images/s "
        f"(torchvision's ImageFolder + DataLoader: {d['torchvision_images_per_s']:.0f}), and trains fastest with "
        f"batches from `{best['storage']}` ({best['images_per_s']:.0f} images/s)."
    )


SECTION = register_section(
    Section("data", "6. Your own images: decoding, storage modes, transfer to unseen classes", OwnImagesSettings,
            run_data, data_section, uses=("leaderboard", "speed"), finding=own_images_finding)
)  # fmt: skip
