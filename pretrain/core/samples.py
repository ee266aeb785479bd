"""Labelled rows and the subsets drawn from them.

One container serves images and features alike: ``x`` holds uint8 images (N, C, H, W)
in an ``ImageSet`` and float32 features (N, d) in ``Features`` (the two names are the same
class, named for what its rows hold); ``y`` the labels and ``index`` each row's position in
the dataset split it came from, which features inherit from the images they encode.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass
class Samples:
    """x: (N, ...) rows. y: (N,) int64 labels. index: (N,) int64 positions in the source split."""

    x: torch.Tensor
    y: torch.Tensor
    index: torch.Tensor

    def __len__(self) -> int:
        return len(self.y)

    def take(self, positions: torch.Tensor) -> Samples:
        """The rows at ``positions`` (rows of this set, not original indices). Images read
        from files on demand stay unread (their ``subset``); everything else is indexed."""
        x = self.x.subset(positions) if hasattr(self.x, "subset") else self.x[positions]
        return Samples(x, self.y[positions], self.index[positions])

    def with_rows(self, x: torch.Tensor) -> Samples:
        """New rows (e.g. the features of these images) with these labels and positions."""
        return Samples(x, self.y.clone(), self.index.clone())

    def subsample(self, size: int, seed: int) -> Samples:
        """``size`` rows drawn at random (seeded); all rows, as they are, if size is 0 or too large."""
        if not size or size >= len(self):
            return self
        return self.take(torch.randperm(len(self), generator=torch.Generator().manual_seed(seed))[:size])

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return tuple(self.x.shape[1:])


ImageSet = Samples  # x: (N, C, H, W) uint8 images
Features = Samples  # x: (N, d) float32 features


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


def only_classes(samples: Samples, classes: list[int]) -> Samples:
    return samples.take(torch.isin(samples.y, torch.tensor(classes)).nonzero().flatten())


def without_classes(samples: Samples, classes: list[int]) -> Samples:
    return samples.take((~torch.isin(samples.y, torch.tensor(classes))).nonzero().flatten())
