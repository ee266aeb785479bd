"""Image data held in memory as uint8 tensors, deterministic splits and labelled subsets.

Fashion-MNIST is read straight from its IDX files (no per-sample PIL decode). The 60k
training images are split once into train/val (seeded); the 10k test images are only
touched for final numbers. Labelled subsets are drawn from the training split only.
"""

from __future__ import annotations

import gzip
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from pretrain.config import ConfigError, DataConfig

REPO_DATA = Path(__file__).resolve().parents[1] / "data"
FASHION_MNIST_PLACES = (
    "/usr/share/datasets/fashion-mnist",  # Debian's dataset-fashion-mnist
    str(REPO_DATA / "fashion-mnist"),  # files put there by hand
    str(REPO_DATA / "FashionMNIST" / "raw"),  # torchvision's download (scripts/get_data.sh)
)
FASHION_MNIST_FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}
FASHION_MNIST_CLASSES = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)


@dataclass
class ImageSet:
    """images: (N, C, H, W) uint8. labels: (N,) int64. index: (N,) int64 positions in the
    original dataset split the images came from (train or test)."""

    images: torch.Tensor
    labels: torch.Tensor
    index: torch.Tensor

    def __len__(self) -> int:
        return len(self.labels)

    def take(self, positions: torch.Tensor) -> ImageSet:
        """The subset at ``positions`` (rows of this set, not original indices)."""
        return ImageSet(self.images[positions], self.labels[positions], self.index[positions])

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return tuple(self.images.shape[1:])


@dataclass
class Splits:
    train: ImageSet  # pretraining images and the pool for labelled subsets
    val: ImageSet  # model selection: probe strength, early stopping, monitor
    test: ImageSet  # final numbers only
    mean: float  # pixel statistics of the training split, in [0, 1] units
    std: float
    classes: tuple[str, ...]
    outliers: ImageSet | None = None  # test images of data.holdout_classes (None without any)

    @property
    def num_classes(self) -> int:
        return len(self.classes)


# ----------------------------------------------------------------------------- files


def find_fashion_mnist(root: str = "") -> Path:
    """The folder holding the four Fashion-MNIST IDX files (plain or .gz)."""
    places = [root] if root else list(FASHION_MNIST_PLACES)
    for place in places:
        if all(_idx_file(Path(place), stem) for stem in FASHION_MNIST_FILES.values()):
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
    """Parse an IDX file (the MNIST format): magic, dims as big-endian int32, then uint8 data."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as f:
        raw = f.read()
    zero, dtype_code, ndim = raw[0] * 256 + raw[1], raw[2], raw[3]
    if zero != 0 or dtype_code != 0x08:
        raise ValueError(f"{path} is not an unsigned-byte IDX file")
    dims = np.frombuffer(raw, ">i4", count=ndim, offset=4)
    data = np.frombuffer(raw, np.uint8, offset=4 + 4 * ndim)
    return data.reshape(tuple(int(d) for d in dims))


def load_fashion_mnist(root: str = "") -> tuple[ImageSet, ImageSet]:
    """(train 60k, test 10k) as ImageSets of (N, 1, 28, 28) uint8."""
    folder = find_fashion_mnist(root)
    arrays = {key: read_idx(_idx_file(folder, stem)) for key, stem in FASHION_MNIST_FILES.items()}
    return tuple(_image_set(arrays[f"{part}_images"][:, None], arrays[f"{part}_labels"]) for part in ("train", "test"))


def _image_set(images: np.ndarray, labels: np.ndarray) -> ImageSet:
    images = torch.from_numpy(np.array(images, copy=True))  # IDX buffers are read-only
    return ImageSet(images, torch.from_numpy(labels.astype(np.int64)), torch.arange(len(labels)))


# ----------------------------------------------------------------------------- synthetic


def synthetic_images(n: int, seed: int, num_classes: int = 10, size: int = 28) -> ImageSet:
    """Tiny labelled image data for tests: each class is a fixed random blob pattern
    (the same for every call), each image that pattern shifted by up to 2 pixels, scaled in
    brightness and with pixel noise. Learnable, yet not solvable by a single pixel."""
    proto_gen = torch.Generator().manual_seed(1234)
    coarse = torch.rand(num_classes, 1, 7, 7, generator=proto_gen)
    protos = torch.nn.functional.interpolate(coarse, size=(size, size), mode="bilinear", align_corners=False)
    gen = torch.Generator().manual_seed(seed)
    labels = torch.arange(n) % num_classes
    labels = labels[torch.randperm(n, generator=gen)]
    shifts = torch.randint(-2, 3, (n, 2), generator=gen)
    images = torch.stack([torch.roll(protos[y], tuple(s.tolist()), dims=(1, 2)) for y, s in zip(labels, shifts)])
    images = images * (0.7 + 0.3 * torch.rand(n, 1, 1, 1, generator=gen))
    images = (images + 0.08 * torch.randn(images.shape, generator=gen)).clamp(0, 1)
    return ImageSet((images * 255).round().to(torch.uint8), labels, torch.arange(n))


# ----------------------------------------------------------------------------- splits


def train_val_split(n: int, val_size: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Disjoint (train, val) positions covering range(n); the same for the same seed."""
    if not 0 < val_size < n:
        raise ConfigError(f"data.val_size must be between 1 and {n - 1}, got {val_size}")
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    return perm[val_size:].sort().values, perm[:val_size].sort().values


