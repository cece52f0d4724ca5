"""Analytic wavelets for 1-D signals, defined in the Fourier domain (periodic boundaries).

The 1-D bank is the 2-D bank of :mod:`texsynth.wavelets` with one orientation, restricted
to one axis: the wavelet of scale ``j`` is the real, non-negative Fourier multiplier

.. math::

    \\hat\\psi_j(k) = R(\\log_2(2^j k / \\xi)) \\text{ for } k > 0, \\quad 0 \\text{ for } k \\le 0,
    \\quad R(t) = \\cos(\\pi t / 2) \\text{ for } |t| < 1,

with ``xi = 3*pi/4`` rad/sample at ``j = 0``. It is supported on positive frequencies only,
so the filter is complex and analytic (its modulus is a smooth envelope). The radial windows
of successive scales form a partition of unity (the sum of their squares is one on the
covered band), and the finest band is tapered to zero at Nyquist exactly like the 2-D bank.
An image constant along its rows has, with ``L = 1``, exactly the 2-D statistics of its
row. Scale ``j`` is computed exactly on a grid decimated by ``2**max(j - 1, 0)``.
"""

from __future__ import annotations

import math

import torch

from .errors import TexsynthError
from .wavelets import XI0, ComplexFilterCache, _crop_axis, _kept_indices, _nyquist_taper

__all__ = [
    "MIN_LENGTH",
    "WaveletBank1D",
    "check_J_1d",
    "check_scales_1d",
    "crop_spectrum_1d",
    "grid_length",
    "max_J_1d",
]


def max_J_1d(N: int) -> int:
    """Largest number of scales a signal of ``N`` samples supports (the coarsest fits 4 times)."""
    return int(math.floor(math.log2(N))) - 2 if N >= 8 else 0


#: shortest signal (samples) the scattering statistics take: one scale (J=1)
MIN_LENGTH = 8


def check_J_1d(N: int, J: int) -> None:
    """Raise a one-line error if ``J`` scales do not fit a signal of ``N`` samples."""
    if not isinstance(J, int) or isinstance(J, bool) or J < 1:
        raise TexsynthError(f"J (number of scales) must be a positive integer, got {J!r}")
    check_scales_1d(N, J)


def check_scales_1d(
    N: int, J: int | None, what: str = "a signal", longer: str = "give a longer signal"
) -> None:
    """Raise a one-line error if ``what`` of ``N`` samples is too short for the scattering
    statistics (under :data:`MIN_LENGTH` samples), or for ``J`` scales (``None``: as many as
    fit); ``longer`` is the fix offered."""
    jm = max_J_1d(N)
    if jm < 1:
        raise TexsynthError(
            f"{what} of {N} samples is too short: the scattering statistics need at least "
            f"{MIN_LENGTH} samples; {longer}"
        )
    if J is not None and jm < J:
        raise TexsynthError(
            f"{what} of {N} samples is too short for J={J} scales: the coarsest scale needs "
            f"at least {2 ** (J + 2)} samples; use J<={jm} or {longer}"
        )


def grid_length(N: int, j: int) -> int:
    """Length of the grid on which coefficients of scale ``j`` are computed."""
    f = 2 ** max(j - 1, 0)
    return -(-N // f)


def crop_spectrum_1d(X: torch.Tensor, m: int) -> torch.Tensor:
    """Keep the ``m`` lowest frequencies of an unshifted spectrum (last axis)."""
    return _crop_axis(X, m, -1)


def wavelet_spectra_1d(N: int, J: int, *, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """Fourier multipliers ``[J, N]`` of the bank on the full grid (unshifted, as ``fft``)."""
    k = 2 * math.pi * torch.fft.fftfreq(N, dtype=torch.float64)
    positive = k > 0
    log_k = torch.log2(torch.where(positive, k, torch.ones_like(k)) / XI0)
    rows = []
    for j in range(J):
        t = log_k + j
        rows.append(torch.where((t.abs() < 1) & positive, torch.cos(math.pi * t / 2), 0.0))
    out = torch.stack(rows) * _nyquist_taper(N)
    return out.to(dtype)


def _effective_radius(spectrum: torch.Tensor, fraction: float = 0.99) -> int:
    """Radius (samples, periodic distance) holding ``fraction`` of a filter's energy."""
    N = spectrum.shape[-1]
    energy = torch.fft.ifft(spectrum.to(torch.complex128)).abs() ** 2
    d = torch.minimum(torch.arange(N), N - torch.arange(N))
    per_d = torch.bincount(d, weights=energy)
    cum = torch.cumsum(per_d, 0)
    return int(torch.searchsorted(cum, fraction * cum[-1]))


class WaveletBank1D(ComplexFilterCache, torch.nn.Module):
    """Wavelet bank for one signal length: filters cropped to each scale's grid, as buffers.

    Parameters
    ----------
    N
        Signal length in samples.
    J
        Number of dyadic scales (``j = 0`` finest).

    Attributes
    ----------
    grids
        ``grids[j]`` is the length of the grid of scale ``j``.
    radii
        ``radii[j]``: radius in full-resolution samples holding 99% of the energy of the
        scale-``j`` wavelet (used to erode masks and borders).
    neff
        ``neff[j]``: effective number of independent samples of a mean at scale ``j``,
        ``(sum |psi|^2)^2 / sum |psi|^4`` over frequencies, for the standard errors.
    """

    def __init__(self, N: int, J: int) -> None:
        super().__init__()
        check_J_1d(N, J)
        self.N, self.J = N, J
        full = wavelet_spectra_1d(N, J)
        self.grids = [grid_length(N, j) for j in range(J)]
        self.radii = [_effective_radius(full[j]) for j in range(J)]
        sq = full**2
        self.neff = [float(sq[j].sum() ** 2 / (sq[j] ** 2).sum()) for j in range(J)]
        for j in range(J):
            n = self.grids[j]
            psi = crop_spectrum_1d(full[j], n)
            self.register_buffer(f"psi{j}", psi.float(), persistent=False)
            # first layer with the grid change folded in: ifft on grid j of
            # crop(fft(x)) * this is x * psi sampled on that grid
            self.register_buffer(f"psi_first{j}", (psi * (n / N)).float(), persistent=False)
            support = torch.nonzero(psi != 0).flatten()
            self.register_buffer(f"support{j}", support, persistent=False)
            self.register_buffer(f"support_psi{j}", psi[support].float(), persistent=False)

    def filter(self, j: int) -> torch.Tensor:
        """Fourier multiplier ``[n_j]`` of scale ``j`` on that scale's grid."""
        return getattr(self, f"psi{j}")

    def first_layer_filter(self, j: int) -> torch.Tensor:
        """:meth:`filter` times ``n_j / N``, for the first layer on grid ``j``."""
        return getattr(self, f"psi_first{j}")

    def support(self, j: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Frequency indices ``[K]`` (on grid ``j``) where the scale-``j`` filter is non-zero,
        and the filter values there."""
        return getattr(self, f"support{j}"), getattr(self, f"support_psi{j}")

    def support_in(self, j: int, n: int) -> torch.Tensor:
        """:meth:`support` of scale ``j`` as indices into an unshifted spectrum of length
        ``n`` (at least grid ``j``)."""
        idx = getattr(self, f"support{j}")
        key = (j, n, idx.device)
        cache = self.__dict__.setdefault("_support_cache", {})
        if key not in cache:
            cache[key] = _kept_indices(n, self.grids[j], idx.device)[idx]
        return cache[key]
