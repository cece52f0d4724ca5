"""Checks of the numeric arguments the synthesis and training drivers share: counts (``n``,
``steps``, ``batch``...), numbers of scales and loss weights, each refused with a one-line
error that names the argument."""

from __future__ import annotations

import math

from ..errors import TexsynthError

__all__ = ["count", "scales", "weight"]


def count(value: object, name: str, minimum: int = 1) -> int:
    """``value`` as an integer of at least ``minimum`` (booleans refused)."""
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        kind = "a positive integer" if minimum == 1 else f"an integer >= {minimum}"
        raise TexsynthError(f"{name} must be {kind}, got {value!r}")
    return value


def scales(J: object) -> int | None:
    """A number of scales ``J``: a positive integer, or ``None`` (the default)."""
    if J is not None and (not isinstance(J, int) or isinstance(J, bool) or J < 1):
        raise TexsynthError(f"J (number of scales) must be a positive integer, got {J!r}")
    return J


def weight(value: object, name: str) -> float:
    """The weight of the loss term ``name``: a finite number >= 0."""
    if (
        not isinstance(value, (int, float))
        or isinstance(value, bool)
        or not math.isfinite(value)
        or value < 0
    ):
        raise TexsynthError(f"{name} weight must be a finite number >= 0, got {value!r}")
    return float(value)
