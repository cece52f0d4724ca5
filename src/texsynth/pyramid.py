"""Resampling for coarse-to-fine synthesis: area downsampling and periodic Fourier resizing."""

from __future__ import annotations

import torch
import torch.nn.functional as F

__all__ = ["downsample", "fourier_resize", "level_shape"]


def level_shape(shape: tuple[int, int], levels_below: int) -> tuple[int, int]:
    """Size of the pyramid level ``levels_below`` halvings under ``shape`` (rounded up)."""
    f = 2**levels_below
    return -(-shape[0] // f), -(-shape[1] // f)


def downsample(x: torch.Tensor, shape: tuple[int, int]) -> torch.Tensor:
    """Area-average ``[B, C, H, W]`` down to ``shape`` (no ringing, fine for any image)."""
    if tuple(x.shape[-2:]) == tuple(shape):
        return x
    return F.adaptive_avg_pool2d(x, shape)


def fourier_resize(x: torch.Tensor, shape: tuple[int, int]) -> torch.Tensor:
    """Band-limited periodic resize of ``[B, C, H, W]`` to ``shape`` (zero-pad or crop the
    spectrum). Upsampling a periodic image this way adds no blur and keeps it periodic."""
    H, W = x.shape[-2:]
    h, w = shape
    if (h, w) == (H, W):
        return x
    X = torch.fft.fft2(x)
    out = torch.zeros(*x.shape[:-2], h, w, dtype=X.dtype, device=x.device)
    ny, nx = min(H, h), min(W, w)
    # keep the ny (nx) lowest frequencies, split between non-negative and negative ones
    py, px = ny - ny // 2, nx - nx // 2
    qy, qx = ny // 2, nx // 2
    rows_src = list(range(py)) + list(range(H - qy, H))
    rows_dst = list(range(py)) + list(range(h - qy, h))
    cols_src = list(range(px)) + list(range(W - qx, W))
    cols_dst = list(range(px)) + list(range(w - qx, w))
    rs, rd = torch.tensor(rows_src), torch.tensor(rows_dst)
    cs, cd = torch.tensor(cols_src), torch.tensor(cols_dst)
    out[..., rd[:, None], cd[None, :]] = X[..., rs[:, None], cs[None, :]]
    return torch.fft.ifft2(out).real * (h * w / (H * W))
