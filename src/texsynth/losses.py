"""Texture losses: built from an exemplar, they score a batch (one loss per image).

A :class:`TextureLoss` holds target statistics of an exemplar. Calling it on ``[B, C, H, W]``
images returns ``[B]`` losses (0 = statistics identical). Losses compose with weights,
``2.0 * a + b``, and :meth:`TextureLoss.at` rebuilds one with the same options from another
exemplar, which is how the engine gets a loss per level of its coarse-to-fine pyramid.
"""

from __future__ import annotations

import abc
from dataclasses import replace
from typing import Any

import torch

from ._checks import as_image_batch, size_text
from .errors import TexsynthError
from .stats import ScatCov, ScatteringCovariance
from .wavelets import check_scales, default_J, max_J

__all__ = ["HistogramLoss", "ScatteringLoss", "SpectrumLoss", "TextureLoss", "WeightedLoss"]


class TextureLoss(torch.nn.Module, abc.ABC):
    """Base class: ``loss(x)`` returns one non-negative value per image of ``x``."""

    @abc.abstractmethod
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Losses ``[B]`` of images ``x [B, C, H, W]``."""

    @abc.abstractmethod
    def at(self, exemplar: torch.Tensor, **overrides: Any) -> TextureLoss:
        """The same loss built from another exemplar (e.g. a coarser pyramid level).

        ``overrides`` replace construction options (``J``, ``in_mask``, ``reference``...).
        """

    def __add__(self, other: TextureLoss) -> WeightedLoss:
        if not isinstance(other, TextureLoss):
            return NotImplemented
        return WeightedLoss(_terms(self) + _terms(other))

    def __mul__(self, weight: float) -> WeightedLoss:
        if not isinstance(weight, (int, float)):
            return NotImplemented
        return WeightedLoss([(float(weight) * w, t) for w, t in _terms(self)])

    __rmul__ = __mul__

    def random_generators(self) -> list[torch.Generator]:
        """The ``torch.Generator`` objects this loss (or any part of it) draws from.

        A loss that is itself random (the sliced Wasserstein loss draws fresh directions on
        every call) keeps its generator as an attribute; saving and restoring these
        generators' states makes an interrupted run resume exactly where it stopped.
        """
        found: list[torch.Generator] = []
        for module in self.modules():
            for value in vars(module).values():
                if isinstance(value, torch.Generator) and all(value is not g for g in found):
                    found.append(value)
        return found

    #: whether :meth:`batch_loss` can match batch statistics (``microcanonical=True``)
    supports_microcanonical: bool = False

    def batch_loss(
        self,
        x: torch.Tensor,
        *,
        microcanonical: bool = False,
        sigma_synth: bool = True,
        eps: float = 1e-6,
    ) -> torch.Tensor:
        """One scalar for a batch of generated samples (training a generator).

        ``microcanonical=False``: the mean over the batch of the per-sample losses (each
        sample must match the exemplar). ``microcanonical=True`` (losses built on statistics,
        :attr:`supports_microcanonical`): the batch *mean* of the statistics must match the
        exemplar's, each difference divided by the batch spread (see
        :meth:`ScatteringLoss.batch_loss`).
        """
        if microcanonical and not self.supports_microcanonical:
            raise TexsynthError(
                f"{type(self).__name__} has no batch statistics for the microcanonical loss; "
                "use microcanonical=False (per-sample loss) or a scattering loss"
            )
        return self(x).mean()


def _terms(loss: TextureLoss) -> list[tuple[float, TextureLoss]]:
    return list(loss.terms) if isinstance(loss, WeightedLoss) else [(1.0, loss)]


class WeightedLoss(TextureLoss):
    """``sum_i w_i * loss_i``."""

    def __init__(self, terms: list[tuple[float, TextureLoss]]) -> None:
        super().__init__()
        self.weights = [w for w, _ in terms]
        self.parts = torch.nn.ModuleList([t for _, t in terms])

    @property
    def terms(self) -> list[tuple[float, TextureLoss]]:
        """The ``(weight, loss)`` pairs."""
        return list(zip(self.weights, self.parts, strict=True))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return sum(w * t(x) for w, t in self.terms)  # type: ignore[return-value]

    def at(self, exemplar: torch.Tensor, **overrides: Any) -> WeightedLoss:
        return WeightedLoss([(w, t.at(exemplar, **overrides)) for w, t in self.terms])

    @property
    def supports_microcanonical(self) -> bool:  # type: ignore[override]
        """True if some term has batch statistics."""
        return any(t.supports_microcanonical for t in self.parts)

    def batch_loss(
        self,
        x: torch.Tensor,
        *,
        microcanonical: bool = False,
        sigma_synth: bool = True,
        eps: float = 1e-6,
    ) -> torch.Tensor:
        """Weighted sum of the terms' batch losses; with ``microcanonical=True`` the terms
        with batch statistics (scattering) use the microcanonical form and the others
        (histogram, spectrum, network losses) their per-sample mean."""
        if microcanonical and not self.supports_microcanonical:
            return super().batch_loss(x, microcanonical=True)  # raises the error
        return sum(
            w
            * t.batch_loss(
                x,
                microcanonical=microcanonical and t.supports_microcanonical,
                sigma_synth=sigma_synth,
                eps=eps,
            )
            for w, t in self.terms
        )  # type: ignore[return-value]


class ScatteringLoss(TextureLoss):
    """Chi-square distance between scattering covariances of images and an exemplar.

    The statistics are normalised by the exemplar's S2 (so they are dimensionless), and each
    coefficient's difference is divided by its standard error in the exemplar
    (``use_variance``), so that a loss near 1 per statistic means "as close as the exemplar's
    own sampling noise allows". The loss is the mean over statistic groups (S0, S1, S2, S3,
    S4, S3P) of the mean over each group's coefficients, so the many S4 terms do not drown
    the power spectrum; about 1 means matched within the exemplar's sampling noise.

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
        Optional second field (same size as the images scored): adds the cross statistics
        between the images and ``reference`` to the loss.
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
    """

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
    ) -> None:
        super().__init__()
        if angular not in (None, "iso", "fft"):
            raise TexsynthError(f"angular must be None, 'iso' or 'fft', got {angular!r}")
        ex = as_image_batch(exemplar, "exemplar")
        H, W = ex.shape[-2:]
        if J is None:
            J = max(default_J(H, W), 1)
        self.options: dict[str, Any] = dict(
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
        )
        check_scales(H, W, None, "exemplar", "give a larger exemplar")
        if max_J(H, W) < J:
            raise TexsynthError(
                f"exemplar of {size_text(H, W)} pixels supports at most J={max_J(H, W)} "
                f"scales, got J={J}; use J<={max_J(H, W)} or give a larger exemplar"
            )
        self.sc = ScatteringCovariance(J=J, L=L)
        with torch.no_grad():
            target, sigma = self.sc(
                ex, mask=in_mask, norm="auto", calc_var=True, edge=exemplar_edge
            )
        self.target = self._reduce(target.mean_batch())
        self.sigma = self._reduce_sigma(sigma.mean_batch()) if use_variance else None
        self.cross = None
        if reference is not None:
            ref = as_image_batch(reference, "reference").to(ex)
            if ref.shape[-2:] != ex.shape[-2:] or ref.shape[1] != ex.shape[1]:
                raise TexsynthError(
                    f"reference has shape {tuple(ref.shape)}, the exemplar {tuple(ex.shape)}: "
                    "cross statistics need fields of the same size and channels"
                )
            self.cross_sc = ScatteringCovariance(J=J, L=L)
            with torch.no_grad():
                ctarget, csigma = self.cross_sc(
                    ex, ref, mask=in_mask, norm="auto", calc_var=True, edge=exemplar_edge
                )
            self.reference = ref
            self.cross = self._reduce(ctarget.mean_batch())
            self.cross_sigma = self._reduce_sigma(csigma.mean_batch()) if use_variance else None

        self.pairs: tuple[list[int], list[int]] | None = None
        C = ex.shape[1]
        if cross_channels and C > 1:
            first = [a for a in range(C) for b in range(a + 1, C)]
            second = [b for a in range(C) for b in range(a + 1, C)]
            self.pairs = (first, second)
            self.pair_sc = ScatteringCovariance(J=J, L=L)
            with torch.no_grad():
                ptarget, psigma = self.pair_sc(
                    ex[:, first],
                    ex[:, second],
                    mask=in_mask,
                    norm="auto",
                    calc_var=True,
                    edge=exemplar_edge,
                )
            # S0 is left out: the decorrelated channels' pixel covariance is 0 by
            # construction, with a near-zero standard error that would blow the chi-square up
            self.pair_target = replace(self._reduce(ptarget.mean_batch()), S0=None)
            self.pair_sigma = self._reduce_sigma(psigma.mean_batch()) if use_variance else None

    def _reduce(self, s: ScatCov) -> ScatCov:
        a = self.options["angular"]
        if a == "iso":
            return s.iso_mean()
        if a == "fft":
            return s.fft_ang(self.options["fft_nharm"], self.options["fft_imaginary"])
        return s

    def _reduce_sigma(self, s: ScatCov) -> ScatCov:
        a = self.options["angular"]
        if a == "iso":
            return s.iso_mean_sigma()
        if a == "fft":
            return s.fft_ang_sigma(self.options["fft_nharm"], self.options["fft_imaginary"])
        return s

    def at(self, exemplar: torch.Tensor, **overrides: Any) -> ScatteringLoss:
        return ScatteringLoss(exemplar, **{**self.options, **overrides})

    supports_microcanonical = True

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        groups = self._groups(x)
        cache = self.__dict__.setdefault("_chi2_weights", {})
        total = x.new_zeros(x.shape[0])
        for i, (stats, target, sigma) in enumerate(groups):
            if i not in cache:
                cache[i] = _chi2_weights(target, sigma)
            total = total + _weighted_chi2(stats, cache[i])
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
        (seed 000's loss, made numerically safe): with ``mu_k`` and ``s_k`` the batch mean
        and standard deviation of coefficient ``k``, ``t_k`` the exemplar's value and
        ``sigma_k`` its standard error, each squared difference ``|mu_k - t_k|^2`` is divided
        by ``s_k sigma_k`` (``sigma_synth=True``) or by ``s_k^2`` (``False``), and averaged
        per statistic group as in :meth:`forward`. A batch whose samples all look alike has
        a small ``s_k``, which magnifies its errors: collapse is punished. ``s_k`` is
        ``sqrt(var_k + eps^2 rms(t)^2)`` and ``sigma_k`` gets the same ``1e-3 rms(t)`` floor
        as :meth:`forward`, so coefficients that are exactly zero for every sample (the
        imaginary parts that made foscat's loss NaN) have finite values and gradients.
        """
        if not microcanonical:
            return self(x).mean()
        if x.shape[0] < 2:
            raise TexsynthError(
                "the microcanonical loss needs a batch of at least 2 samples (its spread); "
                "use n_samples >= 2 or microcanonical=False"
            )
        total = x.new_zeros(())
        for stats, target, sigma in self._groups(x):
            total = total + _microcanonical(stats, target, sigma, sigma_synth, eps)
        return total

    def _groups(self, x: torch.Tensor) -> list[tuple[ScatCov, ScatCov, ScatCov | None]]:
        """``(statistics of x, target, standard errors)`` of every statistic family."""
        edge = self.options["edge"]
        stats = self._reduce(self.sc(x, norm="auto", edge=edge))
        groups = [(stats, self.target, self.sigma)]
        if self.cross is not None:
            ref = self.reference.to(x)
            if ref.shape[-2:] != x.shape[-2:]:
                raise TexsynthError(
                    f"reference is {size_text(*ref.shape[-2:])} pixels but the images are "
                    f"{size_text(*x.shape[-2:])}; cross-synthesis needs the output size to equal "
                    "the reference's"
                )
            cstats = self._reduce(self.cross_sc(x, ref.expand(x.shape[0], -1, -1, -1), norm="auto"))
            groups.append((cstats, self.cross, self.cross_sigma))
        if self.pairs is not None:
            first, second = self.pairs
            pstats = self._reduce(self.pair_sc(x[:, first], x[:, second], norm="auto", edge=edge))
            groups.append((pstats, self.pair_target, self.pair_sigma))
        return groups


