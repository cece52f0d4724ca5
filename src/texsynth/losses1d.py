"""Losses for 1-D signals: scattering covariance, value histogram and power spectrum.

They follow the 2-D losses of :mod:`texsynth.losses` (same contract: built from an
exemplar, ``loss(x)`` returns one value per signal of ``x [B, C, N]``, ``.at`` rebuilds one
from another exemplar, ``a * l1 + l2`` composes) and :func:`build_loss_1d` gives them the
same default composition as 2-D synthesis: scattering + 1.0 histogram + 0.3 power spectrum.
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

import torch

from .errors import TexsynthError
from .losses import HistogramLoss, TextureLoss
from .stats import ScatCov
from .stats.scattering1d import ScatteringCovariance1D, as_signal_batch, check_signal_mask
from .wavelets1d import check_scales_1d, max_J_1d

__all__ = [
    "HistogramLoss1D",
    "ScatteringLoss1D",
    "SpectrumLoss1D",
    "build_loss_1d",
]


def _mask_or_none(mask: torch.Tensor | None, shape: torch.Size, name: str) -> torch.Tensor | None:
    return None if mask is None else check_signal_mask(mask, shape, name)


class ScatteringLoss1D(TextureLoss):
    """Chi-square distance between scattering covariances of signals and an exemplar.

    The 1-D counterpart of :class:`~texsynth.losses.ScatteringLoss`: statistics normalised by
    the exemplar's S2, each coefficient's difference divided by its standard error in the
    exemplar (``use_variance``), averaged per statistic group (S0 ... S4, S3P), so about 1
    means "as close as the exemplar's own sampling noise allows".

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
        ex = as_signal_batch(exemplar, "exemplar")
        N = ex.shape[-1]
        if J is None:
            J = max(max_J_1d(N), 1)
        check_scales_1d(N, None, "an exemplar", "give a longer exemplar")
        if max_J_1d(N) < J:
            raise TexsynthError(
                f"an exemplar of {N} samples supports at most J={max_J_1d(N)} scales, got "
                f"J={J}; use J<={max_J_1d(N)} or give a longer exemplar"
            )
        inm = _mask_or_none(in_mask, ex.shape, "in_mask")
        self.options: dict[str, Any] = dict(
            J=J,
            use_variance=use_variance,
            in_mask=in_mask,
            reference=reference,
            exemplar_edge=exemplar_edge,
            edge=edge,
            cross_channels=cross_channels,
            match_s0=match_s0,
        )
        opts = dict(mask=inm, norm="auto", calc_var=True, edge=exemplar_edge)
        self.sc = ScatteringCovariance1D(J=J)
        with torch.no_grad():
            target, sigma = self.sc(ex, **opts)
        self.target = self._keep(target.mean_batch())
        self.sigma = sigma.mean_batch() if use_variance else None

        self.cross: ScatCov | None = None
        if reference is not None:
            ref = as_signal_batch(reference, "reference").to(ex)
            if ref.shape[-1] != N or ref.shape[1] != ex.shape[1] or ref.shape[0] != 1:
                raise TexsynthError(
                    f"reference has shape {tuple(ref.shape)}, the exemplar {tuple(ex.shape)}: "
                    "cross statistics need one signal of the same length and channels"
                )
            self.cross_sc = ScatteringCovariance1D(J=J)
            with torch.no_grad():
                ctarget, csigma = self.cross_sc(ex, ref.expand_as(ex), **opts)
            self.reference = ref
            self.cross = self._keep(ctarget.mean_batch())
            self.cross_sigma = csigma.mean_batch() if use_variance else None

        self.pairs: tuple[list[int], list[int]] | None = None
        C = ex.shape[1]
        if cross_channels and C > 1:
            first = [a for a in range(C) for b in range(a + 1, C)]
            second = [b for a in range(C) for b in range(a + 1, C)]
            self.pairs = (first, second)
            self.pair_sc = ScatteringCovariance1D(J=J)
            pm = inm
            if inm is not None and inm.shape[1] == C:  # a pair is valid where both are
                pm = torch.minimum(inm[:, first], inm[:, second])
            with torch.no_grad():
                ptarget, psigma = self.pair_sc(ex[:, first], ex[:, second], **{**opts, "mask": pm})
            # S0 left out: the decorrelated channels' covariance is 0 by construction, with a
            # near-zero standard error that would blow the chi-square up (as in 2-D)
            self.pair_target = replace(ptarget.mean_batch(), S0=None)
            self.pair_sigma = psigma.mean_batch() if use_variance else None

    def _keep(self, target: ScatCov) -> ScatCov:
        """``target`` without S0 unless ``match_s0``."""
        return target if self.options["match_s0"] else replace(target, S0=None)

    def at(self, exemplar: torch.Tensor, **overrides: Any) -> ScatteringLoss1D:
        return ScatteringLoss1D(exemplar, **{**self.options, **overrides})

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = as_signal_batch(x, "signals")
        edge = self.options["edge"]
        total = _chi2(self.sc(x, norm="auto", edge=edge), self.target, self.sigma)
        if self.cross is not None:
            ref = self.reference.to(x)
            if ref.shape[-1] != x.shape[-1]:
                raise TexsynthError(
                    f"reference has {ref.shape[-1]} samples but the signals {x.shape[-1]}; "
                    "cross-synthesis needs the output length to equal the reference's"
                )
            stats = self.cross_sc(x, ref.expand(x.shape[0], -1, -1), norm="auto", edge=edge)
            total = total + _chi2(stats, self.cross, self.cross_sigma)
        if self.pairs is not None:
            first, second = self.pairs
            stats = self.pair_sc(x[:, first], x[:, second], norm="auto", edge=edge)
            total = total + _chi2(stats, self.pair_target, self.pair_sigma)
        return total


