"""Histogram specification of image channels (Heeger & Bergen 1995; Kaspar et al. 2015)."""

from __future__ import annotations

import torch

__all__ = ["match_histogram"]


def match_histogram(x: torch.Tensor, reference: torch.Tensor) -> torch.Tensor:
    """Give each channel of ``x`` ``[C, H, W]`` the value distribution of ``reference``'s
    (histogram specification, as in Heeger & Bergen 1995 and Kaspar et al. 2015).

    The map is monotone and keeps equal values equal (each distinct value of ``x`` goes to
    the mean of the reference quantiles its ranks cover), so flat regions stay flat and an
    ``x`` that already has the reference's distribution is returned unchanged."""
    out = torch.empty_like(x)
    for c in range(x.shape[0]):
        v = x[c].reshape(-1)
        ref = reference[c].reshape(-1).sort().values.to(x.dtype)
        values, inverse, counts = torch.unique(v, return_inverse=True, return_counts=True)
        # rank range [lo, hi) of each distinct value, mapped onto the reference's quantiles
        hi = counts.cumsum(0).to(torch.float64)
        lo = hi - counts
        n, m = v.numel(), ref.numel()
        r64 = ref.to(torch.float64)
        csum = torch.cat([r64.new_zeros(1), r64.cumsum(0)])
        # mean of the quantile function over [lo, hi) * m / n (its integral is piecewise
        # linear through csum)
        ends = []
        for t in (lo * m / n, hi * m / n):
            i = t.floor().long().clamp(0, m - 1)
            ends.append(csum[i] + (t - i) * r64[i])
        mapped = (ends[1] - ends[0]) / (counts.to(torch.float64) * m / n)
        out[c] = mapped.to(x.dtype)[inverse].reshape(x.shape[1:])
    return out
