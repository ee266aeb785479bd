"""Any IDX quadruple in ``data.root``: MNIST, KMNIST, EMNIST, Fashion-MNIST or your own.

The four files are found by name, ``[prefix]{train,t10k|test}-{images-idx3,labels-idx1}-ubyte[.gz]``
(LeCun et al. 1998 wrote the format; KMNIST and EMNIST kept it). A folder holding several
quadruples (EMNIST ships six) needs ``data.root=FOLDER/PREFIX`` to pick one, e.g.
``data.root=gzip/emnist-balanced``. EMNIST stores its images transposed; they are turned back.
"""

from __future__ import annotations

import re
from pathlib import Path

from pretrain.core.config import DataConfig
from pretrain.core.data import DataError, Dataset, register_dataset
from pretrain.core.datasets.download import dataset_root
from pretrain.core.datasets.fashion_mnist import idx_dataset

PATTERN = re.compile(r"^(?P<prefix>.*?)(?P<part>train|t10k|test)-(?P<kind>images-idx3|labels-idx1)-ubyte(\.gz)?$")


def quadruples(folder: Path, prefix: str | None = None) -> dict[str, dict[str, Path]]:
    """prefix -> {train_images, train_labels, test_images, test_labels} for every complete set in ``folder``."""
    found: dict[str, dict[str, Path]] = {}
    for path in sorted(folder.iterdir()) if folder.is_dir() else []:
        match = PATTERN.match(path.name)
        if match and (prefix is None or match["prefix"].rstrip("-_") == prefix):
            part = "train" if match["part"] == "train" else "test"
            key = f"{part}_{match['kind'].split('-')[0]}"
            found.setdefault(match["prefix"], {}).setdefault(key, path)
    return {p: files for p, files in found.items() if len(files) == 4}


def find_quadruple(root: Path) -> tuple[str, dict[str, Path]]:
    """The one IDX quadruple ``root`` names: a folder holding one set, or FOLDER/PREFIX."""
    sets = quadruples(root) if root.is_dir() else quadruples(root.parent, root.name)
    if not sets:
        raise DataError(
            f"no IDX quadruple (train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte, "
            f"t10k-labels-idx1-ubyte, each optionally .gz and prefixed) in {root}"
        )
    if len(sets) > 1:
        names = ", ".join(f"{root / p.rstrip('-_')}" for p in sets)
        raise DataError(f"{root} holds {len(sets)} IDX sets; set data.root to one of: {names}")
    return next(iter(sets.items()))


@register_dataset("mnist_idx")
def mnist_idx(cfg: DataConfig) -> Dataset:
    """(N, 1, 28, 28) uint8 train and test images from the IDX files in ``data.root``."""
    root = dataset_root(cfg, "mnist_idx", "the IDX files")
    root = root / "MNIST" / "raw" if cfg.download else root  # where torchvision puts them
    prefix, files = find_quadruple(root)
    dataset = idx_dataset(files)
    if prefix.startswith("emnist"):
        for part in (dataset.train, dataset.test):
            part.x = part.x.transpose(-1, -2).contiguous()
    return dataset
