"""InceptionV3 features (for FID / SIFID-style metrics) without torchvision and without downloads.

The network is torchvision's ``inception_v3`` (Szegedy et al. 2016), written here in plain
torch with *exactly torchvision's module names*, so the ``state_dict`` of a torchvision
``inception_v3`` file (``Conv2d_1a_3x3.conv.weight``, ``Mixed_5b.branch1x1.bn.running_mean``,
...) loads directly. ``AuxLogits.*``, ``fc.*`` and ``*.num_batches_tracked`` keys are ignored
(the auxiliary classifier and the classifier head are not built). Nothing is ever downloaded:
weights come from a file you give to :meth:`InceptionV3Features.from_file`.

Input pipeline: ``[B, 3, H, W]`` RGB in [0, 1] (grey ``[B, 1, H, W]`` is repeated to RGB) is
resized to 299x299 with bilinear interpolation (``align_corners=False``, as FID implementations
do), then normalised. ``normalization="inception"`` (default) maps [0, 1] to [-1, 1], which is
what torchvision's pretrained ``Inception_V3_Weights`` actually see: torchvision feeds them
ImageNet mean/std-normalised images and, because it builds the pretrained model with
``transform_input=True``, converts those back to ``(x - 0.5) / 0.5`` inside ``forward``.
``normalization="imagenet"`` uses ImageNet mean/std without that conversion (what a model
built with ``transform_input=False`` sees).

Exposed layers (sizes for the fixed 299x299 network input):

* ``"pool1"`` -- after ``maxpool1``: 64 channels, 73x73;
* ``"mixed_5d"`` -- 288 channels, 35x35 (an early layer, as SIFID uses);
* ``"mixed_6e"`` -- 768 channels, 17x17;
* ``"pool3"`` -- global average pool of ``Mixed_7c`` (8x8): 2048 channels, returned as
  ``[B, 2048, 1, 1]`` (flatten for FID).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import TypeVar

import torch
import torch.nn.functional as F
from torch import nn

from .._checks import as_image_batch
from ..errors import TexsynthError
from ._state_dict import check_tensors, load_state_dict_file

__all__ = ["INCEPTION_LAYERS", "InceptionV3Features"]

INCEPTION_LAYERS: tuple[str, ...] = ("pool1", "mixed_5d", "mixed_6e", "pool3")
"""Exposed layer names in network order."""

_CHANNELS = {"pool1": 64, "mixed_5d": 288, "mixed_6e": 768, "pool3": 2048}
_INPUT_SIZE = 299
_IMAGENET_MEAN = (0.485, 0.456, 0.406)
_IMAGENET_STD = (0.229, 0.224, 0.225)
_NORMALIZATIONS = ("inception", "imagenet")
_IGNORED_PREFIXES = ("AuxLogits.", "fc.")
_V = TypeVar("_V")


# ---------------------------------------------------------------------- building blocks
class BasicConv2d(nn.Module):
    """Conv2d (no bias) + BatchNorm2d (eps 0.001) + ReLU, named ``conv`` and ``bn``."""

    def __init__(self, in_channels: int, out_channels: int, **kwargs: object) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, bias=False, **kwargs)  # type: ignore[arg-type]
        self.bn = nn.BatchNorm2d(out_channels, eps=0.001)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.bn(self.conv(x)))


class InceptionA(nn.Module):
    def __init__(self, in_channels: int, pool_features: int) -> None:
        super().__init__()
        self.branch1x1 = BasicConv2d(in_channels, 64, kernel_size=1)
        self.branch5x5_1 = BasicConv2d(in_channels, 48, kernel_size=1)
        self.branch5x5_2 = BasicConv2d(48, 64, kernel_size=5, padding=2)
        self.branch3x3dbl_1 = BasicConv2d(in_channels, 64, kernel_size=1)
        self.branch3x3dbl_2 = BasicConv2d(64, 96, kernel_size=3, padding=1)
        self.branch3x3dbl_3 = BasicConv2d(96, 96, kernel_size=3, padding=1)
        self.branch_pool = BasicConv2d(in_channels, pool_features, kernel_size=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b1 = self.branch1x1(x)
        b5 = self.branch5x5_2(self.branch5x5_1(x))
        b3 = self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x)))
        bp = self.branch_pool(F.avg_pool2d(x, kernel_size=3, stride=1, padding=1))
        return torch.cat([b1, b5, b3, bp], 1)


class InceptionB(nn.Module):
    def __init__(self, in_channels: int) -> None:
        super().__init__()
        self.branch3x3 = BasicConv2d(in_channels, 384, kernel_size=3, stride=2)
        self.branch3x3dbl_1 = BasicConv2d(in_channels, 64, kernel_size=1)
        self.branch3x3dbl_2 = BasicConv2d(64, 96, kernel_size=3, padding=1)
        self.branch3x3dbl_3 = BasicConv2d(96, 96, kernel_size=3, stride=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b3 = self.branch3x3(x)
        bd = self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x)))
        bp = F.max_pool2d(x, kernel_size=3, stride=2)
        return torch.cat([b3, bd, bp], 1)


class InceptionC(nn.Module):
    def __init__(self, in_channels: int, channels_7x7: int) -> None:
        super().__init__()
        c7 = channels_7x7
        self.branch1x1 = BasicConv2d(in_channels, 192, kernel_size=1)
        self.branch7x7_1 = BasicConv2d(in_channels, c7, kernel_size=1)
        self.branch7x7_2 = BasicConv2d(c7, c7, kernel_size=(1, 7), padding=(0, 3))
        self.branch7x7_3 = BasicConv2d(c7, 192, kernel_size=(7, 1), padding=(3, 0))
        self.branch7x7dbl_1 = BasicConv2d(in_channels, c7, kernel_size=1)
        self.branch7x7dbl_2 = BasicConv2d(c7, c7, kernel_size=(7, 1), padding=(3, 0))
        self.branch7x7dbl_3 = BasicConv2d(c7, c7, kernel_size=(1, 7), padding=(0, 3))
        self.branch7x7dbl_4 = BasicConv2d(c7, c7, kernel_size=(7, 1), padding=(3, 0))
        self.branch7x7dbl_5 = BasicConv2d(c7, 192, kernel_size=(1, 7), padding=(0, 3))
        self.branch_pool = BasicConv2d(in_channels, 192, kernel_size=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b1 = self.branch1x1(x)
        b7 = self.branch7x7_3(self.branch7x7_2(self.branch7x7_1(x)))
        bd = self.branch7x7dbl_1(x)
        bd = self.branch7x7dbl_3(self.branch7x7dbl_2(bd))
        bd = self.branch7x7dbl_5(self.branch7x7dbl_4(bd))
        bp = self.branch_pool(F.avg_pool2d(x, kernel_size=3, stride=1, padding=1))
        return torch.cat([b1, b7, bd, bp], 1)


class InceptionD(nn.Module):
    def __init__(self, in_channels: int) -> None:
        super().__init__()
        self.branch3x3_1 = BasicConv2d(in_channels, 192, kernel_size=1)
        self.branch3x3_2 = BasicConv2d(192, 320, kernel_size=3, stride=2)
        self.branch7x7x3_1 = BasicConv2d(in_channels, 192, kernel_size=1)
        self.branch7x7x3_2 = BasicConv2d(192, 192, kernel_size=(1, 7), padding=(0, 3))
        self.branch7x7x3_3 = BasicConv2d(192, 192, kernel_size=(7, 1), padding=(3, 0))
        self.branch7x7x3_4 = BasicConv2d(192, 192, kernel_size=3, stride=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b3 = self.branch3x3_2(self.branch3x3_1(x))
        b7 = self.branch7x7x3_2(self.branch7x7x3_1(x))
        b7 = self.branch7x7x3_4(self.branch7x7x3_3(b7))
        bp = F.max_pool2d(x, kernel_size=3, stride=2)
        return torch.cat([b3, b7, bp], 1)


class InceptionE(nn.Module):
    def __init__(self, in_channels: int) -> None:
        super().__init__()
        self.branch1x1 = BasicConv2d(in_channels, 320, kernel_size=1)
        self.branch3x3_1 = BasicConv2d(in_channels, 384, kernel_size=1)
        self.branch3x3_2a = BasicConv2d(384, 384, kernel_size=(1, 3), padding=(0, 1))
        self.branch3x3_2b = BasicConv2d(384, 384, kernel_size=(3, 1), padding=(1, 0))
        self.branch3x3dbl_1 = BasicConv2d(in_channels, 448, kernel_size=1)
        self.branch3x3dbl_2 = BasicConv2d(448, 384, kernel_size=3, padding=1)
        self.branch3x3dbl_3a = BasicConv2d(384, 384, kernel_size=(1, 3), padding=(0, 1))
        self.branch3x3dbl_3b = BasicConv2d(384, 384, kernel_size=(3, 1), padding=(1, 0))
        self.branch_pool = BasicConv2d(in_channels, 192, kernel_size=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b1 = self.branch1x1(x)
        b3 = self.branch3x3_1(x)
        b3 = torch.cat([self.branch3x3_2a(b3), self.branch3x3_2b(b3)], 1)
        bd = self.branch3x3dbl_2(self.branch3x3dbl_1(x))
        bd = torch.cat([self.branch3x3dbl_3a(bd), self.branch3x3dbl_3b(bd)], 1)
        bp = self.branch_pool(F.avg_pool2d(x, kernel_size=3, stride=1, padding=1))
        return torch.cat([b1, b3, bd, bp], 1)


# ---------------------------------------------------------------------- state-dict checks
def _clean_state(state: Mapping[str, _V]) -> dict[str, _V]:
    """Drop ``module.`` prefixes, the aux/fc heads and ``num_batches_tracked`` counters."""
    items = {str(k): v for k, v in state.items()}
    if items and all(k.startswith("module.") for k in items):
        items = {k[len("module.") :]: v for k, v in items.items()}
    return {
        k: v
        for k, v in items.items()
        if not k.startswith(_IGNORED_PREFIXES) and not k.endswith("num_batches_tracked")
    }


def _check_state(
    state: Mapping[str, object], expected: Mapping[str, tuple[int, ...]], source: str
) -> dict[str, torch.Tensor]:
    missing = [k for k in expected if k not in state]
    if missing:
        more = f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""
        raise TexsynthError(
            f"{source} is not a torchvision inception_v3 state dict: missing {missing[0]}{more}; "
            "give a complete torchvision inception_v3 state dict"
        )
    unexpected = [k for k in state if k not in expected]
    if unexpected:
        more = f" (and {len(unexpected) - 1} more)" if len(unexpected) > 1 else ""
        raise TexsynthError(
            f"{source} is not a torchvision inception_v3 state dict: unexpected key "
            f"{unexpected[0]}{more}; give an unmodified torchvision inception_v3 state dict"
        )
    return check_tensors(state, expected, source, "inception_v3")


# ---------------------------------------------------------------------- the extractor
class InceptionV3Features(nn.Module):
    """torchvision's InceptionV3 (no aux/fc heads) as a frozen feature extractor.

    ``extractor(x, ["mixed_5d", "pool3"])`` returns ``{"mixed_5d": ..., "pool3": ...}`` and runs
    the network only up to the deepest requested layer. Parameters never require grad and the
    module always stays in eval mode (batch norm uses its running statistics; ``.train()`` is a
    no-op), but gradients flow to the input.

    Parameters
    ----------
    state_dict
        torchvision ``inception_v3`` weights (``AuxLogits.*``, ``fc.*``, ``num_batches_tracked``
        and a DataParallel ``module.`` prefix are ignored). ``None`` keeps torch's default random
        initialisation (for tests; the features are then meaningless). Usually built with
        :meth:`from_file`.
    normalization
        ``"inception"`` (default): map [0, 1] to [-1, 1], what torchvision's pretrained weights
        see (ImageNet normalisation followed by ``transform_input=True``). ``"imagenet"``:
        ImageNet mean/std normalisation only (a ``transform_input=False`` model).
    source
        Where the weights came from, for error messages and ``repr``.

    Notes
    -----
    Inputs are ``[B, 3, H, W]`` RGB in [0, 1] of any size (grey is repeated to RGB); they are
    resized to 299x299 (bilinear, ``align_corners=False``) before the network. Outputs are in
    the input's dtype; ``pool3`` is ``[B, 2048, 1, 1]``.
    """

    default_layers: tuple[str, ...] = ("pool3",)
    """The FID layer."""

    layer_names: tuple[str, ...] = INCEPTION_LAYERS

    input_mean: torch.Tensor  # buffers
    input_std: torch.Tensor

    def __init__(
        self,
        state_dict: Mapping[str, torch.Tensor] | None = None,
        *,
        normalization: str = "inception",
        source: str = "state_dict",
    ) -> None:
        super().__init__()
        if normalization not in _NORMALIZATIONS:
            raise TexsynthError(
                f"normalization must be 'inception' or 'imagenet', got {normalization!r}"
            )
        self.normalization = normalization
        self.source = source if state_dict is not None else "random weights"
        self.Conv2d_1a_3x3 = BasicConv2d(3, 32, kernel_size=3, stride=2)
        self.Conv2d_2a_3x3 = BasicConv2d(32, 32, kernel_size=3)
        self.Conv2d_2b_3x3 = BasicConv2d(32, 64, kernel_size=3, padding=1)
        self.maxpool1 = nn.MaxPool2d(kernel_size=3, stride=2)
        self.Conv2d_3b_1x1 = BasicConv2d(64, 80, kernel_size=1)
        self.Conv2d_4a_3x3 = BasicConv2d(80, 192, kernel_size=3)
        self.maxpool2 = nn.MaxPool2d(kernel_size=3, stride=2)
        self.Mixed_5b = InceptionA(192, pool_features=32)
        self.Mixed_5c = InceptionA(256, pool_features=64)
        self.Mixed_5d = InceptionA(288, pool_features=64)
        self.Mixed_6a = InceptionB(288)
        self.Mixed_6b = InceptionC(768, channels_7x7=128)
        self.Mixed_6c = InceptionC(768, channels_7x7=160)
        self.Mixed_6d = InceptionC(768, channels_7x7=160)
        self.Mixed_6e = InceptionC(768, channels_7x7=192)
        self.Mixed_7a = InceptionD(768)
        self.Mixed_7b = InceptionE(1280)
        self.Mixed_7c = InceptionE(2048)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        if state_dict is not None:
            if not isinstance(state_dict, Mapping):
                raise TexsynthError(
                    f"{source} holds a {type(state_dict).__name__}, not a state dict; save the "
                    "weights with torch.save(model.state_dict(), path)"
                )
            state = _clean_state(state_dict)
            expected = {k: tuple(v.shape) for k, v in _clean_state(self.state_dict()).items()}
            tensors = _check_state(state, expected, source)
            self.load_state_dict(
                {k: v.detach().to(torch.float32) for k, v in tensors.items()},
                strict=False,
            )
        mean, std = (
            ((0.5, 0.5, 0.5), (0.5, 0.5, 0.5))
            if normalization == "inception"
            else (_IMAGENET_MEAN, _IMAGENET_STD)
        )
        self.register_buffer("input_mean", torch.tensor(mean).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("input_std", torch.tensor(std).view(1, 3, 1, 1), persistent=False)
        self.requires_grad_(False)
        super().train(False)

    # ------------------------------------------------------------------ constructors
    @classmethod
    def from_file(
        cls, path: str | os.PathLike[str], *, normalization: str = "inception"
    ) -> InceptionV3Features:
        """Load a torchvision ``inception_v3`` state-dict file with ``weights_only=True``.

        Raises
        ------
        TexsynthError
            If the file is missing, is not a loadable state dict, or lacks InceptionV3 keys or
            has wrong shapes.
        """
        path = os.fspath(path)
        hint = "give the path of a torchvision inception_v3 state dict (.pth)"
        state = load_state_dict_file(path, "InceptionV3", hint)
        return cls(state, normalization=normalization, source=f"InceptionV3 weights {path!r}")

    # ------------------------------------------------------------------ computation
    def train(self, mode: bool = True) -> InceptionV3Features:
        """Stay in eval mode: batch norm must use the loaded running statistics."""
        return super().train(False)

    def extra_repr(self) -> str:
        """The settings shown by ``repr``."""
        return f"source={self.source}, normalization={self.normalization}"

    def channels(self, layer: str) -> int:
        """Number of channels of ``layer``."""
        return _CHANNELS[self._check_layers([layer])[0]]

    def _check_layers(self, layers: Sequence[str]) -> list[str]:
        if isinstance(layers, str):
            layers = [layers]
        if len(layers) == 0:
            raise TexsynthError("layers is empty; give e.g. ['pool3']")
        names = [str(n).lower() for n in layers]
        unknown = [n for n, c in zip(layers, names, strict=True) if c not in INCEPTION_LAYERS]
        if unknown:
            raise TexsynthError(
                f"unknown InceptionV3 layer(s) {', '.join(map(repr, unknown))}; "
                f"valid: {', '.join(INCEPTION_LAYERS)}"
            )
        return names

    def forward(
        self, x: torch.Tensor, layers: Sequence[str] | str | None = None
    ) -> dict[str, torch.Tensor]:
        """Activations ``{layer: [B, C_layer, H_layer, W_layer]}`` of images ``x``.

        Parameters
        ----------
        x
            ``[B, 3, H, W]`` RGB (or ``[B, 1, H, W]`` grey) images in [0, 1] of any size;
            ``[C, H, W]`` and ``[H, W]`` are accepted too. Resized to 299x299.
        layers
            Layer names among ``pool1``, ``mixed_5d``, ``mixed_6e``, ``pool3``; default
            :attr:`default_layers`. The result is keyed by the names given.
        """
        if layers is None:
            layers = self.default_layers
        if isinstance(layers, str):
            layers = [layers]
        names = self._check_layers(layers)
        x = as_image_batch(x, "image")
        if x.shape[1] == 1:
            x = x.expand(-1, 3, -1, -1)
        elif x.shape[1] != 3:
            raise TexsynthError(
                f"InceptionV3 takes grey (1) or RGB (3) channels, got {x.shape[1]}; drop extra "
                "channels (e.g. alpha)"
            )
        w0 = self.Conv2d_1a_3x3.conv.weight
        if x.device != w0.device:
            raise TexsynthError(
                f"images are on {x.device} but InceptionV3Features is on {w0.device}; move it "
                f"with extractor.to({str(x.device)!r})"
            )
        out_dtype = x.dtype
        h = x.to(w0.dtype)
        if tuple(h.shape[-2:]) != (_INPUT_SIZE, _INPUT_SIZE):
            h = F.interpolate(
                h, size=(_INPUT_SIZE, _INPUT_SIZE), mode="bilinear", align_corners=False
            )
        h = (h - self.input_mean) / self.input_std
        deepest = max(INCEPTION_LAYERS.index(n) for n in names)
        found: dict[str, torch.Tensor] = {}
        h = self.Conv2d_2b_3x3(self.Conv2d_2a_3x3(self.Conv2d_1a_3x3(h)))
        h = self.maxpool1(h)
        found["pool1"] = h
        if deepest >= 1:
            h = self.maxpool2(self.Conv2d_4a_3x3(self.Conv2d_3b_1x1(h)))
            h = self.Mixed_5d(self.Mixed_5c(self.Mixed_5b(h)))
            found["mixed_5d"] = h
        if deepest >= 2:
            h = self.Mixed_6a(h)
            h = self.Mixed_6e(self.Mixed_6d(self.Mixed_6c(self.Mixed_6b(h))))
            found["mixed_6e"] = h
        if deepest >= 3:
            h = self.Mixed_7c(self.Mixed_7b(self.Mixed_7a(h)))
            found["pool3"] = self.avgpool(h)
        return {orig: found[c].to(out_dtype) for orig, c in zip(layers, names, strict=True)}