def _chi2(stats: ScatCov, target: ScatCov, sigma: ScatCov | None) -> torch.Tensor:
    """Grouped chi-square with the 2-D loss's 1e-3 sigma floor: ``[B]``."""
    return stats.distance(target, sigma, grouped=True, sigma_floor=1e-3)


class HistogramLoss1D(TextureLoss):
    """:class:`~texsynth.losses.HistogramLoss` for signals: sorted values against the
    exemplar's quantiles (a 1-D Wasserstein-2 distance), tolerance ``rel_tol`` of the
    exemplar's standard deviation; any output length."""

    def __init__(
        self,
        exemplar: torch.Tensor,
        *,
        in_mask: torch.Tensor | None = None,
        rel_tol: float = 0.05,
        directions: int | None = None,
        **_: Any,
    ) -> None:
        super().__init__()
        ex = as_signal_batch(exemplar, "exemplar")
        inm = _mask_or_none(in_mask, ex.shape, "in_mask")
        self.options = dict(in_mask=in_mask, rel_tol=rel_tol, directions=directions)
        self.inner = HistogramLoss(
            ex[..., None, :],
            in_mask=None if inm is None else inm[..., None, :],
            rel_tol=rel_tol,
            directions=directions,
        )

    def at(self, exemplar: torch.Tensor, **overrides: Any) -> HistogramLoss1D:
        kw = {k: v for k, v in {**self.options, **overrides}.items() if k in self.options}
        return HistogramLoss1D(exemplar, **kw)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.inner(as_signal_batch(x, "signals")[..., None, :])


class SpectrumLoss1D(TextureLoss):
    """Squared difference of log power spectra averaged over logarithmic frequency bins.

    Bins are ``bins_per_octave`` per octave of physical frequency (cycles/sample, so signals
    of any length are comparable), widened at low frequencies to hold at least
    ``min_count`` frequencies of the exemplar (a single periodogram value is noise). The loss
    is ``mean_bins (log P_x - log P_ex)^2 / rel_tol^2``. The exemplar is Hann-windowed (it
    need not be periodic); the scored signals are periodic. Wavelet power (S2) fixes the
    power per octave; this term also fixes it inside each octave.
    """

    def __init__(
        self,
        exemplar: torch.Tensor,
        *,
        bins_per_octave: int = 4,
        min_count: int = 16,
        rel_tol: float = 0.3,
        in_mask: torch.Tensor | None = None,
        **_: Any,
    ) -> None:
        super().__init__()
        ex = as_signal_batch(exemplar, "exemplar")
        N = ex.shape[-1]
        self.options = dict(
            bins_per_octave=bins_per_octave, min_count=min_count, rel_tol=rel_tol, in_mask=in_mask
        )
        window = torch.hann_window(N, periodic=False, dtype=ex.dtype, device=ex.device)
        if in_mask is not None:
            inm = check_signal_mask(in_mask, ex.shape, "in_mask").to(ex)
            window = window * (inm > 0).to(ex.dtype)  # [B|1, C|1, N]
        else:
            window = window.expand(1, 1, N)
        wsum = window.sum(-1, keepdim=True).clamp_min(torch.finfo(ex.dtype).tiny)
        mean = (ex * window).sum(-1, keepdim=True) / wsum
        power = torch.fft.rfft((ex - mean) * window).abs() ** 2
        power = power / window.pow(2).sum(-1, keepdim=True).clamp_min(torch.finfo(ex.dtype).tiny)
        edges = _log_edges(N, bins_per_octave, min_count)  # cycles/sample
        self.register_buffer("edges", edges)
        sums, counts = _bin(power.mean(0), edges)
        self.register_buffer("target", sums / counts.clamp_min(1))  # [C, bins]
        self.register_buffer("valid", counts > 0)

    def at(self, exemplar: torch.Tensor, **overrides: Any) -> SpectrumLoss1D:
        kw = {k: v for k, v in {**self.options, **overrides}.items() if k in self.options}
        return SpectrumLoss1D(exemplar, **kw)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = as_signal_batch(x, "signals")
        n = x.shape[-1]
        power = torch.fft.rfft(x - x.mean(-1, keepdim=True)).abs() ** 2 / n
        sums, counts = _bin(power, self.edges.to(x))
        valid = (counts > 0) & self.valid.to(counts.device)
        p = sums[..., valid] / counts[valid]
        t = self.target.to(x)[..., valid]
        tiny = 1e-8 * t.mean(-1, keepdim=True) + torch.finfo(x.dtype).tiny
        d = (torch.log(p + tiny) - torch.log(t + tiny)) ** 2
        return d.mean((1, 2)) / float(self.options["rel_tol"]) ** 2


