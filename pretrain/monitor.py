"""Transfer monitor: kNN accuracy of the current encoder on the validation split.

Reconstruction loss can fall while the code gets no more useful; this is the number a
user watches during pretraining. The memory bank is a class-balanced labelled subset of
the training split; the queries are (a fixed subset of) the validation split.
"""

from __future__ import annotations

import torch

from pretrain.core.config import MonitorConfig
from pretrain.core.data import Splits
from pretrain.core.encoders import encode_images
from pretrain.core.samples import ImageSet, balanced_subset
from pretrain.core.search import knn_predict


class TransferMonitor:
    def __init__(self, splits: Splits, cfg: MonitorConfig, seed: int):
        self.cfg = cfg
        present = splits.train.y.unique()  # held-out classes have no training images
        per_class = min(cfg.labels_per_class, int(torch.bincount(splits.train.y)[present].min()))
        self.bank: ImageSet = splits.train.take(balanced_subset(splits.train.y, per_class, seed))
        self.queries: ImageSet = splits.val.subsample(cfg.val_images, seed)
        self.num_classes = splits.num_classes

    def __call__(self, encoder: torch.nn.Module, device: torch.device) -> float:
        """Validation kNN accuracy in [0, 1]."""
        bank = encode_images(encoder, self.bank.x, device=device)
        queries = encode_images(encoder, self.queries.x, device=device)
        k = min(self.cfg.k, len(bank))
        predictions = knn_predict(bank, self.bank.y, queries, k, self.cfg.temperature, self.num_classes)
        return (predictions == self.queries.y.cpu()).float().mean().item()


def build_monitor(splits: Splits, cfg: MonitorConfig, seed: int) -> TransferMonitor | None:
    """The validation kNN monitor, where it is on (monitor.every) and there are labels to score it with."""
    if not cfg.every:
        return None
    if not splits.labelled:
        print("note: the pretraining images are unlabelled; the kNN transfer monitor is off", flush=True)
        return None
    return TransferMonitor(splits, cfg, seed)
