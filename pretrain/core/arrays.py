"""Image arrays that need not sit in memory, and the operations every array supports.

An image array is anything with ``len``, ``shape`` (N, C, H, W) and ``array[positions]``
returning uint8 rows as a tensor: an ordinary tensor, a tensor over a memory-mapped cache
file (``open_memmap``), images decoded from their files on demand (``FileImages``), or
several arrays end to end (``ConcatImages``). Everything that reads images goes through
``array[...]``, so the same code serves data in memory and data that is not.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

ROWS_PER_CHUNK = 2048  # images per chunk in chunked conversions
CHUNK_BYTES = 16 * 2**20  # pixels per chunk in statistics passes (memory stays small at any image size)
STATS_SAMPLE_ABOVE = 100_000  # larger training sets: statistics from this many evenly spaced images
DECODE_THREADS = 8  # PIL releases the GIL while decoding: threads read many files at once


def open_memmap(path: Path, shape: tuple[int, ...]) -> torch.Tensor:
    """A uint8 tensor over a raw array file, read lazily by the OS. Copy-on-write mode keeps
    the file unchanged and the tensor writable (torch refuses read-only numpy buffers)."""
    return torch.from_numpy(np.memmap(path, dtype=np.uint8, mode="c", shape=shape))


def as_index(positions) -> torch.Tensor:
    return torch.as_tensor(positions, dtype=torch.int64).reshape(-1)


class FileImages:
    """Images decoded from their files when read: ``decode(path) -> (C, H, W) uint8 array``.
    Used when data.cache=false; reading rows decodes them (DataLoader workers do it in parallel)."""

    def __init__(self, paths: Sequence[Path], decode: Callable[[Path], np.ndarray], image_shape: tuple[int, int, int]):
        self.paths, self.decode = list(paths), decode
        self.shape = (len(self.paths), *image_shape)

    def __len__(self) -> int:
        return len(self.paths)

    def row(self, position: int) -> torch.Tensor:
        """One image (C, H, W)."""
        return torch.from_numpy(np.ascontiguousarray(self.decode(self.paths[position])))

    def subset(self, positions) -> FileImages:
        """The files at ``positions``, still undecoded."""
        return FileImages([self.paths[int(p)] for p in as_index(positions)], self.decode, self.shape[1:])

    def __getitem__(self, positions) -> torch.Tensor:
        """Rows (K, C, H, W) decoded by a few threads."""
        if isinstance(positions, slice):
            positions = range(*positions.indices(len(self)))
        positions = [int(p) for p in as_index(positions)]
        if len(positions) < 16:
            rows = [self.row(p) for p in positions]
        else:
            with ThreadPoolExecutor(DECODE_THREADS) as pool:
                rows = list(pool.map(self.row, positions))
        return torch.stack(rows) if rows else torch.empty((0, *self.shape[1:]), dtype=torch.uint8)


class ConcatImages:
    """Arrays of the same image shape end to end (e.g. a labelled split and an unlabelled set).
    ``array[positions]`` -> (K, C, H, W), an int position too."""

    def __init__(self, parts: Sequence):
        self.parts = list(parts)
        sizes = torch.tensor([len(p) for p in self.parts])
        self.starts = torch.cumsum(sizes, 0) - sizes
        self.shape = (int(sizes.sum()), *tuple(self.parts[0].shape[1:]))

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, positions) -> torch.Tensor:
        if isinstance(positions, slice):
            positions = torch.arange(*positions.indices(len(self)))
        positions = as_index(positions)
        part = torch.searchsorted(self.starts, positions, right=True) - 1
        out = torch.empty((len(positions), *self.shape[1:]), dtype=torch.uint8)
        for i, array in enumerate(self.parts):
            chosen = (part == i).nonzero().flatten()
            if len(chosen):
                out[chosen] = array[positions[chosen] - self.starts[i]]
        return out


def is_tensor_array(images) -> bool:
    return isinstance(images, torch.Tensor)


def in_memory(images) -> torch.Tensor:
    """The whole array as an ordinary tensor in RAM (a memory map is read once, in chunks)."""
    out = torch.empty(tuple(images.shape), dtype=torch.uint8)
    for start in range(0, len(images), ROWS_PER_CHUNK):
        out[start : start + ROWS_PER_CHUNK] = images[start : start + ROWS_PER_CHUNK]
    return out


def nbytes(images) -> int:
    return int(np.prod(tuple(images.shape)))


def channel_stats(images) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Per-channel mean and std of uint8 images (N, C, H, W) in [0, 1] units, from exact
    integer sums over small chunks (no copy of the array). Above STATS_SAMPLE_ABOVE images,
    from that many evenly spaced ones. The rule depends on N only, so every storage mode of
    the same data gets the same statistics."""
    n, c = len(images), images.shape[1]
    rows = torch.linspace(0, n - 1, STATS_SAMPLE_ABOVE).long() if n > STATS_SAMPLE_ABOVE else torch.arange(n)
    step = max(1, CHUNK_BYTES // max(1, nbytes(images) // max(1, n)))
    total, squares, count = torch.zeros(c, dtype=torch.int64), torch.zeros(c, dtype=torch.int64), 0
    for start in range(0, len(rows), step):
        chunk = rows[start : start + step]
        block = images[chunk[0] : chunk[-1] + 1] if n <= STATS_SAMPLE_ABOVE else images[chunk]
        pixels = block.to(torch.int64).transpose(0, 1).reshape(c, -1)
        total += pixels.sum(1)
        squares += pixels.square().sum(1)
        count += pixels.shape[1]
    mean = total.double() / count
    std = (squares.double() / count - mean.square()).clamp_min(0).sqrt()
    return tuple((mean / 255).tolist()), tuple((std / 255).tolist())


def convert_channels(images: torch.Tensor, channels: int) -> torch.Tensor:
    """uint8 (N, C, H, W) -> (N, channels, H, W): grey is repeated; colour becomes ITU-R 601
    luma, the weights PIL's convert("L") uses, so files and arrays give the same grey."""
    c = images.shape[1]
    if channels in (0, c):
        return images
    if channels == 3 and c == 1:
        return images.expand(-1, 3, -1, -1).contiguous()
    if channels == 1 and c == 3:
        weights = torch.tensor([0.299, 0.587, 0.114], dtype=torch.float32).view(1, 3, 1, 1)
        return (images.float() * weights).sum(1, keepdim=True).round().clamp(0, 255).to(torch.uint8)
    raise ValueError(f"cannot convert {c}-channel images to {channels} channels")


def resize_images(images: torch.Tensor, size: int, mode: str) -> torch.Tensor:
    """uint8 (N, C, H, W) -> (N, C, size, size). crop: shorter side to ``size`` then the centre
    square; squash: straight to size x size. Antialiased bilinear, as PIL's resize is."""
    h, w = images.shape[-2:]
    if mode == "squash":
        target = (size, size)
    else:
        scale = size / min(h, w)
        target = (max(size, round(h * scale)), max(size, round(w * scale)))
    out = F.interpolate(images.float(), size=target, mode="bilinear", antialias=True, align_corners=False)
    top, left = (target[0] - size) // 2, (target[1] - size) // 2
    return out[..., top : top + size, left : left + size].round().clamp(0, 255).to(torch.uint8)


def conform(images: torch.Tensor, channels: int, size: int, mode: str) -> torch.Tensor:
    """In-memory uint8 images brought to ``channels`` (0 keeps them) and ``size`` (0 keeps it), in chunks."""
    same_channels = channels in (0, images.shape[1])
    same_size = size == 0 or tuple(images.shape[-2:]) == (size, size)
    if same_channels and same_size:
        return images
    parts = []
    for start in range(0, len(images), ROWS_PER_CHUNK):
        chunk = convert_channels(images[start : start + ROWS_PER_CHUNK], channels)
        parts.append(chunk if same_size else resize_images(chunk, size, mode))
    return torch.cat(parts)
