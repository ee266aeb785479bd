"""Loss bookkeeping on the device: no host sync until a log step asks for numbers."""

from __future__ import annotations

import time

import torch


class NonFiniteLossError(RuntimeError):
    """Raised when the loss became NaN or inf; the last good checkpoint is kept."""


class LossMeter:
    def __init__(self):
        self.sums: dict[str, torch.Tensor] = {}
        self.count = 0
        self.nonfinite: torch.Tensor | None = None
        self.images = 0
        self.started = time.perf_counter()
        self.paused = 0.0  # seconds spent in monitor/checkpoint, left out of images/s

    def add(self, loss: torch.Tensor, logs: dict[str, torch.Tensor], batch_images: int) -> None:
        bad = ~torch.isfinite(loss.detach())
        self.nonfinite = bad if self.nonfinite is None else self.nonfinite | bad
        for key, value in {"loss": loss.detach().float(), **logs}.items():
            self.sums[key] = self.sums.get(key, 0.0) + value
        self.count += 1
        self.images += batch_images

    def any_nonfinite(self, accelerator) -> bool:
        """True if any process saw a non-finite loss since the last reset (a collective call)."""
        flag = torch.zeros((), device=accelerator.device) if self.nonfinite is None else self.nonfinite.float()
        return bool(accelerator.reduce(flag.reshape(1), "sum").item() > 0)

    def flush(self, accelerator) -> dict[str, float]:
        """Means since the last flush across processes, plus images/s (all processes)."""
        keys = sorted(self.sums)
        stacked = torch.stack([torch.as_tensor(self.sums[k], device=accelerator.device) for k in keys]) / self.count
        means = accelerator.reduce(stacked, "mean").tolist()
        seconds = max(1e-9, time.perf_counter() - self.started - self.paused)
        out = dict(zip(keys, means))
        out["images_per_s"] = self.images * accelerator.num_processes / seconds
        self.__init__()
        return out
