"""Uploaded files, checked before anything reads them as images.

A browser's upload is untrusted bytes: :func:`check_upload` refuses files over the size
limit, files whose content is not one of the accepted formats (whatever their name says),
and images whose pixel count exceeds the limit -- read from the header, before decoding,
so that a decompression bomb (a small PNG that inflates to gigabytes) is refused without
being inflated (Pillow's ``Image.MAX_IMAGE_PIXELS`` guard is also raised to an error).
The accepted file is written under a name the server chooses, never the client's.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..atomic import atomic_write
from ..errors import TexsynthError

__all__ = ["PIXEL_FORMATS", "UploadError", "check_upload", "save_upload"]

#: Pillow formats accepted, and the suffix the server stores them under
PIXEL_FORMATS = {"PNG": ".png", "JPEG": ".jpg", "WEBP": ".webp", "BMP": ".bmp", "TIFF": ".tif"}

_NPY_MAGIC = b"\x93NUMPY"


class UploadError(TexsynthError):
    """An upload that is refused (the server answers 4xx with its message)."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Upload:
    """A checked upload: its bytes, the suffix to store it under, and its size."""

    data: bytes
    suffix: str
    width: int
    height: int


def check_upload(data: bytes, *, what: str, max_bytes: int, max_pixels: int) -> Upload:
    """Check an uploaded image (PNG, JPEG, WebP, BMP, TIFF) or float field (``.npy``).

    Parameters
    ----------
    data
        The file's bytes.
    what
        Its role, for messages (``"image"``, ``"mask"``).
    max_bytes, max_pixels
        Limits on the file size and the pixel count (width x height).

    Raises
    ------
    UploadError
        With a one-line message: empty, too large (413), not an image, too many pixels,
        or undecodable.
    """
    if not data:
        raise UploadError(f"the {what} file is empty")
    if len(data) > max_bytes:
        raise UploadError(
            f"the {what} file is {len(data) / 2**20:.1f} MB; the limit is "
            f"{max_bytes / 2**20:.0f} MB",
            status=413,
        )
    if data.startswith(_NPY_MAGIC):
        return _check_npy(data, what, max_pixels)
    return _check_pixels(data, what, max_pixels)


def _too_many(what: str, w: int, h: int, max_pixels: int) -> UploadError:
    return UploadError(
        f"the {what} is {w}x{h} pixels; the limit is {max_pixels / 1e6:.1f} megapixels "
        "(scale it down first)",
        status=413,
    )


def _check_pixels(data: bytes, what: str, max_pixels: int) -> Upload:
    from PIL import Image, UnidentifiedImageError

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            im = Image.open(io.BytesIO(data))  # reads the header only
            fmt = im.format or ""
            w, h = im.size
            if fmt not in PIXEL_FORMATS:
                raise UploadError(
                    f"the {what} is a {fmt or 'unknown'} file; upload PNG, JPEG, WebP, BMP, "
                    "TIFF or a NumPy .npy field",
                    status=415,
                )
            if w * h > max_pixels or w < 1 or h < 1:
                raise _too_many(what, w, h, max_pixels)
            im.load()  # decodes, now that the size is known to be bounded
    except UploadError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise UploadError(
            f"the {what} claims far too many pixels (a decompression bomb?); the limit is "
            f"{max_pixels / 1e6:.1f} megapixels",
            status=413,
        ) from None
    except UnidentifiedImageError:
        raise UploadError(
            f"the {what} file is not an image this page reads; upload PNG, JPEG, WebP, BMP, "
            "TIFF or a NumPy .npy field",
            status=415,
        ) from None
    except (OSError, ValueError, SyntaxError) as exc:
        raise UploadError(f"the {what} file is damaged and cannot be decoded ({exc})") from None
    return Upload(data, PIXEL_FORMATS[fmt], w, h)


def _check_npy(data: bytes, what: str, max_pixels: int) -> Upload:
    f = io.BytesIO(data)
    try:
        version = np.lib.format.read_magic(f)
        header = (
            np.lib.format.read_array_header_1_0(f)
            if version == (1, 0)
            else np.lib.format.read_array_header_2_0(f)
        )
    except (ValueError, OSError) as exc:
        raise UploadError(f"the {what} .npy header is damaged ({exc})") from None
    shape, _, dtype = header
    if dtype.hasobject:
        raise UploadError(f"the {what} .npy holds Python objects; upload a numeric array")
    if len(shape) not in (2, 3):
        raise UploadError(f"the {what} .npy has shape {shape}; give [H, W] or [C, H, W]")
    hw = shape[-2:] if len(shape) == 2 or shape[0] <= 4 else shape[:2]
    h, w = int(hw[0]), int(hw[1])
    if w * h > max_pixels:
        raise _too_many(what, w, h, max_pixels)
    try:
        np.load(io.BytesIO(data), allow_pickle=False)
    except (ValueError, OSError) as exc:
        raise UploadError(f"the {what} .npy cannot be read ({exc})") from None
    return Upload(data, ".npy", w, h)


def save_upload(upload: Upload, folder: Path, stem: str, *, grey: bool = False) -> Path:
    """Write a checked upload atomically as ``folder/stem`` plus its format's suffix (the
    server's name, not the client's). ``grey``: re-encode an image as a grey PNG (masks:
    a browser's canvas gives RGBA, whose alpha means nothing here)."""
    data, suffix = upload.data, upload.suffix
    if grey and suffix != ".npy":
        from PIL import Image

        with Image.open(io.BytesIO(data)) as im:
            flat = im.convert("RGBA") if "A" in im.getbands() else im.convert("RGB")
            if flat.mode == "RGBA":  # transparent counts as black (keep)
                base = Image.new("RGBA", flat.size, (0, 0, 0, 255))
                flat = Image.alpha_composite(base, flat)
            buf = io.BytesIO()
            flat.convert("L").save(buf, format="PNG")
        data, suffix = buf.getvalue(), ".png"
    path = folder / f"{stem}{suffix}"
    atomic_write(path, lambda f: f.write(data))
    return path
