"""Checks shared by the weight-file loaders: every tensor present, float, right shape, finite."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import torch

from ..errors import TexsynthError

__all__ = ["check_tensors", "load_state_dict_file"]


def check_tensors(
    state: Mapping[str, object], expected: Mapping[str, tuple[int, ...]], source: str, what: str
) -> dict[str, torch.Tensor]:
    """Raise a one-line :class:`TexsynthError` unless each ``expected`` key of ``state`` is a
    finite float tensor of the expected shape (missing keys are the caller's check).

    ``what`` names the network in messages, e.g. ``"VGG19"``. Returns the checked tensors,
    by key.
    """
    wrong = []
    tensors: dict[str, torch.Tensor] = {}
    for key, shape in expected.items():
        value = state[key]
        if not isinstance(value, torch.Tensor) or not value.is_floating_point():
            wrong.append(f"{key} is {type(value).__name__}, expected a float tensor")
        elif tuple(value.shape) != tuple(shape):
            wrong.append(f"{key} has shape {tuple(value.shape)}, expected {tuple(shape)}")
        else:
            tensors[key] = value
    if wrong:
        more = f" (and {len(wrong) - 2} more)" if len(wrong) > 2 else ""
        raise TexsynthError(
            f"{source} has wrong {what} weights: {'; '.join(wrong[:2])}{more}; "
            f"give an unmodified {what} state dict"
        )
    bad = [k for k, t in tensors.items() if not bool(torch.isfinite(t).all())]
    if bad:
        raise TexsynthError(
            f"{source} has non-finite values in {', '.join(bad[:3])}; the file is corrupt, "
            "export it again"
        )
    return tensors


def load_state_dict_file(path: str | os.PathLike[str], what: str, hint: str) -> Any:
    """Read a state-dict file with ``weights_only=True``, with one-line errors.

    ``what`` names the network (``"VGG19"``); ``hint`` ends the not-found message. A
    checkpoint that wraps the state dict under ``"state_dict"`` is unwrapped. Returns what
    the file holds (the extractors check that it is a state dict).
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise TexsynthError(f"{what} weights file {path!r} not found; {hint}")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # any unpickling failure means "not a state dict"
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise TexsynthError(
            f"cannot read {what} weights from {path!r} ({reason[:120]}); give a file saved "
            "with torch.save(model.state_dict(), path)"
        ) from None
    if isinstance(state, Mapping) and "state_dict" in state and len(state) <= 4:
        state = state["state_dict"]  # checkpoints that wrap the state dict
    return state
