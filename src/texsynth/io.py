"""Read and write exemplar images and fields: PNG, JPEG, WebP, BMP, TIFF, NPY/NPZ and FITS.

:func:`read_image` returns a float32 ``[C, H, W]`` tensor (``C`` = 1 grey or 3 RGB) plus an
:class:`ImageMeta` that records where the numbers came from; :func:`write_image` writes a
tensor or array back, restoring the original bit depth when given that metadata.

Conventions
-----------
* Integer data (uint8, uint16, 1-bit, other int types) is divided by its dtype's maximum,
  so 8- and 16-bit images come back in [0, 1]. Float data (float TIFF, NPY, FITS) is
  returned unscaled, in its own units.
* Alpha channels are dropped with a :class:`TexsynthWarning`: a 2-channel image is read
  as grey + alpha, a 4-channel image as RGB + alpha.
* Arrays are never flipped: FITS row 0 stays row 0 (astropy's order, not the display
  convention with row 0 at the bottom).
* Writes are atomic: the data goes to a hidden temporary file in the target directory
  which is renamed over the target only once it is complete.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import stat
import struct
import warnings
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import numpy as np
import torch

from .errors import TexsynthError

__all__ = [
    "SUPPORTED_SUFFIXES",
    "ImageMeta",
    "TexsynthWarning",
    "atomic_text_write",
    "read_image",
    "write_image",
]

logger = logging.getLogger(__name__)

_FORMATS: dict[str, str] = {
    ".png": "png",
    ".jpg": "jpeg",
    ".jpeg": "jpeg",
    ".webp": "webp",
    ".bmp": "bmp",
    ".tif": "tiff",
    ".tiff": "tiff",
    ".npy": "npy",
    ".npz": "npz",
    ".fits": "fits",
    ".fit": "fits",
    ".fts": "fits",
}
#: File suffixes :func:`read_image` and :func:`write_image` understand (case-insensitive).
SUPPORTED_SUFFIXES: tuple[str, ...] = tuple(_FORMATS)

_PILLOW_NAMES = {"png": "PNG", "jpeg": "JPEG", "webp": "WEBP", "bmp": "BMP"}
_EIGHT_BIT_ONLY = ("jpeg", "webp", "bmp")
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# Bytes of PNG scanlines filtered per numpy block when writing 16-bit colour PNG.
_PNG_FILTER_BLOCK_BYTES = 1 << 22


class TexsynthWarning(UserWarning):
    """Data was read, but something was changed or lost on the way (e.g. an alpha channel)."""


@dataclass(frozen=True)
class ImageMeta:
    """Where the numbers of an image read by :func:`read_image` came from.

    Attributes
    ----------
    path
        The file that was read.
    format
        ``"png"``, ``"jpeg"``, ``"webp"``, ``"bmp"``, ``"tiff"``, ``"npy"``, ``"npz"`` or
        ``"fits"``.
    dtype
        Numpy dtype name of the stored samples, e.g. ``"uint8"``, ``"uint16"``,
        ``"float32"`` (``"bool"`` for 1-bit images).
    channels
        Channels returned (1 or 3), after any alpha channel was dropped.
    value_range
        Range the data was scaled from: ``(0, 255)`` for uint8, ``(0, 65535)`` for uint16
        (``(min, max)`` of the dtype for other integers); for float data the actual finite
        ``(min, max)`` of the values.
    scaled
        True if integer data was divided by its dtype maximum to land in [0, 1].
    alpha_dropped
        True if an alpha channel was removed.
    """

    path: str
    format: str
    dtype: str
    channels: int
    value_range: tuple[float, float]
    scaled: bool
    alpha_dropped: bool

    @property
    def bit_depth(self) -> int:
        """Bit depth :func:`write_image` restores from this metadata: 8, 16 or 32 (float32).

        uint8 and 1-bit data give 8, uint16 gives 16; float and other integer types give
        32, written as float32.
        """
        if self.scaled and self.dtype in ("uint8", "bool"):
            return 8
        if self.scaled and self.dtype == "uint16":
            return 16
        return 32


# ----------------------------------------------------------------------------- helpers


def _q(path: Path) -> str:
    """Quote a path for a one-line message."""
    return repr(str(path))


def _one_line(exc: BaseException) -> str:
    """``TypeName: message`` of an exception, squeezed onto one line."""
    text = " ".join(str(exc).split())
    if isinstance(exc, OSError) and exc.strerror:
        text = exc.strerror
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def as_path(path: Any, name: str) -> Path:
    """``path`` as a :class:`~pathlib.Path`; a one-line error for anything else (e.g. None)."""
    if isinstance(path, Path):
        return path
    if isinstance(path, (str, os.PathLike)) and not isinstance(path, bytes):
        text = os.fspath(path)
        if isinstance(text, str) and text:
            return Path(text)
    raise TexsynthError(
        f"{name} must be a file name (str or os.PathLike), got {type(path).__name__} "
        f"{path!r:.40}; give the path of the file"
    )


def _input_size(path: Path, what: str) -> int:
    """Size in bytes of an existing regular input file; one-line errors otherwise."""
    try:
        st = path.stat()
    except FileNotFoundError:
        raise TexsynthError(f"file not found: {_q(path)}; check the path") from None
    except NotADirectoryError:
        raise TexsynthError(
            f"file not found: {_q(path)} (a part of the path is a file); check the path"
        ) from None
    except OSError as exc:
        if exc.errno == errno.ENAMETOOLONG:
            raise TexsynthError(
                f"file name too long: {str(path)[:40]!r}... ({len(path.name)} characters); "
                "check the path"
            ) from None
        raise TexsynthError(f"cannot open {_q(path)}: {_one_line(exc)}; check the path") from None
    if stat.S_ISDIR(st.st_mode):
        raise TexsynthError(f"{_q(path)} is a directory; give {what}")
    return st.st_size


def check_target(path: Path) -> None:
    """One-line errors for a file that cannot be written: missing folder, a directory."""
    q = _q(path)
    if not path.parent.is_dir():
        raise TexsynthError(
            f"cannot write {q}: directory {str(path.parent)!r} does not exist; create it first"
        )
    try:
        is_dir = path.is_dir()
    except OSError as exc:
        raise TexsynthError(f"cannot write {q}: {_one_line(exc)}; use a shorter name") from None
    if is_dir:
        raise TexsynthError(f"cannot write {q}: it is a directory; give a file name")


def _format_of(path: Path, action: str) -> str:
    fmt = _FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise TexsynthError(
            f"cannot {action} {_q(path)}: unknown file type {path.suffix or '(no suffix)'!r}; "
            f"use one of {', '.join(SUPPORTED_SUFFIXES)}"
        )
    return fmt


def _fits_module(action: str) -> Any:
    try:
        from astropy.io import fits
    except ImportError:
        raise TexsynthError(
            f"{action} FITS files needs astropy: pip install 'texsynth[fits]'"
        ) from None
    return fits


def _int_limits(dtype: np.dtype) -> tuple[float, float]:
    if dtype == np.bool_:
        return 0.0, 1.0
    info = np.iinfo(dtype)
    return float(info.min), float(info.max)


# ----------------------------------------------------------------------------- reading


def read_image(
    path: str | os.PathLike[str], *, allow_nonfinite: bool = False
) -> tuple[torch.Tensor, ImageMeta]:
    """Read an image or field file as a float32 ``[C, H, W]`` tensor.

    Parameters
    ----------
    path
        File to read; the format is chosen by the suffix (case-insensitive), one of
        :data:`SUPPORTED_SUFFIXES`. ``.npy`` arrays may be ``[H, W]``, ``[C, H, W]`` or
        ``[H, W, C]`` (channels last is assumed only when the last axis has size 3 or 4
        and the first does not); ``.npz`` archives must hold one array or one named
        ``image`` or ``field``; FITS files are read from the first HDU with 2-D or 3-D
        image data (needs astropy: ``pip install 'texsynth[fits]'``).
    allow_nonfinite
        Return NaN/Inf values instead of raising (mask them before synthesis).

    Returns
    -------
    image : torch.Tensor
        float32 ``[C, H, W]`` with ``C`` = 1 (grey) or 3 (RGB). Integer data is divided by
        its dtype maximum (uint8 by 255, uint16 by 65535); float data is unscaled.
    meta : ImageMeta
        Original format, dtype and value range; pass it to :func:`write_image` to write
        the same bit depth back.

    Raises
    ------
    TexsynthError
        If the file is missing, empty, corrupt or of an unknown type, holds no 2-D image,
        more than 4 channels, or NaN/Inf values (unless ``allow_nonfinite``).

    Warns
    -----
    TexsynthWarning
        When an alpha channel is dropped.
    """
    p = as_path(path, "path")
    fmt = _format_of(p, "read")
    size = _input_size(p, "an image file")
    if size == 0:
        raise TexsynthError(f"{_q(p)} is empty (0 bytes); re-export or re-download it")
    reader = _READERS[fmt]
    data = reader(p)
    return _finish(p, fmt, data, allow_nonfinite)


def _finish(
    path: Path, fmt: str, data: np.ndarray, allow_nonfinite: bool
) -> tuple[torch.Tensor, ImageMeta]:
    """Check a ``[H, W]`` or ``[C, H, W]`` array, drop alpha, scale and wrap as a tensor."""
    q = _q(path)
    if data.dtype.kind not in "biuf":
        raise TexsynthError(
            f"{q} holds {data.dtype} data; texsynth reads real numbers (bool, int or float)"
        )
    data = data.astype(data.dtype.newbyteorder("="), copy=False)
    if data.size == 0:
        raise TexsynthError(
            f"{q} holds an empty array (shape {data.shape}); give an image with pixels"
        )
    if data.ndim == 2:
        data = data[None]
    elif data.ndim != 3:
        raise TexsynthError(
            f"{q} holds a {data.ndim}-D array of shape {data.shape}; "
            "texsynth reads 2-D [H, W] or 3-D [C, H, W] images"
        )
    n_channels = data.shape[0]
    if n_channels > 4:
        hint = (
            "; it looks like channels-last [H, W, C]: save it as [C, H, W]"
            if data.shape[-1] <= 4
            else "; save one image of 1 (grey) or 3 (RGB) channels"
        )
        raise TexsynthError(
            f"{q} has {n_channels} channels (shape {data.shape}), at most 4 allowed{hint}"
        )
    alpha_dropped = n_channels in (2, 4)
    if alpha_dropped:
        data = data[: n_channels - 1]
        warnings.warn(
            f"dropped the alpha channel of {q}; texsynth uses {data.shape[0]} channel(s)",
            TexsynthWarning,
            stacklevel=3,
        )
    dtype_name = data.dtype.name
    if data.dtype.kind == "f":
        scaled = False
        with np.errstate(over="ignore"):  # float64 beyond float32 becomes Inf, caught below
            out = np.asarray(data, dtype=np.float32)
    else:
        scaled = True
        lo, hi = _int_limits(data.dtype)
        work = np.float32 if data.dtype.itemsize <= 2 else np.float64
        out = (data.astype(work) / work(hi)).astype(np.float32)
    image = torch.from_numpy(np.ascontiguousarray(out))
    finite = torch.isfinite(image)
    n_bad = int(image.numel() - finite.sum())
    if n_bad and not allow_nonfinite:
        n_nan = int(torch.isnan(image).sum())
        raise nonfinite_error(q, n_bad, n_nan, image.numel())
    if scaled:
        value_range = (lo, hi) if data.dtype.kind == "i" else (0.0, hi)
    elif n_bad == image.numel():
        value_range = (float("nan"), float("nan"))
    else:
        good = image[finite] if n_bad else image
        value_range = (float(good.min()), float(good.max()))
    meta = ImageMeta(
        path=str(path),
        format=fmt,
        dtype=dtype_name,
        channels=int(image.shape[0]),
        value_range=value_range,
        scaled=scaled,
        alpha_dropped=alpha_dropped,
    )
    logger.debug("read %s: shape %s, %s", path, tuple(image.shape), meta)
    return image, meta


def nonfinite_error(
    q: str, n_bad: int, n_nan: int, total: int, reader: str = "read_image"
) -> TexsynthError:
    """The error of a file (``q``: its quoted name) holding NaN/Inf values. In Python:
    read it with ``allow_nonfinite`` and mask them; on the command line, which cannot skip
    them: fill them (and have synth inpaint them with ``--mask``)."""
    what = f"{q} has {n_bad} non-finite values ({n_nan} NaN, {n_bad - n_nan} Inf) out of {total}"
    return TexsynthError(
        f"{what}; fill them, or read with {reader}(..., allow_nonfinite=True), replace them "
        "(e.g. torch.nan_to_num) and exclude them with a mask (in_mask= 0 there)",
        cli=f"{what}; replace them with finite values (e.g. 0) before use, and to have synth "
        "fill them, mark them white in a --mask (the command line cannot skip them; the "
        f"Python API can: {reader}(..., allow_nonfinite=True))",
    )


def _unreadable(path: Path, exc: BaseException) -> TexsynthError:
    return TexsynthError(
        f"cannot read {_q(path)}: {_one_line(exc)}; the file may be corrupt or truncated"
    )


def _read_pillow(path: Path) -> np.ndarray:
    try:
        header = _png_header(path)
    except OSError as exc:
        raise _unreadable(path, exc) from None
    if header is not None and header[0] == 16 and header[1] in (2, 4, 6):
        return _read_png16_colour(path)
    from PIL import Image, ImageOps

    try:
        with Image.open(path) as im:
            im.load()
            if im.getexif().get(0x0112, 1) != 1:  # EXIF orientation: show it upright
                im = ImageOps.exif_transpose(im)
            return _pillow_to_array(im, header)
    except Image.DecompressionBombError as exc:
        raise TexsynthError(
            f"cannot read {_q(path)}: {_one_line(exc)}; "
            "raise PIL.Image.MAX_IMAGE_PIXELS if you trust the file"
        ) from None
    except Exception as exc:  # any library failure means an unreadable file
        raise _unreadable(path, exc) from None


def _pillow_to_array(im: Any, png_header: tuple[int, int] | None) -> np.ndarray:
    """Pillow image -> ``[H, W]`` or ``[C, H, W]`` array of its stored dtype."""
    mode = im.mode
    if mode == "P":
        im = im.convert("RGBA" if "transparency" in im.info else "RGB")
    elif mode in ("PA", "RGBa"):
        im = im.convert("RGBA")
    elif mode == "La":
        im = im.convert("LA")
    elif mode in ("CMYK", "YCbCr", "LAB", "HSV", "RGBX"):
        im = im.convert("RGB")
    arr = np.asarray(im)
    if im.mode == "I" and png_header is not None and png_header[0] == 16:
        arr = arr.astype(np.uint16)  # older Pillow reads 16-bit grey PNG as int32 "I"
    if arr.ndim == 3:
        arr = np.moveaxis(arr, -1, 0)
    return arr


def _png_header(path: Path) -> tuple[int, int] | None:
    """``(bit depth, colour type)`` from a PNG file's IHDR, or None if it is not a PNG."""
    with open(path, "rb") as f:
        head = f.read(26)
    if len(head) < 26 or head[:8] != _PNG_SIGNATURE or head[12:16] != b"IHDR":
        return None
    return head[24], head[25]


