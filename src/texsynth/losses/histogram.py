"""Histogram losses: sorted values against the exemplar's quantiles (1-D optimal transport)."""

from __future__ import annotations

from typing import Any

import torch

from .._checks import as_image_batch
from ..stats.scattering1d import as_signal_batch, check_signal_mask
from .base import TextureLoss

__all__ = ["HistogramLoss", "HistogramLoss1D"]


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

    options: dict[str, Any]
    axes: torch.Tensor  # buffers
    sorted: torch.Tensor
    scale: torch.Tensor

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
        """The same loss from another exemplar; ``overrides`` replace construction options
        (``in_mask``, ``rel_tol``, ``directions``; other keys are ignored)."""
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
        """Losses ``[B]`` of images ``x [B, C, H, W]`` of any size: mean squared difference
        of the sorted projections and the exemplar's quantiles, in ``rel_tol`` units."""
        B, C = x.shape[:2]
        n = x.shape[-2] * x.shape[-1]
        q = self._quantiles(n, x)  # [K, n]
        axes = self.axes.to(x)
        proj = x.reshape(B, C, n) if axes.shape[1] == C and C == 1 else axes.T @ x.reshape(B, C, n)
        xs = torch.sort(proj, dim=-1).values
        d = ((xs - q) / self.scale.to(x)[:, None]) ** 2
        return d.mean((1, 2))


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
        inm = None if in_mask is None else check_signal_mask(in_mask, ex.shape, "in_mask")
        self.options: dict[str, Any] = dict(in_mask=in_mask, rel_tol=rel_tol, directions=directions)
        self.inner = HistogramLoss(
            ex[..., None, :],
            in_mask=None if inm is None else inm[..., None, :],
            rel_tol=rel_tol,
            directions=directions,
        )

    def at(self, exemplar: torch.Tensor, **overrides: Any) -> HistogramLoss1D:
        """The same loss from another exemplar; ``overrides`` replace construction options
        (``in_mask``, ``rel_tol``, ``directions``; other keys are ignored)."""
        kw = {k: v for k, v in {**self.options, **overrides}.items() if k in self.options}
        return HistogramLoss1D(exemplar, **kw)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Losses ``[B]`` of signals ``x [B, C, N]`` of any length."""
        return self.inner(as_signal_batch(x, "signals")[..., None, :])