_SIGMA_FLOOR = 1e-3


def _chi2_weights(
    target: ScatCov, sigma: ScatCov | None
) -> list[tuple[str, torch.Tensor, torch.Tensor | None]]:
    """``(field, target, 1 / sigma^2)`` of every statistic of ``target``, computed once.

    The sigma floor keeps a coefficient from weighing more than one measured to 1e-3 of its
    statistic's typical size (exactly-zero standard errors would otherwise blow up); this is
    :meth:`ScatCov.distance` with ``sigma_floor=1e-3``, without recomputing the weights at
    every evaluation.
    """
    out = []
    for name, t in target.fields():
        w = None
        if sigma is not None:
            s = getattr(sigma, name).to(t.real.dtype)
            floor = _SIGMA_FLOOR * t.abs().pow(2).mean().sqrt()
            w = 1.0 / (s**2 + floor**2).clamp_min(torch.finfo(s.dtype).tiny)
        out.append((name, t, w))
    return out


def _weighted_chi2(
    stats: ScatCov, weights: list[tuple[str, torch.Tensor, torch.Tensor | None]]
) -> torch.Tensor:
    """Mean over statistic groups of the mean weighted squared difference: ``[B]``."""
    total = 0.0
    for name, t, w in weights:
        a = getattr(stats, name)
        d = (a - t.to(a)).abs() ** 2
        if w is not None:
            d = d * w.to(d)
        total = total + d.reshape(d.shape[0], -1).mean(1)
    return total / len(weights)  # type: ignore[return-value]