def _read_png16_colour(path: Path) -> np.ndarray:
    """Decode a 16-bit RGB, RGBA or grey+alpha PNG exactly, as ``[C, H, W]`` uint16.

    Pillow reads these as 8-bit. Here the chunks are parsed by hand and Pillow's own PNG
    ("zip") decoder undoes the compression, row filters and interlacing twice: once
    unpacking the high byte of every 16-bit sample and once the low byte.
    """
    from PIL import Image

    try:
        width, height, colour_type, interlace, idat = _png_chunks(path.read_bytes())
        limit = Image.MAX_IMAGE_PIXELS
        if limit and width * height > 2 * limit:
            raise ValueError(f"{width}x{height} pixels is over the decompression-bomb limit")
        size = (width, height)
        if colour_type == 4:  # grey + alpha: 4 bytes a pixel, as 8-bit RGBA unpacks them
            raw = np.asarray(Image.frombytes("RGBA", size, idat, "zip", ("RGBA", interlace)))
            raw = raw.reshape(height, width, 2, 2)
            hi, lo = raw[..., 0], raw[..., 1]
        else:
            mode = "RGB" if colour_type == 2 else "RGBA"
            hi = np.asarray(Image.frombytes(mode, size, idat, "zip", (mode + ";16B", interlace)))
            lo = np.asarray(Image.frombytes(mode, size, idat, "zip", (mode + ";16L", interlace)))
    except Exception as exc:  # corrupt data, or a Pillow without these raw modes
        raise TexsynthError(
            f"cannot read 16-bit colour PNG {_q(path)}: {_one_line(exc)}; "
            "if the file opens elsewhere, convert it to a 16-bit TIFF (.tif)"
        ) from None
    arr = (hi.astype(np.uint16) << 8) | lo.astype(np.uint16)
    return np.moveaxis(arr, -1, 0)