def balanced_subset(labels: torch.Tensor, per_class: int, seed: int) -> torch.Tensor:
    """Positions of ``per_class`` items of each class (seeded). Raises if a class has fewer."""
    gen = torch.Generator().manual_seed(seed)
    picks = []
    for c in labels.unique().tolist():
        members = (labels == c).nonzero().flatten()
        if len(members) < per_class:
            raise ValueError(f"class {c} has {len(members)} items, fewer than the {per_class} asked for")
        picks.append(members[torch.randperm(len(members), generator=gen)[:per_class]])
    return torch.cat(picks).sort().values


def load_splits(cfg: DataConfig) -> Splits:
    """Train/val/test ImageSets for the configured dataset, with training-split pixel stats."""
    if cfg.name == "fashion_mnist":
        full_train, test = load_fashion_mnist(cfg.root)
        classes = FASHION_MNIST_CLASSES
    elif cfg.name == "synthetic":
        full_train = synthetic_images(cfg.synthetic_size * 2, seed=cfg.split_seed + 1)
        test = synthetic_images(cfg.synthetic_size, seed=cfg.split_seed + 2)
        classes = tuple(f"class{c}" for c in range(10))
    else:
        raise ConfigError(f"data.name: unknown dataset {cfg.name!r} (fashion_mnist | synthetic)")
    val_size = min(cfg.val_size, len(full_train) // 5) if cfg.name == "synthetic" else cfg.val_size
    train_pos, val_pos = train_val_split(len(full_train), val_size, cfg.split_seed)
    train, val = full_train.take(train_pos), full_train.take(val_pos)
    if cfg.test_subset:
        test = test.take(balanced_subset(test.labels, cfg.test_subset // len(classes), cfg.split_seed))
    outliers = None
    if cfg.holdout_classes:
        bad = [c for c in cfg.holdout_classes if not 0 <= c < len(classes)]
        if bad:
            raise ConfigError(f"data.holdout_classes: {bad} are not classes of {cfg.name} (0..{len(classes) - 1})")
        train, val, outliers = (
            without_classes(train, cfg.holdout_classes),
            without_classes(val, cfg.holdout_classes),
            only_classes(test, cfg.holdout_classes),
        )
        test = without_classes(test, cfg.holdout_classes)
    if cfg.train_subset:
        per_class = cfg.train_subset // len(train.labels.unique())
        train = train.take(balanced_subset(train.labels, per_class, cfg.split_seed))
    pixels = train.images.float() / 255
    return Splits(train, val, test, pixels.mean().item(), pixels.std().item(), classes, outliers)


def only_classes(images: ImageSet, classes: list[int]) -> ImageSet:
    return images.take(torch.isin(images.labels, torch.tensor(classes)).nonzero().flatten())


def without_classes(images: ImageSet, classes: list[int]) -> ImageSet:
    return images.take((~torch.isin(images.labels, torch.tensor(classes))).nonzero().flatten())


def to_unit_float(images: torch.Tensor) -> torch.Tensor:
    """uint8 (B, C, H, W) -> float32 in [0, 1], on the images' device."""
    return images.float().div_(255)


# ----------------------------------------------------------------------------- batches


class ShardedBatches:
    """Deterministic batch order for in-memory data, sharded across processes.

    Epoch e uses the permutation seeded by (seed, e); it is cut to a whole number of
    global batches (world * batch_size) and process r takes column r of each. Step s of a
    run therefore always sees the same images, which makes resume exact and shards disjoint.
    """

    def __init__(self, num_samples: int, batch_size: int, seed: int, rank: int = 0, world: int = 1):
        self.num_samples, self.batch_size, self.seed = num_samples, batch_size, seed
        self.rank, self.world = rank, world
        self._cached_epoch, self._cached = -1, torch.empty(0)
        self.steps_per_epoch = num_samples // (batch_size * world)
        if self.steps_per_epoch == 0:
            raise ConfigError(
                f"train.batch_size {batch_size} x {world} processes exceeds the {num_samples} training images"
            )

    def epoch_positions(self, epoch: int) -> torch.Tensor:
        """(steps_per_epoch, batch_size) positions this process reads in ``epoch``."""
        gen = torch.Generator().manual_seed(self.seed * 1_000_003 + epoch)
        perm = torch.randperm(self.num_samples, generator=gen)
        used = perm[: self.steps_per_epoch * self.world * self.batch_size]
        return used.view(self.steps_per_epoch, self.world, self.batch_size)[:, self.rank]

    def positions(self, step: int) -> torch.Tensor:
        """(batch_size,) positions for global step ``step`` (0-based)."""
        epoch, within = divmod(step, self.steps_per_epoch)
        if self._cached_epoch != epoch:  # one permutation per epoch, not per step
            self._cached_epoch, self._cached = epoch, self.epoch_positions(epoch)
        return self._cached[within]
