"""Deterministic batch order for in-memory data, sharded across processes."""

from __future__ import annotations

import torch

from pretrain.core.typed_yaml import ConfigError


class ShardedBatches:
    """Epoch e uses the permutation seeded by (seed, e); it is cut to a whole number of
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