def _png_chunks(data: bytes) -> tuple[int, int, int, int, bytes]:
    """Parse a PNG: ``(width, height, colour type, interlace, concatenated IDAT data)``."""
    if data[:8] != _PNG_SIGNATURE:
        raise ValueError("not a PNG file")
    pos, ihdr, idat = 8, b"", []
    while pos + 12 <= len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind = data[pos + 4 : pos + 8]
        body = data[pos + 8 : pos + 8 + length]
        crc = data[pos + 8 + length : pos + 12 + length]
        if len(crc) < 4:
            break
        if zlib.crc32(kind + body) != struct.unpack(">I", crc)[0]:
            raise ValueError(f"CRC error in {kind.decode('latin-1')} chunk")
        if kind == b"IHDR":
            ihdr = body
        elif kind == b"IDAT":
            idat.append(body)
        elif kind == b"IEND":
            break
        pos += 12 + length
    if len(ihdr) != 13:
        raise ValueError("missing IHDR chunk")
    width, height, depth, colour_type, compression, filtering, interlace = struct.unpack(
        ">IIBBBBB", ihdr
    )
    if depth != 16 or colour_type not in (2, 4, 6) or compression or filtering:
        raise ValueError("unsupported PNG header")
    if interlace not in (0, 1):
        raise ValueError(f"unknown interlace method {interlace}")
    if not idat:
        raise ValueError("no image data (IDAT chunk)")
    return width, height, colour_type, interlace, b"".join(idat)


