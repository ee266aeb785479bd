"""The side S a folder of mixed-size images is decoded at when ``data.image_size`` is not set.

The most common size among sampled file headers wins (not the first file in sorted order, which
may be an outlier); the choice and the spread are printed. When sizes vary widely, no size is a
fair default and the user must choose one: fewer than half of the sampled files share the most
common size, or more than ``FAR_SHARE`` of them have a shorter side more than ``WIDE_FACTOR``
away from S (a few outliers are resized like any other file).
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from PIL import Image

from pretrain.core.data import DataError

WIDE_FACTOR = 2.0  # a shorter side this far from S (either way): resizing it that much changes the image
FAR_SHARE = 0.1  # ... tolerated for this share of the sampled files
ORIENTATION = 0x0112  # the EXIF tag; orientations 5-8 are decoded as a quarter turn: width and height swap
SWAPPED_ORIENTATIONS = {5, 6, 7, 8}


def evenly_spaced(paths: list, sample: int) -> list:
    """At most ``sample`` of ``paths``, evenly spaced in their order (all of them when fewer)."""
    k = min(sample, len(paths))
    return [paths[i * len(paths) // k] for i in range(k)]


def orientation(img: Image.Image) -> int | None:
    """The EXIF orientation from the header alone. ``Image.getexif`` would decode a whole PNG to
    look for a late eXIf chunk; files whose EXIF comes after the pixels are taken as upright here."""
    if img.format == "TIFF":
        return img.getexif().get(ORIENTATION)  # TIFF tags are the header
    raw = img.info.get("exif")  # JPEG APP1, WebP and early PNG eXIf chunks: read when the file is opened
    if not raw:
        return None
    exif = Image.Exif()
    exif.load(raw)
    return exif.get(ORIENTATION)


def header_size(path: Path) -> tuple[int, int] | None:
    """(width, height) as decoded (EXIF orientation applied), from the header alone; None if unreadable."""
    try:
        with Image.open(path) as img:
            w, h = img.size
            swapped = orientation(img) in SWAPPED_ORIENTATIONS
    except Exception:  # noqa: BLE001  (an unreadable file is reported when it is decoded)
        return None
    return (h, w) if swapped else (w, h)


def describe_sizes(sizes: Counter, shown: int = 4) -> str:
    """'40x30: 120, 20x20: 3' (most common first), then how many other sizes."""
    common = sizes.most_common()
    text = ", ".join(f"{w}x{h}: {n}" for (w, h), n in common[:shown])
    rest = len(common) - shown
    return text + (f", and {rest} other sizes ({sum(n for _, n in common[shown:])} files)" if rest > 0 else "")


def far_files(sizes: Counter, side: int) -> int:
    """How many files have a shorter side more than WIDE_FACTOR smaller or larger than ``side``."""
    return sum(n for size, n in sizes.items() if not side / WIDE_FACTOR <= min(size) <= side * WIDE_FACTOR)


def native_side(sizes: Counter, where: str) -> int:
    """S from the sampled sizes {(w, h): count}; DataError when they vary widely or the winner is not square."""
    if not sizes:
        raise DataError(f"{where}: no sampled file has a readable image header")
    (w, h), count = sizes.most_common(1)[0]
    total, spread = sum(sizes.values()), describe_sizes(sizes)
    if 2 * count < total or far_files(sizes, min(w, h)) > FAR_SHARE * total:
        raise DataError(
            f"{where}: image sizes vary widely among {total} sampled files ({spread}); "
            "set data.image_size=S to decode every image at S x S (data.resize chooses crop or squash)"
        )
    if w != h:
        raise DataError(f"{where}: the most common size is {w}x{h} ({spread}), not square; set data.image_size=S")
    others = total - count
    note = f"; the other {others} are resized to it (data.resize)" if others else ""
    print(f"image size {w}x{h}: the most common among {total} sampled files ({spread}){note}")
    return h


def sampled_side(paths: list[Path], sample: int, where: str) -> int:
    """S for ``paths`` (of the folder ``where``) from the headers of at most ``sample`` files."""
    sizes = Counter(size for size in map(header_size, evenly_spaced(paths, sample)) if size is not None)
    return native_side(sizes, where)
