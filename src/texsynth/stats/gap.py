"""Global average pooling of feature maps: pure, differentiable math."""

from __future__ import annotations

import torch

__all__ = ["channel_means"]


def channel_means(features: torch.Tensor, weight: torch.Tensor | None = None) -> torch.Tensor:
    """Mean of every channel over the spatial positions: ``[B, C, ...] -> [B, C]``.

    With ``weight`` (non-negative, broadcastable to ``[B, 1, ...]``, e.g. a validity mask) the
    mean is weighted: ``sum_p w_p f_p / sum_p w_p``.
    """
    f = features.flatten(2)
    if weight is None:
        return f.mean(-1)
    w = weight.to(f).expand(f.shape[0], 1, *features.shape[2:]).flatten(2)
    return (f * w).sum(-1) / w.sum(-1)