@contextlib.contextmanager
def _quiet_logger(name: str) -> Any:
    """Silence a library's logger below ERROR for a while (tifffile logs a warning for
    the damage that then raises the error texsynth reports in one line)."""
    lib = logging.getLogger(name)
    level = lib.level
    lib.setLevel(logging.ERROR)
    try:
        yield
    finally:
        lib.setLevel(level)


def _read_tiff(path: Path) -> np.ndarray:
    import tifffile

    try:
        with _quiet_logger("tifffile"), tifffile.TiffFile(path) as tif:
            n_pages = sum(1 for page in tif.pages if not getattr(page, "is_reduced", False))
            series = tif.series[0]
            page = series.keyframe
            axes, shape = series.axes, series.shape
            photometric = int(page.photometric)
            colormap = page.colormap
            compression = int(page.compression)
            arr = series.asarray()
    except Exception as exc:  # any library failure means an unreadable file
        raise _unreadable(path, exc) from None
    q = _q(path)
    extra = [(a, n) for a, n in zip(axes, shape, strict=True) if a not in "YXSC" and n > 1]
    if n_pages > 1 or extra:
        raise TexsynthError(
            f"{q} holds {max(n_pages, 1)} pages (axes {axes}, shape {tuple(shape)}), "
            "a stack or volume; texsynth reads one 2-D image: save a single page"
        )
    keep = [i for i, (a, n) in enumerate(zip(axes, shape, strict=True)) if a in "YXSC" or n > 1]
    arr = arr.reshape([shape[i] for i in keep])
    axes = "".join(axes[i] for i in keep)
    if axes in ("YXS", "YXC"):
        arr = np.moveaxis(arr, -1, 0)
    elif axes not in ("YX", "SYX", "CYX"):
        raise TexsynthError(
            f"{q} has unsupported layout (axes {axes}); save a 2-D grey or RGB image"
        )
    if photometric == 0 and arr.dtype.kind in "bu":  # MINISWHITE: 0 is white
        arr = ~arr if arr.dtype == np.bool_ else np.iinfo(arr.dtype).max - arr
    elif photometric == 3 and colormap is not None and arr.ndim == 2:  # palette
        arr = np.asarray(colormap)[:, arr]
    elif photometric == 6 and compression != 7:  # YCbCr that tifffile does not convert
        raise TexsynthError(f"{q} stores YCbCr colour; convert it to an RGB TIFF")
    elif photometric not in (0, 1, 2, 3, 6):
        raise TexsynthError(
            f"{q} uses TIFF photometric interpretation {photometric} (e.g. CMYK); "
            "convert it to a grey or RGB TIFF"
        )
    return arr


