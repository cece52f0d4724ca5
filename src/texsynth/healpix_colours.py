"""Colours for pictures of HEALPix maps: a float image to ``[H, W, 3]`` uint8 with viridis
(van der Walt and Smith, matplotlib's and healpy's default colour map) or grey, NaN pixels
in a background colour (:mod:`texsynth.healpix_views` draws with them)."""

from __future__ import annotations

import numpy as np

from .errors import TexsynthError

__all__ = ["UNSEEN_RGB", "colour_image", "to_rgb"]

#: viridis (van der Walt and Smith, matplotlib's default colour map) at 17 even steps; the
#: linear interpolation between them is within 6/255 of the full table.
_VIRIDIS = np.array(
    [
        (68, 1, 84), (72, 24, 106), (71, 45, 123), (66, 64, 134), (59, 82, 139),
        (51, 99, 141), (44, 114, 142), (38, 130, 142), (33, 145, 140), (31, 160, 136),
        (40, 174, 128), (63, 188, 115), (94, 201, 98), (132, 212, 75), (173, 220, 48),
        (216, 226, 25), (253, 231, 37),
    ],
    dtype=np.float64,
)  # fmt: skip
#: grey, as healpy draws UNSEEN pixels
UNSEEN_RGB = (160, 160, 160)


def to_rgb(
    image: np.ndarray,
    *,
    vmin: float | None = None,
    vmax: float | None = None,
    cmap: str = "viridis",
    background: tuple[int, int, int] = (255, 255, 255),
) -> np.ndarray:
    """An image of :func:`mollweide` or :func:`gnomonic` as ``[H, W, 3]`` uint8 colours.

    ``vmin``/``vmax`` (default: the image's finite minimum and maximum) map to the ends of
    ``cmap``, ``"viridis"`` (healpy's and matplotlib's default) or ``"grey"``; NaN pixels
    get ``background``.
    """
    img = np.asarray(image, dtype=np.float64)
    finite = np.isfinite(img)
    lo = float(img[finite].min()) if vmin is None and finite.any() else float(vmin or 0.0)
    hi = float(img[finite].max()) if vmax is None and finite.any() else float(vmax or 1.0)
    return colour_image(img, lo, hi, cmap, background)


def colour_image(
    img: np.ndarray, lo: float, hi: float, cmap: str, background: tuple[int, int, int]
) -> np.ndarray:
    """``img`` as ``[H, W, 3]`` uint8 colours, ``lo`` and ``hi`` at the ends of ``cmap``
    (``"viridis"`` or ``"grey"``), NaN pixels ``background``."""
    if cmap not in ("viridis", "grey", "gray"):
        raise TexsynthError(f"cmap must be 'viridis' or 'grey', got {cmap!r}")
    t = np.clip((np.nan_to_num(img, nan=lo) - lo) / (hi - lo if hi > lo else 1.0), 0.0, 1.0)
    if cmap == "viridis":
        steps = np.linspace(0.0, 1.0, len(_VIRIDIS))
        rgb = np.stack([np.interp(t, steps, _VIRIDIS[:, k]) for k in range(3)], -1)
    else:
        rgb = np.repeat(t[..., None] * 255.0, 3, -1)
    out = (rgb + 0.5).astype(np.uint8)
    out[np.isnan(img)] = background
    return out
