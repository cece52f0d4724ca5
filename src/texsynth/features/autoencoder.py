"""A small fully convolutional autoencoder whose encoder becomes a feature extractor.

The "image-learning-based texture synthesis" of the fifth seed (after Gatys et al. 2015 and
the texture-extraction use of global average pooling, e.g. Ulyanov et al. 2016's descriptor
experiments) trains an encoder-decoder on patches of one's own photos and describes a texture
by the channel means of every convolution of the encoder. :class:`ConvAutoencoder` is that
network: ``depth`` stages of two 3x3 convolutions with ReLUs, 2x2 average pooling between
stages (``width * 2**k`` channels at stage ``k``), and a decoder that mirrors it with
nearest-neighbour upsampling. Being fully convolutional it takes any image size divisible by
``2 ** (depth - 1)`` and its features exist for any exemplar size.

Layer names follow VGG19's (Gatys et al.): ``conv{stage}_{i}`` is the ReLU output of the
``i``-th convolution of encoder stage ``stage`` (1-based).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F

from .._checks import as_image_batch, size_text
from ..errors import TexsynthError
from .layer_choice import chosen_layers

__all__ = ["ConvAutoencoder"]

_PADDINGS = ("reflect", "circular", "zeros")


class ConvAutoencoder(torch.nn.Module):
    """Encoder-decoder on RGB images in [0, 1] (grey is repeated to RGB).

    Parameters
    ----------
    width
        Channels of the first stage (doubled at each further stage).
    depth
        Number of encoder stages (1 to 5).
    padding
        Padding of the convolutions: ``"reflect"`` (training, photos), ``"circular"``
        (tileable synthesis) or ``"zeros"``. It can be changed after training.
    """

    def __init__(self, width: int = 32, depth: int = 3, *, padding: str = "reflect") -> None:
        super().__init__()
        if not 1 <= int(depth) <= 5:
            raise TexsynthError(f"depth must be 1 to 5, got {depth}")
        if not 1 <= int(width) <= 256:
            raise TexsynthError(f"width must be 1 to 256, got {width}")
        if padding not in _PADDINGS:
            raise TexsynthError(f"padding must be one of {', '.join(_PADDINGS)}, got {padding!r}")
        self.width, self.depth, self.padding = int(width), int(depth), padding
        chans = [self.width * 2**k for k in range(self.depth)]
        self.encoder = torch.nn.ModuleDict()
        cin = 3
        for s, c in enumerate(chans, start=1):
            self.encoder[f"conv{s}_1"] = torch.nn.Conv2d(cin, c, 3)
            self.encoder[f"conv{s}_2"] = torch.nn.Conv2d(c, c, 3)
            cin = c
        self.decoder = torch.nn.ModuleDict()
        for s in range(self.depth - 1, 0, -1):
            self.decoder[f"up{s}_1"] = torch.nn.Conv2d(chans[s], chans[s - 1], 3)
            self.decoder[f"up{s}_2"] = torch.nn.Conv2d(chans[s - 1], chans[s - 1], 3)
        self.decoder["out"] = torch.nn.Conv2d(chans[0], 3, 1)
        self.layer_names: tuple[str, ...] = tuple(self.encoder)
        self.default_layers: tuple[str, ...] = self.layer_names

    @property
    def config(self) -> dict[str, Any]:
        """``width`` and ``depth``: what :class:`ConvAutoencoder` needs to be rebuilt."""
        return {"width": self.width, "depth": self.depth}

    def extra_repr(self) -> str:
        """The settings shown by ``repr``."""
        return f"width={self.width}, depth={self.depth}, padding={self.padding!r}"

    @property
    def multiple(self) -> int:
        """Image sides must be multiples of this (``2 ** (depth - 1)``) for :meth:`forward`."""
        return 2 ** (self.depth - 1)

    def _conv(self, conv: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
        assert isinstance(conv, torch.nn.Conv2d)
        if conv.kernel_size[0] > 1:
            mode = "constant" if self.padding == "zeros" else self.padding
            x = F.pad(x, (1, 1, 1, 1), mode=mode)
        return conv(x)

    def _rgb(self, x: torch.Tensor) -> torch.Tensor:
        x = as_image_batch(x, "image")
        if x.shape[1] == 1:
            x = x.expand(-1, 3, -1, -1)
        elif x.shape[1] != 3:
            raise TexsynthError(
                f"learned features take grey or RGB images, got {x.shape[1]} channels"
            )
        if min(x.shape[-2:]) < 2 * self.multiple:
            raise TexsynthError(
                f"images of {size_text(*x.shape[-2:])} pixels are too small for this "
                f"{self.depth}-stage network; give at least {2 * self.multiple} pixels a side"
            )
        return x - 0.5

    def features(
        self, x: torch.Tensor, layers: Sequence[str] | str | None = None
    ) -> dict[str, torch.Tensor]:
        """Encoder activations ``{name: [B, C_l, H_l, W_l]}`` (default: every layer); only
        the stages up to the deepest asked layer are computed."""
        layers = chosen_layers(layers, self.layer_names, "learned-feature")
        last = max(self.layer_names.index(n) for n in layers)
        h = self._rgb(x)
        out: dict[str, torch.Tensor] = {}
        for name in self.layer_names[: last + 1]:
            if name.endswith("_1") and name != "conv1_1":
                h = F.avg_pool2d(h, 2, ceil_mode=True)
            h = torch.relu(self._conv(self.encoder[name], h))
            if name in layers:
                out[name] = h
        return out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Reconstruction of ``x [B, C, H, W]`` (sides multiples of :attr:`multiple`), in
        [0, 1]."""
        H, W = x.shape[-2:]
        if H % self.multiple or W % self.multiple:
            raise TexsynthError(
                f"image sides must be multiples of {self.multiple} to be reconstructed, got "
                f"{size_text(H, W)}"
            )
        h = self.features(x, [self.layer_names[-1]])[self.layer_names[-1]]
        for s in range(self.depth - 1, 0, -1):
            h = F.interpolate(h, scale_factor=2.0, mode="nearest")
            h = torch.relu(self._conv(self.decoder[f"up{s}_1"], h))
            h = torch.relu(self._conv(self.decoder[f"up{s}_2"], h))
        return torch.sigmoid(self._conv(self.decoder["out"], h))
