"""Power-spectrum losses: smoothed log power spectra against the exemplar's (any size).

Wavelet power (S2) only fixes the power per octave band; these terms also fix the spectrum
inside each band, which is what quasi-periodic textures (bricks, weaves) need.
"""

from __future__ import annotations

from typing import Any

import torch

from .._checks import as_image_batch
from ..errors import TexsynthError
from ..stats.scattering1d import as_signal_batch, check_signal_mask
from .base import TextureLoss

__all__ = ["SpectrumLoss", "SpectrumLoss1D"]


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

    options: dict[str, Any]
    target: torch.Tensor  # buffers
    valid: torch.Tensor

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
        H, W = power.shape[-2:]
        index = cls._cell_index(H, W, cells, power.device)
        flat = power.flatten(-2)
        sums = torch.zeros(*flat.shape[:-1], cells * cells, dtype=flat.dtype, device=flat.device)
        sums.index_add_(-1, index, flat)
        counts = torch.bincount(index, minlength=cells * cells)
        dc = (cells // 2) * cells + cells // 2  # the cell holding frequency 0: not compared
        counts[dc] = 0
        return sums, counts

    def at(self, exemplar: torch.Tensor, **overrides: Any) -> SpectrumLoss:
        """The same loss from another exemplar; ``overrides`` replace construction options
        (``cells``, ``rel_tol``, ``in_mask``; other keys are ignored)."""
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
        """Losses ``[B]`` of images ``x [B, C, H, W]`` of any size (see the class notes)."""
        H, W = x.shape[-2:]
        index, valid, counts, t = self._layout(H, W, x)
        centred = x - x.mean((-2, -1), keepdim=True)
        power = (torch.fft.fft2(centred).abs() ** 2).flatten(-2) / (H * W)
        sums = power.new_zeros(*power.shape[:-1], valid.numel()).index_add_(-1, index, power)
        p = sums[..., valid] / counts
        tiny = 1e-8 * t.mean(-1, keepdim=True) + torch.finfo(x.dtype).tiny
        d = (torch.log(p + tiny) - torch.log(t + tiny)) ** 2
        return d.mean((1, 2)) / float(self.options["rel_tol"]) ** 2


class SpectrumLoss1D(TextureLoss):
    """Squared difference of log power spectra averaged over logarithmic frequency bins.

    Bins are ``bins_per_octave`` per octave of physical frequency (cycles/sample, so signals
    of any length are comparable), widened at low frequencies to hold at least
    ``min_count`` frequencies of the exemplar (a single periodogram value is noise). The loss
    is ``mean_bins (log P_x - log P_ex)^2 / rel_tol^2``. The exemplar is Hann-windowed (it
    need not be periodic); the scored signals are periodic. Wavelet power (S2) fixes the
    power per octave; this term also fixes it inside each octave.
    """

    options: dict[str, Any]
    edges: torch.Tensor  # buffers
    target: torch.Tensor
    valid: torch.Tensor

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
        """The same loss from another exemplar; ``overrides`` replace construction options
        (``bins_per_octave``, ``min_count``, ``rel_tol``, ``in_mask``; other keys are ignored)."""
        kw = {k: v for k, v in {**self.options, **overrides}.items() if k in self.options}
        return SpectrumLoss1D(exemplar, **kw)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Losses ``[B]`` of signals ``x [B, C, N]`` of any length (see the class notes)."""
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
