"""SVHN, cropped digits (Netzer et al. 2011), from ``train_32x32.mat`` and ``test_32x32.mat``.

Each .mat (MATLAB v5) holds ``X``, uint8 (32, 32, 3, N), and ``y``, (N, 1) with 10 for
the digit 0; labels here are the digits themselves.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from pretrain.core.config import DataConfig
from pretrain.core.data import DataError, Dataset, register_dataset
from pretrain.core.datasets.download import dataset_root
from pretrain.core.samples import ImageSet


def read_mat(path: Path) -> ImageSet:
    if not path.is_file():
        raise DataError(f"{path} is missing; set data.root to the folder holding train_32x32.mat and test_32x32.mat")
    from scipy.io import loadmat  # here, not at the top: every config load imports this module, only SVHN needs scipy

    try:
        mat = loadmat(path)
    except (OSError, ValueError, NotImplementedError) as err:
        raise DataError(f"{path} is not a readable MATLAB v5 file ({err})") from None
    if "X" not in mat or "y" not in mat or mat["X"].ndim != 4:
        raise DataError(f"{path} lacks the X (32, 32, 3, N) and y (N, 1) arrays of SVHN")
    images = np.ascontiguousarray(mat["X"].astype(np.uint8).transpose(3, 2, 0, 1))
    labels = mat["y"].astype(np.int64).reshape(-1) % 10
    if len(labels) != len(images):
        raise DataError(f"{path}: {len(images)} images but {len(labels)} labels")
    return ImageSet(torch.from_numpy(images), torch.from_numpy(labels), torch.arange(len(labels)))


@register_dataset("svhn")
def svhn(cfg: DataConfig) -> Dataset:
    """Train 73,257, test 26,032: (N, 3, 32, 32) uint8, digits 0-9."""
    root = dataset_root(cfg, "svhn", "train_32x32.mat and test_32x32.mat")
    train, test = read_mat(root / "train_32x32.mat"), read_mat(root / "test_32x32.mat")
    return Dataset(train, test, tuple(str(d) for d in range(10)), source=str(root))
