"""Decode image files once, in parallel, into raw uint8 array files in a cache folder.

A cache entry is a folder named by a hash of what it was made from (the file list with
sizes and modification times, the decode settings, the split settings), so a changed file
makes a new entry and an unchanged folder is read back in seconds. It is written under a
temporary name and renamed when complete: a crash leaves no half-written entry behind.

    entry/meta.json          splits: rows, image shape, classes; bad-file count; settings
    entry/<split>.u8         uint8 (N, C, S, S), C-order, read back with a memory map
    entry/<split>.labels.npy int64 (N,) labels (-1 for unlabelled images)
    entry/bad_files.txt      every skipped file with the reason
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from pretrain.core.arrays import open_memmap
from pretrain.core.decode import BadImage, DecodeSettings, decode_image
from pretrain.core.locations import data_dir

FORMAT_VERSION = 1
CHUNK_FILES = 64  # files per task sent to a decode process
REPO_CACHE = data_dir() / "cache"


class BadFileError(ValueError):
    """data.on_bad_file=error and a file could not be decoded."""


@dataclass
class SplitFiles:
    """The files of one split, in order, with their labels (-1: unlabelled)."""

    paths: list[Path]
    labels: list[int]


@dataclass
class CachedSplit:
    images: object  # uint8 (N, C, S, S) tensor over the cache file
    labels: np.ndarray  # (N,) int64


def cache_root(setting: str) -> Path:
    return Path(setting) if setting else REPO_CACHE


def file_fingerprint(paths: list[Path]) -> str:
    """Hash of every path with its size and modification time (nanoseconds)."""
    h = hashlib.sha256()
    for path in paths:
        st = path.stat()
        h.update(os.fsencode(path) + f"\0{st.st_size}\0{st.st_mtime_ns}\n".encode())  # any file name
    return h.hexdigest()


def entry_key(label: str, splits: dict[str, SplitFiles], settings: DecodeSettings, extra: str) -> str:
    h = hashlib.sha256(f"v{FORMAT_VERSION}|{settings.key()}|{extra}".encode())
    for name, files in splits.items():
        h.update(f"{name}:{file_fingerprint(files.paths)}:{files.labels}".encode())
    return f"{label}-{h.hexdigest()[:16]}"


def _decode_chunk(paths: list[Path], settings: DecodeSettings) -> list[np.ndarray | str]:
    """Each file's (C, S, S) array, or the reason it is unreadable."""
    out: list[np.ndarray | str] = []
    for path in paths:
        try:
            out.append(decode_image(path, settings))
        except BadImage as err:
            out.append(str(err))
    return out


def decoded_chunks(paths: list[Path], settings: DecodeSettings, workers: int):
    """Yield the decoded chunks in file order, from ``workers`` processes (in-process for small lists)."""
    chunks = [paths[i : i + CHUNK_FILES] for i in range(0, len(paths), CHUNK_FILES)]
    if workers <= 1 or len(chunks) <= 2:
        yield from (_decode_chunk(chunk, settings) for chunk in chunks)
        return
    pool = ProcessPoolExecutor(max_workers=workers)
    try:
        yield from pool.map(_decode_chunk, chunks, [settings] * len(chunks))
    finally:  # stopped early (a bad file with on_bad_file=error, Ctrl-C): drop the queued chunks
        pool.shutdown(wait=True, cancel_futures=True)


