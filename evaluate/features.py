"""Features computed once per (source, split, images, transform) and cached on disk.

Every protocol is a pure function over ``Features``; nothing re-runs an encoder twice.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path

import torch

from pretrain.core.checkpoint import atomic_write
from pretrain.core.data import Splits
from pretrain.core.samples import Features, ImageSet
from pretrain.core.tasks import FeatureSource


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
        "pixels": tensor_digest(images.x),
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
    return images.with_rows(x)


SPLITS = ("train", "val", "test")


def source_features(
    run_dir: Path, source: FeatureSource, splits: Splits, parts: tuple[str, ...] = SPLITS
) -> dict[str, Features]:
    """{split: Features} of one source, each read from or written to the run's feature cache."""
    images = {"train": splits.train, "val": splits.val, "test": splits.test, "outliers": splits.outliers}
    cache = Path(run_dir) / "features"
    return {
        name: cached_features(cache, source.identity, name, images[name], source.extract, use_cache=source.cache)
        for name in parts
    }
