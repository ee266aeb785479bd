"""The side S a folder of mixed-size images is decoded at when ``data.image_size`` is not set.

The most common size among sampled file headers wins (not the first file in sorted order, which
may be an outlier); the choice and the spread are printed. When sizes vary widely, no size is a
fair default and the user must choose one: fewer than half of the sampled files share the most
common size, or the shorter sides span more than a factor of ``WIDE_FACTOR``.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from PIL import Image

from pretrain.core.data import DataError

WIDE_FACTOR = 2.0  # shorter sides spanning more than this factor: up- or downscaling that far changes the images
SWAPPED_ORIENTATIONS = {5, 6, 7, 8}  # EXIF orientations decoded as a quarter turn: width and height swap


def header_size(path: Path) -> tuple[int, int] | None:
    """(width, height) as decoded (EXIF orientation applied), from the header alone; None if unreadable."""
    try:
        with Image.open(path) as img:
            w, h = img.size
            swapped = img.getexif().get(0x0112) in SWAPPED_ORIENTATIONS
    except Exception:  # noqa: BLE001  (an unreadable file is reported when it is decoded)
        return None
    return (h, w) if swapped else (w, h)


def describe_sizes(sizes: Counter, shown: int = 4) -> str:
    """'40x30: 120, 20x20: 3' (most common first), then how many other sizes."""
    common = sizes.most_common()
    text = ", ".join(f"{w}x{h}: {n}" for (w, h), n in common[:shown])
    rest = len(common) - shown
    return text + (f", and {rest} other sizes ({sum(n for _, n in common[shown:])} files)" if rest > 0 else "")


def native_side(sizes: Counter, where: str) -> int:
    """S from the sampled sizes {(w, h): count}; DataError when they vary widely or the winner is not square."""
    if not sizes:
        raise DataError(f"{where}: no sampled file has a readable image header")
    (w, h), count = sizes.most_common(1)[0]
    total, shorter = sum(sizes.values()), [min(size) for size in sizes]
    spread = describe_sizes(sizes)
    if 2 * count < total or max(shorter) > WIDE_FACTOR * min(shorter):
        raise DataError(
            f"{where}: image sizes vary widely among {total} sampled files ({spread}); "
            "set data.image_size=S to decode every image at S x S (data.resize chooses crop or squash)"
        )
    if w != h:
        raise DataError(f"{where}: the most common size is {w}x{h} ({spread}), not square; set data.image_size=S")
    others = total - count
    note = f"; the other {others} are resized to it (data.resize)" if others else ""
    print(f"image size {w}x{h}: the most common among {total} sampled files ({spread}){note}; set data.image_size=S")
    return h


def sampled_side(paths: list[Path], sample: int) -> int:
    """S for ``paths``: the headers of at most about ``sample`` files, evenly spaced in sorted order."""
    chosen = paths[:: max(1, len(paths) // sample)]
    sizes = Counter(size for size in map(header_size, chosen) if size is not None)
    return native_side(sizes, str(paths[0].parent) if paths else "(no files)")
