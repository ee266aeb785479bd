"""Features computed once per (source, split, images, transform) and cached on disk.

Every protocol is a pure function over ``Features``; nothing re-runs an encoder twice.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

from pretrain.checkpoint import atomic_write
from pretrain.data import ImageSet


@dataclass
class Features:
    """x: (N, d) float32 features. y: (N,) int64 labels. index: (N,) int64 dataset positions."""

    x: torch.Tensor
    y: torch.Tensor
    index: torch.Tensor

    def __len__(self) -> int:
        return len(self.y)


def tensor_digest(t: torch.Tensor) -> str:
    return hashlib.sha256(t.detach().cpu().contiguous().numpy().tobytes()).hexdigest()[:16]


def file_digest(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:16]


def cache_key(source: str, split: str, images: ImageSet, transform: str) -> str:
    """Stable key: the feature source's identity (e.g. a weight-file hash), the split's name,
    the exact images (hash of their dataset positions and pixels) and the transform."""
    parts = {
        "source": source,
        "split": split,
        "index": tensor_digest(images.index),
        "pixels": tensor_digest(images.images),
        "transform": transform,
    }
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:20]


def cached_features(
    cache_dir: Path,
    source: str,
    split: str,
    images: ImageSet,
    extract: Callable[[str, ImageSet], torch.Tensor],
    transform: str = "unit_float",
    use_cache: bool = True,
) -> Features:
    """Features of ``images`` from ``extract(split, images) -> (N, d)``, read from the cache if present."""
    path = Path(cache_dir) / f"{split}-{cache_key(source, split, images, transform)}.pt"
    if not use_cache:
        x = extract(split, images).float()
    elif path.is_file():
        x = torch.load(path, map_location="cpu")["x"]
    else:
        x = extract(split, images).float().contiguous()
        atomic_write(path, lambda tmp: torch.save({"x": x, "source": source, "split": split}, tmp))
    return Features(x, images.labels.clone(), images.index.clone())