def decode_split(
    name: str, files: SplitFiles, settings: DecodeSettings, image_shape, folder: Path, workers: int, strict: bool
) -> tuple[int, list[tuple[str, str]]]:
    """Decode one split into folder/<name>.u8 (+ labels). -> (rows written, bad files)."""
    rows = folder / f"{name}.u8"
    array = np.memmap(rows, dtype=np.uint8, mode="w+", shape=(max(1, len(files.paths)), *image_shape))
    kept, bad, position = [], [], 0
    bar = tqdm(total=len(files.paths), unit="img", desc=f"decoding {name}", smoothing=0.1)
    for chunk in decoded_chunks(files.paths, settings, workers):
        for pixels in chunk:
            path = files.paths[position]
            if isinstance(pixels, str) or pixels.shape != tuple(image_shape):
                reason = pixels if isinstance(pixels, str) else f"decoded to {pixels.shape}, not {tuple(image_shape)}"
                if strict:
                    raise BadFileError(f"{path}: {reason} (data.on_bad_file=error)")
                bad.append((str(path), reason))
            else:
                array[len(kept)] = pixels
                kept.append(position)
            position += 1
        bar.update(len(chunk))
    bar.close()
    array.flush()
    del array
    os.truncate(rows, len(kept) * int(np.prod(image_shape)))  # rows are contiguous: drop the unused tail
    np.save(folder / f"{name}.labels.npy", np.asarray(files.labels, dtype=np.int64)[kept])
    return len(kept), bad


def build_entry(
    entry: Path, splits: dict[str, SplitFiles], settings: DecodeSettings, image_shape, workers: int, strict: bool
) -> None:
    """Decode every split into a temporary folder, then rename it to ``entry``."""
    with written_entry(entry) as tmp:
        meta, bad = {"settings": settings.key(), "image_shape": list(image_shape), "splits": {}}, []
        for name, files in splits.items():
            rows, split_bad = decode_split(name, files, settings, image_shape, tmp, workers, strict)
            meta["splits"][name] = rows
            bad += split_bad
        meta["bad_files"] = len(bad)
        (tmp / "bad_files.txt").write_text("".join(f"{path}\t{reason}\n" for path, reason in bad))
        (tmp / "meta.json").write_text(json.dumps(meta, indent=1))


@contextmanager
def written_entry(entry: Path):
    """A fresh temporary folder beside ``entry``, renamed to it when the block completes and
    removed if it does not: no reader ever sees a half-written entry."""
    tmp = entry.with_name(f".{entry.name}.{os.getpid()}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        yield tmp
        publish(tmp, entry)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def publish(tmp: Path, entry: Path) -> None:
    """Rename a finished temporary folder to ``entry``. Another process (a node sharing the
    cache) may have finished the same entry first: its copy is identical, so keep that one."""
    try:
        os.replace(tmp, entry)
    except OSError:  # the name is taken: a complete entry (keep it), or a broken one (replace it)
        if (entry / "meta.json").is_file():
            return
        shutil.rmtree(entry, ignore_errors=True)
        os.replace(tmp, entry)


def read_entry(entry: Path) -> tuple[dict[str, CachedSplit], list[tuple[str, str]]]:
    """The cached splits of a complete entry, and its bad files as (path, reason)."""
    meta = json.loads((entry / "meta.json").read_text())
    shape = tuple(meta["image_shape"])
    bad_lines = (entry / "bad_files.txt").read_text().splitlines()
    bad = [tuple(line.split("\t", 1)) for line in bad_lines if line]
    out = {}
    for name, rows in meta["splits"].items():
        labels = np.load(entry / f"{name}.labels.npy")
        images = open_memmap(entry / f"{name}.u8", (rows, *shape)) if rows else None
        out[name] = CachedSplit(images, labels)
    return out, bad


def cached_array(entry: Path, n: int, shape: tuple[int, ...], read_rows, chunk: int = 2048) -> object:
    """A uint8 (n, *shape) tensor over entry/images.u8, written once from ``read_rows(start,
    stop) -> uint8 tensor (stop - start, *shape)`` (for arrays too large to convert in memory)."""
    if not (entry / "meta.json").is_file():
        with written_entry(entry) as tmp:
            array = np.memmap(tmp / "images.u8", dtype=np.uint8, mode="w+", shape=(n, *shape))
            for start in tqdm(range(0, n, chunk), unit="chunk", desc=f"converting into {entry.name}"):
                array[start : start + chunk] = read_rows(start, min(n, start + chunk)).numpy()
            array.flush()
            del array
            (tmp / "meta.json").write_text(json.dumps({"rows": n, "image_shape": list(shape)}))
    return open_memmap(entry / "images.u8", (n, *shape))