def _read_numpy(path: Path) -> np.ndarray:
    try:
        loaded = np.load(path, allow_pickle=False)
        if isinstance(loaded, np.lib.npyio.NpzFile):
            with loaded:
                keys = list(loaded.files)
                if len(keys) == 1:
                    key = keys[0]
                elif "image" in keys:
                    key = "image"
                elif "field" in keys:
                    key = "field"
                else:
                    key = None
                arr = None if key is None else loaded[key]
        else:
            arr = loaded
    except Exception as exc:  # any library failure means an unreadable file
        raise _unreadable(path, exc) from None
    if arr is None:
        listed = ", ".join(keys) if keys else "none"
        raise TexsynthError(
            f"{_q(path)} holds {len(keys)} arrays (keys: {listed}); "
            "name the one to read 'image' or 'field', or save just one"
        )
    if arr.ndim == 3 and arr.shape[-1] in (3, 4) and arr.shape[0] not in (3, 4):
        arr = np.moveaxis(arr, -1, 0)  # [H, W, C] -> [C, H, W]
    return arr


def _read_fits(path: Path) -> np.ndarray:
    fits = _fits_module("reading")
    shapes: list[tuple[int, ...]] = []
    # astropy's own warnings (VerifyWarning: a header that bends the standard, a truncated
    # file...) would reach the user raw, over several lines: they are collected here and
    # said once, in one line, if the file could be read at all
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            with fits.open(path, memmap=False) as hdul:
                for hdu in hdul:
                    if not hdu.is_image or hdu.data is None:
                        continue
                    data = hdu.data
                    while data.ndim > 3 and data.shape[0] == 1:  # e.g. radio [1, 1, H, W]
                        data = data[0]
                    if data.ndim in (2, 3):
                        out = np.array(data)
                        break
                    shapes.append(tuple(data.shape))
                else:
                    out = None
        except Exception as exc:  # any library failure means an unreadable file
            raise _unreadable(path, exc) from None
    _fits_warnings(path, caught)
    if out is not None:
        return out
    found = f"image HDUs of shapes {shapes}" if shapes else "no image data"
    raise TexsynthError(
        f"{_q(path)} has no 2-D or 3-D image HDU ({found}); "
        "save the image as [H, W] or [C, H, W] data"
    )


