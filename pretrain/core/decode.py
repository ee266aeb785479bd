"""One image file -> a uint8 array (C, S, S): EXIF orientation, any PIL mode, resize.

Grey, palette, RGBA, 16-bit and CMYK files all come out as the asked channels; a file
PIL cannot read raises ``BadImage`` with the reason, which the cache builder records.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

IMAGE_EXTENSIONS = frozenset(
    {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm", ".pgm", ".pbm"}
)
GREY_MODES = frozenset({"1", "L", "LA", "La", "I", "I;16", "I;16L", "I;16B", "I;16N", "F"})
WIDE_GREY_MODES = frozenset({"I", "I;16", "I;16L", "I;16B", "I;16N", "F"})  # more than 8 bits per pixel


class BadImage(Exception):
    """A file that is not a readable image; the message is the reason."""


@dataclass(frozen=True)
class DecodeSettings:
    size: int  # S: output is S x S; 0 keeps the native size
    resize: str  # crop (shorter side to S, centre crop) | squash
    channels: int  # 1 or 3

    def key(self) -> str:
        return f"size={self.size},resize={self.resize},channels={self.channels}"


def is_image_file(path: Path) -> bool:
    return path.suffix.lower() in IMAGE_EXTENSIONS and not path.name.startswith(".")


def file_mode(path: Path) -> str:
    """The PIL mode from the file's header (no pixel decode); "" if unreadable."""
    try:
        with Image.open(path) as img:
            return img.mode
    except Exception:  # noqa: BLE001  (an unreadable file is reported when it is decoded)
        return ""


def wide_to_8bit(img: Image.Image) -> Image.Image:
    """16-bit / 32-bit integer or float grey -> 8-bit L. Integers are read as 16-bit data (the
    PNG/TIFF case); floats as [0, 1] when they fit there, else [0, 255]."""
    values = np.asarray(img, dtype=np.float64)
    if img.mode == "F":
        values = values * 255 if values.size and values.max() <= 1.0 else values
    else:
        values = values / 257.0
    return Image.fromarray(np.clip(np.round(values), 0, 255).astype(np.uint8), "L")


def to_channels(img: Image.Image, channels: int) -> Image.Image:
    """Any PIL mode -> L (channels 1) or RGB (channels 3). Transparent pixels are composited
    over black, so an RGBA sprite keeps its shape instead of its hidden colour values."""
    if img.mode in WIDE_GREY_MODES:
        img = wide_to_8bit(img)
    if img.mode in ("RGBA", "LA", "La", "RGBa", "PA") or (img.mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        img = Image.alpha_composite(Image.new("RGBA", rgba.size, (0, 0, 0, 255)), rgba)
    return img.convert("L" if channels == 1 else "RGB")


def resize(img: Image.Image, size: int, mode: str) -> Image.Image:
    if size == 0:
        return img
    w, h = img.size
    if mode == "squash":
        return img.resize((size, size), Image.BILINEAR, reducing_gap=3.0)
    scale = size / min(w, h)
    target = (max(size, round(w * scale)), max(size, round(h * scale)))
    img = img.resize(target, Image.BILINEAR, reducing_gap=3.0)
    left, top = (target[0] - size) // 2, (target[1] - size) // 2
    return img.crop((left, top, left + size, top + size))


def decode_image(path: Path, settings: DecodeSettings) -> np.ndarray:
    """The image at ``path`` as uint8 (C, S, S), C = settings.channels. Raises BadImage."""
    try:
        with Image.open(path) as img:
            if settings.size and img.format == "JPEG":
                img.draft("RGB" if settings.channels == 3 else "L", (settings.size, settings.size))
            img = ImageOps.exif_transpose(img)
            pixels = np.asarray(resize(to_channels(img, settings.channels), settings.size, settings.resize))
    except Exception as err:  # noqa: BLE001  (PIL raises OSError, ValueError, SyntaxError, DecompressionBombError...)
        raise BadImage(f"{type(err).__name__}: {err}") from None
    return pixels[None] if pixels.ndim == 2 else pixels.transpose(2, 0, 1)


class FileDecoder:
    """A picklable ``path -> (C, S, S)`` for DataLoader workers (FileImages.decode). A file that
    fails here, after the listing checked it, becomes black: a stream cannot drop a row."""

    def __init__(self, settings: DecodeSettings):
        self.settings = settings

    def __call__(self, path: Path) -> np.ndarray:
        try:
            return decode_image(path, self.settings)
        except BadImage:
            s = self.settings
            return np.zeros((s.channels, s.size, s.size), np.uint8)
