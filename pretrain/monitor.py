"""Transfer monitor: kNN accuracy of the current encoder on the validation split.

Reconstruction loss can fall while the code gets no more useful; this is the number a
user watches during pretraining. The memory bank is a class-balanced labelled subset of
the training split; the queries are (a fixed subset of) the validation split.
"""

from __future__ import annotations

import torch

from evaluate.knn import knn_classifier
from pretrain.config import MonitorConfig
from pretrain.data import ImageSet, Splits, balanced_subset
from pretrain.encoders import encode_images


class TransferMonitor:
    def __init__(self, splits: Splits, cfg: MonitorConfig, seed: int):
        self.cfg = cfg
        per_class = min(cfg.labels_per_class, int(torch.bincount(splits.train.labels).min()))
        self.bank: ImageSet = splits.train.take(balanced_subset(splits.train.labels, per_class, seed))
        val = splits.val
        if cfg.val_images and cfg.val_images < len(val):
            val = val.take(torch.randperm(len(val), generator=torch.Generator().manual_seed(seed))[: cfg.val_images])
        self.queries: ImageSet = val
        self.num_classes = splits.num_classes

    def __call__(self, encoder: torch.nn.Module, device: torch.device) -> float:
        """Validation kNN accuracy in [0, 1]."""
        bank = encode_images(encoder, self.bank.images, device=device)
        queries = encode_images(encoder, self.queries.images, device=device)
        k = min(self.cfg.k, len(bank))
        result = knn_classifier(
            bank, self.bank.labels, queries, self.queries.labels, k, self.cfg.temperature, self.num_classes
        )
        return result["accuracy"]
