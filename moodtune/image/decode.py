"""Decode untrusted image bytes into an upright RGB array, or say what is wrong with them.

Pillow reads only the formats allowed in ``params.yaml`` (``image.formats``), the pixel count
is checked from the header before any pixel is decoded (decompression bombs), truncated and
corrupt files are refused rather than half-decoded, the EXIF orientation is applied, and every
colour mode (CMYK, greyscale, 16-bit, palette, alpha) becomes 8-bit RGB; transparency is laid
over white.
"""

from __future__ import annotations

import io
import logging
import struct
import zlib
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError

from moodtune.errors import ConfigError, InvalidImage

log = logging.getLogger(__name__)

_DECODE_ERRORS = (
    OSError,
    SyntaxError,
    EOFError,
    ValueError,
    TypeError,
    IndexError,
    KeyError,
    struct.error,
    zlib.error,
    Image.DecompressionBombError,
)


@dataclass(frozen=True)
class DecodedImage:
    """An upright 8-bit RGB image and what was done to get it."""

    rgb: np.ndarray  # (height, width, 3) uint8
    format: str  # the Pillow format that decoded it, e.g. "JPEG"
    mode: str  # the colour mode it was stored in, e.g. "CMYK"
    exif_rotated: bool  # an EXIF orientation other than "upright" was applied

    @property
    def width(self) -> int:
        return int(self.rgb.shape[1])

    @property
    def height(self) -> int:
        return int(self.rgb.shape[0])


def decode_image(
    data: bytes,
    *,
    max_bytes: int,
    max_pixels: int,
    formats: Sequence[str],
) -> DecodedImage:
    """Decode ``data`` (the bytes of an image file); :class:`InvalidImage` says what to fix."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise InvalidImage(f"expected the bytes of an image file, got {type(data).__name__}")
    size = len(data)
    if size == 0:
        raise InvalidImage("the image is empty (0 bytes); send a JPEG or PNG photo")
    if size > max_bytes:
        raise InvalidImage(
            f"the image is {size / 1e6:.1f} MB, over the {max_bytes / 1e6:.1f} MB limit; "
            "send a smaller or more compressed photo"
        )
    formats = _check_formats(formats)
    allowed = ", ".join(formats)
    try:
        img = Image.open(io.BytesIO(bytes(data)), formats=list(formats))
    except UnidentifiedImageError:
        raise InvalidImage(f"not an image that can be read; send a photo as one of: {allowed}") from None
    except Image.DecompressionBombError:
        raise InvalidImage(_too_large(None, max_pixels)) from None
    except _DECODE_ERRORS as exc:
        raise InvalidImage(
            f"the image header is corrupt ({exc}); send the photo again or re-save it"
        ) from None

    with img:
        width, height = img.size
        if width < 1 or height < 1:
            raise InvalidImage(f"the image has no pixels ({width}x{height})")
        if width * height > max_pixels:
            raise InvalidImage(_too_large((width, height), max_pixels))
        fmt, mode = img.format or "?", img.mode
        if ImageFile.LOAD_TRUNCATED_IMAGES:  # a process-wide Pillow switch someone else may have set
            log.warning("PIL.ImageFile.LOAD_TRUNCATED_IMAGES is on: truncated photos cannot be refused")
        try:
            img.load()
        except Image.DecompressionBombError:
            raise InvalidImage(_too_large((width, height), max_pixels)) from None
        except _DECODE_ERRORS as exc:
            raise InvalidImage(
                f"the {fmt} image is truncated or corrupt ({exc}); send the complete file"
            ) from None
        orientation = _orientation(img)
        try:
            upright = ImageOps.exif_transpose(img)
        except _DECODE_ERRORS as exc:  # a broken EXIF block: keep the pixels as stored
            log.warning("ignoring an unreadable EXIF orientation: %s", exc)
            upright, orientation = img, 1
        try:
            rgb = _to_rgb(upright)
        except _DECODE_ERRORS as exc:
            raise InvalidImage(
                f"the colour mode {mode} of this {fmt} image is not supported ({exc}); "
                "re-save it as an RGB JPEG or PNG"
            ) from None
    return DecodedImage(rgb=rgb, format=fmt, mode=mode, exif_rotated=orientation not in (None, 1))


def _check_formats(formats: Sequence[str]) -> list[str]:
    Image.init()
    wanted = [str(f).upper() for f in formats]
    unknown = [f for f in wanted if f not in Image.OPEN]
    if unknown or not wanted:
        raise ConfigError(
            f"image.formats holds {unknown or 'nothing'}; Pillow can open: {', '.join(sorted(Image.OPEN))}"
        )
    return wanted


def _too_large(size: tuple[int, int] | None, max_pixels: int) -> str:
    what = "the image" if size is None else f"the image is {size[0]}x{size[1]} pixels,"
    return (
        f"{what} over the limit of {max_pixels / 1e6:g} megapixels; "
        "send a smaller photo (a few megapixels is plenty to find faces)"
    )


def _orientation(img: Image.Image) -> int | None:
    try:
        return img.getexif().get(0x0112)  # ExifTags.Base.Orientation
    except _DECODE_ERRORS:
        return None


def _to_rgb(img: Image.Image) -> np.ndarray:
    """Any Pillow mode -> (h, w, 3) uint8 RGB."""
    mode = img.mode
    if mode == "RGB":
        out = img
    elif mode in ("I;16", "I;16L", "I;16B", "I;16N", "I", "F"):
        arr = np.asarray(img, dtype=np.float64)
        if mode.startswith("I;16"):
            arr = arr / 257.0
        else:  # 32-bit integer or float: stretch its range onto 0..255
            lo, hi = float(arr.min()), float(arr.max())
            arr = (arr - lo) * (255.0 / (hi - lo)) if hi > lo else np.zeros_like(arr)
        grey = np.clip(np.rint(arr), 0, 255).astype(np.uint8)
        return np.repeat(grey[:, :, None], 3, axis=2)
    elif mode in ("RGBA", "LA", "PA", "La", "RGBa") or (mode in ("P", "L") and "transparency" in img.info):
        rgba = img.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        out = Image.alpha_composite(white, rgba).convert("RGB")
    else:  # L, 1, P, CMYK, YCbCr, LAB, HSV, ...
        out = img.convert("RGB")
    arr = np.asarray(out, dtype=np.uint8)
    if arr.ndim != 3 or arr.shape[2] != 3:
        raise ValueError(f"conversion gave shape {arr.shape}")
    return np.ascontiguousarray(arr)
