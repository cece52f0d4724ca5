"""Style transfer ("remake"): a content image's layout in an exemplar's texture, through
:func:`~texsynth.synthesis.images.synthesize` with a content loss."""

from __future__ import annotations

from typing import Any

import torch

from ..arrays import accepts_arrays
from .engine import SynthesisReport
from .images import synthesize

__all__ = ["remake"]


@accepts_arrays("content", "style", like="content")
def remake(
    content: torch.Tensor,
    style: torch.Tensor,
    *,
    method: str = "gram",
    content_weight: float = 1.0,
    **options: Any,
) -> torch.Tensor | tuple[torch.Tensor, SynthesisReport]:
    """Style transfer ("remake"): ``content``'s layout in ``style``'s texture.

    Starts from the content image and optimises a texture loss of the style exemplar
    (``method``, default VGG19 Gram matrices) plus a content loss on network features
    (Gatys, Ecker & Bethge 2016), coarse to fine. The output has the content's size.

    Parameters
    ----------
    content
        ``[C, H, W]`` image whose layout is kept (same channels as ``style``).
    style
        ``[C, H, W]`` texture exemplar.
    method
        Texture descriptor(s) of the style (any :func:`synthesize` method).
    content_weight
        Weight of the content loss, a multiplier of its calibrated default: larger keeps
        more of the content (5 keeps it clearly; 0.2 keeps little).
    **options
        Any other :func:`synthesize` option (``steps``, ``seed``, ``features``,
        ``content_layers``, ``device``...).

    Returns
    -------
    torch.Tensor
        ``[n, C, H, W]`` in the style's units (and the report if ``report=True``).
    """
    return synthesize(
        style, method=method, content=content, content_weight=content_weight, **options
    )
