"""The layers a feature extractor is asked for, checked against the ones it has."""

from __future__ import annotations

from collections.abc import Sequence

from ..errors import TexsynthError

__all__ = ["chosen_layers"]


def chosen_layers(layers: Sequence[str] | str | None, valid: Sequence[str], kind: str) -> list[str]:
    """``layers`` as a list (``None``: every one of ``valid``; a string: that one layer).

    Raises
    ------
    TexsynthError
        For an empty list, or names not in ``valid`` (``kind`` names the extractor in the
        message, e.g. ``"random-feature"``).
    """
    if layers is None:
        return list(valid)
    chosen = [layers] if isinstance(layers, str) else list(layers)
    if len(chosen) == 0:
        raise TexsynthError(f"layers is empty; give some of {', '.join(valid)}")
    unknown = [n for n in chosen if n not in valid]
    if unknown:
        raise TexsynthError(
            f"unknown {kind} layer(s) {', '.join(map(repr, unknown))}; valid: {', '.join(valid)}"
        )
    return chosen
