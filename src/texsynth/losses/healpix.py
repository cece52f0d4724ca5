"""The scattering loss of HEALPix sky maps: :class:`~texsynth.losses.ScatteringLoss` on the
sphere (:class:`~texsynth.stats.healpix.HealpixScatteringCovariance`)."""

from __future__ import annotations

import torch

from ..domains.healpix import nside_of
from ..errors import TexsynthError
from ..healpix_kernels import KERNEL_SIZE
from ..healpix_spin import check_spin
from ..stats.healpix import HealpixScatteringCovariance, check_bank
from ..stats.scattering1d import as_signal_batch
from .scattering import ScatteringLossBase

__all__ = ["HealpixScatteringLoss", "spin_exemplar"]


class HealpixScatteringLoss(ScatteringLossBase):
    """Chi-square distance between scattering covariances of sky maps and an exemplar map.

    :class:`~texsynth.losses.ScatteringLoss` for ``[B, C, npix]`` HEALPix maps (nested
    ordering, full sky): statistics normalised by the exemplar's S2, each coefficient's
    difference divided by its standard error in the exemplar (``use_variance``), averaged
    per statistic group, so about 1 means "as close as the exemplar's own sampling noise
    allows".

    Parameters
    ----------
    exemplar
        ``[npix]``, ``[C, npix]`` or ``[B, C, npix]``; with ``B > 1`` the statistics are
        averaged.
    J, L, K
        Scales (``None``: down to nside 2), orientations and stencil size.
    use_variance
        Weight by the exemplar's standard errors (else a plain mean square).
    angular
        ``None`` (every orientation), ``"iso"`` (``iso_mean``: statistics averaged over
        orientations, for statistically isotropic skies, whose orientations relative to the
        local east carry no information) or ``"fft"`` (``fft_ang`` with ``fft_nharm`` and
        ``fft_imaginary``).
    in_mask
        Exemplar pixels to use (1) or ignore (0), e.g. a partial sky or a galactic cut.
    reference
        Optional second map: adds the cross statistics between the maps and ``reference``.
    cross_channels
        With several channels (e.g. frequencies), also match the cross statistics of every
        pair of channels.
    match_s0
        Match S0 (mean and standard deviation).
    spin
        0 (scalar maps) or 2: ``[B, 2, npix]`` ``(Q, U)`` polarisation maps, statistics with
        parallel transport (:class:`~texsynth.stats.healpix.HealpixScatteringCovariance`
        with ``spin=2``); one polarisation field only (``cross_channels`` has nothing to
        pair).
    bank
        The wavelets' application (``HealpixScatteringCovariance``'s ``bank``): ``None``
        (``"faces"`` for scalar maps, the fast path), ``"faces"`` or ``"stencil"`` (the
        reference).
    """

    ndim = 1

    def __init__(
        self,
        exemplar: torch.Tensor,
        *,
        J: int | None = None,
        L: int = 4,
        K: int = KERNEL_SIZE,
        use_variance: bool = True,
        angular: str | None = None,
        fft_nharm: int = 1,
        fft_imaginary: bool = True,
        in_mask: torch.Tensor | None = None,
        reference: torch.Tensor | None = None,
        cross_channels: bool = True,
        match_s0: bool = True,
        edge: bool = False,
        spin: int = 0,
        bank: str | None = None,
    ) -> None:
        super().__init__()
        self._check_angular(angular)
        self.L, self.K, self.spin = L, K, check_spin(spin)
        self.bank = check_bank(bank, self.spin)
        if self.spin:
            cross_channels = _one_spin_field(exemplar)
        self.options = dict(
            J=J,
            L=L,
            K=K,
            use_variance=use_variance,
            angular=angular,
            fft_nharm=fft_nharm,
            fft_imaginary=fft_imaginary,
            in_mask=in_mask,
            reference=reference,
            exemplar_edge=False,  # (a sky has no edge: a partial sky is in_mask)
            edge=False,
            cross_channels=cross_channels,
            match_s0=match_s0,
            spin=self.spin,
            bank=self.bank,
        )
        self._build(exemplar)

    def _front(self, J: int) -> HealpixScatteringCovariance:
        return HealpixScatteringCovariance(J=J, L=self.L, K=self.K, spin=self.spin, bank=self.bank)

    def _check_exemplar(self, shape: tuple[int, ...], J: int) -> None:
        self._front(1).check_scales(shape, J)

    def _size_text(self, shape: tuple[int, ...]) -> str:
        return f"nside {nside_of(shape[0])} ({shape[0]} pixels)"

    def at(self, exemplar: torch.Tensor, **overrides: object) -> HealpixScatteringLoss:
        """The same loss built from another exemplar map (e.g. a coarser nside)."""
        opts = {k: v for k, v in self.options.items() if k not in ("exemplar_edge",)}
        opts.update(overrides)
        return HealpixScatteringLoss(exemplar, **opts)


def spin_exemplar(exemplar: torch.Tensor) -> torch.Tensor:
    """A spin-2 exemplar as ``[B, 2, npix]``; a one-line error for other channel counts."""
    ex = as_signal_batch(exemplar, "exemplar")
    if ex.shape[1] != 2:
        raise TexsynthError(
            f"a spin-2 exemplar is one (Q, U) field, [2, npix] or [B, 2, npix]; got "
            f"{ex.shape[1]} channels"
        )
    return ex


def _one_spin_field(exemplar: torch.Tensor) -> bool:
    """``False`` (no channel pairs) for a spin-2 exemplar of one ``(Q, U)`` field; a
    one-line error for other channel counts."""
    spin_exemplar(exemplar)
    return False
