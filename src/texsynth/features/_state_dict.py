"""Checks shared by the weight-file loaders: every tensor present, float, right shape, finite."""

from __future__ import annotations

from collections.abc import Mapping

import torch

from ..errors import TexsynthError

__all__ = ["check_tensors"]


def check_tensors(
    state: Mapping[str, object], expected: Mapping[str, tuple[int, ...]], source: str, what: str
) -> None:
    """Raise a one-line :class:`TexsynthError` unless each ``expected`` key of ``state`` is a
    finite float tensor of the expected shape (missing keys are the caller's check).

    ``what`` names the network in messages, e.g. ``"VGG19"``.
    """
    wrong = []
    for key, shape in expected.items():
        value = state[key]
        if not isinstance(value, torch.Tensor) or not value.is_floating_point():
            wrong.append(f"{key} is {type(value).__name__}, expected a float tensor")
        elif tuple(value.shape) != tuple(shape):
            wrong.append(f"{key} has shape {tuple(value.shape)}, expected {tuple(shape)}")
    if wrong:
        more = f" (and {len(wrong) - 2} more)" if len(wrong) > 2 else ""
        raise TexsynthError(
            f"{source} has wrong {what} weights: {'; '.join(wrong[:2])}{more}; "
            f"give an unmodified {what} state dict"
        )
    bad = [k for k in expected if not bool(torch.isfinite(state[k]).all())]  # type: ignore[arg-type]
    if bad:
        raise TexsynthError(
            f"{source} has non-finite values in {', '.join(bad[:3])}; the file is corrupt, "
            "export it again"
        )
