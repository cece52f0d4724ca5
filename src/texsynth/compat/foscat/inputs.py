"""foscat's array arguments as the tensors texsynth takes, with foscat-worded errors.

Images ``(H, W)`` / ``(B, H, W)``, signals ``(N,)`` / ``(B, N)``, HEALPix maps ``(npix,)`` /
``(B, npix)``, per-pixel masks and initial fields, NumPy or torch, converted to the
operator's dtype and device.
"""

from __future__ import annotations

from typing import Any

import torch

from ...errors import TexsynthError
from ._common import as_tensor

__all__ = ["GEOMETRIES", "as_batch", "as_eval_mask", "as_init", "as_plane", "as_spin_batch"]


#: foscat's geometries: name -> (description of one item, of a batch, the operator)
GEOMETRIES = {
    "2D": ("an image (H, W)", "(B, H, W)", "2D (use_2D=True)"),
    "1D": ("a signal (N,)", "(B, N)", "1D (use_1D=True)"),
    "healpix": ("a map (npix,)", "(B, npix)", "HEALPix (use_2D=False, use_1D=False)"),
}


def as_batch(
    x: Any, name: str, geometry: str, dtype: torch.dtype, device: torch.device
) -> tuple[torch.Tensor, bool]:
    """``[B, H, W]`` images (``geometry="2D"``), ``[B, N]`` signals (``"1D"``) or ``[B, npix]``
    HEALPix maps (``"healpix"``), and whether the input had no batch axis."""
    t = as_tensor(x, name, dtype, device)
    one, batch, operator = GEOMETRIES[geometry]
    ndim = 2 if geometry == "2D" else 1
    if geometry == "2D" and t.dim() == 1:
        raise TexsynthError(
            f"{name} of shape {tuple(t.shape)} is 1D but this operator is 2D (use_2D=True); "
            "use scat_cov1D.funct for signals, or pass an (H, W) image"
        )
    if t.dim() not in (ndim, ndim + 1):
        raise TexsynthError(
            f"{name} must be {one} or a batch {batch} for a {operator} operator, got shape "
            f"{tuple(t.shape)}"
        )
    return (t[None] if t.dim() == ndim else t), t.dim() == ndim


def as_spin_batch(
    x: Any, name: str, spin: int, dtype: torch.dtype, device: torch.device
) -> tuple[torch.Tensor, bool]:
    """foscat's spin-1 or spin-2 HEALPix maps, ``(2, npix)`` (``Q, U``; spin 1: ``U, V``) or a
    batch ``(B, 2, npix)``, as ``[B, 2F, npix]`` (``(2F, npix)`` and ``(B, 2F, npix)``: ``F``
    consecutive pairs), and whether the input had no batch axis."""
    t = as_tensor(x, name, dtype, device)
    pair = "Q/U" if spin == 2 else "U/V"
    if t.dim() not in (2, 3):
        raise TexsynthError(
            f"{name} must be {pair} maps (2, npix) or a batch (B, 2, npix) for spin={spin}, "
            f"got shape {tuple(t.shape)}"
        )
    if t.shape[-2] % 2:
        raise TexsynthError(
            f"{name} has {t.shape[-2]} channels (axis -2 of shape {tuple(t.shape)}); spin={spin} "
            f"maps are ({pair.replace('/', ', ')}) pairs of channels: (2, npix) or (B, 2, npix)"
        )
    return (t[None] if t.dim() == 2 else t), t.dim() == 2


def as_eval_mask(
    mask: Any, spatial: tuple[int, ...], dtype: torch.dtype, device: torch.device
) -> torch.Tensor | None:
    """foscat's ``(N_mask, *spatial)`` mask as ``[1, N_mask, *spatial]`` weights in [0, 1]."""
    if mask is None:
        return None
    m = as_tensor(mask, "mask", dtype, device)
    if m.dim() == len(spatial):
        m = m[None]
    if m.dim() != len(spatial) + 1 or tuple(m.shape[1:]) != spatial:
        raise TexsynthError(
            f"mask must have shape (N_mask, {', '.join(map(str, spatial))}), got {tuple(m.shape)}"
        )
    if bool((m < 0).any()):
        raise TexsynthError("mask weights must be non-negative")
    peak = m.flatten(1).amax(1)
    if bool((peak <= 0).any()):
        raise TexsynthError("a mask excludes every pixel; each mask needs some weight > 0")
    # foscat's weights may exceed 1; a weighted mean does not depend on their scale
    m = m / peak.reshape(-1, *([1] * len(spatial)))
    return m[None]


def as_plane(
    value: Any,
    name: str,
    spatial: tuple[int, ...],
    batch: int,
    dtype: torch.dtype,
    device: torch.device,
) -> torch.Tensor | None:
    """A per-pixel array ``(*spatial)`` or ``(1|batch, *spatial)`` as ``[1|batch, 1, ...]``."""
    if value is None:
        return None
    t = as_tensor(value, name, dtype, device)
    if t.dim() == len(spatial):
        t = t[None]
    if t.dim() != len(spatial) + 1 or tuple(t.shape[1:]) != spatial or t.shape[0] not in (1, batch):
        dims = ", ".join(map(str, spatial))
        raise TexsynthError(
            f"{name} must have image_target's shape ({dims}) or (1, {dims}), got {tuple(t.shape)}"
        )
    return t[:, None]


def as_init(
    input_image: Any, spatial: tuple[int, ...], n: int, dtype: torch.dtype, device: torch.device
) -> torch.Tensor | None:
    """``input_image`` ``(*spatial)``, ``(1|n, *spatial)`` as ``[1|n, 1, *spatial]``."""
    if input_image is None:
        return None
    t = as_tensor(input_image, "input_image", dtype, device)
    if t.dim() == len(spatial):
        t = t[None]
    if t.dim() != len(spatial) + 1 or t.shape[0] not in (1, n):
        raise TexsynthError(
            f"input_image must have image_target's shape or (synthesised_N={n}, ...), got "
            f"{tuple(t.shape)}"
        )
    return t[:, None]
