"""A folder of image files: ``data.name=image_folder data.root=DIR``.

    DIR/<class>/**/*.png|jpg|...     labelled: one class per subfolder, files at any depth below it
    DIR/*.png|jpg|...                unlabelled (pretraining only): no class subfolders
    DIR/train/ DIR/val/ DIR/test/    optional: splits used as given, each laid out as above

Without split folders a seeded, class-balanced split is carved (data.val_size,
data.test_size). Hidden files and folders and non-image extensions are ignored. Files are
decoded once into data.cache_dir (pretrain.core.image_cache) or, with data.cache=false,
on the fly by DataLoader workers.
"""

from __future__ import annotations

import os
import random
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import torch

from pretrain.core.arrays import FileImages
from pretrain.core.config import ConfigError, DataConfig
from pretrain.core.data import DataError, Dataset, register_dataset
from pretrain.core.decode import (
    GREY_MODES,
    IMAGE_EXTENSIONS,
    DecodeSettings,
    FileDecoder,
    file_mode,
    is_image_file,
)
from pretrain.core.image_cache import (
    BadFileError,
    SplitFiles,
    build_entry,
    cache_root,
    entry_key,
    read_entry,
)
from pretrain.core.image_sizes import evenly_spaced, sampled_side
from pretrain.core.samples import ImageSet

SPLIT_FOLDERS = ("train", "val", "test")
HEADER_SAMPLE = 256  # files whose header decides the default channels and size


def visible(entries) -> list[os.DirEntry]:
    return sorted((e for e in entries if not e.name.startswith(".")), key=lambda e: e.name)


def images_below(folder: Path) -> list[Path]:
    """Image files at any depth below ``folder``, hidden files and folders skipped, sorted."""
    found = []
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        found += [Path(dirpath) / f for f in sorted(filenames) if is_image_file(Path(f))]
    return found


def scan_split(folder: Path) -> tuple[SplitFiles, tuple[str, ...]]:
    """One split folder: class subfolders give labels; none makes it unlabelled (labels -1)."""
    with os.scandir(folder) as it:
        entries = visible(it)
    class_dirs = [e for e in entries if e.is_dir()]
    if not class_dirs:
        paths = [Path(e.path) for e in entries if e.is_file() and is_image_file(Path(e.name))]
        return SplitFiles(paths, [-1] * len(paths)), ()
    loose = [e.name for e in entries if e.is_file() and is_image_file(Path(e.name))]
    if loose:
        print(f"note: {len(loose)} image files directly in {folder} are ignored: its subfolders are its classes")
    paths, labels = [], []
    for label, entry in enumerate(class_dirs):
        members = images_below(Path(entry.path))
        if not members:
            raise DataError(f"class folder {entry.path} holds no image files")
        paths += members
        labels += [label] * len(members)
    return SplitFiles(paths, labels), tuple(e.name for e in class_dirs)


def stratified_order(labels: list[int], seed: int) -> list[int]:
    """Positions shuffled so that every prefix holds the classes in their overall proportions."""
    rng = random.Random(seed)
    by_class: dict[int, list[int]] = {}
    for i, y in enumerate(labels):
        by_class.setdefault(y, []).append(i)
    keys = []
    for label in sorted(by_class):
        members = by_class[label]
        rng.shuffle(members)
        keys += [((rank + rng.random()) / len(members), i) for rank, i in enumerate(members)]
    return [i for _, i in sorted(keys)]


def carve(files: SplitFiles, size: int, seed: int) -> tuple[SplitFiles, SplitFiles]:
    """(rest, carved): ``size`` files drawn class-balanced (seeded) out of ``files``."""
    order = stratified_order(files.labels, seed)
    taken, kept = sorted(order[:size]), sorted(order[size:])
    pick = lambda rows: SplitFiles([files.paths[i] for i in rows], [files.labels[i] for i in rows])  # noqa: E731
    return pick(kept), pick(taken)