def _fits_warnings(path: Path, caught: list[warnings.WarningMessage]) -> None:
    """Re-issue the warnings astropy gave while reading ``path``: its own (header
    problems, truncation) as one :class:`TexsynthWarning` line, others unchanged."""
    astropy = []
    for w in caught:
        if type(w.message).__module__.startswith("astropy"):
            text = " ".join(str(w.message).split())
            text = text.replace(" (note: Astropy uses zero-based indexing)", "").rstrip(".")
            if text not in astropy:
                astropy.append(text)
        else:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    if astropy:
        more = f" (and {len(astropy) - 1} more)" if len(astropy) > 1 else ""
        warnings.warn(
            f"{_q(path)} does not follow the FITS standard: {astropy[0][:200]}{more}; the "
            "data were read anyway, check them",
            TexsynthWarning,
            stacklevel=4,
        )


_READERS: dict[str, Callable[[Path], np.ndarray]] = {
    "png": _read_pillow,
    "jpeg": _read_pillow,
    "webp": _read_pillow,
    "bmp": _read_pillow,
    "tiff": _read_tiff,
    "npy": _read_numpy,
    "npz": _read_numpy,
    "fits": _read_fits,
}


# ----------------------------------------------------------------------------- writing


def write_image(
    path: str | os.PathLike[str],
    image: torch.Tensor | np.ndarray,
    meta: ImageMeta | None = None,
    *,
    bit_depth: int | None = None,
) -> Path:
    """Write an image atomically, in the format given by the path's suffix.

    Parameters
    ----------
    path
        Output file; its directory must exist. The suffix (case-insensitive, one of
        :data:`SUPPORTED_SUFFIXES`) picks the format. An existing file is replaced.
    image
        Tensor or array of shape ``[H, W]``, ``[C, H, W]`` or ``[1, C, H, W]`` with
        ``C`` = 1 or 3. Float data is written as is (integer depths clip it to [0, 1]
        first); integer or bool input is first divided by its dtype maximum, like
        :func:`read_image` does.
    meta
        Metadata from :func:`read_image`: writes the bit depth the data was read from
        (uint8 -> 8-bit, uint16 -> 16-bit, float -> float32; see
        :attr:`ImageMeta.bit_depth`).
    bit_depth
        8, 16 (unsigned integers scaled from [0, 1]) or 32 (float32); overrides ``meta``.
        Without either: 8 for PNG, JPEG, WebP and BMP; 32 for TIFF, NPY, NPZ and FITS.

    Returns
    -------
    pathlib.Path
        The path written.

    Raises
    ------
    TexsynthError
        If the directory is missing, the suffix unknown, the image of the wrong shape or
        holds NaN/Inf values, the format cannot store the bit depth (float in PNG/JPEG,
        16-bit in JPEG/WebP/BMP), or the file cannot be written. No partial file is left.

    Notes
    -----
    grey NPY/NPZ/FITS are written as ``[H, W]``, colour as ``[C, H, W]``; NPZ under the
    key ``image``. JPEG is written at quality 95, WebP losslessly (WebP has no grey
    mode, so grey comes back as RGB).
    """
    p = as_path(path, "path")
    fmt = _format_of(p, "write")
    q = _q(p)
    check_target(p)
    data = _as_chw_float32(image, q)
    depth = _choose_depth(fmt, meta, bit_depth, q)
    if depth == 32:
        out = data
    else:
        top = 255 if depth == 8 else 65535
        n_clipped = int(np.count_nonzero((data < 0) | (data > 1)))
        if n_clipped:
            logger.warning(
                "clipped %d of %d values outside [0, 1] writing %s as %d-bit",
                n_clipped,
                data.size,
                p,
                depth,
            )
        scaled = np.rint(np.clip(data.astype(np.float64), 0.0, 1.0) * top)
        out = scaled.astype(np.uint8 if depth == 8 else np.uint16)
    if fmt == "fits":
        _fits_module("writing")
    if fmt == "webp":
        from PIL import features

        if not features.check("webp"):
            raise TexsynthError(
                f"cannot write {q}: this Pillow build has no WebP support; write .png instead"
            )
    _atomic_write(p, lambda f: _WRITERS[fmt](f, out, fmt))
    logger.debug("wrote %s: shape %s, %s", p, out.shape, out.dtype)
    return p


