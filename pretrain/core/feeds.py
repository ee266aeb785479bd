"""Where pretraining reads its batches from: the same batches in every mode.

    device  the whole training array on the device (GPU memory, or RAM on a CPU)
    host    in RAM (pinned on a GPU machine); the next batch is gathered and copied while
            the current one trains
    memmap  read from the cache file through a memory map, the next batch read ahead
    stream  files decoded on the fly by DataLoader worker processes (data.cache=false)

Every mode serves step s the rows ``ShardedBatches.positions(s)``, so the choice changes
speed, never the run: resume stays exact and shards stay disjoint in all of them.
"""

from __future__ import annotations

import os
import queue
import threading
from collections.abc import Iterator

import torch
from torch.utils.data import DataLoader

from pretrain.core.arrays import FileImages, in_memory, is_tensor_array, nbytes
from pretrain.core.batches import ShardedBatches

Batch = tuple[torch.Tensor, torch.Tensor]  # positions (B,) on the device, uint8 images (B, C, H, W) on the device


def available_ram() -> int:
    """Bytes of RAM the OS could give this process now (MemAvailable), or 0 if unknown."""
    try:
        with open("/proc/meminfo") as f:
            fields = dict(line.split(":", 1) for line in f)
        return int(fields["MemAvailable"].split()[0]) * 1024
    except (OSError, KeyError, ValueError):
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_AVPHYS_PAGES") if hasattr(os, "sysconf") else 0


def choose_storage(images, setting: str, device_budget_gb: float) -> str:
    """auto: device if the array fits data.device_memory_gb, else host if every process on
    this machine can hold a copy in half the free RAM, else memmap; files without a cache
    always stream."""
    if isinstance(images, FileImages) and setting in ("auto", "memmap"):
        return "stream"
    if setting != "auto":
        return setting
    size = nbytes(images)
    if size <= device_budget_gb * 1e9:
        return "device"
    local_processes = int(os.environ.get("LOCAL_WORLD_SIZE", "1"))  # set by torchrun / accelerate launch
    return "host" if size * local_processes <= available_ram() // 2 else "memmap"


def prefetched(items: Iterator, device: torch.device, depth: int = 2) -> Iterator:
    """``items`` produced by a background thread ``depth`` ahead of the consumer (the next
    batch is read while the current one trains). Errors surface in the consumer."""
    slots: queue.Queue = queue.Queue(depth)
    done, stop = object(), threading.Event()

    def put(item) -> bool:
        """Hand ``item`` over unless the consumer has stopped (then never block on a full queue)."""
        while not stop.is_set():
            try:
                slots.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce():
        if device.type == "cuda":  # a new thread starts on GPU 0; pinning must use this process's GPU
            torch.cuda.set_device(device)
        try:
            for item in items:
                if not put(item):
                    return
        except BaseException as err:  # noqa: BLE001  (handed to the consumer)
            put(err)
            return
        put(done)

    thread = threading.Thread(target=produce, daemon=True)
    thread.start()
    try:
        while (item := slots.get()) is not done:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()


class Feed:
    """Batches of an image array for steps start..end-1 of a ShardedBatches order."""

    def __init__(self, images, storage: str, device: torch.device, workers: int = 2):
        self.storage, self.device, self.workers = storage, torch.device(device), workers
        if storage == "device":  # on a CPU the device is RAM: a copy there, not a memory map
            keep = is_tensor_array(images) and self.device.type != "cpu"
            images = (images if keep else in_memory(images)).to(self.device)
        elif storage == "host":
            images = in_memory(images)
            images = images.pin_memory() if self.device.type == "cuda" else images
        self.images = images

    def batches(self, order: ShardedBatches, start: int, end: int) -> Iterator[Batch]:
        if self.storage == "device":
            for step in range(start, end):
                positions = order.positions(step).to(self.device)
                yield positions, self.images[positions]
            return
        host = self.streamed(order, start, end) if self.storage == "stream" else self.gathered(order, start, end)
        for positions, images in prefetched(host, self.device):
            yield positions.to(self.device), images.to(self.device, non_blocking=True)

    def gathered(self, order: ShardedBatches, start: int, end: int) -> Iterator[Batch]:
        """Host batches read in ascending position order (sequential reads from a memory map)."""
        pin = self.device.type == "cuda"
        for step in range(start, end):
            positions = order.positions(step)
            ascending, where = positions.sort()
            rows = torch.empty((len(positions), *self.images.shape[1:]), dtype=torch.uint8, pin_memory=pin)
            rows[where] = self.images[ascending]
            yield positions, rows

    def streamed(self, order: ShardedBatches, start: int, end: int) -> Iterator[Batch]:
        loader = DataLoader(
            RowDataset(self.images),
            batch_sampler=StepBatches(order, start, end),
            num_workers=self.workers,
            pin_memory=self.device.type == "cuda",
            persistent_workers=False,
        )
        for step, rows in zip(range(start, end), loader, strict=True):
            yield order.positions(step), rows


class StepBatches:
    """The positions of steps start..end-1, one list per step, made as the loader asks (a
    long run's whole order is never held as Python lists)."""

    def __init__(self, order: ShardedBatches, start: int, end: int):
        self.order, self.start, self.end = order, start, end

    def __len__(self) -> int:
        return self.end - self.start

    def __iter__(self) -> Iterator[list[int]]:
        return (self.order.positions(step).tolist() for step in range(self.start, self.end))


class RowDataset(torch.utils.data.Dataset):
    """Rows (C, H, W) of an image array for a DataLoader (each worker decodes its own files)."""

    def __init__(self, images):
        self.images = images

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, position: int) -> torch.Tensor:
        if isinstance(self.images, FileImages):
            return self.images.row(position)
        return self.images[torch.tensor([position])][0]
