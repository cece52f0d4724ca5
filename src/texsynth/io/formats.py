"""File formats of images and fields: a reader and a writer for each suffix.

PNG, JPEG, WebP and BMP go through Pillow, 16-bit colour PNG through ``imagecodecs`` (Pillow
reads it as 8 bits), TIFF through ``tifffile``, NPY/NPZ through NumPy and FITS through
``astropy`` (optional). Readers return ``[H, W]`` or ``[C, H, W]`` arrays of the stored
dtype; writers take ``[C, H, W]`` arrays already in the stored dtype.
"""

from __future__ import annotations

import contextlib
import logging
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

import numpy as np

from ..errors import TexsynthError, TexsynthWarning
from ..paths import one_line, quote_path

__all__ = [
    "FORMATS",
    "READERS",
    "SUPPORTED_SUFFIXES",
    "WRITERS",
    "fits_module",
    "format_of",
    "npy_shape",
    "reissue_fits_warnings",
    "unreadable_error",
]


FORMATS: dict[str, str] = {
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
SUPPORTED_SUFFIXES: tuple[str, ...] = tuple(FORMATS)


PILLOW_NAMES = {"png": "PNG", "jpeg": "JPEG", "webp": "WEBP", "bmp": "BMP"}


EIGHT_BIT_ONLY = ("jpeg", "webp", "bmp")


_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def format_of(path: Path, action: str) -> str:
    """The format (``"png"``, ``"npy"``...) of ``path``'s suffix, or a one-line error naming
    the supported suffixes (``action``: ``"read"`` or ``"write"``, for the message)."""
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        kind = path.suffix or "(no suffix)"
        raise TexsynthError(
            f"cannot {action} {quote_path(path)}: unknown file type {kind!r}; "
            f"use one of {', '.join(SUPPORTED_SUFFIXES)}"
        )
    return fmt


def fits_module(action: str) -> Any:
    """``astropy.io.fits``, or a one-line error saying how to install it (``action``, e.g.
    ``"reading"``, starts the message)."""
    try:
        from astropy.io import fits
    except ImportError:
        raise TexsynthError(
            f"{action} FITS files needs astropy: pip install 'texsynth[fits]'"
        ) from None
    return fits


def int_limits(dtype: np.dtype) -> tuple[float, float]:
    if dtype == np.bool_:
        return 0.0, 1.0
    info = np.iinfo(dtype)
    return float(info.min), float(info.max)


def npy_shape(path: Path) -> tuple[int, ...]:
    """The shape of the array in the ``.npy`` file ``path``, from its header only (no data
    read, no file left open); the errors of :mod:`numpy.lib.format` (a file that is not
    ``.npy``) and of :func:`open` pass through."""
    with open(path, "rb") as f:
        version = np.lib.format.read_magic(f)
        read_header = (
            np.lib.format.read_array_header_1_0
            if version == (1, 0)
            else np.lib.format.read_array_header_2_0
        )
        return tuple(int(n) for n in read_header(f)[0])


def unreadable_error(path: Path, exc: BaseException) -> TexsynthError:
    """The one-line error for a file a library failed to read (``exc``, any exception):
    permission denied, or a corrupt or truncated file; raise it ``from None``."""
    if isinstance(exc, PermissionError):
        return TexsynthError(
            f"cannot read {quote_path(path)}: permission denied; check the file's permissions"
        )
    return TexsynthError(
        f"cannot read {quote_path(path)}: {one_line(exc)}; the file may be corrupt or truncated"
    )


def _read_pillow(path: Path) -> np.ndarray:
    try:
        header = _png_header(path)
    except OSError as exc:
        raise unreadable_error(path, exc) from None
    if header is not None and header[0] == 16 and header[1] in (2, 4, 6):
        return _read_png16_colour(path)
    from PIL import Image, ImageOps

    try:
        with Image.open(path) as im:
            im.load()
            rotated = im.getexif().get(0x0112, 1) != 1  # EXIF orientation: show it upright
            return _pillow_to_array(ImageOps.exif_transpose(im) if rotated else im, header)
    except Image.DecompressionBombError as exc:
        raise TexsynthError(
            f"cannot read {quote_path(path)}: {one_line(exc)}; "
            "raise PIL.Image.MAX_IMAGE_PIXELS if you trust the file"
        ) from None
    except Exception as exc:  # any library failure means an unreadable file
        raise unreadable_error(path, exc) from None


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
    """A 16-bit RGB, RGBA or grey+alpha PNG, exactly, as ``[C, H, W]`` uint16 (Pillow
    reads these as 8-bit; ``imagecodecs`` decodes them with libpng)."""
    import imagecodecs
    from PIL import Image

    data = path.read_bytes()
    width = int.from_bytes(data[16:20], "big")
    height = int.from_bytes(data[20:24], "big")
    limit = Image.MAX_IMAGE_PIXELS
    if limit and width * height > 2 * limit:
        raise TexsynthError(
            f"cannot read {quote_path(path)}: {width}x{height} pixels is over the "
            "decompression-bomb limit; raise PIL.Image.MAX_IMAGE_PIXELS if you trust the file"
        )
    try:
        arr = imagecodecs.png_decode(data)
    except Exception as exc:  # corrupt or truncated data (libpng's words vary)
        raise TexsynthError(
            f"cannot read 16-bit colour PNG {quote_path(path)}: the file is corrupt or "
            f"truncated ({one_line(exc)[:80]}); if it opens elsewhere, convert it to a "
            "16-bit TIFF (.tif)"
        ) from None
    return np.moveaxis(np.asarray(arr, dtype=np.uint16), -1, 0)


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
        raise unreadable_error(path, exc) from None
    q = quote_path(path)
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
        raise unreadable_error(path, exc) from None
    if arr is None:
        listed = ", ".join(keys) if keys else "none"
        raise TexsynthError(
            f"{quote_path(path)} holds {len(keys)} arrays (keys: {listed}); "
            "name the one to read 'image' or 'field', or save just one"
        )
    if arr.ndim == 3 and arr.shape[-1] in (3, 4) and arr.shape[0] not in (3, 4):
        arr = np.moveaxis(arr, -1, 0)  # [H, W, C] -> [C, H, W]
    return arr


def _read_fits(path: Path) -> np.ndarray:
    fits = fits_module("reading")
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
            raise unreadable_error(path, exc) from None
    reissue_fits_warnings(path, caught)
    if out is not None:
        return out
    found = f"image HDUs of shapes {shapes}" if shapes else "no image data"
    raise TexsynthError(
        f"{quote_path(path)} has no 2-D or 3-D image HDU ({found}); "
        "save the image as [H, W] or [C, H, W] data"
    )


def reissue_fits_warnings(path: Path, caught: list[warnings.WarningMessage]) -> None:
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
            f"{quote_path(path)} does not follow the FITS standard: {astropy[0][:200]}{more}; the "
            "data were read anyway, check them",
            TexsynthWarning,
            stacklevel=4,
        )


