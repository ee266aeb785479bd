"""Fetching a standard dataset's original files, only when asked (``data.download=true``).

torchvision's dataset classes do the download and the checksum; the readers here then
parse the files it leaves, exactly as they parse files put there by hand.
"""

from __future__ import annotations

from pathlib import Path

from torchvision import datasets as tv

from pretrain.core.data import DataError

# name -> (callables that fetch every split into a root folder)
FETCHERS = {
    "mnist_idx": lambda root: [tv.MNIST(root, train=t, download=True) for t in (True, False)],
    "fashion_mnist": lambda root: [tv.FashionMNIST(root, train=t, download=True) for t in (True, False)],
    "cifar10": lambda root: tv.CIFAR10(root, download=True),
    "cifar100": lambda root: tv.CIFAR100(root, download=True),
    "stl10": lambda root: tv.STL10(root, split="train+unlabeled", download=True),
    "svhn": lambda root: [tv.SVHN(root, split=s, download=True) for s in ("train", "test")],
}


def download(name: str, root: str) -> None:
    """Download dataset ``name`` into ``root`` (skipped by torchvision when already there)."""
    if not root:
        raise DataError("data.download=true needs data.root, the folder to download into")
    Path(root).mkdir(parents=True, exist_ok=True)
    print(f"data.download=true: fetching {name} into {root} (torchvision) ...", flush=True)
    try:
        FETCHERS[name](root)
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