def default_size(setting: int, n: int, cap: int) -> int:
    return setting if setting > 0 else min(cap, n // 10)


def list_splits(root: Path, cfg: DataConfig) -> tuple[dict[str, SplitFiles], tuple[str, ...]]:
    """train / val / test file lists (as given in split folders, else carved) and class names."""
    if not root.is_dir():
        raise DataError(f"data.root: {root} is not a folder")
    given = {name: root / name for name in SPLIT_FOLDERS if (root / name).is_dir()}
    if given and "train" not in given:
        raise DataError(f"{root} has {', '.join(given)} folders but no train/ folder")
    scanned = {name: scan_split(folder) for name, folder in (given or {"train": root}).items()}
    classes = scanned["train"][1]
    for name, (_, found) in scanned.items():
        if found != classes:  # labelled train needs labelled val/test with the same classes, and vice versa
            raise DataError(f"{root / name} has classes {list(found)}, train/ has {list(classes)}: they must match")
    splits = {name: files for name, (files, _) in scanned.items()}
    if not splits["train"].paths:
        raise DataError(
            f"{given.get('train', root)} holds no image files (looked for {', '.join(sorted(IMAGE_EXTENSIONS))})"
        )
    n = len(splits["train"].paths)
    for name, cap in (("test", 10_000), ("val", 5000)):
        if name not in splits and (classes or name == "val"):
            size = default_size(cfg.test_size if name == "test" else cfg.val_size, n, cap)
            if not 0 < size < len(splits["train"].paths):
                raise DataError(
                    f"{root}: cannot carve {size} {name} images out of {len(splits['train'].paths)} "
                    f"(set data.{name}_size, or add more images)"
                )
            splits["train"], splits[name] = carve(splits["train"], size, cfg.split_seed + len(name))
    return splits, classes


def decode_settings(paths: list[Path], cfg: DataConfig, where: str) -> tuple[DecodeSettings, tuple[int, int, int]]:
    """The decode settings and image shape: channels from data.channels, else grey if every
    sampled file header is grey; the size from data.image_size, else the most common sampled
    header size (pretrain.core.image_sizes: printed, and an error when sizes vary widely)."""
    channels = cfg.channels
    if not channels:
        sample = evenly_spaced(paths, HEADER_SAMPLE)
        channels = 1 if all(file_mode(p) in GREY_MODES | {""} for p in sample) else 3
    size = cfg.image_size or sampled_side(paths, HEADER_SAMPLE, where)
    return DecodeSettings(size, cfg.resize, channels), (channels, size, size)


def workers(cfg: DataConfig) -> int:
    return cfg.workers or os.cpu_count() or 1


def cached_sets(root: Path, splits: dict[str, SplitFiles], settings, shape, cfg: DataConfig) -> dict[str, ImageSet]:
    """Each split's images from the cache entry (decoded now if missing)."""
    extra = f"val={cfg.val_size},test={cfg.test_size},seed={cfg.split_seed}"
    entry = cache_root(cfg.cache_dir) / entry_key(root.name or "folder", splits, settings, extra)
    if not (entry / "meta.json").is_file():
        print(f"decoding {sum(len(s.paths) for s in splits.values())} images of {root} into {entry} ...")
        try:
            build_entry(entry, splits, settings, shape, workers(cfg), cfg.settings().on_bad_file == "error")
        except BadFileError as err:
            raise DataError(str(err)) from None
    cached, bad = read_entry(entry)
    if bad and cfg.settings().on_bad_file == "error":  # an entry built with on_bad_file=skip
        path, reason = bad[0]
        raise DataError(f"{path}: {reason} (data.on_bad_file=error; found in the cache, {entry})")
    if bad:
        print(f"skipped {len(bad)} unreadable files of {root}; the list with reasons: {entry / 'bad_files.txt'}")
    out, offset = {}, 0
    for name, split in cached.items():
        if split.images is None:
            raise DataError(f"{root}: none of the {len(splits[name].paths)} {name} images could be decoded")
        labels = torch.from_numpy(split.labels)
        out[name] = ImageSet(split.images, labels, offset + torch.arange(len(labels)))  # distinct across splits
        offset += len(labels)
    return out


def streamed_sets(splits: dict[str, SplitFiles], settings, shape, cfg: DataConfig) -> dict[str, ImageSet]:
    """Each split as files decoded when read; files whose header cannot be read are left out now."""
    decoder = FileDecoder(settings)
    out, offset = {}, 0
    with ThreadPoolExecutor(workers(cfg)) as pool:
        for name, files in splits.items():
            modes = list(pool.map(file_mode, files.paths))
            keep = [i for i, mode in enumerate(modes) if mode]
            if len(keep) < len(files.paths):
                dropped = [str(files.paths[i]) for i, mode in enumerate(modes) if not mode]
                if cfg.settings().on_bad_file == "error":
                    raise DataError(f"{dropped[0]}: not a readable image (data.on_bad_file=error)")
                print(f"skipped {len(dropped)} unreadable {name} files, e.g. {dropped[0]}")
            labels = torch.tensor([files.labels[i] for i in keep], dtype=torch.int64)
            images = FileImages([files.paths[i] for i in keep], decoder, shape)
            out[name] = ImageSet(images, labels, offset + torch.arange(len(keep)))
            offset += len(keep)
    return out


BAD_FILE_POLICIES = ("skip", "error")  # data.on_bad_file


@dataclass
class ImageFolderSettings:
    cache: bool = True  # data.cache: decode once into data.cache_dir; false streams files through workers
    on_bad_file: str = "skip"  # data.on_bad_file: skip (listed in the cache folder) | error (stop at the first)

    def __post_init__(self):
        if self.on_bad_file not in BAD_FILE_POLICIES:
            raise ConfigError(
                f"data.on_bad_file: {self.on_bad_file!r} is unknown; choose from {', '.join(BAD_FILE_POLICIES)}"
            )


@register_dataset("image_folder", settings=ImageFolderSettings)
def image_folder(cfg: DataConfig) -> Dataset:
    """Images of ``data.root``, labelled by class subfolder or unlabelled, resized at decode time."""
    if not cfg.root:
        raise DataError("data.name=image_folder needs data.root=DIR, the folder of images")
    root = Path(cfg.root).expanduser()
    splits, classes = list_splits(root, cfg)
    settings, shape = decode_settings(splits["train"].paths, cfg, f"{root} (training split)")
    sets = (
        cached_sets(root, splits, settings, shape, cfg)
        if cfg.settings().cache
        else streamed_sets(splits, settings, shape, cfg)
    )
    return Dataset(sets["train"], sets.get("test"), classes, val=sets["val"], source=str(root))
