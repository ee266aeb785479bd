"""``prototype``: nearest class mean on L2-normalised frozen features.

Each class is the mean of its labelled images' normalised features; a test image takes the
class whose mean is most cosine-similar (the prototype classifier of Snell et al. 2017,
"Prototypical networks for few-shot learning", without the metric learning). Nothing is
chosen, so validation is not read.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from evaluate.contract import FrozenProtocol
from evaluate.protocol_registry import register_protocol
from evaluate.results import ProtocolResult, prediction_scores


@dataclass(kw_only=True)
class PrototypeResult(ProtocolResult):
    prototypes: int  # class means the test images were matched against


def class_means(x: torch.Tensor, y: torch.Tensor, num_classes: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(means (C, d) of the normalised rows of each class, present (C,) bool): classes
    without a labelled row have no mean and can never be predicted."""
    z = F.normalize(x.double(), dim=1)
    sums = torch.zeros(num_classes, z.shape[1], dtype=z.dtype).index_add_(0, y, z)
    counts = torch.bincount(y, minlength=num_classes)
    return sums / counts.clamp_min(1).unsqueeze(1), counts > 0


@register_protocol("prototype")
class Prototype(FrozenProtocol):
    rank = 3

    result_type = PrototypeResult

    def fit(self, train, val, test, cfg, num_classes: int, seed: int) -> PrototypeResult:
        means, present = class_means(train.x, train.y, num_classes)
        similarity = F.normalize(test.x.double(), dim=1) @ F.normalize(means, dim=1).T  # (Q, C)
        predictions = similarity.masked_fill(~present, -torch.inf).argmax(1)
        return PrototypeResult(
            **prediction_scores(predictions, test.y, num_classes),
            train_size=len(train),
            val_size=0,
            selected_on="nothing (no setting)",
            prototypes=int(present.sum()),
        )

    def note(self, cfg) -> str:
        return "- prototype: nearest class mean, cosine on L2-normalised features; nothing selected."
