"""Sliced optimal transport between sets of feature vectors: pure, differentiable math.

Heitz, Vanhoey, Chambon & Belcour, "A Sliced Wasserstein Loss for Neural Texture Synthesis"
(CVPR 2021): the feature vectors of all spatial positions of a layer are samples of a
distribution; projecting them on a unit direction and sorting gives that 1-D marginal's
quantile function, and the mean squared difference of two sorted projections is the squared
1-D Wasserstein-2 distance. Averaged over random directions it is the sliced Wasserstein
distance, which (unlike a Gram matrix) constrains the whole distribution, not only its second
moments.
"""

from __future__ import annotations

import torch

__all__ = ["quantiles", "random_directions", "sorted_projections"]


def random_directions(
    channels: int,
    n: int,
    generator: torch.Generator | None = None,
    *,
    device: torch.device | str | None = None,
    dtype: torch.dtype | None = None,
) -> torch.Tensor:
    """``[channels, n]`` random unit directions (the columns), uniform on the sphere.

    Drawn in float64 on the CPU from ``generator`` (so results do not depend on the device),
    then moved to ``device``/``dtype``. Pass a generator: ``None`` uses the global RNG.
    """
    d = torch.randn(channels, n, generator=generator, dtype=torch.float64)
    d = d / d.norm(dim=0, keepdim=True).clamp_min(1e-300)
    return d.to(device=device, dtype=dtype if dtype is not None else torch.get_default_dtype())


def sorted_projections(features: torch.Tensor, directions: torch.Tensor) -> torch.Tensor:
    """Sorted projections of feature vectors on directions: ``[B, C, N] -> [B, N, K]``.

    ``features`` are ``[B, C, N]`` (or ``[B, C, H, W]``, flattened) with one C-dim sample per
    position; ``directions`` are ``[C, K]``. Column ``k`` of the result is the sorted 1-D
    sample ``<f_p, d_k>``: its empirical quantile function. Differentiable (the gradient of a
    sort is a permutation).
    """
    f = features.flatten(2)
    return (f.transpose(1, 2) @ directions.to(f)).sort(dim=1).values


def quantiles(sorted_samples: torch.Tensor, n: int) -> torch.Tensor:
    """Sorted samples ``[..., N, K]`` resampled at the ``n`` ranks ``(i + 0.5) / n``.

    Sample ``j`` of ``N`` sits at rank ``(j + 0.5) / N``; the quantile function between
    samples is linear and constant beyond the first and last. Returns ``[..., n, K]`` (the input
    itself when ``n == N``), so sets of different sizes can be compared rank by rank.
    """
    v = sorted_samples
    N = v.shape[-2]
    if N == n:
        return v
    q = ((torch.arange(n, device=v.device, dtype=v.dtype) + 0.5) * (N / n) - 0.5).clamp(0, N - 1)
    lo = q.floor().long()
    hi = (lo + 1).clamp(max=N - 1)
    w = (q - lo.to(v.dtype))[:, None]
    return v[..., lo, :] * (1 - w) + v[..., hi, :] * w
