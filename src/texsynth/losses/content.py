"""The feature reconstruction ("content") loss of style transfer (Gatys, Ecker & Bethge,
"Image Style Transfer Using Convolutional Neural Networks", CVPR 2016)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from .._checks import as_image_batch
from ..errors import TexsynthError
from .base import TextureLoss
from .feature_maps import sync_extractor
from .features import Transform

__all__ = ["ContentLoss"]


class ContentLoss(TextureLoss):
    """Feature reconstruction ("content") loss of style transfer (Gatys et al., CVPR 2016).

    ``sum_l ||F_l(x) - F_l(c)||^2 / ||F_l(c)||^2`` (mean over layers), with ``c`` the content
    image resized to the scored images' size (cached per size). It keeps the content's
    layout, while a texture loss (Gram, sliced Wasserstein...) brings in the style
    exemplar's texture. It does not depend on the exemplar: :meth:`at` returns ``self``, so
    the engine keeps it at every pyramid level.

    Parameters
    ----------
    content
        ``[1, C, H, W]`` content image, in the same space as the scored images.
    extractor
        Feature extractor (``extractor(x, layers) -> {layer: map}``), already built.
    layers
        Layers compared (Gatys et al.: ``["conv4_2"]`` of VGG19).
    transform
        As :class:`~texsynth.losses.features.FeatureLoss`: applied to the content and the
        scored images first.
    """

    def __init__(
        self,
        content: torch.Tensor,
        *,
        extractor: torch.nn.Module,
        layers: Sequence[str],
        transform: Transform | None = None,
    ) -> None:
        super().__init__()
        self.content = as_image_batch(content, "content")
        if self.content.shape[0] != 1:
            raise TexsynthError(f"give one content image, got a batch of {self.content.shape[0]}")
        if not layers:
            raise TexsynthError("content layers are empty; name at least one layer")
        self.extractor = extractor
        self.layers = list(layers)
        self.transform = transform
        self._targets: dict[tuple[Any, ...], list[torch.Tensor]] = {}

    def _features(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        img = self.transform(x) if self.transform is not None else x
        sync_extractor(self.extractor, img)
        return dict(self.extractor(img, self.layers))

    def _target(self, x: torch.Tensor) -> list[torch.Tensor]:
        key = (tuple(x.shape[-2:]), x.dtype, x.device)
        if key not in self._targets:
            from ..pyramid import downsample, fourier_resize

            c = self.content.to(x.device, x.dtype)
            shape = (int(x.shape[-2]), int(x.shape[-1]))
            if shape[0] <= c.shape[-2] and shape[1] <= c.shape[-1]:
                c = downsample(c, shape)
            else:
                c = fourier_resize(c, shape)
            with torch.no_grad():
                feats = self._features(c)
            self._targets[key] = [feats[n] for n in self.layers]
        return self._targets[key]

    def at(self, exemplar: torch.Tensor, **overrides: Any) -> ContentLoss:
        """``self``: the loss does not depend on the exemplar."""
        return self

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Losses ``[B]`` of images ``x [B, C, H, W]`` against the content at their size."""
        targets = self._target(x)
        feats = self._features(x)
        total = x.new_zeros(x.shape[0])
        for name, t in zip(self.layers, targets, strict=True):
            f = feats[name]
            norm = t.pow(2).mean().clamp_min(float(torch.finfo(t.dtype).tiny) ** 0.5)
            total = total + (f - t).pow(2).mean((1, 2, 3)) / norm
        return total / len(self.layers)
