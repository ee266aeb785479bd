"""Features computed once per (source identity, split, images) and cached on disk.

Every protocol is a pure function over ``Features``; nothing re-runs an encoder twice. A
source's identity names everything that changes its features: the weights, the code of
the modules that compute them, the device type, the precision (eval.precision, resolved)
and the pixel transform; ``extraction_identity`` builds it.
"""

from __future__ import annotations

import hashlib
import inspect
import json
from collections.abc import Callable
from functools import cache
from pathlib import Path

import torch
from torch import nn

from evaluate.cells import unusable
from evaluate.identity import this_machine
from pretrain.core.checkpoint import atomic_write, file_digest
from pretrain.core.data import Splits
from pretrain.core.run_folder import Run
from pretrain.core.samples import Features, ImageSet
from pretrain.core.tasks import FeatureSource


def tensor_digest(t: torch.Tensor) -> str:
    return hashlib.sha256(t.detach().cpu().contiguous().numpy().tobytes()).hexdigest()[:16]


PIXEL_TRANSFORM = "uint8/255"  # pretrain.core.images.to_unit_float, the only input transform today


@cache
def _source_file_digest(path: str) -> str:
    return file_digest(Path(path))


def module_code_digest(module: nn.Module) -> str:
    """Hash of the source files defining every submodule's class: editing the encoder's code
    (or upgrading the library it comes from) changes it."""
    files = sorted({inspect.getsourcefile(type(m)) or type(m).__qualname__ for m in module.modules()})
    digests = [_source_file_digest(f) if Path(f).is_file() else f for f in files]
    return hashlib.sha256("".join(digests).encode()).hexdigest()[:16]


def memory_format_of(module: nn.Module) -> str:
    """channels_last if any 4-D weight of ``module`` is stored channels-last, else contiguous."""
    for p in module.parameters():
        if p.dim() == 4 and not p.is_contiguous() and p.is_contiguous(memory_format=torch.channels_last):
            return "channels_last"
    return "contiguous"


def extraction_identity(
    kind: str, modules: list[nn.Module], device: torch.device | str, precision: str, *details: str
) -> str:
    """The identity of features computed by ``modules`` on ``device`` in ``precision`` (a
    resolved one: fp32 | bf16): ``kind`` and ``details`` (e.g. weight hashes, a seed), the
    modules' code, the device type, the precision and the transform."""
    parts = [
        kind,
        *details,
        *(f"code={module_code_digest(m)}" for m in modules),
        *(f"memory_format={memory_format_of(m)}" for m in modules),
        f"device={torch.device(device).type}",
        f"precision={precision}",
        f"transform={PIXEL_TRANSFORM}",
    ]
    return ":".join(parts)


def cache_key(source: str, split: str, images: ImageSet) -> str:
    """Stable key: the feature source's identity (``extraction_identity``), the split's name
    and the exact images (hash of their dataset positions and pixels)."""
    parts = {"source": source, "split": split, "index": tensor_digest(images.index), "pixels": tensor_digest(images.x)}
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:20]


def cached_features(
    cache_dir: Path,
    source: str,
    split: str,
    images: ImageSet,
    extract: Callable[[str, ImageSet], torch.Tensor],
    use_cache: bool = True,
) -> Features:
    """Features of ``images`` from ``extract(split, images) -> (N, d)``, read from the cache if
    present; a cache file that does not load is recomputed (said in one line), never read."""
    path = Path(cache_dir) / f"{split}-{cache_key(source, split, images)}.pt"
    if not use_cache:
        return images.with_rows(extract(split, images).float())
    if path.is_file():
        try:
            return images.with_rows(torch.load(path, map_location="cpu", weights_only=True)["x"])
        except Exception as err:  # a torn or foreign file: recompute it
            unusable(path, err)
    x = extract(split, images).float().contiguous()
    atomic_write(path, lambda tmp: torch.save({"x": x, "source": source, "split": split}, tmp))
    return images.with_rows(x)


SPLITS = ("train", "val", "test")


def source_features(
    run: Run, source: FeatureSource, splits: Splits, parts: tuple[str, ...] = SPLITS, store: Path | None = None
) -> dict[str, Features]:
    """{split: Features} of one source, each read from or written to the feature cache: the
    machine-wide ``store`` (its features/ folder, keyed on this machine too) for a source that
    depends on no run (``source.shared``: the baselines), else the run's own features/ folder."""
    images = {"train": splits.train, "val": splits.val, "test": splits.test, "outliers": splits.outliers}
    cache, identity = run.features, source.identity
    if store is not None and source.shared:
        cache = Path(store) / "features"
        identity = f"{identity}:{json.dumps(this_machine(), sort_keys=True)}"
    return {
        name: cached_features(cache, identity, name, images[name], source.extract, use_cache=source.cache)
        for name in parts
    }
