"""Pyramid levels of the exemplar: matching features and the searchable exemplar patches.

:func:`level_features` box-filters an image to a pyramid level (keeping thin lines through
block maxima and minima); :class:`ExemplarLevel` holds the exemplar's patches at one level,
reduced by PCA for matching as in Kwatra et al. 2005 ("Texture optimization for
example-based synthesis"), and which of them lie outside an inpainting hole.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ..errors import TexsynthError

__all__ = ["ExemplarLevel", "box_sum", "level_features"]

_PCA_DIMS = 32  # matching dimensions
_MINMAX_WEIGHT = 1.0  # weight of the block max / min channels in the coarse matching features


def level_features(img: torch.Tensor, lvl: int) -> torch.Tensor:
    """Matching features ``[C (+2), h, w]`` of the normalised image ``img`` at pyramid level
    ``lvl``: the box-filtered channels, plus (above the finest level) the maximum and minimum
    of the channel mean over each ``2**lvl`` block, so that structures thinner than a
    coarse pixel (grout, joints, cell borders) keep their full contrast where they would
    otherwise average away."""
    if lvl == 0:
        return img
    f = 2**lvl
    h, w = img.shape[-2] // f * f, img.shape[-1] // f * f
    img = img[None, :, :h, :w]
    avg = F.avg_pool2d(img, f)
    lum = img.mean(1, keepdim=True)
    hi = F.max_pool2d(lum, f)
    lo = -F.max_pool2d(-lum, f)
    return torch.cat([avg, _MINMAX_WEIGHT * hi, _MINMAX_WEIGHT * lo], 1)[0]


def box_sum(a: torch.Tensor, p: int) -> torch.Tensor:
    """Sums of ``a`` ``[h, w]`` over every ``p x p`` window (valid positions)."""
    k = torch.ones(1, 1, p, p, dtype=a.dtype, device=a.device)
    return F.conv2d(a[None, None], k)[0, 0]


class ExemplarLevel:
    """Exemplar patches and search state of one pyramid level."""

    def __init__(
        self,
        ex: torch.Tensor,
        p: int,
        hole: torch.Tensor | None,
    ) -> None:
        C, h, w = ex.shape
        self.C, self.h, self.w, self.p = C, h, w, p
        self.hs, self.ws = h - p + 1, w - p + 1
        self.patches = F.unfold(ex[None], p)[0].T.contiguous()  # [Ns, C*p*p]
        self.D = self.patches.shape[1]
        # matching runs on PCA-reduced patch vectors (Kwatra et al. 2005 do the same)
        self.mu = self.patches.mean(0)
        cen = self.patches - self.mu
        if self.D > _PCA_DIMS:
            cov = cen.T @ cen / cen.shape[0]
            _, vecs = torch.linalg.eigh(cov.double())
            basis = vecs[:, -_PCA_DIMS:].to(ex.dtype).contiguous()
            self.basis: torch.Tensor | None = basis
            self.feats = (cen @ basis).contiguous()
        else:
            self.basis = None
            self.feats = cen.contiguous()
        self.sqn = self.feats.pow(2).sum(1)
        valid = torch.ones(self.hs, self.ws, dtype=torch.bool, device=ex.device)
        if hole is not None:
            valid = box_sum(hole.to(ex.dtype), p) < 0.5
            if not bool(valid.any()):
                raise TexsynthError(
                    f"the mask leaves no whole {p}x{p} exemplar patch outside the hole; "
                    "use a smaller hole or a smaller patch_size"
                )
        self.valid = valid.reshape(-1)
        self.valid_idx = self.valid.nonzero()[:, 0]

    def project(self, q: torch.Tensor) -> torch.Tensor:
        """Query patches ``[Nq, D]`` in the reduced space of the exemplar patches."""
        q = q - self.mu
        return q if self.basis is None else q @ self.basis

    def random_sources(self, shape: tuple[int, ...], gen: torch.Generator) -> torch.Tensor:
        """Flat indices of random valid source patches, of the given ``shape``."""
        k = torch.randint(
            0, self.valid_idx.numel(), shape, generator=gen, device=self.valid_idx.device
        )
        return self.valid_idx[k]
