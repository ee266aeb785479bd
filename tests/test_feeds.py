"""Every storage mode serves the same batches; pretraining equals across modes and resumes exactly."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from imagefiles import write_labelled_folder, write_unlabelled_folder
from safetensors.torch import load_file

from pretrain.core.arrays import ConcatImages, FileImages, channel_stats, open_memmap
from pretrain.core.batches import ShardedBatches
from pretrain.core.config import save_config
from pretrain.core.decode import DecodeSettings, FileDecoder
from pretrain.core.feeds import Feed, choose_storage, prefetched
from pretrain.engine import run_pretraining

ROOT = Path(__file__).resolve().parents[1]


def served(images, storage: str, rank: int = 0, world: int = 1, start: int = 0, end: int = 9) -> list:
    order = ShardedBatches(len(images), 4, seed=3, rank=rank, world=world)
    feed = Feed(images, storage, torch.device("cpu"), workers=2)
    return [(p.clone(), x.clone()) for p, x in feed.batches(order, start, end)]


def test_every_storage_mode_serves_the_same_batches(tmp_path):
    images = torch.randint(0, 256, (30, 3, 5, 5), dtype=torch.uint8)
    images.numpy().tofile(tmp_path / "rows.u8")
    mapped = open_memmap(tmp_path / "rows.u8", (30, 3, 5, 5))
    reference = served(images, "device")
    assert len(reference) == 9 and reference[0][1].shape == (4, 3, 5, 5)
    for storage, array in (("host", images), ("memmap", mapped), ("stream", images)):
        for (p, x), (q, y) in zip(reference, served(array, storage), strict=True):
            assert torch.equal(p, q) and torch.equal(x, y), storage
        assert all(torch.equal(x, images[p]) for p, x in reference)
    # a resumed feed starts where the step says; two processes read disjoint shards
    assert all(torch.equal(a[1], b[1]) for a, b in zip(reference[4:], served(mapped, "memmap", start=4)))
    left, right = served(images, "host", 0, 2, end=3), served(images, "host", 1, 2, end=3)
    for (p, _), (q, _) in zip(left, right):
        assert set(p.tolist()).isdisjoint(q.tolist())


def test_streamed_files_equal_the_decoded_cache(tmp_path):
    root = write_unlabelled_folder(tmp_path / "photos", n=12, size=10)
    paths = sorted(root.iterdir())
    files = FileImages(paths, FileDecoder(DecodeSettings(8, "crop", 3)), (3, 8, 8))
    decoded = files[torch.arange(12)]
    for (p, x), (q, y) in zip(served(decoded, "device", end=5), served(files, "stream", end=5), strict=True):
        assert torch.equal(p, q) and torch.equal(x, y)


def test_concatenated_arrays_and_chunked_stats():
    a, b = (
        torch.randint(0, 256, (5, 2, 3, 3), dtype=torch.uint8),
        torch.randint(0, 256, (7, 2, 3, 3), dtype=torch.uint8),
    )
    both = ConcatImages([a, b])
    assert len(both) == 12 and both.shape == (12, 2, 3, 3)
    positions = torch.tensor([11, 0, 5, 4, 6])
    assert torch.equal(both[positions], torch.cat([a, b])[positions])
    mean, std = channel_stats(torch.cat([a, b]))
    pixels = torch.cat([a, b]).double() / 255
    assert mean == pytest.approx(pixels.mean((0, 2, 3)).tolist())
    assert std == pytest.approx(pixels.transpose(0, 1).reshape(2, -1).std(1, unbiased=False).tolist())


def test_auto_storage_follows_the_budgets():
    images = torch.zeros(100, 1, 10, 10, dtype=torch.uint8)  # 10 kB
    assert choose_storage(images, "auto", device_budget_gb=1.0) == "device"
    assert choose_storage(images, "auto", device_budget_gb=1e-6) == "host"  # fits the free RAM
    assert choose_storage(images, "memmap", 1.0) == "memmap"
    files = FileImages([Path("x.png")], lambda p: np.zeros((1, 2, 2), np.uint8), (1, 2, 2))
    assert choose_storage(files, "auto", 1.0) == "stream"


def test_prefetch_hands_errors_to_the_consumer():
    def broken():
        yield 1
        raise OSError("disk gone")

    got = []
    with pytest.raises(OSError, match="disk gone"):
        for item in prefetched(broken(), torch.device("cpu")):
            got.append(item)
    assert got == [1]


def encoder_weights(run_dir: Path) -> dict:
    return load_file(run_dir / "encoder.safetensors")


def folder_run(tiny_cfg, tmp_path, name: str, storage: str, cache: bool = True, **train):
    root = tmp_path / "labelled"
    if not root.exists():
        write_labelled_folder(root, classes=4, per_class=16, size=16)
    data = {"name": "image_folder", "root": str(root), "cache_dir": str(tmp_path / "cache"), "workers": 1,
            "val_size": 8, "test_size": 8, "storage": storage, "cache": cache}  # fmt: skip
    return tiny_cfg(run_dir=str(tmp_path / name), data=data, train={"batch_size": 8, **train})


def test_pretraining_is_the_same_from_every_storage_mode(tiny_cfg, tmp_path):
    runs = {s: folder_run(tiny_cfg, tmp_path, s, s) for s in ("device", "host", "memmap")}
    runs["stream"] = folder_run(tiny_cfg, tmp_path, "stream", "stream", cache=False)
    for cfg in runs.values():
        run_pretraining(cfg)
    reference = encoder_weights(runs["device"].run_path)
    for storage, cfg in runs.items():
        weights = encoder_weights(cfg.run_path)
        assert all(torch.equal(reference[k], weights[k]) for k in reference), storage


def test_kill_9_then_resume_equals_an_uninterrupted_run(tiny_cfg, tmp_path):
    """A real SIGKILL mid-run (streamed files, the mode with worker processes), then --resume."""
    cfg = folder_run(tiny_cfg, tmp_path, "killed", "stream", cache=False, epochs=12, ckpt_every=4)
    straight = folder_run(tiny_cfg, tmp_path, "straight", "memmap", epochs=12, ckpt_every=4)
    run_pretraining(straight)
    config = tmp_path / "killed.yaml"
    save_config(cfg, config)
    command = [sys.executable, "-m", "pretrain", "--config", str(config)]
    env = {**os.environ, "TQDM_DISABLE": "1"}
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    progress = cfg.run_path / "progress.json"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and process.poll() is None:
        if progress.is_file() and json.loads(progress.read_text())["step"] >= 8:
            break
        time.sleep(0.02)
    assert process.poll() is None, "the run ended before it could be killed"
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    stopped_at = json.loads(progress.read_text())["step"]
    assert 8 <= stopped_at < 72 and not (cfg.run_path / "encoder.safetensors").exists()
    resumed = subprocess.run([*command, "--resume"], cwd=ROOT, env=env, capture_output=True, text=True)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert f"resuming at step {stopped_at}" in resumed.stdout
    a, b = encoder_weights(straight.run_path), encoder_weights(cfg.run_path)
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_an_unlabelled_folder_pretrains_without_the_monitor(tiny_cfg, tmp_path, capsys):
    root = write_unlabelled_folder(tmp_path / "photos", n=40, size=16)
    data = {
        "name": "image_folder",
        "root": str(root),
        "cache_dir": str(tmp_path / "cache"),
        "workers": 1,
        "val_size": 4,
    }
    cfg = tiny_cfg(data=data, monitor={"every": 2}, train={"batch_size": 8})
    run_pretraining(cfg)
    out = capsys.readouterr().out
    assert "kNN transfer monitor is off" in out and "3x16x16" in out
    assert json.loads((cfg.run_path / "encoder.json").read_text())["pretrain_images"] == 36  # 4 went to validation
