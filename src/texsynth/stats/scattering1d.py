"""Scattering-covariance statistics of 1-D signals (time series), periodic and fast.

The definitions are those of the 2-D :class:`~texsynth.stats.ScatteringCovariance` with one
orientation (``L = 1``) and the analytic wavelets of :mod:`texsynth.wavelets1d`. For a
signal ``x`` with wavelet coefficients ``c_j = x * psi_j``:

* ``S0 = (mean(x), std(x))``
* ``S1[j] = <|c_j|>``, ``S2[j] = <|c_j|^2>``
* ``S3[j2, j3] = <c_{j3} . conj(|c_{j2}| * psi_{j3})>`` for ``j2 <= j3``
* ``S4[j1, j2, j3] = <(|c_{j1}| * psi_{j3}) . conj(|c_{j2}| * psi_{j3})>`` for
  ``j1 <= j2 <= j3``

where ``<.>`` is a (weighted) mean over samples. Results are a :class:`ScatCov` with
``L = 1`` (orientation axes of size one), so :meth:`ScatCov.distance`, ``iso_mean``,
``flatten`` and the losses work unchanged. Scale ``j`` is computed on a grid decimated by
``2**max(j-1, 0)`` (exact: the spectra are cropped, not aliased).
"""

from __future__ import annotations

import torch

from .._checks import as_batch, check_weight_mask
from .._deprecation import renamed_keywords
from ..domains.grid import PeriodicGrid
from ..errors import TexsynthError
from ..wavelets1d import WaveletBank1D, check_J_1d
from .scatcov import ScatCov
from .scattering_core import ScatteringCore

__all__ = ["ScatteringCovariance1D", "as_signal_batch", "check_signal_mask"]


# ---------------------------------------------------------------------------- input checks
def as_signal_batch(x: torch.Tensor, name: str = "signal") -> torch.Tensor:
    """Return ``x`` as a floating ``[B, C, N]`` tensor, accepting ``[N]`` and ``[C, N]``.

    Raises
    ------
    TexsynthError
        If ``x`` is not a real tensor of 1 to 3 dimensions, is empty or holds NaN/Inf.
    """
    return as_batch(x, 1, name, hint="mask=... / in_mask=...")


def check_signal_mask(mask: torch.Tensor, shape: torch.Size, name: str = "mask") -> torch.Tensor:
    """Return ``mask`` as ``[B|1, C|1, N]`` weights in [0, 1] that broadcast to ``shape``
    (see :func:`~texsynth._checks.check_weight_mask`)."""
    return check_weight_mask(mask, shape, 1, name)


# ---------------------------------------------------------------------------- module
class ScatteringCovariance1D(ScatteringCore):
    """Scattering-covariance statistics of ``[B, C, N]`` signals (foscat's 1-D ``eval``).

    Parameters
    ----------
    J
        Number of dyadic scales; ``None`` uses the most the length allows
        (``floor(log2(N)) - 2``: the coarsest wavelet fits about 4 times).
    L
        Number of orientations; 1-D signals have one (kept for symmetry with 2-D).

    Notes
    -----
    Filters are built once per length and kept as non-persistent buffers, so the module
    follows ``.to(device)``. Boundaries are periodic unless ``edge=True``. Statistics are
    computed per channel; every operation is differentiable.

    Examples
    --------
    >>> import torch
    >>> from texsynth import ScatteringCovariance1D
    >>> stats = ScatteringCovariance1D(J=5)(torch.randn(2, 1, 256))
    >>> tuple(stats.S1.shape), tuple(stats.S4.shape)
    ((2, 1, 5, 1), (2, 1, 35, 1, 1, 1))
    """

    def __init__(self, J: int | None = None, L: int = 1) -> None:
        if L != 1 or isinstance(L, bool):
            raise TexsynthError(
                f"1-D signals have one orientation: L must be 1, got {L!r} (for images with "
                "several orientations use ScatteringCovariance)"
            )
        super().__init__(PeriodicGrid(1), J, 1)

    def make_bank(self, shape: tuple[int, ...], J: int) -> WaveletBank1D:
        """A new wavelet bank for signals of ``shape = (N,)`` and ``J`` scales."""
        return WaveletBank1D(shape[0], J)

    def check_scales(self, shape: tuple[int, ...], J: int) -> None:
        """Raise a one-line error when ``J`` scales do not fit signals of ``shape = (N,)``."""
        check_J_1d(shape[0], J)

    def bank(self, N: int, J: int, device: torch.device) -> WaveletBank1D:
        """The wavelet bank for signals of ``N`` samples and ``J`` scales, built on first use."""
        return self.bank_for((N,), J, device)  # type: ignore[return-value]

    @renamed_keywords(Jmax="J")
    def resolve_J(self, N: int, J: int | None = None) -> int:
        """Number of scales used for a signal of ``N`` samples (``J`` overrides ``self.J``)."""
        return self.scales_for((N,), J)

    @renamed_keywords(Jmax="J")
    def forward(
        self,
        signal1: torch.Tensor,
        signal2: torch.Tensor | None = None,
        *,
        mask: torch.Tensor | None = None,
        norm: str | None = None,
        calc_var: bool = False,
        J: int | None = None,
        edge: bool = False,
    ) -> ScatCov | tuple[ScatCov, ScatCov]:
        """Compute the statistics of ``signal1`` (or cross statistics with ``signal2``).

        Parameters
        ----------
        signal1
            ``[B, C, N]`` (also ``[N]`` or ``[C, N]``) real signals.
        signal2
            Optional second batch of the same shape: cross statistics (adds ``S3P``).
        mask
            Weights in [0, 1], ``[N]`` or broadcastable ``[B|1, C|1, N]``; samples with
            weight 0 never influence any statistic (they are replaced before filtering and
            coefficients within a wavelet's radius of them are excluded).
        norm
            ``None`` (raw), ``"auto"`` (divide by the reference S2 cached on the first call;
            see :meth:`reset_norm`) or ``"self"`` (this signal's own S2), as in 2-D.
        calc_var
            Also return per-coefficient standard errors (usable as ``sigma`` in
            :meth:`ScatCov.distance`).
        J
            Number of scales for this call (default the ``J`` given to the constructor);
            ``Jmax`` is its deprecated old name.
        edge
            Non-periodic signal: reflect-padded (no wrap-around jump) and only coefficients
            far enough from the ends enter the means.

        Returns
        -------
        ScatCov or (ScatCov, ScatCov)
            The statistics (``L = 1``), and with ``calc_var`` their standard errors.
        """
        x, y, m = self.parse_inputs(
            signal1, signal2, mask, ("signal1", "signal2"), hint="mask=... / in_mask=..."
        )
        return self.statistics(x, y, m, norm=norm, calc_var=calc_var, J=J, edge=edge)