def real_array(data: Any, q: str, what: str) -> np.ndarray:
    """A tensor or array to write (``what`` names it in errors) as a numpy array of real
    numbers (booleans, integers or floats)."""
    if isinstance(data, torch.Tensor):
        t = data.detach().cpu()
        if t.dtype in (torch.bfloat16, torch.float16):
            t = t.float()
        arr = t.numpy()
    elif isinstance(data, np.ndarray):
        arr = data
    else:
        raise TexsynthError(
            f"cannot write {q}: {what} must be a torch.Tensor or numpy.ndarray, "
            f"got {type(data).__name__}"
        )
    if arr.dtype.kind not in "biuf":
        raise TexsynthError(f"cannot write {q}: {what} has dtype {arr.dtype}; give real numbers")
    return arr


def _as_chw_float32(image: Any, q: str) -> np.ndarray:
    """Input tensor/array -> float32 ``[C, H, W]`` numpy array with C in (1, 3), all finite."""
    arr = real_array(image, q, "image")
    if arr.ndim == 4 and arr.shape[0] == 1:
        arr = arr[0]
    if arr.ndim == 2:
        arr = arr[None]
    if arr.ndim != 3 or arr.shape[0] not in (1, 3):
        raise TexsynthError(
            f"cannot write {q}: image has shape {tuple(arr.shape)}; give [H, W], [C, H, W] "
            "or [1, C, H, W] with C = 1 (grey) or 3 (RGB), channels first"
        )
    if arr.size == 0:
        raise TexsynthError(f"cannot write {q}: image is empty (shape {tuple(arr.shape)})")
    if arr.dtype.kind != "f":
        hi = _int_limits(arr.dtype)[1]
        arr = arr.astype(np.float64) / hi
    with np.errstate(over="ignore"):
        arr = np.ascontiguousarray(arr, dtype=np.float32)
    finite = np.isfinite(arr)
    if not finite.all():
        n_bad = int(arr.size - np.count_nonzero(finite))
        n_nan = int(np.count_nonzero(np.isnan(arr)))
        raise TexsynthError(
            f"cannot write {q}: image has {n_bad} non-finite values ({n_nan} NaN, "
            f"{n_bad - n_nan} Inf or beyond float32) out of {arr.size}; fill them first"
        )
    return arr


def _choose_depth(fmt: str, meta: ImageMeta | None, bit_depth: int | None, q: str) -> int:
    if bit_depth is not None:
        if bit_depth not in (8, 16, 32):
            raise TexsynthError(
                f"cannot write {q}: bit_depth={bit_depth!r}; use 8, 16 or 32 (float32)"
            )
        depth, source = bit_depth, f"bit_depth={bit_depth}"
    elif meta is not None:
        depth, source = meta.bit_depth, f"meta (read as {meta.dtype})"
    else:
        return 8 if fmt in _PILLOW_NAMES else 32
    if depth == 32 and fmt in _PILLOW_NAMES:
        raise TexsynthError(
            f"cannot write {q}: {fmt.upper()} cannot hold float32 data ({source}); "
            "write .tif or .npy, or pass bit_depth=8 or 16 for [0, 1] data"
        )
    if depth == 16 and fmt in _EIGHT_BIT_ONLY:
        raise TexsynthError(
            f"cannot write {q}: {fmt.upper()} holds 8-bit data only ({source}); "
            "pass bit_depth=8, or write .png or .tif"
        )
    return depth


def _atomic_write(path: Path, write: Callable[[IO[bytes]], None]) -> None:
    """Run ``write`` on a temporary file next to ``path``, then rename it over ``path``."""
    from .atomic import temp_path

    tmp = temp_path(path)  # hidden, tagged with the process id (stale ones are cleaned)
    done = False
    try:
        with open(tmp, "xb"):  # claim the name; permissions follow the umask
            pass
        with open(tmp, "wb") as f:  # "wb", not "xb": astropy only knows the usual modes
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        done = True
    except OSError as exc:
        raise TexsynthError(f"cannot write {_q(path)}: {_one_line(exc)}") from None
    finally:
        if not done:
            with contextlib.suppress(OSError):
                tmp.unlink()


