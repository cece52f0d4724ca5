"""Resampling for coarse-to-fine synthesis on periodic grids of any dimension (signals
``[B, C, N]``, images ``[B, C, H, W]``): area downsampling and band-limited Fourier
resizing."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F

__all__ = ["downsample", "fourier_resize", "level_shape"]


def level_shape(shape: Sequence[int], levels_below: int) -> tuple[int, ...]:
    """Size of the pyramid level ``levels_below`` halvings under ``shape`` (rounded up)."""
    f = 2**levels_below
    return tuple(-(-s // f) for s in shape)


def downsample(x: torch.Tensor, shape: Sequence[int]) -> torch.Tensor:
    """Area-average the last ``len(shape)`` (1 or 2) axes of ``x`` down to ``shape`` (no
    ringing, fine for any signal or image)."""
    shape = tuple(shape)
    if tuple(x.shape[-len(shape) :]) == shape:
        return x
    if len(shape) == 1:
        return F.adaptive_avg_pool1d(x, shape[0])
    return F.adaptive_avg_pool2d(x, (shape[0], shape[1]))


def fourier_resize(x: torch.Tensor, shape: Sequence[int]) -> torch.Tensor:
    """Band-limited periodic resize of the last ``len(shape)`` axes of ``x`` to ``shape``
    (zero-pad or crop the spectrum, keeping the lowest frequencies of each axis, split
    between non-negative and negative ones). Upsampling a periodic signal or image this way
    adds no blur and keeps it periodic."""
    shape = tuple(shape)
    d = len(shape)
    old = tuple(x.shape[-d:])
    if old == shape:
        return x
    dims = tuple(range(-d, 0))
    # (torch.fft.fft takes a real input's fast path, which fftn does not on one axis)
    X = torch.fft.fft(x) if d == 1 else torch.fft.fftn(x, dim=dims)
    out = torch.zeros(*x.shape[:-d], *shape, dtype=X.dtype, device=x.device)
    src: list[torch.Tensor] = []
    dst: list[torch.Tensor] = []
    for axis, (N, n) in enumerate(zip(old, shape, strict=True)):
        m = min(N, n)
        p, q = m - m // 2, m // 2  # non-negative and negative frequencies kept
        view = [-1] + [1] * (d - 1 - axis)  # (an open mesh, as numpy.ix_)
        src.append(torch.tensor(list(range(p)) + list(range(N - q, N))).view(view))
        dst.append(torch.tensor(list(range(p)) + list(range(n - q, n))).view(view))
    into: tuple[Any, ...] = (Ellipsis, *dst)
    read: tuple[Any, ...] = (Ellipsis, *src)
    out[into] = X[read]
    back = torch.fft.ifft(out) if d == 1 else torch.fft.ifftn(out, dim=dims)
    return back.real * (math.prod(shape) / math.prod(old))
