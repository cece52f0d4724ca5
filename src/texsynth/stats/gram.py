"""Gram matrices of feature maps (Gatys, Ecker & Bethge 2015): pure, differentiable math."""

from __future__ import annotations

import torch

__all__ = ["gram_matrix"]


def gram_matrix(features: torch.Tensor, weight: torch.Tensor | None = None) -> torch.Tensor:
    """Per-position average of the outer products of feature vectors: ``[B, C, C]``.

    ``G = sum_p w_p f_p f_p^T / sum_p w_p`` over the spatial positions ``p`` of
    ``features [B, C, *spatial]`` (e.g. ``[B, C, H, W]``); without ``weight``, ``G = F F^T / N``
    with ``F [C, N]``. Dividing by the number of positions makes Grams of images of different
    sizes comparable. The Gram is *uncentred* (Gatys et al.): for ReLU features it carries the
    channel means as well as their co-activations.

    Parameters
    ----------
    features
        ``[B, C, ...]`` feature maps (any number of spatial dimensions, at least one).
    weight
        Optional non-negative spatial weights broadcastable to ``[B, 1, ...]`` (e.g. a
        ``[1, 1, H, W]`` validity mask); every image needs some positive weight.
    """
    f = features.flatten(2)
    if weight is None:
        return f @ f.transpose(1, 2) / f.shape[-1]
    w = weight.to(f).expand(f.shape[0], 1, *features.shape[2:]).flatten(2)  # [B, 1, N]
    return (f * w) @ f.transpose(1, 2) / w.sum(-1, keepdim=True)
