"""Small helpers shared by several test modules: seeded generators, Gaussian noise, and the
check that an error message is one line."""

from __future__ import annotations

import pytest
import torch

from texsynth import TexsynthError


def gen(seed: int = 0) -> torch.Generator:
    """A CPU generator seeded with ``seed``."""
    return torch.Generator().manual_seed(seed)


def randn(*shape: int, seed: int = 0, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """Standard Gaussian noise of ``shape``, seeded (float64 unless ``dtype``)."""
    return torch.randn(*shape, generator=gen(seed), dtype=dtype)


def one_line(exc: pytest.ExceptionInfo[TexsynthError]) -> str:
    """The message of a raised :class:`TexsynthError`, checked to be one non-empty line."""
    msg = str(exc.value)
    assert "\n" not in msg and msg
    return msg
