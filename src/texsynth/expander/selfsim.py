"""Self-similarity maps and feature-filter transposed convolutions, in the Fourier domain.

The two large correlations of the Transposer (Liu et al. 2020):

* the **self-similarity map** of features ``F [B, C, h, w]``,
  ``S(p, q) = -sum_{m,n,c} |F_c(m, n) - F_c(m - p, n - q)|^2 / sum_{m,n,c} |F_c(m, n)|^2``,
  with circular shifts, equals ``2 A(p, q) / A(0, 0) - 2`` where ``A`` is the circular
  autocorrelation summed over channels, ``A = irfft2(sum_c |rfft2(F_c)|^2)``: one FFT per
  channel instead of ``h w`` shifted differences (:func:`self_similarity`; the direct sum is
  :func:`self_similarity_direct`, for tests);
* the **transposed convolution** of a one-channel map ``W [B, 1, a, b]`` (the transformed
  self-similarity, one weight per shift) with the features as its filter, ``T(y) = sum_p W(p)
  F(y - p)``: a copy of the features placed at every shift, weighted by how similar that shift
  is; the output has ``a + h - 1`` rows. :func:`feature_transpose` does it with FFTs on a grid
  of that size (the linear and the circular results then agree); :func:`feature_transpose_direct`
  with ``torch.nn.functional.conv_transpose2d`` (one group per batch item).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

__all__ = [
    "centred_shifts",
    "feature_transpose",
    "feature_transpose_direct",
    "self_similarity",
    "self_similarity_direct",
]


def self_similarity(f: torch.Tensor) -> torch.Tensor:
    """``S [B, h, w]`` of features ``f [B, C, h, w]`` (circular shifts; ``S[b, p, q]`` for the
    shift ``(p, q)`` modulo ``(h, w)``); 0 at the zero shift, ``<= 0`` elsewhere up to rounding."""
    h, w = f.shape[-2:]
    spec = torch.fft.rfft2(f.float() if f.dtype == torch.float16 else f)
    power = (spec.real**2 + spec.imag**2).sum(1)
    auto = torch.fft.irfft2(power, s=(h, w))  # [B, h, w]: sum_m F(m) . F(m - p)
    energy = auto[:, :1, :1].clamp_min(torch.finfo(auto.dtype).tiny)
    return 2 * auto / energy - 2


def self_similarity_direct(f: torch.Tensor) -> torch.Tensor:
    """:func:`self_similarity` by the definition, one ``torch.roll`` per shift (slow: tests)."""
    h, w = f.shape[-2:]
    energy = (f**2).sum((1, 2, 3))
    out = torch.empty(f.shape[0], h, w, dtype=f.dtype)
    for p in range(h):
        for q in range(w):
            shifted = torch.roll(f, shifts=(p, q), dims=(-2, -1))  # F(m - p, n - q)
            out[:, p, q] = -((f - shifted) ** 2).sum((1, 2, 3)) / energy
    return out


def centred_shifts(s: torch.Tensor) -> torch.Tensor:
    """A circular map ``[B, h, w]`` over shifts re-ordered as ``[B, h + 1, w + 1]`` for the
    shifts ``-h // 2 ... h - h // 2`` (and the same for ``w``): zero shift at index
    ``(h // 2, w // 2)``; the end shifts repeat (``-h/2`` and ``+h/2`` are one circular shift)."""
    h, w = s.shape[-2:]
    iy = torch.remainder(torch.arange(h + 1, device=s.device) - h // 2, h)
    ix = torch.remainder(torch.arange(w + 1, device=s.device) - w // 2, w)
    return s[:, iy[:, None], ix[None, :]]


def feature_transpose(weights: torch.Tensor, f: torch.Tensor) -> torch.Tensor:
    """``T [B, C, a + h - 1, b + w - 1]``, ``T(y) = sum_p weights(p) f(y - p)`` (full linear
    convolution, ``conv_transpose2d`` with the features as filter), through FFTs.

    Parameters
    ----------
    weights
        ``[B, 1, a, b]``: one weight per shift (index ``p`` places the copy of ``f`` at ``p``).
    f
        ``[B, C, h, w]`` features, the filter.
    """
    a, b = weights.shape[-2:]
    h, w = f.shape[-2:]
    size = (a + h - 1, b + w - 1)
    prod = torch.fft.rfft2(weights, s=size) * torch.fft.rfft2(f, s=size)
    return torch.fft.irfft2(prod, s=size)


def feature_transpose_direct(weights: torch.Tensor, f: torch.Tensor) -> torch.Tensor:
    """:func:`feature_transpose` with ``conv_transpose2d`` (each batch item its own group)."""
    B, C, h, w = f.shape
    x = weights.reshape(1, B, *weights.shape[-2:])
    kernel = f.reshape(B, 1, C, h, w).reshape(B, C, h, w)  # [in=B, out/groups=C, h, w]
    out = F.conv_transpose2d(x, kernel, groups=B)
    return out.reshape(B, C, *out.shape[-2:])