def _microcanonical(
    stats: ScatCov, target: ScatCov, sigma: ScatCov | None, sigma_synth: bool, eps: float
) -> torch.Tensor:
    """Microcanonical distance of a batch's mean statistics to ``target`` (a scalar); see
    :meth:`ScatteringLoss.batch_loss`."""
    total, groups = 0.0, 0
    for name, a in stats.fields():
        t = getattr(target, name)
        if t is None:
            continue
        t = t.to(a)
        mu = a.mean(0, keepdim=True)
        var = (a - mu).abs().pow(2).mean(0, keepdim=True)
        rms2 = t.abs().pow(2).mean()
        spread = (var + eps**2 * rms2).sqrt()
        d = (mu - t).abs().pow(2)
        if sigma_synth:
            s = getattr(sigma, name).to(d) if sigma is not None else t.abs()
            s = (s.pow(2) + 1e-6 * rms2).sqrt()  # the 1e-3 rms floor of forward()
            d = d / (spread * s).clamp_min(torch.finfo(d.dtype).tiny)
        else:
            d = d / spread.pow(2).clamp_min(torch.finfo(d.dtype).tiny)
        total = total + d.mean()
        groups += 1
    return total / max(groups, 1)  # type: ignore[return-value]


class HistogramLoss(TextureLoss):
    """Squared distance between sorted pixel values and the exemplar's quantiles.

    Per channel, ``mean_i (sort(x)_i - q(p_i))^2 / (rel_tol * std)^2``, with ``q`` the
    exemplar's quantile function at ranks ``p_i = (i + 0.5) / N``: a 1-D optimal-transport
    (Wasserstein-2) distance that works for any image size. ``rel_tol`` is the RMS quantile
    error, as a fraction of the exemplar's standard deviation, that counts as 1. The default,
    5 %, is about how much two crops of one photo differ: a much tighter tolerance makes the
    histogram dominate the other terms and blocks the formation of structure (the stones of a
    gravel, the mortar lines of a brick wall).

    With several channels, ``directions`` more projections of the pixel vectors on fixed
    random unit directions are compared the same way (a sliced Wasserstein distance): the
    channels' own histograms leave their *joint* distribution free, so colours that the
    exemplar does not have (mixtures of its clusters) could appear.
    """

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
        ex = as_image_batch(exemplar, "exemplar")
        C = ex.shape[1]
        pix = ex.transpose(0, 1).reshape(C, -1)
        if in_mask is not None:
            keep = (in_mask.expand_as(ex) > 0).transpose(0, 1).reshape(C, -1)[0]
            pix = pix[:, keep]
        if directions is None:
            directions = 2 * C if C > 1 else 0
        self.options = dict(in_mask=in_mask, rel_tol=rel_tol, directions=directions)
        axes = torch.eye(C, dtype=ex.dtype, device=ex.device)
        if directions > 0:
            g = torch.Generator().manual_seed(0)
            extra = torch.randn(C, directions, generator=g, dtype=torch.float64)
            extra = (extra / extra.norm(dim=0, keepdim=True)).to(ex.device, ex.dtype)
            axes = torch.cat([axes, extra], 1)
        self.register_buffer("axes", axes)  # [C, K]
        proj = axes.T @ pix  # [K, N]
        self.register_buffer("sorted", torch.sort(proj, dim=1).values)
        scale = rel_tol * proj.std(1).clamp_min(1e-12)
        self.register_buffer("scale", scale)

    def at(self, exemplar: torch.Tensor, **overrides: Any) -> HistogramLoss:
        kw = {k: v for k, v in {**self.options, **overrides}.items() if k in self.options}
        return HistogramLoss(exemplar, **kw)

    def _quantiles(self, n: int, x: torch.Tensor) -> torch.Tensor:
        """The exemplar's quantiles at the ranks of ``n`` pixels, ``[K, n]`` (cached)."""
        key = (n, x.dtype, x.device)
        cache = self.__dict__.setdefault("_quantile_cache", {})
        if key not in cache:
            ref = self.sorted.to(x)
            N = ref.shape[1]
            pos = (torch.arange(n, device=x.device, dtype=x.dtype) + 0.5) * (N / n) - 0.5
            lo = pos.floor().clamp(0, N - 1).long()
            hi = (lo + 1).clamp(max=N - 1)
            t = (pos - lo.to(x.dtype)).clamp(0, 1)
            cache[key] = ref[:, lo] * (1 - t) + ref[:, hi] * t
        return cache[key]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, C = x.shape[:2]
        n = x.shape[-2] * x.shape[-1]
        q = self._quantiles(n, x)  # [K, n]
        axes = self.axes.to(x)
        proj = x.reshape(B, C, n) if axes.shape[1] == C and C == 1 else axes.T @ x.reshape(B, C, n)
        xs = torch.sort(proj, dim=-1).values
        d = ((xs - q) / self.scale.to(x)[:, None]) ** 2
        return d.mean((1, 2))


