"""Read and write exemplar images and fields: PNG, JPEG, WebP, BMP, TIFF, NPY/NPZ and FITS.

:func:`read_image` returns a float32 ``[C, H, W]`` tensor (``C`` = 1 grey or 3 RGB) plus an
:class:`ImageMeta` that records where the numbers came from; :func:`write_image` writes a
tensor or array back, restoring the original bit depth when given that metadata.

Conventions
-----------
* Integer data (uint8, uint16, 1-bit, other int types) is divided by its dtype's maximum,
  so 8- and 16-bit images come back in [0, 1]. Float data (float TIFF, NPY, FITS) is
  returned unscaled, in its own units.
* Alpha channels are dropped with a :class:`~texsynth.errors.TexsynthWarning`: a
  2-channel image is read as grey + alpha, a 4-channel image as RGB + alpha.
* Arrays are never flipped: FITS row 0 stays row 0 (astropy's order, not the display
  convention with row 0 at the bottom).
* Writes are atomic (:func:`texsynth.atomic.atomic_write`).
"""

from __future__ import annotations

import logging
import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..atomic import atomic_write
from ..errors import TexsynthError, TexsynthWarning
from ..paths import quote_path
from .checks import (
    array_to_write,
    check_finite_read,
    check_finite_to_write,
    check_real_read,
    input_file,
    output_file,
    with_channel_axis,
)
from .formats import (
    EIGHT_BIT_ONLY,
    PILLOW_NAMES,
    READERS,
    WRITERS,
    fits_module,
    format_of,
    int_limits,
)

__all__ = ["ImageMeta", "read_image", "write_image"]

logger = logging.getLogger(__name__)


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
    p, fmt = input_file(path, format_of, "an image file", "re-export or re-download it")
    reader = READERS[fmt]
    data = reader(p)
    return _finish(p, fmt, data, allow_nonfinite)


def _finish(
    path: Path, fmt: str, data: np.ndarray, allow_nonfinite: bool
) -> tuple[torch.Tensor, ImageMeta]:
    """Check a ``[H, W]`` or ``[C, H, W]`` array, drop alpha, scale and wrap as a tensor."""
    q = quote_path(path)
    check_real_read(data, q, "an image")
    data = data.astype(data.dtype.newbyteorder("="), copy=False)
    if data.size == 0:
        raise TexsynthError(
            f"{q} holds an empty array (shape {data.shape}); give an image with pixels"
        )
    data = with_channel_axis(data, q, 2, "texsynth reads 2-D [H, W] or 3-D [C, H, W] images")
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
        lo, hi = int_limits(data.dtype)
        work = np.float32 if data.dtype.itemsize <= 2 else np.float64
        out = (data.astype(work) / work(hi)).astype(np.float32)
    image = torch.from_numpy(np.ascontiguousarray(out))
    finite, n_bad = check_finite_read(image, q, allow_nonfinite, "read_image")
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
    p, fmt, q = output_file(path, format_of)
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
        fits_module("writing")
    if fmt == "webp":
        from PIL import features

        if not features.check("webp"):
            raise TexsynthError(
                f"cannot write {q}: this Pillow build has no WebP support; write .png instead"
            )
    atomic_write(p, lambda f: WRITERS[fmt](f, out, fmt))
    logger.debug("wrote %s: shape %s, %s", p, out.shape, out.dtype)
    return p


def _as_chw_float32(image: Any, q: str) -> np.ndarray:
    """Input tensor/array -> float32 ``[C, H, W]`` numpy array with C in (1, 3), all finite."""
    arr = array_to_write(image, q, "image", 2)
    if arr.ndim != 3 or arr.shape[0] not in (1, 3):
        raise TexsynthError(
            f"cannot write {q}: image has shape {tuple(arr.shape)}; give [H, W], [C, H, W] "
            "or [1, C, H, W] with C = 1 (grey) or 3 (RGB), channels first"
        )
    if arr.size == 0:
        raise TexsynthError(f"cannot write {q}: image is empty (shape {tuple(arr.shape)})")
    if arr.dtype.kind != "f":
        hi = int_limits(arr.dtype)[1]
        arr = arr.astype(np.float64) / hi
    with np.errstate(over="ignore"):
        arr = np.ascontiguousarray(arr, dtype=np.float32)
    check_finite_to_write(arr, q, "image", converted_to="float32")
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
        return 8 if fmt in PILLOW_NAMES else 32
    if depth == 32 and fmt in PILLOW_NAMES:
        raise TexsynthError(
            f"cannot write {q}: {fmt.upper()} cannot hold float32 data ({source}); "
            "write .tif or .npy, or pass bit_depth=8 or 16 for [0, 1] data"
        )
    if depth == 16 and fmt in EIGHT_BIT_ONLY:
        raise TexsynthError(
            f"cannot write {q}: {fmt.upper()} holds 8-bit data only ({source}); "
            "pass bit_depth=8, or write .png or .tif"
        )
    return depth
