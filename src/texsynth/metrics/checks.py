"""Argument checks shared by the texture metrics (:mod:`~texsynth.metrics.texture`,
:mod:`~texsynth.metrics.copying`)."""

from __future__ import annotations

import torch

from .._checks import size_text
from ..errors import TexsynthError

__all__ = ["check_integer", "check_min_side", "check_spread"]


def check_integer(value: object, name: str, minimum: int) -> int:
    """``value`` if it is an integer (not a bool) of at least ``minimum``, else an error."""
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise TexsynthError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return value


def check_min_side(t: torch.Tensor, need: int, name: str, what: str) -> None:
    """Raise a one-line error when images ``t`` (``name``) are under ``need`` pixels a side
    (``what`` needs them)."""
    H, W = t.shape[-2:]
    if min(H, W) < need:
        raise TexsynthError(
            f"{name} of {size_text(H, W)} pixels is too small for {what}: it needs at least "
            f"{need} pixels per side; give a larger image"
        )


def check_spread(t: torch.Tensor, name: str, what: str) -> torch.Tensor:
    """Per-image, per-channel standard deviation ``[B, C]``; error if any channel is constant."""
    std = t.std((-2, -1), unbiased=False)
    if bool((std <= 0).any()):
        raise TexsynthError(
            f"{name} has a constant channel; {what} is measured relative to {name}'s spread, "
            "so give a reference that varies"
        )
    return std
