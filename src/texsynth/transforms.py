"""Invertible value transforms applied around synthesis.

* :class:`Standardizer`: per-channel zero mean and unit variance; for colour images the
  channels are also rotated onto their principal axes (PCA), so the synthesis works on
  decorrelated channels and colours do not drift.
* :class:`Gaussianizer`: the rank transform of foscat's ``to_gaussian`` and its inverse,
  per channel, through the exemplar's quantile function.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from .errors import TexsynthError

__all__ = ["Gaussianizer", "Standardizer", "image_transform", "match_histogram"]


def _weighted_pixels(x: torch.Tensor, mask: torch.Tensor | None) -> tuple[torch.Tensor, ...]:
    """Pixels of ``x [1, C, H, W]`` as ``[C, N]`` and their weights ``[N]``."""
    C = x.shape[1]
    pix = x[0].reshape(C, -1)
    if mask is None:
        w = torch.ones(pix.shape[1], dtype=x.dtype, device=x.device)
    else:
        w = mask.expand(1, 1, *x.shape[-2:]).reshape(-1).to(x)
    return pix, w


@dataclass
class Standardizer:
    """``y = R^T (x - mean) / scale`` per pixel; :meth:`inverse` undoes it.

    ``R`` is the identity for one channel and the PCA rotation of the colour channels
    otherwise; ``scale`` makes each output channel unit-variance. Directions in which the
    exemplar does not vary (a constant channel) are dropped: ``R`` is ``[C, C']`` with
    ``C' <= C``, and :meth:`inverse` restores them at their constant value.
    """

    mean: torch.Tensor  # [C]
    rotation: torch.Tensor  # [C, C']
    scale: torch.Tensor  # [C']

    @classmethod
    def fit(
        cls, exemplar: torch.Tensor, mask: torch.Tensor | None = None, decorrelate: bool = True
    ) -> Standardizer:
        """Fit to ``exemplar [1, C, H, W]`` (pixels with mask 0 are ignored)."""
        pix, w = _weighted_pixels(exemplar.double(), mask)
        w = w.double() / w.sum()
        mean = (pix * w).sum(1)
        centred = pix - mean[:, None]
        cov = (centred * w) @ centred.T
        C = cov.shape[0]
        if decorrelate and C > 1:
            evals, evecs = torch.linalg.eigh(cov)
            order = torch.argsort(evals, descending=True)
            rotation, var = evecs[:, order], evals[order]
        else:
            rotation, var = torch.eye(C, dtype=cov.dtype, device=cov.device), torch.diagonal(cov)
        scale = var.clamp_min(0).sqrt()
        magnitude = float(pix.abs().max()) if pix.numel() else 0.0
        keep = scale > 1e-7 * max(magnitude, 1e-30)
        if not bool(keep.any()):
            raise TexsynthError("the exemplar is constant: there is no texture to synthesise")
        rotation, scale = rotation[:, keep], scale[keep]
        dtype = exemplar.dtype
        return cls(mean.to(dtype), rotation.to(dtype), scale.to(dtype))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Standardize ``[B, C, H, W]``."""
        m, R, s = (t.to(x.device, x.dtype) for t in (self.mean, self.rotation, self.scale))
        y = torch.einsum("bchw,cd->bdhw", x - m[:, None, None], R)
        return y / s[:, None, None]

    def inverse(self, y: torch.Tensor) -> torch.Tensor:
        """Back to the exemplar's units."""
        m, R, s = (t.to(y.device, y.dtype) for t in (self.mean, self.rotation, self.scale))
        x = torch.einsum("bdhw,cd->bchw", y * s[:, None, None], R)
        return x + m[:, None, None]


def _normal_ppf(p: torch.Tensor) -> torch.Tensor:
    return torch.special.ndtri(p)


@dataclass
class Gaussianizer:
    """Rank-based Gaussianisation per channel (``to_gaussian``) and its inverse."""

    sorted_values: torch.Tensor  # [C, N] the exemplar's sorted (valid) pixel values
    gauss_values: torch.Tensor  # [N] the matching standard-normal quantiles

    @classmethod
    def fit(cls, exemplar: torch.Tensor, mask: torch.Tensor | None = None) -> Gaussianizer:
        """Fit to ``exemplar [1, C, H, W]``; only pixels with mask > 0 count."""
        pix, w = _weighted_pixels(exemplar, mask)
        pix = pix[:, w > 0]
        N = pix.shape[1]
        p = (torch.arange(N, dtype=torch.float64) + 0.5) / N
        return cls(torch.sort(pix, dim=1).values, _normal_ppf(p).to(exemplar.dtype))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Map ``[B, C, H, W]`` values through the exemplar's CDF to standard-normal ones."""
        return self._interp(
            x, self.sorted_values, self.gauss_values[None].expand_as(self.sorted_values)
        )

    def inverse(self, y: torch.Tensor) -> torch.Tensor:
        """Map standard-normal values back to the exemplar's distribution."""
        return self._interp(
            y, self.gauss_values[None].expand_as(self.sorted_values), self.sorted_values
        )

    @staticmethod
    def _interp(x: torch.Tensor, xp: torch.Tensor, fp: torch.Tensor) -> torch.Tensor:
        """Per-channel piecewise-linear interpolation, clamped at the ends."""
        out = torch.empty_like(x)
        for c in range(x.shape[1]):
            xs = xp[c].to(x.device, x.dtype).contiguous()
            fs = fp[c].to(x.device, x.dtype)
            v = x[:, c].reshape(-1).clamp(xs[0], xs[-1])
            i = torch.searchsorted(xs, v).clamp(1, xs.numel() - 1)
            x0, x1 = xs[i - 1], xs[i]
            t = torch.where(x1 > x0, (v - x0) / (x1 - x0), torch.zeros_like(v))
            out[:, c] = (fs[i - 1] + t * (fs[i] - fs[i - 1])).reshape(x[:, c].shape)
        return out


def match_histogram(
    x: torch.Tensor, reference: torch.Tensor, mask: torch.Tensor | None = None
) -> torch.Tensor:
    """Give each image and channel of ``x [B, C, H, W]`` exactly the value distribution of
    ``reference [1, C, H', W']`` (rank remapping; ties keep their order)."""
    pix, w = _weighted_pixels(reference, mask)
    pix = pix[:, w > 0]
    ref_sorted = torch.sort(pix, dim=1).values  # [C, N]
    B, C, H, W = x.shape
    n = H * W
    # quantile of the reference at each rank of x
    q = (torch.arange(n, dtype=torch.float64, device=x.device) + 0.5) / n
    pos = q * ref_sorted.shape[1] - 0.5
    lo = pos.floor().clamp(0, ref_sorted.shape[1] - 1).long()
    hi = (lo + 1).clamp(max=ref_sorted.shape[1] - 1)
    t = (pos - lo).clamp(0, 1).to(x.dtype)
    out = torch.empty_like(x)
    for c in range(C):
        rs = ref_sorted[c].to(x.device, x.dtype)
        target = rs[lo] * (1 - t) + rs[hi] * t
        order = torch.argsort(x[:, c].reshape(B, n), dim=1)
        vals = torch.empty(B, n, dtype=x.dtype, device=x.device)
        vals.scatter_(1, order, target.expand(B, n))
        out[:, c] = vals.reshape(B, H, W)
    return out


def image_transform(
    std: Standardizer, gauss: Gaussianizer | None, exemplar: torch.Tensor
) -> Callable[[torch.Tensor], torch.Tensor]:
    """Map from the working space to image values in [0, 1], for feature networks.

    Images already in [0, 1] keep their values; fields in other units are mapped linearly
    so that the exemplar spans [0, 1].
    """
    lo, hi = float(exemplar.min()), float(exemplar.max())
    if lo >= 0.0 and hi <= 1.0:
        lo, hi = 0.0, 1.0
    span = hi - lo if hi > lo else 1.0

    def to_image(t: torch.Tensor) -> torch.Tensor:
        if gauss is not None:
            t = gauss.inverse(t)
        return (std.inverse(t) - lo) / span

    return to_image
