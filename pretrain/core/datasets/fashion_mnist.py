"""Fashion-MNIST (Xiao, Rasul & Vollgraf 2017), read straight from its four IDX files (no
per-sample PIL decode): 60k training and 10k test images of 28x28 grey clothing."""

from __future__ import annotations

import gzip
import zlib
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from pretrain.core.config import DataConfig
from pretrain.core.data import DataError, Dataset, register_dataset
from pretrain.core.datasets.download import download
from pretrain.core.locations import data_dir
from pretrain.core.samples import ImageSet

REPO_DATA = data_dir()
PLACES = (
    "/usr/share/datasets/fashion-mnist",  # Debian's dataset-fashion-mnist
    str(REPO_DATA / "fashion-mnist"),  # files put there by hand
    str(REPO_DATA / "FashionMNIST" / "raw"),  # torchvision's download (scripts/get_data.sh)
)
FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}
CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")


def find_fashion_mnist(root: str = "") -> Path:
    """The folder holding the four Fashion-MNIST IDX files (plain or .gz)."""
    places = [root] if root else list(PLACES)
    for place in places:
        if all(_idx_file(Path(place), stem) for stem in FILES.values()):
            return Path(place)
    raise FileNotFoundError(
        f"Fashion-MNIST IDX files not found in {', '.join(places)}. "
        "Run `make data` (Debian's dataset-fashion-mnist package, else torchvision's download into data/), "
        "or set data.root to a folder holding train-images-idx3-ubyte[.gz] and the other three files."
    )


def _idx_file(folder: Path, stem: str) -> Path | None:
    for name in (stem, stem + ".gz"):
        if (folder / name).is_file():
            return folder / name
    return None


def read_idx(path: Path) -> np.ndarray:
    """Parse an IDX file (the MNIST format): magic, dims as big-endian int32, then uint8 data.
    A short, damaged or foreign file raises DataError naming the file and what is wrong."""
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as f:
            raw = f.read()
    except (OSError, EOFError, zlib.error) as err:  # a truncated or corrupt .gz fails inside gzip
        raise DataError(f"{path} cannot be read ({err}); download it again") from None
    if len(raw) < 4:
        raise DataError(f"{path} is truncated: {len(raw)} bytes, shorter than an IDX header")
    if raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        raise DataError(f"{path} is not an unsigned-byte IDX file (bad magic number)")
    ndim = raw[3]
    if len(raw) < 4 + 4 * ndim:
        raise DataError(f"{path} is truncated: its header ends after {len(raw)} bytes")
    dims = tuple(int(d) for d in np.frombuffer(raw, ">i4", count=ndim, offset=4))
    expected, found = int(np.prod(dims)), len(raw) - 4 - 4 * ndim
    if found != expected:
        raise DataError(
            f"{path} is truncated or damaged: its header promises {'x'.join(map(str, dims))} = {expected} bytes "
            f"of data, the file holds {found}; download it again"
        )
    return np.frombuffer(raw, np.uint8, offset=4 + 4 * ndim).reshape(dims)


def image_set(images: np.ndarray, labels: np.ndarray) -> ImageSet:
    """uint8 images (N, C, H, W) and labels (N,) as an ImageSet indexed 0..N-1."""
    images = torch.from_numpy(np.array(images, copy=True))  # IDX buffers are read-only
    return ImageSet(images, torch.from_numpy(labels.astype(np.int64)), torch.arange(len(labels)))


def idx_dataset(files: dict[str, Path], classes: tuple[str, ...] = ()) -> Dataset:
    """A Dataset from an IDX quadruple {train_images, train_labels, test_images, test_labels};
    classes default to the label values as names."""
    arrays = {key: read_idx(path) for key, path in files.items()}
    train, test = (image_set(arrays[f"{part}_images"][:, None], arrays[f"{part}_labels"]) for part in ("train", "test"))
    if not classes:
        classes = tuple(str(c) for c in range(int(max(train.y.max(), test.y.max())) + 1))
    return Dataset(train, test, classes, source=str(files["train_images"].parent))


@register_dataset("fashion_mnist")
def fashion_mnist(cfg: DataConfig) -> Dataset:
    """Train 60k, test 10k: (N, 1, 28, 28) uint8, from ``data.root`` or the usual places."""
    if cfg.download:
        download("fashion_mnist", cfg.root)
        cfg = replace(cfg, root=str(Path(cfg.root) / "FashionMNIST" / "raw"))
    folder = find_fashion_mnist(cfg.root)
    return idx_dataset({key: _idx_file(folder, stem) for key, stem in FILES.items()}, CLASSES)
