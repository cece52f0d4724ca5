"""The HEALPix sphere as a domain: maps ``[B, C, npix]`` in the nested ordering.

HEALPix (Gorski et al. 2005, "HEALPix: a framework for high-resolution discretization and
fast analysis of data distributed on the sphere") cuts the sphere into ``12 nside**2``
pixels of equal area; in the nested ordering the four children of a pixel at ``nside`` are
the four consecutive pixels ``4p ... 4p + 3`` at ``2 nside``, so the pyramid
``nside -> nside / 2`` is a reshape and a mean. The pixel geometry (centres, neighbours,
interpolation weights) comes from ``healpy`` (``pip install texsynth[healpix]``).

Only full skies so far; a partial sky (foscat's ``cell_ids``) is the full sky with a mask.
"""

from __future__ import annotations

import functools
import math
from typing import Any

import numpy as np
import torch

from ..errors import TexsynthError

__all__ = [
    "HealpixSphere",
    "check_nside",
    "healpy_module",
    "neighbour_table",
    "npix_of",
    "nside_of",
    "upsampling_table",
]

Shape = tuple[int, ...]


def healpy_module() -> Any:
    """``healpy``, or a one-line error saying how to install it."""
    try:
        import healpy
    except ImportError:
        raise TexsynthError(
            "HEALPix maps need healpy: pip install 'texsynth[healpix]' (or pip install healpy)"
        ) from None
    return healpy


def check_nside(nside: object, what: str = "nside") -> int:
    """``nside`` if it is a power of two from 1 to 2**29 (a one-line error otherwise)."""
    if (
        isinstance(nside, bool)
        or not isinstance(nside, (int, np.integer))
        or nside < 1
        or nside > 2**29
        or nside & (nside - 1)
    ):
        raise TexsynthError(f"{what} must be a power of two (1, 2, 4, ... 2**29), got {nside!r}")
    return int(nside)


