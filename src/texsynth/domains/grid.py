"""Periodic regular grids of one or two axes: the domain of signals and images.

Data on a grid of ``ndim`` axes is a tensor ``[..., n_1, ..., n_ndim]`` (the spatial axes
last). Spectra are unshifted, as ``torch.fft.fftn`` returns them. Scale ``j`` of a dyadic
wavelet bank is computed on the grid downsampled by ``2**max(j - 1, 0)``: because the
wavelets are band-limited, cropping the spectrum to that grid is exact (no aliasing), which
is where the speed of the scattering statistics comes from.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

__all__ = ["PeriodicGrid", "crop_axis", "fast_length", "kept_indices", "max_scales"]

Shape = tuple[int, ...]


def max_scales(shape: Shape) -> int:
    """Largest number of dyadic scales a grid of ``shape`` supports: the coarsest wavelet
    must fit 4 times along the shortest axis (0 under 8 samples)."""
    n = min(shape)
    return int(math.floor(math.log2(n))) - 2 if n >= 8 else 0


def grid_factor(j: int) -> int:
    """Downsampling factor of the grid on which scale ``j`` is computed."""
    return 2 ** max(j - 1, 0)


def kept_indices(n: int, m: int, device: torch.device | None = None) -> torch.Tensor:
    """FFT indices (of an axis of length ``n``) of the ``m`` lowest frequencies, in the
    order of a length-``m`` FFT (positive ones first)."""
    n_neg = m // 2
    pos = torch.arange(m - n_neg, device=device)
    neg = torch.arange(n - n_neg, n, device=device)
    return torch.cat([pos, neg])


def crop_axis(X: torch.Tensor, m: int, dim: int) -> torch.Tensor:
    """The ``m`` lowest frequencies of an unshifted spectrum along ``dim`` (slices and one
    concatenation: much faster than ``index_select`` on complex tensors, both ways)."""
    n = X.shape[dim]
    if m == n:
        return X
    n_neg = m // 2
    pos = X.narrow(dim, 0, m - n_neg)
    if n_neg == 0:
        return pos
    return torch.cat([pos, X.narrow(dim, n - n_neg, n_neg)], dim)


def fast_length(n: int) -> int:
    """Smallest ``2^a 3^b 5^c >= n`` (lengths the FFT handles fast)."""
    best = 2 * n
    p2 = 1
    while p2 < best:
        p3 = p2
        while p3 < best:
            p5 = p3
            while p5 < best:
                if p5 >= n:
                    best = p5
                p5 *= 5
            p3 *= 3
        p2 *= 2
    return best


def _window_sum(t: torch.Tensor, r: int, dim: int) -> torch.Tensor:
    """Periodic sum over a window of ``2r + 1`` along ``dim`` (cumulative sums: O(n))."""
    n = t.shape[dim]
    padded = torch.cat([t.narrow(dim, n - r, r), t, t.narrow(dim, 0, r)], dim)
    c = torch.cumsum(padded.double(), dim)
    zero = torch.zeros_like(c.narrow(dim, 0, 1))
    c = torch.cat([zero, c], dim)
    return (c.narrow(dim, 2 * r + 1, n) - c.narrow(dim, 0, n)).to(t.dtype)


class PeriodicGrid:
    """A periodic regular grid of ``ndim`` axes (1: signals ``[B, C, N]``; 2: images
    ``[B, C, H, W]``).

    Parameters
    ----------
    ndim
        Number of spatial axes (the last ``ndim`` axes of every tensor).

    Examples
    --------
    >>> import torch
    >>> from texsynth.domains import PeriodicGrid
    >>> grid = PeriodicGrid(2)
    >>> grid.scale_shape((64, 48), 3)
    (16, 12)
    >>> x = torch.randn(1, 1, 64, 48)
    >>> small = grid.ifft(grid.crop(grid.fft(x), (16, 12)))
    >>> tuple(small.shape)
    (1, 1, 16, 12)
    """

    def __init__(self, ndim: int) -> None:
        if ndim not in (1, 2):
            raise ValueError(f"PeriodicGrid has 1 or 2 axes, got {ndim}")
        self.ndim = ndim
        self.dims = tuple(range(-ndim, 0))

    def __repr__(self) -> str:
        return f"PeriodicGrid({self.ndim})"

    # ------------------------------------------------------------------ shapes
    def shape(self, t: torch.Tensor) -> Shape:
        """The spatial shape of ``t`` (its last ``ndim`` axes)."""
        return tuple(t.shape[-self.ndim :])

    def size(self, shape: Shape) -> int:
        """Number of samples of a grid of ``shape``."""
        return math.prod(shape)

    def max_scales(self, shape: Shape) -> int:
        """Largest number of dyadic scales ``shape`` supports (see :func:`max_scales`)."""
        return max_scales(shape)

    def scale_shape(self, shape: Shape, j: int) -> Shape:
        """The grid on which scale ``j`` is computed: ``shape`` divided by
        ``2**max(j - 1, 0)``, rounded up."""
        f = grid_factor(j)
        return tuple(-(-n // f) for n in shape)

    # ------------------------------------------------------------------ Fourier
    def fft(self, x: torch.Tensor) -> torch.Tensor:
        """Unshifted spectrum over the spatial axes."""
        if self.ndim == 1:
            return torch.fft.fft(x)
        return torch.fft.fft2(x)

    def ifft(self, X: torch.Tensor) -> torch.Tensor:
        """Inverse of :meth:`fft` (complex)."""
        if self.ndim == 1:
            return torch.fft.ifft(X)
        return torch.fft.ifft2(X)

    def crop(self, X: torch.Tensor, shape: Shape) -> torch.Tensor:
        """Keep the ``shape`` lowest frequencies of an unshifted spectrum: with
        :meth:`ifft`, an exact (anti-aliased) resampling of band-limited data."""
        for dim, m in zip(self.dims, shape, strict=True):
            X = crop_axis(X, m, dim)
        return X

    def flat_frequencies(
        self, small: Shape, large: Shape, device: torch.device | None = None
    ) -> torch.Tensor:
        """For each frequency of a ``small`` grid (flattened), its flat index in the
        spectrum of a ``large`` grid holding it."""
        idx = torch.zeros((), dtype=torch.long, device=device)
        for m, n in zip(small, large, strict=True):
            idx = idx[..., None] * n + kept_indices(n, m, device)
        return idx.flatten()

    # ------------------------------------------------------------------ means and masks
    def flatten(self, t: torch.Tensor) -> torch.Tensor:
        """``t`` with its spatial axes flattened into one."""
        return t.flatten(-self.ndim) if self.ndim > 1 else t

    def mean(self, t: torch.Tensor, w: torch.Tensor | None = None) -> torch.Tensor:
        """Mean over the spatial axes, weighted by ``w`` (``[B|1, C|1, *shape]``,
        normalised to sum 1; ``None``: uniform). Axes between the first two and the
        spatial ones (orientations, scales) are broadcast."""
        if w is None:
            return t.mean(self.dims)
        extra = t.dim() - w.dim()
        wt = w.reshape(*w.shape[:2], *([1] * extra), *w.shape[2:])
        return (t * wt).sum(self.dims)

    def normalise(self, w: torch.Tensor) -> torch.Tensor:
        """Weights ``w`` divided by their sum over the spatial axes."""
        return w / w.sum(self.dims, keepdim=True)

    def erode(self, valid: torch.Tensor, radius: int) -> torch.Tensor:
        """Samples whose (periodic) neighbourhood of ``radius`` (a square in 2-D) is all
        valid; ``valid`` holds 0/1."""
        invalid = 1.0 - valid
        if radius <= 0 or not bool(invalid.any()):
            return valid
        if any(radius >= n for n in self.shape(valid)):
            return torch.zeros_like(valid)
        count = invalid
        for dim in self.dims:
            count = _window_sum(count, radius, dim)
        return (count < 0.5).to(valid.dtype)

    def sample(self, t: torch.Tensor, shape: Shape) -> torch.Tensor:
        """A full-resolution map read at the positions of a coarser grid's samples."""
        full = self.shape(t)
        if full == tuple(shape):
            return t
        idx = [torch.arange(m, device=t.device) * n // m for m, n in zip(shape, full, strict=True)]
        if self.ndim == 1:
            return t[..., idx[0]]
        return t[..., idx[0][:, None], idx[1][None, :]]

    def fill_masked(self, x: torch.Tensor, m: torch.Tensor) -> torch.Tensor:
        """Samples of weight 0 replaced by the weighted mean of the valid ones."""
        mean = (x * m).sum(self.dims, keepdim=True) / m.sum(self.dims, keepdim=True)
        return torch.where(m > 0, x, mean)

    # ------------------------------------------------------------------ non-periodic data
    def pad_reflect(
        self, x: torch.Tensor, y: torch.Tensor | None, m: torch.Tensor | None, radius: int
    ) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor]:
        """Reflect-pad non-periodic data by ``radius`` on every side (no wrap-around
        jump), then up to FFT-friendly lengths, and return the mask with the padding at 0.

        ``x`` and ``y`` (optional) are ``[B, C, *shape]``; ``m`` the mask (``None``: all
        valid)."""
        shape = self.shape(x)
        before = [min(radius, n - 1) for n in shape]
        extra = [fast_length(n + 2 * p) - n - 2 * p for n, p in zip(shape, before, strict=True)]
        # F.pad lists the last axis first
        sym = [v for p in reversed(before) for v in (p, p)]
        tail = [v for e in reversed(extra) for v in (0, e)]
        mode = "reflect"

        def pad(t: torch.Tensor) -> torch.Tensor:
            t = F.pad(t, sym, mode=mode)
            return F.pad(t, tail, mode=mode) if any(extra) else t

        x = pad(x)
        y = pad(y) if y is not None else None
        if m is None:
            m = torch.ones(1, 1, *shape, dtype=x.dtype, device=x.device)
        pairs = zip(reversed(before), reversed(extra), strict=True)
        m = F.pad(m, [v for p, e in pairs for v in (p, p + e)], mode="constant", value=0.0)
        return x, y, m