def _log_edges(N: int, per_octave: int, min_count: int) -> torch.Tensor:
    """Bin edges (cycles/sample) from ``1/N`` to ``1/2``: ``per_octave`` bins an octave, each
    holding at least ``min_count`` frequencies of a length-``N`` signal."""
    if not isinstance(per_octave, int) or per_octave < 1:
        raise TexsynthError(f"bins_per_octave must be a positive integer, got {per_octave!r}")
    ratio = 2.0 ** (1.0 / per_octave)
    top = N // 2 + 1  # frequency indices 1 .. N//2 (Nyquist included)
    k = [1.0]
    while k[-1] < top:
        nxt = max(k[-1] + max(min_count, 1), k[-1] * ratio)
        if top - nxt < 0.5 * (nxt - k[-1]):  # a last sliver joins the previous bin
            nxt = top
        k.append(min(nxt, top))
    return torch.tensor(k, dtype=torch.float64) / N


def _bin(power: torch.Tensor, edges: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Sum a one-sided power spectrum ``[..., n//2 + 1]`` into the bins of ``edges``."""
    m = power.shape[-1]
    n = 2 * (m - 1) if m > 1 else 1  # (only the frequencies matter: odd lengths are close)
    f = torch.arange(m, device=power.device, dtype=edges.dtype) / n
    idx = torch.searchsorted(edges.to(power.device), f, right=True) - 1
    nb = edges.numel() - 1
    keep = (idx >= 0) & (idx < nb) & (f > 0)
    idx = torch.where(keep, idx, torch.full_like(idx, nb))  # a dump bin, dropped below
    sums = torch.zeros(*power.shape[:-1], nb + 1, dtype=power.dtype, device=power.device)
    sums.index_add_(-1, idx, power)
    counts = torch.bincount(idx, minlength=nb + 1)
    return sums[..., :nb], counts[:nb]


def build_loss_1d(
    exemplar: torch.Tensor,
    *,
    J: int,
    in_mask: torch.Tensor | None = None,
    reference: torch.Tensor | None = None,
    edge: bool = False,
    use_variance: bool = True,
    cross_channels: bool = True,
    histogram: float = 1.0,
    power_spectrum: float = 0.3,
    match_s0: bool = True,
) -> TextureLoss:
    """The default 1-D synthesis loss: scattering + ``histogram`` * histogram +
    ``power_spectrum`` * spectrum (weights 0 drop a term), as 2-D synthesis composes it;
    ``match_s0`` goes to :class:`ScatteringLoss1D`."""
    for name, w in (("histogram", histogram), ("power_spectrum", power_spectrum)):
        if not (isinstance(w, (int, float)) and math.isfinite(w) and w >= 0):
            raise TexsynthError(f"{name} weight must be a finite number >= 0, got {w!r}")
    total: TextureLoss = ScatteringLoss1D(
        exemplar,
        J=J,
        use_variance=use_variance,
        in_mask=in_mask,
        reference=reference,
        edge=edge,
        cross_channels=cross_channels,
        match_s0=match_s0,
    )
    if histogram > 0:
        total = total + float(histogram) * HistogramLoss1D(exemplar, in_mask=in_mask)
    if power_spectrum > 0:
        total = total + float(power_spectrum) * SpectrumLoss1D(exemplar, in_mask=in_mask)
    return total
