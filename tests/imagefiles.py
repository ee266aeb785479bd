"""Tiny image files and dataset files written in their real formats, for the data tests."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
from PIL import Image


def blob_image(label: int, index: int, size: int, seed: int = 0) -> np.ndarray:
    """A (size, size, 3) uint8 picture whose layout depends on the class: a bright square
    in one of four corners plus noise, so classes are learnable from pixels."""
    rng = np.random.default_rng(seed * 100_003 + label * 1009 + index)
    img = rng.integers(0, 60, (size, size, 3)).astype(np.uint8)
    half = size // 2
    top, left = (label // 2 % 2) * half, (label % 2) * half
    img[top : top + half, left : left + half] = [200 + 10 * (label % 5), 80 * (label % 3), 120]
    return img


def write_labelled_folder(
    root: Path, classes: int = 4, per_class: int = 12, size: int = 20, nested: bool = True, seed: int = 0
) -> Path:
    """root/class<c>/[sub/]img<i>.png: RGB PNGs, half of each class one folder deeper."""
    for c in range(classes):
        for i in range(per_class):
            folder = root / f"class{c}" / ("deeper" if nested and i % 2 else "")
            folder.mkdir(parents=True, exist_ok=True)
            Image.fromarray(blob_image(c, i, size, seed)).save(folder / f"img{i}.png")
    return root


def write_unlabelled_folder(root: Path, n: int = 48, size: int = 20, seed: int = 1) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        Image.fromarray(blob_image(i % 4, i, size, seed)).save(root / f"photo{i:03d}.jpg", quality=95)
    return root


def write_cifar(root: Path, n_per_batch: int = 6, fine: bool = False) -> Path:
    """CIFAR-10 (data_batch_1..5, test_batch, batches.meta) or CIFAR-100 (train, test, meta) pickles."""
    root.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    names = ["train"] if fine else [f"data_batch_{i}" for i in range(1, 6)]
    label_key = b"fine_labels" if fine else b"labels"
    classes = 20 if fine else 10
    for name in [*names, "test" if fine else "test_batch"]:
        data = rng.integers(0, 256, (n_per_batch, 3072), dtype=np.uint8)
        batch = {b"data": data, label_key: [int(v) for v in rng.integers(0, classes, n_per_batch)]}
        (root / name).write_bytes(pickle.dumps(batch))
    key = b"fine_label_names" if fine else b"label_names"
    meta = {key: [f"c{i}".encode() for i in range(classes)]}
    (root / ("meta" if fine else "batches.meta")).write_bytes(pickle.dumps(meta))
    return root


def write_idx(path: Path, array: np.ndarray) -> None:
    """The IDX format: two zero bytes, type 0x08 (uint8), ndim, big-endian int32 dims, data."""
    header = bytes([0, 0, 0x08, array.ndim]) + np.asarray(array.shape, ">i4").tobytes()
    path.write_bytes(header + np.ascontiguousarray(array, np.uint8).tobytes())


def write_idx_set(root: Path, prefix: str = "", n: int = 20, side: int = 28) -> np.ndarray:
    """An IDX quadruple; returns the training images (n, side, side)."""
    root.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(len(prefix))
    train = rng.integers(0, 256, (n, side, side), dtype=np.uint8)
    write_idx(root / f"{prefix}train-images-idx3-ubyte", train)
    write_idx(root / f"{prefix}train-labels-idx1-ubyte", np.arange(n, dtype=np.uint8) % 10)
    write_idx(root / f"{prefix}t10k-images-idx3-ubyte", train[: n // 2])
    write_idx(root / f"{prefix}t10k-labels-idx1-ubyte", np.arange(n // 2, dtype=np.uint8) % 10)
    return train


def write_stl10(root: Path, n_train: int = 10, n_test: int = 10, n_unlabelled: int = 30) -> dict[str, np.ndarray]:
    """STL-10 binaries: *_X.bin column-major 3x96x96 per image, *_y.bin labels 1..10. Returns
    the upright (N, 3, 96, 96) images written, by part."""
    root.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(3)
    written = {}
    for part, n in (("train", n_train), ("test", n_test), ("unlabeled", n_unlabelled)):
        upright = rng.integers(0, 256, (n, 3, 96, 96), dtype=np.uint8)
        upright[:, :, :10, :] = 255  # a bright top band: a transposed read would show it on the left
        (root / f"{part}_X.bin").write_bytes(np.ascontiguousarray(upright.transpose(0, 1, 3, 2)).tobytes())
        if part != "unlabeled":
            (root / f"{part}_y.bin").write_bytes((np.arange(n) % 10 + 1).astype(np.uint8).tobytes())
        written[part] = upright
    (root / "class_names.txt").write_text("\n".join(f"name{c}" for c in range(10)) + "\n")
    return written
