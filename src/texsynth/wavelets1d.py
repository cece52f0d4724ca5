r"""Analytic wavelets for 1-D signals, defined in the Fourier domain (periodic boundaries).

The 1-D bank is the 2-D bank of :mod:`texsynth.wavelets` with one orientation, restricted
to one axis: the wavelet of scale ``j`` is the real, non-negative Fourier multiplier

.. math::

    \hat\psi_j(k) = R(\log_2(2^j k / \xi)) \text{ for } k > 0, \quad 0 \text{ for } k \le 0,
    \quad R(t) = \cos(\pi t / 2) \text{ for } |t| < 1,

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

from .domains.grid import PeriodicGrid, crop_axis, max_scales
from .wavelets import (
    MIN_SIDE,
    XI0,
    FourierWaveletBank,
    check_number_of_scales,
    check_scales_for,
    nyquist_taper,
)

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
    return max_scales((N,))


#: shortest signal (samples) the scattering statistics take: one scale (J=1)
MIN_LENGTH = MIN_SIDE


def check_J_1d(N: int, J: int) -> None:
    """Raise a one-line error if ``J`` scales do not fit a signal of ``N`` samples."""
    check_number_of_scales(J)
    check_scales_1d(N, J)


def check_scales_1d(
    N: int, J: int | None, what: str = "a signal", longer: str = "give a longer signal"
) -> None:
    """Raise a one-line error if ``what`` of ``N`` samples is too short for the scattering
    statistics (under :data:`MIN_LENGTH` samples), or for ``J`` scales (``None``: as many as
    fit); ``longer`` is the fix offered (see :func:`~texsynth.wavelets.check_scales_for`)."""
    check_scales_for((N,), J, what, longer)


def grid_length(N: int, j: int) -> int:
    """Length of the grid on which coefficients of scale ``j`` are computed."""
    return PeriodicGrid(1).scale_shape((N,), j)[0]


def crop_spectrum_1d(X: torch.Tensor, m: int) -> torch.Tensor:
    """Keep the ``m`` lowest frequencies of an unshifted spectrum (last axis)."""
    return crop_axis(X, m, -1)


def wavelet_spectra_1d(N: int, J: int, *, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """Fourier multipliers ``[J, N]`` of the bank on the full grid (unshifted, as ``fft``)."""
    k = 2 * math.pi * torch.fft.fftfreq(N, dtype=torch.float64)
    positive = k > 0
    log_k = torch.log2(torch.where(positive, k, torch.ones_like(k)) / XI0)
    rows = []
    for j in range(J):
        t = log_k + j
        rows.append(torch.where((t.abs() < 1) & positive, torch.cos(math.pi * t / 2), 0.0))
    out = torch.stack(rows) * nyquist_taper(N)
    return out.to(dtype)


class WaveletBank1D(FourierWaveletBank):
    """Wavelet bank for one signal length (:func:`wavelet_spectra_1d`), with one
    orientation: filters are ``[1, n_j]`` and ``grids[j]`` is the 1-tuple ``(n_j,)``.

    Parameters
    ----------
    N
        Signal length in samples.
    J
        Number of dyadic scales (``j = 0`` finest).
    """

    def __init__(self, N: int, J: int) -> None:
        check_J_1d(N, J)
        super().__init__(wavelet_spectra_1d(N, J)[:, None], PeriodicGrid(1))
        self.N = N