def nside_of(npix: int, what: str = "a HEALPix map") -> int:
    """The ``nside`` of a full-sky map of ``npix`` pixels (``12 nside**2``)."""
    nside = math.isqrt(npix // 12) if npix >= 12 else 0
    if npix < 12 or 12 * nside * nside != npix or nside & (nside - 1):
        raise TexsynthError(
            f"{what} has {npix} pixels, not 12 * nside**2 for a power-of-two nside "
            "(12, 48, 192, 768, 3072, ...); give a full-sky HEALPix map"
        )
    return nside


def npix_of(nside: int) -> int:
    """Pixels of a full sky at ``nside``."""
    return 12 * nside * nside


@functools.cache
def neighbour_table(nside: int) -> torch.Tensor:
    """``[npix, 8]`` nested indices of each pixel's neighbours (healpy's order: SW, W, NW,
    N, NE, E, SE, S); a missing neighbour (8 pixels at nside >= 2 have 7) is the pixel
    itself."""
    hp = healpy_module()
    pix = np.arange(npix_of(nside))
    nb = hp.get_all_neighbours(nside, pix, nest=True).T  # [npix, 8]
    nb = np.where(nb < 0, pix[:, None], nb)
    return torch.as_tensor(nb, dtype=torch.long)


@functools.cache
def upsampling_table(nside: int) -> tuple[torch.Tensor, torch.Tensor]:
    """For each pixel at ``2 nside``: the 4 pixels at ``nside`` around its centre and their
    bilinear interpolation weights (``healpy.get_interp_weights``), ``[npix(2 nside), 4]``
    each (nested indices, float64 weights summing to 1)."""
    hp = healpy_module()
    theta, phi = HealpixSphere.centres(2 * nside)
    pix, w = hp.get_interp_weights(nside, theta, phi, nest=True)  # [4, npix_fine] each
    return torch.as_tensor(pix.T.astype(np.int64)), torch.as_tensor(w.T.astype(np.float64))


class HealpixSphere:
    """The full HEALPix sphere, nested ordering: maps ``[B, C, npix]``.

    The methods are those of :class:`~texsynth.domains.PeriodicGrid` (the scattering core
    asks a domain for them), with shapes ``(npix,)``: the pixels of scale ``j`` are those of
    ``nside / 2**j``, masks are eroded through pixel neighbours, and means are plain means
    (the pixels have equal areas).

    Examples
    --------
    >>> sphere = HealpixSphere()
    >>> sphere.scale_shape((3072,), 2)   # nside 16 -> 4
    (192,)
    """

    ndim: int = 1
    dims: tuple[int, ...] = (-1,)

    def __repr__(self) -> str:
        return "HealpixSphere()"

    # ------------------------------------------------------------------ shapes
    def shape(self, t: torch.Tensor) -> Shape:
        """``(npix,)`` of a map ``t``."""
        return (int(t.shape[-1]),)

    def size(self, shape: Shape) -> int:
        """Number of pixels of a sky of ``shape``."""
        return int(shape[0])

    def nside(self, shape: Shape) -> int:
        """The ``nside`` of a full sky of ``shape``."""
        return nside_of(int(shape[0]))

    def max_scales(self, shape: Shape) -> int:
        """Scales down to ``nside = 2`` (a coarser sky has too few pixels for a stencil):
        ``log2(nside)``."""
        return int(math.log2(self.nside(shape)))

    def scale_shape(self, shape: Shape, j: int) -> Shape:
        """The pixels on which scale ``j`` is computed: those of ``nside / 2**j``."""
        return (npix_of(max(self.nside(shape) >> j, 1)),)

    # ------------------------------------------------------------------ pyramid
    def downsample(self, t: torch.Tensor, shape: Shape) -> torch.Tensor:
        """Mean of each coarse pixel's children (nested ordering: consecutive pixels)."""
        n, m = int(t.shape[-1]), int(shape[0])
        if n == m:
            return t
        if n % m or (n // m) & (n // m - 1) or nside_of(n) < nside_of(m):
            raise TexsynthError(f"cannot downsample a map of {n} pixels to {m}")
        return t.unflatten(-1, (m, n // m)).mean(-1)

    def upsample(self, t: torch.Tensor, shape: Shape) -> torch.Tensor:
        """Bilinear interpolation of a map onto the finer sky of ``shape`` (one doubling of
        ``nside`` at a time): smooth, unlike repeating each pixel into its children, whose
        steps at the coarse pixels' edges would read as fine-scale structure."""
        n, m = int(t.shape[-1]), int(shape[0])
        if m < n or m % n or nside_of(m) & (nside_of(m) - 1):
            raise TexsynthError(f"cannot upsample a map of {n} pixels to {m}")
        while n < m:
            pix, w = upsampling_table(nside_of(n))
            t = (t[..., pix.to(t.device)] * w.to(t)).sum(-1)
            n = int(t.shape[-1])
        return t

    # ------------------------------------------------------------------ means and masks
    def flatten(self, t: torch.Tensor) -> torch.Tensor:
        """``t`` itself (the pixels are already one axis)."""
        return t

    def mean(self, t: torch.Tensor, w: torch.Tensor | None = None) -> torch.Tensor:
        """Mean over the pixels, weighted by ``w`` (normalised to sum 1; ``None``:
        uniform, the pixels having equal areas)."""
        if w is None:
            return t.mean(-1)
        extra = t.dim() - w.dim()
        wt = w.reshape(*w.shape[:2], *([1] * extra), *w.shape[2:])
        return (t * wt).sum(-1)

    def normalise(self, w: torch.Tensor) -> torch.Tensor:
        """Weights ``w`` divided by their sum over the pixels."""
        return w / w.sum(-1, keepdim=True)

    def erode(self, valid: torch.Tensor, radius: int) -> torch.Tensor:
        """Pixels whose neighbourhood of ``radius`` rings is all valid (0/1 maps)."""
        if radius <= 0 or bool((valid > 0).all()):
            return valid
        nb = neighbour_table(self.nside(self.shape(valid))).to(valid.device)
        out = valid
        for _ in range(radius):
            out = torch.minimum(out, out[..., nb].amin(-1))
        return out

    def sample(self, t: torch.Tensor, shape: Shape) -> torch.Tensor:
        """A full-resolution map on a coarser sky: its children's mean."""
        return self.downsample(t, shape)

    def fill_masked(self, x: torch.Tensor, m: torch.Tensor) -> torch.Tensor:
        """Pixels of weight 0 replaced by the weighted mean of the valid ones."""
        mean = (x * m).sum(-1, keepdim=True) / m.sum(-1, keepdim=True)
        return torch.where(m > 0, x, mean)

    def pad_reflect(
        self, x: torch.Tensor, y: torch.Tensor | None, m: torch.Tensor | None, radius: int
    ) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor]:
        """The sphere has no edge: nothing to pad (the mask, all valid if ``None``)."""
        if m is None:
            m = torch.ones(1, 1, *self.shape(x), dtype=x.dtype, device=x.device)
        return x, y, m

    # ------------------------------------------------------------------ geometry
    @staticmethod
    @functools.cache
    def centres(nside: int) -> tuple[np.ndarray, np.ndarray]:
        """``(theta, phi)`` of every pixel centre (radians, nested order)."""
        hp = healpy_module()
        return hp.pix2ang(nside, np.arange(npix_of(nside)), nest=True)
