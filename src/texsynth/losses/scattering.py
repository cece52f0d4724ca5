"""Scattering-covariance losses: one implementation for signals and images.

A :class:`ScatteringLoss` (images) or :class:`ScatteringLoss1D` (signals) is a descriptor
(data -> scattering covariances of the data, of the data with a reference field and of
every pair of its channels) and a distance (:mod:`texsynth.losses.chi2`). Both are the same
class over a different front of :mod:`texsynth.stats.scattering_core`; only the options
each domain has (orientations and angular reductions for images) differ.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import torch

from .._checks import as_batch, check_weight_mask, size_text
from ..errors import TexsynthError
from ..stats import ScatCov, ScatteringCovariance
from ..stats.scattering1d import ScatteringCovariance1D
from ..stats.scattering_core import ScatteringCore
from ..wavelets import check_scales
from ..wavelets1d import check_scales_1d
from .base import TextureLoss
from .chi2 import chi2_weights, microcanonical_distance, weighted_chi2

__all__ = ["ScatteringLoss", "ScatteringLoss1D", "ScatteringLossBase"]

Groups = list[tuple[ScatCov, ScatCov, ScatCov | None]]


def _without_s0(s: ScatCov) -> ScatCov:
    """``s`` with S0 left out (None, which :class:`ScatCov`'s annotations do not allow)."""
    return replace(s, S0=None)  # type: ignore[arg-type]


class ScatteringLossBase(TextureLoss):
    """The shared body of the scattering losses (see :class:`ScatteringLoss`).

    Subclasses set :attr:`ndim` and implement :meth:`_front`, :meth:`_check_exemplar` and
    :meth:`_size_text`.
    """

    ndim = 2
    supports_microcanonical = True

    # set by the subclasses' constructors and by _build
    options: dict[str, Any]
    sc: ScatteringCore
    target: ScatCov
    sigma: ScatCov | None
    cross_sc: ScatteringCore
    cross_sigma: ScatCov | None
    reference: torch.Tensor
    pair_sc: ScatteringCore
    pair_target: ScatCov
    pair_sigma: ScatCov | None

    # ------------------------------------------------------------------ per domain
    def _front(self, J: int) -> ScatteringCore:
        raise NotImplementedError

    def _check_exemplar(self, shape: tuple[int, ...], J: int) -> None:
        raise NotImplementedError

    def _size_text(self, shape: tuple[int, ...]) -> str:
        raise NotImplementedError

    def _reduce(self, s: ScatCov) -> ScatCov:
        """Statistics as compared: the ``angular`` reduction of the options, if any
        (``"iso"``: ``iso_mean``; ``"fft"``: ``fft_ang``)."""
        a = self.options.get("angular")
        if a == "iso":
            return s.iso_mean()
        if a == "fft":
            return s.fft_ang(self.options["fft_nharm"], self.options["fft_imaginary"])
        return s

    def _reduce_sigma(self, s: ScatCov) -> ScatCov:
        """The standard errors of :meth:`_reduce`'s statistics."""
        a = self.options.get("angular")
        if a == "iso":
            return s.iso_mean_sigma()
        if a == "fft":
            return s.fft_ang_sigma(self.options["fft_nharm"], self.options["fft_imaginary"])
        return s

    @staticmethod
    def _check_angular(angular: object) -> None:
        if angular not in (None, "iso", "fft"):
            raise TexsynthError(f"angular must be None, 'iso' or 'fft', got {angular!r}")

    def _hint(self) -> str:
        return "mask=..."

    def _batch(self, x: torch.Tensor) -> torch.Tensor:
        """``x`` as ``[B, C, *shape]`` (a batch in that form is used as it is: values that
        turn non-finite during an optimisation are the engine's to report)."""
        return x if x.dim() == self.ndim + 2 else as_batch(x, self.ndim, "x", self._hint())

    # ------------------------------------------------------------------ construction
    def _build(self, exemplar: torch.Tensor) -> None:
        """Target statistics and standard errors of the exemplar, of the exemplar with the
        reference, and of every pair of the exemplar's channels."""
        o = self.options
        J, use_variance, in_mask = o["J"], o["use_variance"], o["in_mask"]
        reference, exemplar_edge, match_s0 = o["reference"], o["exemplar_edge"], o["match_s0"]
        cross_channels = o["cross_channels"]
        nd = self.ndim
        ex = as_batch(exemplar, nd, "exemplar", self._hint())
        shape = tuple(ex.shape[2:])
        front = self._front(1)
        J = front.scales_for(shape) if J is None else J
        self._check_exemplar(shape, J)
        self.options["J"] = J
        inm = None if in_mask is None else check_weight_mask(in_mask, ex.shape, nd, "in_mask")
        opts = dict(mask=inm, norm="auto", calc_var=True, edge=exemplar_edge)
        self.sc = self._front(J)
        with torch.no_grad():
            target, sigma = self.sc(ex, **opts)
        self.target = self._keep_s0(self._reduce(target.mean_batch()), match_s0)
        self.sigma = self._reduce_sigma(sigma.mean_batch()) if use_variance else None

        self.cross: ScatCov | None = None
        if reference is not None:
            ref = as_batch(reference, nd, "reference", self._hint()).to(ex)
            if ref.shape[2:] != ex.shape[2:] or ref.shape[1] != ex.shape[1] or ref.shape[0] != 1:
                raise TexsynthError(
                    f"reference has shape {tuple(ref.shape)}, the exemplar {tuple(ex.shape)}: "
                    "cross statistics need one field of the same size and channels"
                )
            self.cross_sc = self._front(J)
            with torch.no_grad():
                ctarget, csigma = self.cross_sc(ex, ref.expand_as(ex), **opts)
            self.reference = ref
            self.cross = self._keep_s0(self._reduce(ctarget.mean_batch()), match_s0)
            self.cross_sigma = self._reduce_sigma(csigma.mean_batch()) if use_variance else None

        self.pairs: tuple[list[int], list[int]] | None = None
        C = ex.shape[1]
        if cross_channels and C > 1:
            first = [a for a in range(C) for b in range(a + 1, C)]
            second = [b for a in range(C) for b in range(a + 1, C)]
            self.pairs = (first, second)
            self.pair_sc = self._front(J)
            pm = inm
            if inm is not None and inm.shape[1] == C:  # a pair is valid where both are
                pm = torch.minimum(inm[:, first], inm[:, second])
            with torch.no_grad():
                ptarget, psigma = self.pair_sc(ex[:, first], ex[:, second], **{**opts, "mask": pm})
            # S0 is left out: the decorrelated channels' covariance is 0 by construction,
            # with a near-zero standard error that would blow the chi-square up
            self.pair_target = _without_s0(self._reduce(ptarget.mean_batch()))
            self.pair_sigma = self._reduce_sigma(psigma.mean_batch()) if use_variance else None

    @staticmethod
    def _keep_s0(target: ScatCov, match_s0: bool) -> ScatCov:
        """``target`` without S0 unless ``match_s0``."""
        return target if match_s0 else _without_s0(target)

    # ------------------------------------------------------------------ descriptor, distance
    def describe(self, x: torch.Tensor) -> Groups:
        """``(statistics of x, target, standard errors)`` of every statistic family: the
        descriptor of this loss."""
        x = self._batch(x)
        edge = self.options["edge"]
        stats = self._reduce(self.sc(x, norm="auto", edge=edge))
        groups: Groups = [(stats, self.target, self.sigma)]
        if self.cross is not None:
            ref = self.reference.to(x)
            if ref.shape[2:] != x.shape[2:]:
                raise TexsynthError(
                    f"reference is {self._size_text(tuple(ref.shape[2:]))} but the outputs are "
                    f"{self._size_text(tuple(x.shape[2:]))}; cross-synthesis needs the output "
                    "size to equal the reference's"
                )
            expanded = ref.expand(x.shape[0], *ref.shape[1:])
            cstats = self._reduce(self.cross_sc(x, expanded, norm="auto", edge=edge))
            groups.append((cstats, self.cross, self.cross_sigma))
        if self.pairs is not None:
            first, second = self.pairs
            pstats = self._reduce(self.pair_sc(x[:, first], x[:, second], norm="auto", edge=edge))
            groups.append((pstats, self.pair_target, self.pair_sigma))
        return groups

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The chi-square of every statistic family of ``x`` against the target, ``[B]``."""
        x = self._batch(x)
        groups = self.describe(x)
        cache = self.__dict__.setdefault("_chi2_weights", {})
        total = x.new_zeros(x.shape[0])
        for i, (stats, target, sigma) in enumerate(groups):
            if i not in cache:
                cache[i] = chi2_weights(target, sigma)
            total = total + weighted_chi2(stats, cache[i])
        return total

    def batch_loss(
        self,
        x: torch.Tensor,
        *,
        microcanonical: bool = False,
        sigma_synth: bool = True,
        eps: float = 1e-6,
    ) -> torch.Tensor:
        """Scalar loss of a batch of generated samples.

        ``microcanonical=False``: mean of the per-sample losses. ``microcanonical=True``
        (the loss of the ``SynthHalfUNet2D`` generator of ``foscat``, made numerically
        safe): with ``mu_k`` and ``s_k`` the batch mean and standard deviation of
        coefficient ``k``, ``t_k`` the exemplar's value and ``sigma_k`` its standard error,
        each squared difference ``|mu_k - t_k|^2`` is divided by ``s_k sigma_k``
        (``sigma_synth=True``) or by ``s_k^2`` (``False``), and averaged per statistic group
        as in :meth:`forward`. A batch whose samples all look alike has a small ``s_k``,
        which magnifies its errors: collapse is punished. ``s_k`` is
        ``sqrt(var_k + eps^2 rms(t)^2)`` and ``sigma_k`` gets the same ``1e-3 rms(t)`` floor
        as :meth:`forward`, so coefficients that are exactly zero for every sample (the
        imaginary parts that made foscat's loss NaN) have finite values and gradients.
        """
        if not microcanonical:
            return self(x).mean()
        x = self._batch(x)
        if x.shape[0] < 2:
            raise TexsynthError(
                "the microcanonical loss needs a batch of at least 2 samples (its spread); "
                "pass a batch of 2 or more samples (training: batch >= 2) or microcanonical=False"
            )
        total = x.new_zeros(())
        for stats, target, sigma in self.describe(x):
            total = total + microcanonical_distance(stats, target, sigma, sigma_synth, eps)
        return total


class ScatteringLoss(ScatteringLossBase):
    """Chi-square distance between scattering covariances of images and an exemplar.

    The statistics are normalised by the exemplar's S2 (so they are dimensionless), and each
    coefficient's difference is divided by its standard error in the exemplar
    (``use_variance``), so that a loss near 1 per statistic means "as close as the exemplar's
    own sampling noise allows". The loss is the mean over statistic groups (S0, S1, S2, S3,
    S4, S3P) of the mean over each group's coefficients, so the many S4 terms do not drown
    the power spectrum.

    Parameters
    ----------
    exemplar
        ``[B, C, H, W]`` exemplar(s); with ``B > 1`` their statistics are averaged.
    J, L
        Scales and orientations (``J=None``: as many as the exemplar allows).
    use_variance
        Weight by the exemplar's standard errors (else a plain mean square).
    angular
        ``None`` (full orientation axes), ``"iso"`` (``iso_mean``) or ``"fft"``
        (``fft_ang`` with ``fft_nharm`` and ``fft_imaginary``).
    in_mask
        Exemplar pixels to use (1) or ignore (0) for the target statistics.
    reference
        Optional second field (one image of the exemplar's size and channels, the size of
        the images scored): adds the cross statistics between the images and ``reference``.
    exemplar_edge
        Compute the exemplar's statistics as non-periodic (default: a photo's borders do
        not wrap around, and a wrap-around seam would otherwise teach the synthesis
        spurious horizontal/vertical structure).
    edge
        Score images as non-periodic too (inpainting a photo); default: periodic, for
        textures that tile.
    cross_channels
        For images of several channels, also match the cross statistics of every pair of
        channels (S1-S4 and S3P of ``(x_a, x_b)``, ``a < b``). Per-channel statistics
        alone let each channel's structures sit anywhere relative to the others' (colour
        blotches inside shapes); the cross statistics tie them together. About doubles the
        cost for 3 channels.
    match_s0
        Match S0 (mean and standard deviation); ``False`` for fields whose level wanders.
    """

    ndim = 2

    def __init__(
        self,
        exemplar: torch.Tensor,
        *,
        J: int | None = None,
        L: int = 4,
        use_variance: bool = True,
        angular: str | None = None,
        fft_nharm: int = 1,
        fft_imaginary: bool = True,
        in_mask: torch.Tensor | None = None,
        reference: torch.Tensor | None = None,
        exemplar_edge: bool = True,
        edge: bool = False,
        cross_channels: bool = True,
        match_s0: bool = True,
    ) -> None:
        super().__init__()
        self._check_angular(angular)
        self.options = dict(
            J=J,
            L=L,
            use_variance=use_variance,
            angular=angular,
            fft_nharm=fft_nharm,
            fft_imaginary=fft_imaginary,
            in_mask=in_mask,
            reference=reference,
            exemplar_edge=exemplar_edge,
            edge=edge,
            cross_channels=cross_channels,
            match_s0=match_s0,
        )
        self._build(exemplar)

    def _front(self, J: int) -> ScatteringCovariance:
        return ScatteringCovariance(J=J, L=self.options["L"])

    def _check_exemplar(self, shape: tuple[int, ...], J: int) -> None:
        H, W = shape
        check_scales(H, W, None, "exemplar", "give a larger exemplar")
        front = self._front(1)
        jm = front.domain.max_scales(shape)
        if jm < J:
            raise TexsynthError(
                f"exemplar of {size_text(H, W)} pixels supports at most J={jm} scales, "
                f"got J={J}; use J<={jm} or give a larger exemplar"
            )

    def _size_text(self, shape: tuple[int, ...]) -> str:
        return f"{size_text(*shape)} pixels"

    def at(self, exemplar: torch.Tensor, **overrides: Any) -> ScatteringLoss:
        """The same loss from another exemplar; ``overrides`` replace construction options
        (``J``, ``in_mask``, ``reference``...)."""
        return ScatteringLoss(exemplar, **{**self.options, **overrides})


class ScatteringLoss1D(ScatteringLossBase):
    """Chi-square distance between scattering covariances of signals and an exemplar.

    :class:`ScatteringLoss` for ``[B, C, N]`` signals (one orientation): statistics
    normalised by the exemplar's S2, each coefficient's difference divided by its standard
    error in the exemplar (``use_variance``), averaged per statistic group (S0 ... S4,
    S3P), so about 1 means "as close as the exemplar's own sampling noise allows".

    Parameters
    ----------
    exemplar
        ``[N]``, ``[C, N]`` or ``[B, C, N]``; with ``B > 1`` the statistics are averaged.
    J
        Number of scales (``None``: as many as the exemplar allows).
    use_variance
        Weight by the exemplar's standard errors (else a plain mean square).
    in_mask
        Exemplar samples to use (1) or ignore (0) for the target statistics.
    reference
        Optional second signal (the length of the signals scored): adds the cross statistics
        between the signals and ``reference``, matched to those of the exemplar and it.
    exemplar_edge
        Compute the exemplar's statistics as non-periodic (default: a recorded series does
        not wrap around; its end-to-start jump would otherwise look like a step).
    edge
        Score signals as non-periodic too (inpainting); default periodic.
    cross_channels
        With several channels, also match the cross statistics of every pair of channels.
    match_s0
        Match S0 (mean and standard deviation). ``False`` for signals whose level wanders
        like a random walk: their mean and spread belong to the realisation, not to the
        process, and matching them with a periodic output puts too much power at the
        lowest frequencies (measured on fractional Brownian motions, docs/signals-1d.md).
    """

    ndim = 1

    def __init__(
        self,
        exemplar: torch.Tensor,
        *,
        J: int | None = None,
        use_variance: bool = True,
        in_mask: torch.Tensor | None = None,
        reference: torch.Tensor | None = None,
        exemplar_edge: bool = True,
        edge: bool = False,
        cross_channels: bool = True,
        match_s0: bool = True,
    ) -> None:
        super().__init__()
        self.options = dict(
            J=J,
            use_variance=use_variance,
            in_mask=in_mask,
            reference=reference,
            exemplar_edge=exemplar_edge,
            edge=edge,
            cross_channels=cross_channels,
            match_s0=match_s0,
        )
        self._build(exemplar)

    def _front(self, J: int) -> ScatteringCovariance1D:
        return ScatteringCovariance1D(J=J)

    def _check_exemplar(self, shape: tuple[int, ...], J: int) -> None:
        (N,) = shape
        check_scales_1d(N, None, "an exemplar", "give a longer exemplar")
        jm = self._front(1).domain.max_scales(shape)
        if jm < J:
            raise TexsynthError(
                f"an exemplar of {N} samples supports at most J={jm} scales, got J={J}; "
                f"use J<={jm} or give a longer exemplar"
            )

    def _size_text(self, shape: tuple[int, ...]) -> str:
        return f"{shape[0]} samples"

    def _hint(self) -> str:
        return "mask=... / in_mask=..."

    def at(self, exemplar: torch.Tensor, **overrides: Any) -> ScatteringLoss1D:
        """The same loss from another exemplar; ``overrides`` replace construction options
        (``J``, ``in_mask``, ``reference``...)."""
        return ScatteringLoss1D(exemplar, **{**self.options, **overrides})
