"""How the coarse-to-fine loop moves a batch between pyramid levels, per domain.

:func:`~texsynth.synthesis.levels.run_levels` asks a :class:`Resampling` for the shape of
each level, for the exemplar (and masks) averaged down to it, and for the previous level's
result brought up to it with fresh detail in the new frequency band. Periodic grids
(signals, images) use area averaging and band-limited Fourier resizing
(:mod:`texsynth.pyramid`); the HEALPix sphere averages each pixel's four nested children
and interpolates bilinearly (:class:`~texsynth.domains.healpix.HealpixSphere`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import torch

from ..domains.healpix import HealpixSphere, npix_of, nside_of
from ..pyramid import downsample, fourier_resize, level_shape

__all__ = [
    "GRID",
    "SPHERE",
    "GridResampling",
    "Resampling",
    "SphereResampling",
    "member_noise",
    "upsample_with_detail",
]

Shape = tuple[int, ...]


def member_noise(
    generators: Sequence[torch.Generator], shape: Sequence[int], dtype: torch.dtype
) -> torch.Tensor:
    """``[n, *shape]`` standard Gaussian noise, member ``k`` drawn from ``generators[k]``
    (on the CPU: a seed gives the same numbers on every device)."""
    return torch.cat([torch.randn(1, *shape, generator=g, dtype=dtype) for g in generators])


def _band_gain(ex_hf: torch.Tensor, noise_hf: torch.Tensor, ndim: int) -> torch.Tensor:
    """Per member and channel, the factor that gives ``noise_hf`` the exemplar band's
    energy (``[n, C, 1...]``)."""
    dims = tuple(range(2, 2 + ndim))
    ex_energy = ex_hf.pow(2).mean((0, *dims))  # [C]
    noise_energy = noise_hf.pow(2).mean(dims).clamp_min(1e-30)  # [n, C]
    gain = (ex_energy / noise_energy).sqrt().to(noise_hf)
    return gain[(..., *([None] * ndim))]


def upsample_with_detail(
    x: torch.Tensor,
    shape: Sequence[int],
    ex: torch.Tensor,
    generators: Sequence[torch.Generator],
    *,
    mirror: bool = False,
) -> torch.Tensor:
    """Periodic upsampling of ``x [n, C, *coarse]`` to ``shape`` plus noise in the new
    (finer) frequency band.

    Band-limited upsampling leaves the finest scales empty, where the wavelet moduli sit at
    their non-smooth zero and L-BFGS stalls. Each member's noise (from its own generator) is
    scaled to the energy the exemplar ``ex`` (this level) has in that band; ``mirror``: the
    exemplar is not periodic and its mirror extension (no end-to-start jump, whose ringing
    would count as fine-scale energy) is measured instead.
    """
    shape = tuple(shape)
    d = len(shape)
    coarse = tuple(x.shape[-d:])
    up = fourier_resize(x, shape)
    noise = member_noise(generators, up.shape[1:], up.dtype).to(up.device)
    noise_hf = noise - fourier_resize(fourier_resize(noise, coarse), shape)
    if mirror:
        ex = torch.cat([ex, ex.flip(-1)], -1)
    ex_shape = tuple(ex.shape[-d:])
    scaled = tuple(
        max(1, round(s * c / f)) for s, c, f in zip(ex_shape, coarse, shape, strict=True)
    )
    ex_hf = ex - fourier_resize(fourier_resize(ex, scaled), ex_shape)
    return up + noise_hf * _band_gain(ex_hf, noise_hf, d)


class Resampling(Protocol):
    """The pyramid of one domain, as the coarse-to-fine loop uses it."""

    def level_shape(self, shape: Shape, below: int) -> Shape:
        """The shape ``below`` levels under ``shape``."""
        ...

    def downsample(self, x: torch.Tensor, shape: Shape) -> torch.Tensor:
        """``x`` averaged down to ``shape``."""
        ...

    def upsample_with_detail(
        self,
        x: torch.Tensor,
        shape: Shape,
        ex: torch.Tensor,
        generators: Sequence[torch.Generator],
        *,
        mirror: bool = False,
    ) -> torch.Tensor:
        """``x`` brought up to ``shape``, plus each member's noise in the new band at the
        energy the exemplar ``ex`` (this level) has there."""
        ...


class GridResampling:
    """Periodic grids of any dimension: area averaging down, Fourier resizing up
    (:mod:`texsynth.pyramid`)."""

    def level_shape(self, shape: Shape, below: int) -> Shape:
        """Each side halved ``below`` times, rounded up."""
        return level_shape(shape, below)

    def downsample(self, x: torch.Tensor, shape: Shape) -> torch.Tensor:
        """Area average down to ``shape``."""
        return downsample(x, shape)

    def upsample_with_detail(
        self,
        x: torch.Tensor,
        shape: Shape,
        ex: torch.Tensor,
        generators: Sequence[torch.Generator],
        *,
        mirror: bool = False,
    ) -> torch.Tensor:
        """See :func:`upsample_with_detail`."""
        return upsample_with_detail(x, shape, ex, generators, mirror=mirror)


class SphereResampling:
    """Full HEALPix skies, nested ordering: ``nside`` halved per level, children averaged
    down, bilinear interpolation up (:class:`~texsynth.domains.healpix.HealpixSphere`)."""

    sphere = HealpixSphere()

    def level_shape(self, shape: Shape, below: int) -> Shape:
        """The sky of ``nside / 2**below`` (at least nside 1)."""
        return (npix_of(max(nside_of(int(shape[0])) >> below, 1)),)

    def downsample(self, x: torch.Tensor, shape: Shape) -> torch.Tensor:
        """Mean of each coarse pixel's children."""
        return self.sphere.downsample(x, shape)

    def upsample(self, x: torch.Tensor, shape: Shape) -> torch.Tensor:
        """Bilinear interpolation onto the finer sky of ``shape``."""
        return self.sphere.upsample(x, shape)

    def band_gain(self, ex_hf: torch.Tensor, noise_hf: torch.Tensor) -> torch.Tensor:
        """Per member and channel, the factor giving ``noise_hf`` the exemplar band's
        energy, ``[n, C, 1]``."""
        return _band_gain(ex_hf, noise_hf, 1)

    def upsample_with_detail(
        self,
        x: torch.Tensor,
        shape: Shape,
        ex: torch.Tensor,
        generators: Sequence[torch.Generator],
        *,
        mirror: bool = False,
    ) -> torch.Tensor:
        """Bilinear upsampling plus each member's noise in the band the coarse sky cannot
        hold (noise minus its own coarse-and-back version), at the exemplar's energy in
        that band (the exemplar's level ``ex`` against its own coarser version, coarsened
        by the same factor; :meth:`band_gain`). ``mirror`` is ignored: a sky has no edge."""
        coarse = (int(x.shape[-1]),)
        up = self.upsample(x, shape)
        noise = member_noise(generators, up.shape[1:], up.dtype).to(up.device)
        noise_hf = noise - self.upsample(self.downsample(noise, coarse), shape)
        ex_pix = int(ex.shape[-1])
        ex_coarse = (max(ex_pix * coarse[0] // int(shape[0]), 12),)
        ex_hf = ex - self.upsample(self.downsample(ex, ex_coarse), (ex_pix,))
        return up + noise_hf * self.band_gain(ex_hf, noise_hf)


#: the resampling of periodic grids (signals, images) and of HEALPix skies
GRID = GridResampling()
SPHERE = SphereResampling()
