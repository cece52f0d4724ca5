"""Periodic bilinear upsampling of the decoder's features, plain or folded into a convolution.

The decoder of :class:`~texsynth.generators.SynthHalfUNet2D` enlarges its features 2x (or
to an odd size) between levels. With ``tile=True`` the enlargement is bilinear
(``align_corners=False``, as PyTorch's ``F.interpolate``) on the periodic extension, so
samples tile seamlessly. Besides :func:`periodic_upsample`, two inference-only forms give
the same values with fewer copies: :func:`padded_block_input` builds a decoder block's
padded input in one buffer, and :func:`polyphase_weight` folds a 2x enlargement into the
3x3 convolution that follows it (run on the coarse grid, then ``pixel_shuffle``).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

__all__ = ["padded_block_input", "periodic_upsample", "polyphase_weight"]


def _upsample_taps() -> torch.Tensor:
    """``U[a, d + 1, e + 1]``: weight of coarse sample ``x[i + e]`` in the periodic 2x
    bilinear enlargement at fine index ``2i + a + d`` (``a`` in {0, 1}, ``d, e`` in
    {-1, 0, 1}); fine sample ``2j`` is ``0.25 x[j-1] + 0.75 x[j]``, ``2j+1`` is ``0.75 x[j]
    + 0.25 x[j+1]``."""
    U = torch.zeros(2, 3, 3, dtype=torch.float64)
    for a in (0, 1):
        for d in (-1, 0, 1):
            j, phase = divmod(a + d, 2)
            taps = {-1: 0.25, 0: 0.75} if phase == 0 else {0: 0.75, 1: 0.25}
            for e, c in taps.items():
                U[a, d + 1, j + e + 1] += c
    return U


_UPSAMPLE_TAPS = _upsample_taps()


def polyphase_weight(w: torch.Tensor) -> torch.Tensor:
    """3x3 kernels ``[4 O, C, 3, 3]`` on the coarse grid equivalent to the 3x3 kernels
    ``w [O, C, 3, 3]`` applied after a 2x periodic bilinear enlargement; output channel
    ``4 o + 2 a + b`` is phase (row ``a``, column ``b``), the order of ``pixel_shuffle``."""
    U = _UPSAMPLE_TAPS.to(device=w.device, dtype=w.dtype)
    k = torch.einsum("ocrs,are->oacse", w, U)
    k = torch.einsum("oacse,bsf->oabcef", k, U)
    return k.reshape(-1, w.shape[1], 3, 3)


def _wrap_interp(x: torch.Tensor, n_out: int, dim: int) -> torch.Tensor:
    """Periodic linear interpolation of axis ``dim`` to ``n_out`` samples.

    Same sample positions as ``F.interpolate(..., align_corners=False)`` (output pixel ``i``
    reads source position ``(i + 0.5) * n_in / n_out - 0.5``), but indices wrap around
    instead of being clamped at the borders.
    """
    n_in = x.shape[dim]
    if n_in == n_out:
        return x
    s = (torch.arange(n_out, dtype=torch.float64) + 0.5) * (n_in / n_out) - 0.5
    i0 = torch.floor(s)
    shape = [1] * x.dim()
    shape[dim] = n_out
    t = (s - i0).to(device=x.device, dtype=x.dtype).view(shape)
    i0 = i0.long()
    lo = (i0 % n_in).to(x.device)
    hi = ((i0 + 1) % n_in).to(x.device)
    return torch.lerp(x.index_select(dim, lo), x.index_select(dim, hi), t)


def periodic_upsample(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Bilinear resize of ``[N, C, h, w]`` to ``size`` that wraps around the borders.

    For an exact 2x enlargement it circular-pads by one pixel, calls ``F.interpolate``
    (bilinear, ``align_corners=False``) and crops; otherwise (odd target sizes) it
    interpolates each axis with wrapped indices (:func:`_wrap_interp`). Both give the same
    values (up to rounding): those of bilinear interpolation of the periodic extension.
    """
    h, w = x.shape[-2:]
    H, W = size
    if (H, W) == (2 * h, 2 * w):
        xp = F.pad(x, (1, 1, 1, 1), mode="circular")
        up = F.interpolate(xp, size=(2 * h + 4, 2 * w + 4), mode="bilinear", align_corners=False)
        return up[..., 2:-2, 2:-2]
    return _wrap_interp(_wrap_interp(x, H, -2), W, -1)


def _upsample2x_into(x: torch.Tensor, out: torch.Tensor) -> None:
    """Write the periodic 2x bilinear enlargement of ``x [N, C, h, w]`` into ``out [N, C,
    2h, 2w]`` (any strides, unit stride on the last axis), as :func:`periodic_upsample`.

    Bilinear 2x with ``align_corners=False`` has fixed weights: output row ``2i`` is
    ``0.25 x[i - 1] + 0.75 x[i]`` and row ``2i + 1`` is ``0.75 x[i] + 0.25 x[i + 1]``
    (indices mod ``h``), the same along columns. Done separably with ``out=`` writes.
    """
    N, C, h, w = x.shape
    xp = F.pad(x, (1, 1, 1, 1), mode="circular")
    rows = torch.empty(N, C, h, 2, w + 2, dtype=x.dtype, device=x.device)
    centre = xp[:, :, 1:-1] * 0.75
    torch.add(centre, xp[:, :, :-2], alpha=0.25, out=rows[:, :, :, 0])
    torch.add(centre, xp[:, :, 2:], alpha=0.25, out=rows[:, :, :, 1])
    del centre, xp
    rows = rows.view(N, C, 2 * h, w + 2)
    cols = out.unflatten(-1, (w, 2))
    centre = rows[..., 1:-1] * 0.75
    torch.add(centre, rows[..., :-2], alpha=0.25, out=cols[..., 0])
    torch.add(centre, rows[..., 2:], alpha=0.25, out=cols[..., 1])


def padded_block_input(x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
    """``circular_pad(cat[periodic_upsample(x, skip's size), skip], 1)`` built in place.

    One buffer ``[N, C + S, h + 2, w + 2]`` receives the upsampled features and the skips
    in its interior, then its one-pixel border is filled from the opposite side. This is
    what a decoder block's first (circular) convolution sees, without the separate
    upsampled, concatenated and padded copies. Not differentiable (``out=`` writes).
    """
    N, C = x.shape[:2]
    S, (h, w) = skip.shape[1], skip.shape[-2:]
    buf = torch.empty(N, C + S, h + 2, w + 2, dtype=x.dtype, device=x.device)
    inner = buf[:, :, 1:-1, 1:-1]
    if (h, w) == (2 * x.shape[-2], 2 * x.shape[-1]):
        _upsample2x_into(x, inner[:, :C])
    else:
        inner[:, :C].copy_(periodic_upsample(x, (h, w)))
    inner[:, C:].copy_(skip)
    buf[:, :, 0, 1:-1].copy_(buf[:, :, h, 1:-1])
    buf[:, :, h + 1, 1:-1].copy_(buf[:, :, 1, 1:-1])
    buf[:, :, :, 0].copy_(buf[:, :, :, w])
    buf[:, :, :, w + 1].copy_(buf[:, :, :, 1])
    return buf
