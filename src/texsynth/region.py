"""Texture extraction from a larger photo: the exemplar as a rectangle ``x, y, w, h`` of it.

The fifth seed's use case (texture *extraction*) points at a patch of material inside a
photograph of a whole scene; ``region`` names that patch in pixels (``x`` from the left,
``y`` from the top, as image editors show them).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from .errors import TexsynthError

__all__ = ["check_region", "crop_exemplar_region", "crop_region", "parse_region"]

Region = tuple[int, int, int, int]


def parse_region(text: str) -> Region:
    """``"x,y,w,h"`` -> ``(x, y, w, h)`` (non-negative integers, ``w, h >= 1``)."""
    parts = [p.strip() for p in str(text).split(",")]
    try:
        values = tuple(int(p) for p in parts)
    except ValueError:
        values = ()
    if len(values) != 4:
        raise TexsynthError(
            f"region must be four integers x,y,w,h (pixels, from the top-left), got {text!r}"
        )
    return check_region(values)


def check_region(region: Sequence[int], hw: tuple[int, int] | None = None) -> Region:
    """``region`` as a checked ``(x, y, w, h)``; with ``hw`` (the image's height and width)
    it must lie inside the image."""
    if isinstance(region, (str, bytes)) or len(region) != 4:
        raise TexsynthError(f"region must be (x, y, w, h), got {region!r}")
    try:
        x, y, w, h = (int(v) for v in region)
    except (TypeError, ValueError):
        raise TexsynthError(f"region must be four integers (x, y, w, h), got {region!r}") from None
    if x < 0 or y < 0 or w < 1 or h < 1:
        raise TexsynthError(f"region {x},{y},{w},{h}: x and y must be >= 0, width and height >= 1")
    if hw is not None:
        H, W = hw
        if x + w > W or y + h > H:
            raise TexsynthError(
                f"region {x},{y},{w},{h} reaches outside the {W}x{H} image (x + w <= {W}, "
                f"y + h <= {H})"
            )
    return x, y, w, h


def crop_region(image: torch.Tensor, region: Sequence[int]) -> torch.Tensor:
    """The ``(x, y, w, h)`` rectangle of ``image [..., H, W]`` (a view)."""
    H, W = int(image.shape[-2]), int(image.shape[-1])
    x, y, w, h = check_region(region, (H, W))
    return image[..., y : y + h, x : x + w]


def crop_exemplar_region(
    exemplar: torch.Tensor,
    region: Sequence[int] | None,
    in_mask: torch.Tensor | None,
    mask: torch.Tensor | None,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """The exemplar (and its ``in_mask``) cut to ``region``; unchanged when it is ``None``.

    Raises
    ------
    TexsynthError
        When a hole ``mask`` is given too: it refers to the whole image.
    """
    if region is None:
        return exemplar, in_mask
    if mask is not None:
        raise TexsynthError(
            "region selects an exemplar inside a larger image, mask fills a hole in the "
            "whole image: give one of them"
        )
    return crop_region(exemplar, region), None if in_mask is None else crop_region(in_mask, region)
