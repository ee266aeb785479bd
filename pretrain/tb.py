"""TensorBoard logging for the main process (a no-op object on the others)."""

from __future__ import annotations

from pathlib import Path

import torch
from torchvision.utils import make_grid


class RunLogger:
    def __init__(self, log_dir: Path, enabled: bool, purge_step: int | None = None):
        self.writer = None
        self.latest: dict[str, float] = {}  # the last value of each scalar (the benchmarks read images/s here)
        if enabled:
            from torch.utils.tensorboard import SummaryWriter

            self.writer = SummaryWriter(str(log_dir), purge_step=purge_step)

    def scalars(self, values: dict[str, float], step: int) -> None:
        self.latest.update(values)
        if self.writer:
            for key, value in values.items():
                self.writer.add_scalar(key, value, step)

    def reconstructions(self, pair: tuple[torch.Tensor, torch.Tensor] | None, step: int, n: int = 16) -> None:
        """Top row inputs, bottom row outputs, ``n`` of each, as one image grid."""
        if self.writer and pair is not None:
            inputs, outputs = (t[:n].detach().float().cpu().clamp(0, 1) for t in pair)
            grid = make_grid(torch.cat([inputs, outputs]), nrow=len(inputs), pad_value=1.0)
            self.writer.add_image("pretrain/input_vs_output", grid, step)

    def text(self, tag: str, text: str) -> None:
        if self.writer:
            self.writer.add_text(tag, text)

    def close(self) -> None:
        if self.writer:
            self.writer.close()