class SpectrumLoss(TextureLoss):
    """Squared difference of smoothed log power spectra (any output size).

    Power spectra are averaged over cells of a ``cells x cells`` grid of physical frequencies
    (cycles/pixel, so images of different sizes are comparable; default ``min(H, W) // 8``
    between 8 and 32, at least ~64 frequencies a cell), and compared as
    ``mean_cells (log P_x - log P_ex)^2 / rel_tol^2``. The exemplar is Hann-windowed (it
    need not be periodic); the scored images are periodic. Wavelet power (S2) only fixes the
    power per octave band; this term also fixes the spectrum inside each band, which is what
    quasi-periodic textures (bricks, weaves) need.
    """

    def __init__(
        self,
        exemplar: torch.Tensor,
        *,
        cells: int | None = None,
        rel_tol: float = 0.3,
        in_mask: torch.Tensor | None = None,
        **_: Any,
    ) -> None:
        super().__init__()
        ex = as_image_batch(exemplar, "exemplar")
        H, W = ex.shape[-2:]
        # at least ~64 frequencies per cell, so the exemplar's cell spectrum is not noise
        cells = cells if cells is not None else max(8, min(32, min(H, W) // 8))
        self.options = dict(cells=cells, rel_tol=rel_tol, in_mask=in_mask)
        wy = torch.hann_window(H, periodic=False, dtype=ex.dtype, device=ex.device)
        wx = torch.hann_window(W, periodic=False, dtype=ex.dtype, device=ex.device)
        window = wy[:, None] * wx[None, :]
        if in_mask is not None:
            window = window * (in_mask.expand(1, 1, H, W)[0, 0] > 0).to(ex.dtype)
        mean = (ex * window).sum((-2, -1), keepdim=True) / window.sum()
        power = torch.fft.fft2((ex - mean) * window).abs() ** 2 / window.pow(2).sum()
        cell_power, counts = self._cells(power, cells)
        self.register_buffer("target", (cell_power.mean(0) / counts.clamp_min(1)))
        self.register_buffer("valid", counts > 0)

    @staticmethod
    def _cell_index(H: int, W: int, cells: int, device: torch.device) -> torch.Tensor:
        """The cell of every frequency of an ``H x W`` spectrum, flat ``[H W]``."""
        fy = torch.fft.fftfreq(H, device=device)
        fx = torch.fft.fftfreq(W, device=device)
        iy = ((fy + 0.5) * cells).long().clamp(0, cells - 1)
        ix = ((fx + 0.5) * cells).long().clamp(0, cells - 1)
        return (iy[:, None] * cells + ix[None, :]).flatten()

    @classmethod
    def _cells(cls, power: torch.Tensor, cells: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Sum ``power [B, C, H, W]`` into frequency cells: ``[B, C, cells*cells]`` sums and
        the number of frequencies in each cell."""
        index = cls._cell_index(*power.shape[-2:], cells, power.device)
        flat = power.flatten(-2)
        sums = torch.zeros(*flat.shape[:-1], cells * cells, dtype=flat.dtype, device=flat.device)
        sums.index_add_(-1, index, flat)
        counts = torch.bincount(index, minlength=cells * cells)
        dc = (cells // 2) * cells + cells // 2  # the cell holding frequency 0: not compared
        counts[dc] = 0
        return sums, counts

    def at(self, exemplar: torch.Tensor, **overrides: Any) -> SpectrumLoss:
        kw = {k: v for k, v in {**self.options, **overrides}.items() if k in self.options}
        return SpectrumLoss(exemplar, **kw)

    def _layout(
        self, H: int, W: int, x: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """For ``H x W`` images (cached): the cell of every frequency, the cells compared,
        their frequency counts and the exemplar's cell spectrum there."""
        key = (H, W, x.dtype, x.device)
        cache = self.__dict__.setdefault("_layout_cache", {})
        if key not in cache:
            cells = int(self.options["cells"])
            index = self._cell_index(H, W, cells, x.device)
            counts = torch.bincount(index, minlength=cells * cells)
            counts[(cells // 2) * cells + cells // 2] = 0  # frequency 0: not compared
            valid = (counts > 0) & self.valid.to(counts.device)
            cache[key] = (index, valid, counts[valid].to(x.dtype), self.target.to(x)[..., valid])
        return cache[key]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        H, W = x.shape[-2:]
        index, valid, counts, t = self._layout(H, W, x)
        centred = x - x.mean((-2, -1), keepdim=True)
        power = (torch.fft.fft2(centred).abs() ** 2).flatten(-2) / (H * W)
        sums = power.new_zeros(*power.shape[:-1], valid.numel()).index_add_(-1, index, power)
        p = sums[..., valid] / counts
        tiny = 1e-8 * t.mean(-1, keepdim=True) + torch.finfo(x.dtype).tiny
        d = (torch.log(p + tiny) - torch.log(t + tiny)) ** 2
        return d.mean((1, 2)) / float(self.options["rel_tol"]) ** 2
