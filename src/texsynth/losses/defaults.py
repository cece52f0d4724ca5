"""Default loss compositions (the engine's choice when the user names no loss)."""

from __future__ import annotations

import math

import torch

from ..errors import TexsynthError
from .base import TextureLoss
from .histogram import HistogramLoss1D
from .scattering import ScatteringLoss1D
from .spectrum import SpectrumLoss1D

__all__ = ["build_loss_1d"]


def build_loss_1d(
    exemplar: torch.Tensor,
    *,
    J: int,
    in_mask: torch.Tensor | None = None,
    reference: torch.Tensor | None = None,
    edge: bool = False,
    use_variance: bool = True,
    cross_channels: bool = True,
    histogram: float = 1.0,
    power_spectrum: float = 0.3,
    match_s0: bool = True,
) -> TextureLoss:
    """The default 1-D synthesis loss: scattering + ``histogram`` * histogram +
    ``power_spectrum`` * spectrum (weights 0 drop a term), as 2-D synthesis composes it;
    ``match_s0`` goes to :class:`ScatteringLoss1D`."""
    for name, w in (("histogram", histogram), ("power_spectrum", power_spectrum)):
        if not (isinstance(w, (int, float)) and math.isfinite(w) and w >= 0):
            raise TexsynthError(f"{name} weight must be a finite number >= 0, got {w!r}")
    total: TextureLoss = ScatteringLoss1D(
        exemplar,
        J=J,
        use_variance=use_variance,
        in_mask=in_mask,
        reference=reference,
        edge=edge,
        cross_channels=cross_channels,
        match_s0=match_s0,
    )
    if histogram > 0:
        total = total + float(histogram) * HistogramLoss1D(exemplar, in_mask=in_mask)
    if power_spectrum > 0:
        total = total + float(power_spectrum) * SpectrumLoss1D(exemplar, in_mask=in_mask)
    return total
