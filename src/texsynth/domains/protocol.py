"""What the scattering core asks of a domain and of a wavelet bank (structural types).

A new domain (e.g. :class:`~texsynth.domains.healpix.HealpixSphere`) is a class with the
methods of :class:`Domain`, and its wavelets a class with those of :class:`WaveletBank`;
the scattering core (:class:`~texsynth.stats.scattering_core.ScatteringCore`), its
chi-square, the losses and the engine then work on it unchanged.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

import torch

if TYPE_CHECKING:
    from ..wavelets import WaveletLayer

__all__ = ["Domain", "WaveletBank"]

Shape = tuple[int, ...]


class Domain(Protocol):
    """Where the data lives: tensors ``[B, C, *shape]`` over ``ndim`` trailing axes."""

    ndim: int
    dims: tuple[int, ...]

    def shape(self, t: torch.Tensor) -> Shape:
        """The spatial shape of ``t``."""
        ...

    def size(self, shape: Shape) -> int:
        """Number of samples of ``shape``."""
        ...

    def max_scales(self, shape: Shape) -> int:
        """The most scales data of ``shape`` supports."""
        ...

    def flatten(self, t: torch.Tensor) -> torch.Tensor:
        """``t`` with its spatial axes as one."""
        ...

    def mean(self, t: torch.Tensor, w: torch.Tensor | None = None) -> torch.Tensor:
        """Mean over the spatial axes, weighted by ``w`` (normalised; ``None``: uniform)."""
        ...

    def normalise(self, w: torch.Tensor) -> torch.Tensor:
        """Weights divided by their spatial sum."""
        ...

    def erode(self, valid: torch.Tensor, radius: int) -> torch.Tensor:
        """Samples whose neighbourhood of ``radius`` is all valid."""
        ...

    def sample(self, t: torch.Tensor, shape: Shape) -> torch.Tensor:
        """A full-resolution map on the coarser grid ``shape``."""
        ...

    def fill_masked(self, x: torch.Tensor, m: torch.Tensor) -> torch.Tensor:
        """Samples of weight 0 replaced by the weighted mean of the others."""
        ...

    def pad_reflect(
        self, x: torch.Tensor, y: torch.Tensor | None, m: torch.Tensor | None, radius: int
    ) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor]:
        """Non-periodic data padded (and its mask), or returned as is where there is no
        edge."""
        ...


class WaveletBank(Protocol):
    """``J`` scales and ``L`` orientations of wavelets on one domain and size."""

    J: int
    L: int
    grids: list[Shape]
    radii: list[int]
    neff: list[float]
    #: whether :meth:`fourier_rows_of` exists (Fourier banks: a faster Gram without masks)
    fourier_rows: bool

    @property
    def device(self) -> torch.device:
        """Where the filters are."""
        ...

    def first_layer(self, x: torch.Tensor) -> WaveletLayer:
        """Coefficients and moduli of ``x`` at every scale."""
        ...

    def rows(self, layer: WaveletLayer, j3: int) -> torch.Tensor:
        """Gram rows of scale ``j3`` in sample space, ``[B, C, L3, A, P]``."""
        ...

    def fourier_rows_of(self, layer: WaveletLayer, j3: int) -> torch.Tensor:
        """Gram rows of scale ``j3`` in the Fourier domain (Fourier banks only)."""
        ...
