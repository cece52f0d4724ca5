"""Where a network's feature maps come from: the pixels each position sees, and the extractor.

Helpers of the losses on network features (:mod:`texsynth.losses.features`,
:mod:`texsynth.losses.correspondence`, :mod:`texsynth.losses.content`):

* :func:`receptive_radius` -- how far an exemplar defect reaches a layer's features (the
  *effective* receptive field, Luo et al., NeurIPS 2016);
* :func:`layer_mask` -- the positions of a layer that a masked exemplar leaves valid;
* :func:`sync_extractor` -- the extractor moved to the scored images' device and dtype.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from ..features import RandomFeatures, VGG19Features
from ..features.vgg19 import LAYERS as VGG_LAYERS

__all__ = ["PIXELS", "layer_mask", "receptive_radius", "sync_extractor"]

#: name of the pseudo-layer holding the (transformed) image itself
PIXELS = "pixels"


def _vgg_radii() -> dict[str, int]:
    """Theoretical receptive-field radius (input pixels) of each VGG19 layer."""
    radii: dict[str, int] = {}
    size, jump = 1, 1
    for name in VGG_LAYERS:
        if name.startswith("pool"):
            size += jump  # 2x2 window, stride 2
            jump *= 2
        else:
            size += 2 * jump  # 3x3 convolution
        radii[name] = size // 2
    return radii


_VGG_RADII = _vgg_radii()


def receptive_radius(extractor: Any, layer: str) -> int:
    """How far (in input pixels) an exemplar defect noticeably reaches a feature of ``layer``.

    The *effective* receptive field of a deep network is much smaller than its theoretical
    one (Luo et al., NeurIPS 2016). Measured on masked exemplars (a constant blob masked out,
    scored against the clean texture), a quarter of the theoretical VGG19 radius and half the
    random filters' radius gave the cleanest targets: eroding by the full radius keeps only
    border positions on deep layers, which padding makes atypical.
    """
    if layer == PIXELS:
        return 0
    if isinstance(extractor, RandomFeatures) and layer.startswith("rand"):
        return int(layer[4:]) // 4
    if isinstance(extractor, VGG19Features):
        return _VGG_RADII.get(extractor.canonical(layer), 0) // 4
    return 0


def _erode_resample(valid: torch.Tensor, radius: int, size: tuple[int, int]) -> torch.Tensor:
    """``valid [B, 1, H, W]`` (bool) eroded by ``radius`` pixels, then brought to ``size``.

    A position of the result is valid only if every pixel of its cell (after erosion) is.
    Unstrided outputs smaller than the input (``"valid"`` convolutions) are centre-cropped.
    """
    inv = (~valid).to(torch.float32)
    if radius > 0:
        inv = F.max_pool2d(inv, 2 * radius + 1, stride=1, padding=radius)
    H, W = inv.shape[-2:]
    h, w = size
    if (h, w) == (H, W):
        pass
    elif h < H and w < W and H < 1.5 * h and W < 1.5 * w:
        top, left = (H - h) // 2, (W - w) // 2
        inv = inv[..., top : top + h, left : left + w]
    elif h <= H and w <= W:
        inv = F.adaptive_max_pool2d(inv, (h, w))
    else:
        inv = F.interpolate(inv, size=(h, w), mode="nearest")
    return inv == 0


def layer_mask(valid: torch.Tensor, radius: int, size: tuple[int, int]) -> torch.Tensor:
    """Valid positions of a layer: ``[B, 1, h, w]`` bool.

    Positions within ``radius`` pixels (see :func:`receptive_radius`) of an invalid pixel,
    or whose own cell holds one, are excluded. On deep layers of small exemplars that can
    leave almost nothing, so the radius is halved until at least a quarter of the positions
    whose own cell is valid survive; if no cell is wholly valid, positions with any valid
    pixel are kept (never an empty set).
    """
    base = _erode_resample(valid, 0, size)
    n0 = int(base.sum())
    if n0 == 0:
        v = valid.to(torch.float32)
        if size[0] <= v.shape[-2] and size[1] <= v.shape[-1]:
            return F.adaptive_max_pool2d(v, size) > 0
        return F.interpolate(v, size=size, mode="nearest") > 0
    r = radius
    while r > 0:
        m = _erode_resample(valid, r, size)
        if int(m.sum()) * 4 >= n0:
            return m
        r //= 2
    return base


def sync_extractor(extractor: Any, x: torch.Tensor) -> None:
    """Move a module extractor to ``x``'s device and floating dtype if it is elsewhere."""
    if not isinstance(extractor, torch.nn.Module):
        return
    t = next(iter((*extractor.parameters(), *extractor.buffers())), None)
    if t is not None and (t.device != x.device or (t.is_floating_point() and t.dtype != x.dtype)):
        extractor.to(device=x.device, dtype=x.dtype)
