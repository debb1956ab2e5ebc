"""Decoding untrusted photos: every bad input is refused with a message, every colour mode and
EXIF orientation of a real photo still finds the face. Inputs are built from real photos that
ship in scikit-image and matplotlib."""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image
from skimage import data

from moodtune.errors import ConfigError, InvalidImage
from moodtune.image import FaceEmotionModel, decode_image, emotion_of
from moodtune.settings import load_settings

LIMITS = {
    "max_bytes": 20_000_000,
    "max_pixels": 40_000_000,
    "formats": ("JPEG", "PNG", "WEBP", "GIF", "TIFF"),
}
IMAGE = load_settings().image  # the image section of params.yaml, given to the photo code
ASTRONAUT_BOX = (177, 66, 95, 95)  # the face OpenCV's cascade finds in data.astronaut()


@pytest.fixture(scope="module")
def model():
    return FaceEmotionModel.from_package(IMAGE.detector)


@pytest.fixture(scope="module")
def astronaut() -> Image.Image:
    return Image.fromarray(data.astronaut())


def _bytes(img: Image.Image, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, **kw)
    return buf.getvalue()


def _near(box, expected, tol=8) -> bool:
    return all(abs(a - b) <= tol for a, b in zip(box, expected, strict=True))


def _png_bomb(width: int, height: int) -> bytes:
    """A valid 1-bit PNG of width x height zeros: ~100 KB on disk, gigapixels decoded."""

    def chunk(kind: bytes, payload: bytes) -> bytes:
        return (
            struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))
        )

    row = b"\0" * (1 + (width + 7) // 8)
    comp = zlib.compressobj(9)
    idat = b"".join(comp.compress(row * 1000) for _ in range(height // 1000)) + comp.flush()
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0))
        + chunk(b"IDAT", idat)
        + chunk(b"IEND", b"")
    )


# --- refused --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "payload, match",
    [
        (b"", "empty"),
        (b"hello, this is not a photo", "not an image"),
        (b"%PDF-1.4\n1 0 obj <<>> endobj\n", "not an image"),
        ("a string", "expected the bytes"),
    ],
)
def test_non_images_are_refused(payload, match):
    with pytest.raises(InvalidImage, match=match):
        decode_image(payload, **LIMITS)


@pytest.mark.parametrize("fmt", ["JPEG", "PNG"])
def test_truncated_files_are_refused(astronaut, fmt):
    whole = _bytes(astronaut, fmt)
    with pytest.raises(InvalidImage, match="truncated or corrupt|corrupt"):
        decode_image(whole[: len(whole) // 2], **LIMITS)


def test_decompression_bomb_is_refused_before_decoding():
    bomb = _png_bomb(30_000, 30_000)  # 900 megapixels in ~110 KB
    assert len(bomb) < 500_000
    with pytest.raises(InvalidImage, match="megapixels"):
        decode_image(bomb, **LIMITS)


def test_pixel_and_byte_limits_come_from_the_caller(astronaut):
    png = _bytes(astronaut, "PNG")
    with pytest.raises(InvalidImage, match=r"512x512 pixels, over the limit"):
        decode_image(png, **{**LIMITS, "max_pixels": 100_000})
    with pytest.raises(InvalidImage, match="MB limit"):
        decode_image(png, **{**LIMITS, "max_bytes": 1000})


def test_pixel_limit_is_read_from_params(astronaut, model, monkeypatch):
    monkeypatch.setenv("MOODTUNE_IMAGE__MAX_PIXELS", "100000")
    with pytest.raises(InvalidImage, match="over the limit of 0.1 megapixels"):
        emotion_of(_bytes(astronaut, "PNG"), model, load_settings().image)


def test_formats_outside_the_allowed_list_are_refused(astronaut):
    ppm = _bytes(astronaut, "PPM")  # a real image, but not a format we accept
    assert Image.open(io.BytesIO(ppm)).size == (512, 512)
    with pytest.raises(InvalidImage, match="JPEG, PNG"):
        decode_image(ppm, **LIMITS)
    with pytest.raises(ConfigError, match="image.formats"):
        decode_image(ppm, **{**LIMITS, "formats": ("NOPE",)})


# --- accepted: every colour mode and orientation ----------------------------------------------


@pytest.mark.parametrize(
    "mode, fmt",
    [
        ("RGB", "JPEG"),
        ("CMYK", "JPEG"),
        ("L", "PNG"),
        ("I;16", "PNG"),
        ("P", "GIF"),
        ("P", "PNG"),
        ("RGBA", "PNG"),
        ("LA", "PNG"),
        ("RGB", "WEBP"),
        ("CMYK", "TIFF"),
    ],
)
def test_colour_modes_decode_to_rgb_and_keep_the_face(astronaut, model, mode, fmt):
    if mode == "I;16":
        img = Image.fromarray(np.asarray(astronaut.convert("L"), dtype=np.uint16) * 257)
        assert img.mode in ("I;16", "I")
    elif mode in ("RGBA", "LA"):
        img = astronaut.convert(mode)
        alpha = np.full(img.size[::-1], 255, np.uint8)
        alpha[:, :40] = 0  # a transparent strip: laid over white
        img.putalpha(Image.fromarray(alpha))
    else:
        img = astronaut.convert(mode)
    payload = _bytes(img, fmt)
    decoded = decode_image(payload, **LIMITS)
    assert decoded.rgb.dtype == np.uint8 and decoded.rgb.shape == (512, 512, 3)
    if mode in ("RGBA", "LA"):
        assert (decoded.rgb[:, :40] == 255).all()
    result = emotion_of(payload, model, IMAGE)
    assert result.found and len(result.faces) == 1
    assert _near(result.faces[0].box.as_list(), ASTRONAUT_BOX), result.faces[0].box


@pytest.mark.parametrize(
    "orientation, stored",
    [
        (3, Image.Transpose.ROTATE_180),
        (6, Image.Transpose.ROTATE_90),  # camera held 90° clockwise: EXIF 6 says rotate 270 to view
        (8, Image.Transpose.ROTATE_270),
        (2, Image.Transpose.FLIP_LEFT_RIGHT),
    ],
)
def test_exif_orientation_is_applied(astronaut, model, orientation, stored):
    rotated = astronaut.transpose(stored)
    exif = Image.Exif()
    exif[0x0112] = orientation
    tagged = _bytes(rotated, "JPEG", exif=exif.tobytes(), quality=95)
    decoded = decode_image(tagged, **LIMITS)
    assert decoded.exif_rotated and decoded.rgb.shape == (512, 512, 3)
    # upright again: close to the original pixels (JPEG noise only)
    diff = np.abs(decoded.rgb.astype(int) - np.asarray(astronaut, dtype=int)).mean()
    assert diff < 6, diff
    result = emotion_of(tagged, model, IMAGE)
    assert result.found and result.details["exif_rotated"]
    assert _near(result.faces[0].box.as_list(), ASTRONAUT_BOX, tol=10)


def test_without_the_exif_tag_the_sideways_face_is_not_found(astronaut, model):
    """The control for the test above: the stored pixels alone show no upright face."""
    sideways = _bytes(astronaut.transpose(Image.Transpose.ROTATE_90), "JPEG", quality=95)
    assert not emotion_of(sideways, model, IMAGE).found