READERS: dict[str, Callable[[Path], np.ndarray]] = {
    "png": _read_pillow,
    "jpeg": _read_pillow,
    "webp": _read_pillow,
    "bmp": _read_pillow,
    "tiff": _read_tiff,
    "npy": _read_numpy,
    "npz": _read_numpy,
    "fits": _read_fits,
}


def _write_pillow(f: IO[bytes], data: np.ndarray, fmt: str) -> None:
    from PIL import Image

    if fmt == "png" and data.dtype == np.uint16 and data.shape[0] == 3:
        import imagecodecs

        f.write(imagecodecs.png_encode(np.ascontiguousarray(np.moveaxis(data, 0, -1)), level=6))
        return
    im = Image.fromarray(data[0] if data.shape[0] == 1 else np.moveaxis(data, 0, -1))
    options: dict[str, dict[str, Any]] = {"jpeg": {"quality": 95}, "webp": {"lossless": True}}
    im.save(f, format=PILLOW_NAMES[fmt], **options.get(fmt, {}))


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
    fits = fits_module("writing")
    fits.PrimaryHDU(data=data[0] if data.shape[0] == 1 else data).writeto(f)


WRITERS: dict[str, Callable[[IO[bytes], np.ndarray, str], None]] = {
    "png": _write_pillow,
    "jpeg": _write_pillow,
    "webp": _write_pillow,
    "bmp": _write_pillow,
    "tiff": _write_tiff,
    "npy": _write_npy,
    "npz": _write_npy,
    "fits": _write_fits,
}