def atomic_text_write(path: str | os.PathLike[str], text: str) -> Path:
    """Write UTF-8 ``text`` to ``path`` atomically (temporary file, then rename)."""
    path = as_path(path, "path")
    check_target(path)
    _atomic_write(path, lambda f: f.write(text.encode("utf-8")))
    return path


def _write_pillow(f: IO[bytes], data: np.ndarray, fmt: str) -> None:
    from PIL import Image

    if fmt == "png" and data.dtype == np.uint16 and data.shape[0] == 3:
        f.write(_encode_png16(np.moveaxis(data, 0, -1)))
        return
    im = Image.fromarray(data[0] if data.shape[0] == 1 else np.moveaxis(data, 0, -1))
    options: dict[str, Any] = {"jpeg": {"quality": 95}, "webp": {"lossless": True}}.get(fmt, {})
    im.save(f, format=_PILLOW_NAMES[fmt], **options)


def _encode_png16(rgb: np.ndarray) -> bytes:
    """Encode ``[H, W, 3]`` uint16 as a 16-bit RGB PNG (Paeth filter, no interlace)."""
    height, width, samples = rgb.shape
    bpp = 2 * samples
    rows = np.ascontiguousarray(rgb, dtype=">u2").view(np.uint8).reshape(height, width * bpp)
    block = max(1, _PNG_FILTER_BLOCK_BYTES // rows.shape[1])
    compressor = zlib.compressobj(6)
    idat = []
    prev = np.zeros(rows.shape[1], np.uint8)
    for start in range(0, height, block):
        part = rows[start : start + block]
        up = np.concatenate([prev[None], part[:-1]])
        filter_type = np.full((len(part), 1), 4, np.uint8)  # 4 = Paeth
        scanlines = np.concatenate([filter_type, _paeth_filter(part, up, bpp)], axis=1)
        idat.append(compressor.compress(scanlines.tobytes()))
        prev = part[-1]
    idat.append(compressor.flush())
    payload = b"".join(idat)
    ihdr = struct.pack(">IIBBBBB", width, height, 16, 2, 0, 0, 0)
    chunks = [_png_chunk(b"IHDR", ihdr)]
    step = 1 << 20
    chunks += [_png_chunk(b"IDAT", payload[i : i + step]) for i in range(0, len(payload), step)]
    chunks.append(_png_chunk(b"IEND", b""))
    return _PNG_SIGNATURE + b"".join(chunks)


def _paeth_filter(rows: np.ndarray, up: np.ndarray, bpp: int) -> np.ndarray:
    """PNG Paeth filter (type 4) of uint8 scanlines ``rows`` given the rows above, ``up``."""
    cur = rows.astype(np.int16)
    b = up.astype(np.int16)
    a = np.zeros_like(cur)
    a[:, bpp:] = cur[:, :-bpp]
    c = np.zeros_like(b)
    c[:, bpp:] = b[:, :-bpp]
    pa = np.abs(b - c)  # |p - a| with p = a + b - c
    pb = np.abs(a - c)
    pc = np.abs(a + b - 2 * c)
    pred = np.where((pa <= pb) & (pa <= pc), a, np.where(pb <= pc, b, c))
    return ((cur - pred) & 0xFF).astype(np.uint8)


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def _write_tiff(f: IO[bytes], data: np.ndarray, fmt: str) -> None:
    import tifffile

    if data.shape[0] == 1:
        tifffile.imwrite(f, data[0], photometric="minisblack", metadata=None)
    else:
        tifffile.imwrite(f, np.moveaxis(data, 0, -1), photometric="rgb", metadata=None)


def _write_npy(f: IO[bytes], data: np.ndarray, fmt: str) -> None:
    arr = data[0] if data.shape[0] == 1 else data
    if fmt == "npz":
        np.savez_compressed(f, image=arr)
    else:
        np.save(f, arr, allow_pickle=False)


def _write_fits(f: IO[bytes], data: np.ndarray, fmt: str) -> None:
    fits = _fits_module("writing")
    fits.PrimaryHDU(data=data[0] if data.shape[0] == 1 else data).writeto(f)


_WRITERS: dict[str, Callable[[IO[bytes], np.ndarray, str], None]] = {
    "png": _write_pillow,
    "jpeg": _write_pillow,
    "webp": _write_pillow,
    "bmp": _write_pillow,
    "tiff": _write_tiff,
    "npy": _write_npy,
    "npz": _write_npy,
    "fits": _write_fits,
}
