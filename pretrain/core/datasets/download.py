"""Fetching a standard dataset's original files, only when asked (``data.download=true``).

torchvision's dataset classes do the download and the checksum; the readers here then
parse the files it leaves, exactly as they parse files put there by hand.
"""

from __future__ import annotations

from pathlib import Path

from pretrain.core.data import DataError

# name -> the torchvision dataset class that fetches it, and the keyword arguments of each split
FETCHERS = {
    "mnist_idx": ("MNIST", [{"train": True}, {"train": False}]),
    "fashion_mnist": ("FashionMNIST", [{"train": True}, {"train": False}]),
    "cifar10": ("CIFAR10", [{}]),
    "cifar100": ("CIFAR100", [{}]),
    "stl10": ("STL10", [{"split": "train+unlabeled"}]),
    "svhn": ("SVHN", [{"split": "train"}, {"split": "test"}]),
}


def download(name: str, root: str) -> None:
    """Download dataset ``name`` into ``root`` (skipped by torchvision when already there)."""
    if not root:
        raise DataError("data.download=true needs data.root, the folder to download into")
    # here, not at the top: every dataset module imports this one, and torchvision's import
    # (about 1.5 s, through torch._dynamo) is only needed to fetch
    from torchvision import datasets

    Path(root).mkdir(parents=True, exist_ok=True)
    print(f"data.download=true: fetching {name} into {root} (torchvision) ...", flush=True)
    class_name, splits = FETCHERS[name]
    try:
        for split in splits:
            getattr(datasets, class_name)(root, download=True, **split)
    except (OSError, RuntimeError) as err:  # no network, a bad checksum
        raise DataError(f"downloading {name} into {root} failed: {err}") from None


def dataset_root(cfg, name: str, holds: str) -> Path:
    """``data.root`` of a standard dataset read from local files (downloaded there first with
    ``data.download=true``); ``holds`` says what the folder must contain, for the error."""
    if not cfg.root:
        raise DataError(f"data.name={name} needs data.root, the folder holding {holds}")
    root = Path(cfg.root).expanduser()
    if cfg.download:
        download(name, str(root))
    return root
