"""Decoder-only U-Net texture generator (foscat's ``SynthHalfUNet2D``), tileable, any size.

White noise ``z [N, 1, H, W]`` is average-pooled into a pyramid of ``depth + 1`` levels
(``depth`` is foscat's ``Jmax``, the number of decoder levels). At
each level a frozen bank of ``L`` oriented complex wavelets filters that level's noise (in
the Fourier domain, so periodically), giving ``2L + 1`` skip channels (real parts,
imaginary parts, the noise itself). A learned decoder starts at the coarsest level and, at
each finer level, upsamples its features, concatenates the skip channels and applies a
:class:`ConvBlock2D`. A 1x1 convolution gives the output, in the network's normalised
units; :meth:`SynthHalfUNet2D.to_output` maps it to the exemplar's units.

The frozen inputs are in :mod:`.skips`, the upsampling in :mod:`.upsampling`, the map to
the exemplar's units in :mod:`.output_transform` and the drawing of samples in
:mod:`.sampling`.

Differences from foscat:

* every operation is periodic (circular padding, wrap-around upsampling, Fourier-domain
  skips), so outputs tile seamlessly and rolling ``z`` by a multiple of ``2**depth`` pixels
  rolls the output by the same amount (``tile=False`` restores foscat's zero padding);
* any ``H x W`` works, not only multiples of ``2**depth``: level sizes are rounded up, an
  odd side is extended periodically by one pixel before the 2x2 noise pooling, and the
  features are upsampled by wrap-around bilinear interpolation to the odd size;
* the skips use texsynth's own wavelets (:func:`texsynth.wavelets.wavelet_spectra`), scaled
  so that each channel has unit variance on white noise;
* the 3x3 convolutions have no bias: each is followed by an affine InstanceNorm, which
  subtracts the per-channel mean and so cancels a bias exactly (it would get a zero
  gradient); the norm's own shift plays that role.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable, Sequence
from typing import Any, Literal, cast

import torch
import torch.nn.functional as F
from torch import nn

from .._checks import check_int_at_least, is_integer, size_text
from .._deprecation import renamed_keywords, warn_renamed
from ..errors import TexsynthError
from ..pyramid import level_shape
from .config import ARCHITECTURE, CONFIG_KEYS, upgrade_config
from .output_transform import apply_output_transform, check_output_transform, normal_quantiles
from .skips import halve_noise, skip_multipliers
from .upsampling import padded_block_input, periodic_upsample, polyphase_weight

__all__ = [
    "POLYPHASE_MIN_PIXELS",
    "ConvBlock2D",
    "SynthHalfUNet2D",
    "default_channel_list",
]

POLYPHASE_MIN_PIXELS = 2**16
"""Levels with at least this many pixels use :meth:`ConvBlock2D.forward_upsampled` at
inference (faster there on CPU; on smaller levels building the padded input is faster)."""


@renamed_keywords(Jmax="depth")
def default_channel_list(depth: int, width: int = 32) -> list[int]:
    """Default decoder channels, coarsest to finest: ``min(width * 2**(depth - j), 8 * width)``.

    ``width=32`` gives foscat's ``[256, 128, 64, 32]`` for ``depth=3``.
    """
    depth = check_int_at_least(depth, "depth", 1, "give the number of decoder levels, e.g. 3")
    width = check_int_at_least(width, "width", 1, "give the channels of the finest level, e.g. 32")
    return [min(width * 2 ** (depth - j), 8 * width) for j in range(depth + 1)]


class ConvBlock2D(nn.Module):
    """Two rounds of Conv3x3 -> InstanceNorm2d(affine) -> LeakyReLU.

    Parameters
    ----------
    in_ch, out_ch
        Input and output channels.
    negative_slope
        Slope of the LeakyReLU for negative inputs.
    tile
        Circular padding (periodic: outputs tile seamlessly) if True, zero padding otherwise.

    Notes
    -----
    The convolutions have no bias: the InstanceNorm right after each one subtracts the
    per-channel mean, which cancels a bias exactly; the norm's affine shift replaces it.
    InstanceNorm (not BatchNorm) keeps the samples of a batch independent, so different
    noise inputs give different textures.
    """

    def __init__(
        self, in_ch: int, out_ch: int, negative_slope: float = 0.2, *, tile: bool = True
    ) -> None:
        super().__init__()
        in_ch = check_int_at_least(in_ch, "in_ch", 1, "give a positive number of channels")
        out_ch = check_int_at_least(out_ch, "out_ch", 1, "give a positive number of channels")
        slope = _check_slope(negative_slope)
        mode: Literal["circular", "zeros"] = "circular" if tile else "zeros"
        # in-place LeakyReLU saves a copy; its backward needs a positive slope
        inplace = slope > 0
        self.block = nn.Sequential(
            nn.Conv2d(in_ch, out_ch, 3, padding=1, padding_mode=mode, bias=False),
            nn.InstanceNorm2d(out_ch, affine=True),
            nn.LeakyReLU(slope, inplace=inplace),
            nn.Conv2d(out_ch, out_ch, 3, padding=1, padding_mode=mode, bias=False),
            nn.InstanceNorm2d(out_ch, affine=True),
            nn.LeakyReLU(slope, inplace=inplace),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``[N, in_ch, h, w]`` -> ``[N, out_ch, h, w]``."""
        return self.block(x)

    def forward_upsampled(self, x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        """Same as :meth:`forward` on ``cat[periodic_upsample(x, 2x), skip]`` (``tile`` only),
        without building the upsampled input.

        A 2x bilinear enlargement followed by a 3x3 convolution is, for each of the four
        output phases (even/odd row, even/odd column), a 3x3 convolution on the coarse grid
        (:func:`polyphase_weight`): the features part of the first convolution runs at
        the coarse resolution with ``4 * out_ch`` outputs, then ``pixel_shuffle``
        interleaves the phases. Same multiply-adds, but no upsampled copy of the (wide)
        features; the skip channels are convolved at full resolution and added.
        """
        conv = cast(nn.Conv2d, self.block[0])
        C = x.shape[1]
        w = conv.weight
        coarse = F.conv2d(F.pad(x, (1, 1, 1, 1), mode="circular"), polyphase_weight(w[:, :C]))
        fine = F.conv2d(F.pad(skip, (1, 1, 1, 1), mode="circular"), w[:, C:], conv.bias)
        return self.block[1:](F.pixel_shuffle(coarse, 2).add_(fine))

    def forward_padded(self, xp: torch.Tensor) -> torch.Tensor:
        """Same as :meth:`forward` on ``[N, in_ch, h + 2, w + 2]``, an input already padded
        by one pixel on each side (periodically when ``tile``): the first convolution then
        needs no padding copy. Returns ``[N, out_ch, h, w]``."""
        conv = cast(nn.Conv2d, self.block[0])
        return self.block[1:](F.conv2d(xp, conv.weight, conv.bias))


def _check_slope(negative_slope: Any) -> float:
    if (
        not isinstance(negative_slope, numbers.Real)
        or isinstance(negative_slope, bool)
        or not math.isfinite(negative_slope)
    ):
        raise TexsynthError(
            f"negative_slope must be a finite number, got {negative_slope!r}; e.g. 0.2"
        )
    return float(negative_slope)


class SynthHalfUNet2D(nn.Module):
    """Decoder-only U-Net that turns white noise into texture in one forward pass.

    Parameters
    ----------
    depth
        Number of decoder (upsampling) levels: the coarsest level is ``2**depth`` times
        smaller. foscat calls it ``Jmax``; that keyword still works here, deprecated.
    channel_list
        Decoder channels per level, coarsest to finest (length ``depth + 1``). Default
        :func:`default_channel_list` ``(depth, width)``.
    out_channels
        Channels of the network's output (the exemplar's standardised channels).
    L
        Number of wavelet orientations of the frozen skips (``2L + 1`` skip channels).
    width
        Channels of the finest level when ``channel_list`` is None.
    negative_slope
        LeakyReLU slope.
    tile
        Periodic everywhere (seamless, roll-equivariant outputs) if True; zero padding and
        clamped bilinear upsampling, like foscat, if False.
    image_channels
        Channels of the exemplar (the output of :meth:`to_output`); default ``out_channels``.
    n_quantiles
        Size of the stored quantile table used to match the exemplar's histogram (0: none).

    Notes
    -----
    Input ``z [N, 1, H, W]``: level ``j`` has ``sizes[j] = (ceil(H / 2**j), ceil(W / 2**j))``
    (:meth:`level_sizes`). The smallest input is one whose coarsest level holds at least
    two pixels, i.e. ``H > 2**depth`` or ``W > 2**depth`` (each side >= 1): InstanceNorm
    needs more than one value per channel. Sizes that are not multiples of ``2**depth`` work;
    only for multiples is the output exactly equivariant to rolls of ``z`` by multiples of
    ``2**depth`` pixels (with ``tile=True``).

    The wavelet multipliers are not parameters and not in the ``state_dict``: they are
    computed for each level's grid on first use and cached per ``(h, w, device, dtype)``.

    The output transform to the exemplar's units is held in buffers (saved with the
    weights): ``output_mean [image_channels]``, ``output_rotation [image_channels,
    out_channels]``, ``output_scale [out_channels]`` and ``output_quantiles [out_channels,
    n_quantiles]``; see :meth:`set_output_transform` and :meth:`to_output`.
    """

    output_mean: torch.Tensor  # buffers
    output_rotation: torch.Tensor
    output_scale: torch.Tensor
    output_quantiles: torch.Tensor

    @renamed_keywords(Jmax="depth")
    def __init__(
        self,
        depth: int = 3,
        channel_list: Sequence[int] | None = None,
        out_channels: int = 1,
        *,
        L: int = 4,
        width: int = 32,
        negative_slope: float = 0.2,
        tile: bool = True,
        image_channels: int | None = None,
        n_quantiles: int = 0,
    ) -> None:
        super().__init__()
        depth = check_int_at_least(depth, "depth", 1, "give the number of decoder levels, e.g. 3")
        if channel_list is None:
            channel_list = default_channel_list(depth, width)
        if isinstance(channel_list, (str, bytes)) or not isinstance(channel_list, Sequence):
            raise TexsynthError(
                f"channel_list must be a list of depth + 1 = {depth + 1} positive integers, got "
                f"{channel_list!r}; e.g. {default_channel_list(depth)}"
            )
        if len(channel_list) != depth + 1 or not all(
            is_integer(c) and c >= 1 for c in channel_list
        ):
            raise TexsynthError(
                f"channel_list must hold depth + 1 = {depth + 1} positive integers (coarsest "
                f"first), got {list(channel_list)!r}; e.g. {default_channel_list(depth)}"
            )
        out_channels = check_int_at_least(
            out_channels, "out_channels", 1, "e.g. 1 (grey) or 3 (colour)"
        )
        L = check_int_at_least(L, "L", 1, "give the number of wavelet orientations, e.g. L=4")
        slope = _check_slope(negative_slope)
        if not isinstance(tile, bool):
            raise TexsynthError(f"tile must be True or False, got {tile!r}")
        if image_channels is None:
            image_channels = out_channels
        image_channels = check_int_at_least(
            image_channels, "image_channels", 1, "give the exemplar's number of channels"
        )
        n_quantiles = check_int_at_least(
            n_quantiles, "n_quantiles", 0, "use 0 (no histogram) or >= 2"
        )
        if n_quantiles == 1:
            raise TexsynthError(
                "n_quantiles=1 would map every pixel to one value; use 0 (no histogram "
                "matching) or at least 2 (e.g. 256)"
            )

        self.depth = depth
        self.channel_list = [int(c) for c in channel_list]
        self.out_channels = out_channels
        self.L = L
        self.negative_slope = slope
        self.tile = tile
        self.image_channels = image_channels
        self.n_quantiles = n_quantiles

        C = self.channel_list
        skip_ch = 2 * L + 1
        self.init_block = ConvBlock2D(skip_ch, C[0], slope, tile=tile)
        self.decoder_blocks = nn.ModuleList(
            ConvBlock2D(C[k] + skip_ch, C[k + 1], slope, tile=tile) for k in range(depth)
        )
        self.output_conv = nn.Conv2d(C[-1], out_channels, 1)

        self.register_buffer("output_mean", torch.zeros(image_channels))
        self.register_buffer("output_rotation", torch.eye(image_channels, out_channels))
        self.register_buffer("output_scale", torch.ones(out_channels))
        self.register_buffer(
            "output_quantiles", normal_quantiles(n_quantiles).expand(out_channels, -1).clone()
        )
        # wavelet multipliers per (h, w, device, dtype): plain dict, not in the state_dict
        self._skip_cache: dict[tuple[Any, ...], torch.Tensor] = {}

    @property
    def Jmax(self) -> int:
        """Deprecated name of :attr:`depth` (foscat's)."""
        warn_renamed("Jmax", "depth", "SynthHalfUNet2D attribute")
        return self.depth

    # ------------------------------------------------------------------ configuration
    @property
    def config(self) -> dict[str, Any]:
        """JSON-serialisable settings that rebuild this module with :meth:`from_config`."""
        return {
            "architecture": ARCHITECTURE,
            "depth": self.depth,
            "channel_list": list(self.channel_list),
            "out_channels": self.out_channels,
            "L": self.L,
            "negative_slope": self.negative_slope,
            "tile": self.tile,
            "image_channels": self.image_channels,
            "n_quantiles": self.n_quantiles,
        }

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> SynthHalfUNet2D:
        """Rebuild an (untrained) module from :attr:`config` (also one written by an older
        texsynth, with ``"Jmax"`` for ``"depth"``).

        Raises
        ------
        TexsynthError
            If ``config`` is not a dict, names another architecture, lacks a key or has
            unknown keys (a file from a newer texsynth).
        """
        if not isinstance(config, dict):
            raise TexsynthError(
                f"generator config must be a dict, got {type(config).__name__}; "
                "pass SynthHalfUNet2D.config of a saved model"
            )
        config = upgrade_config(config)
        arch = config.get("architecture")
        if arch != ARCHITECTURE:
            raise TexsynthError(
                f"generator config is for architecture {arch!r}, not {ARCHITECTURE!r}; "
                "load it with the texsynth version that wrote it"
            )
        missing = [k for k in CONFIG_KEYS if k not in config]
        unknown = sorted(k for k in config if k not in CONFIG_KEYS)
        if missing or unknown:
            raise TexsynthError(
                f"generator config does not match this texsynth (missing keys {missing}, "
                f"unknown keys {unknown}); load it with the texsynth version that wrote it"
            )
        kwargs = {k: config[k] for k in CONFIG_KEYS if k != "architecture"}
        return cls(
            kwargs.pop("depth"),
            kwargs.pop("channel_list"),
            kwargs.pop("out_channels"),
            **kwargs,
        )

    def extra_repr(self) -> str:
        """The settings shown by ``repr``."""
        return (
            f"depth={self.depth}, channel_list={self.channel_list}, out_channels="
            f"{self.out_channels}, L={self.L}, tile={self.tile}, image_channels="
            f"{self.image_channels}, n_quantiles={self.n_quantiles}"
        )

    # ------------------------------------------------------------------ network
    def level_sizes(self, H: int, W: int) -> list[tuple[int, int]]:
        """``[(ceil(H / 2**j), ceil(W / 2**j)) for j in 0..depth]``, finest first."""
        return [(h, w) for h, w in (level_shape((H, W), j) for j in range(self.depth + 1))]

    def min_size_ok(self, H: int, W: int) -> bool:
        """Whether an ``H x W`` input is large enough (coarsest level >= 2 pixels)."""
        h, w = level_shape((H, W), self.depth)
        return H >= 1 and W >= 1 and h * w >= 2

    def _check_noise(self, z: Any) -> torch.Tensor:
        if not isinstance(z, torch.Tensor):
            raise TexsynthError(
                f"z must be a torch.Tensor of shape [N, 1, H, W], got {type(z).__name__}"
            )
        if z.dim() != 4 or z.shape[1] != 1 or z.shape[0] < 1:
            raise TexsynthError(
                f"z must have shape [N, 1, H, W] (one channel of white noise), got "
                f"{tuple(z.shape)}; e.g. torch.randn(N, 1, H, W)"
            )
        if not z.is_floating_point():
            raise TexsynthError(f"z must be a floating tensor, got dtype {z.dtype}")
        H, W = z.shape[-2:]
        if not self.min_size_ok(H, W):
            f = 2**self.depth
            raise TexsynthError(
                f"z of {size_text(H, W)} pixels is too small for depth={self.depth}: the coarsest "
                "level "
                f"(sides divided by {f}, rounded up) needs at least 2 pixels; give H or W "
                f"> {f} or a smaller depth"
            )
        return z.to(self.output_conv.weight.dtype)

    def _multipliers(
        self, h: int, w: int, device: torch.device, dtype: torch.dtype
    ) -> torch.Tensor:
        key = (h, w, device, dtype)
        m = self._skip_cache.get(key)
        if m is None:
            cdtype = torch.complex128 if dtype == torch.float64 else torch.complex64
            m = skip_multipliers(h, w, self.L).to(device=device, dtype=cdtype)
            self._skip_cache[key] = m
        return m

    def skips(self, z_j: torch.Tensor) -> torch.Tensor:
        """Skip channels ``[N, 2L + 1, h, w]`` of one noise level ``z_j [N, 1, h, w]``:
        real parts, imaginary parts (orientations ``0..L-1``), then ``z_j``."""
        h, w = z_j.shape[-2:]
        m = self._multipliers(h, w, z_j.device, z_j.dtype)
        filtered = torch.fft.irfft2(torch.fft.rfft2(z_j) * m, s=(h, w))
        return torch.cat([filtered, z_j], 1)

    def noise_pyramid(self, z: torch.Tensor) -> list[torch.Tensor]:
        """Unit-variance noise levels ``[z_0, ..., z_depth]`` (finest first) of ``z``."""
        levels = [z]
        for _ in range(self.depth):
            levels.append(halve_noise(levels[-1]))
        return levels

    def _upsample(self, x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
        if self.tile:
            return periodic_upsample(x, size)
        return F.interpolate(x, size=size, mode="bilinear", align_corners=False)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """Textures ``[N, out_channels, H, W]`` (normalised units) from noise ``z [N, 1, H, W]``.

        Raises
        ------
        TexsynthError
            If ``z`` is not ``[N, 1, H, W]`` floating, or too small (see the class notes).
        """
        z = self._check_noise(z)
        noise = self.noise_pyramid(z)
        x = self.init_block(self.skips(noise[self.depth]))
        # Without autograd and with tile=True, the same values with fewer copies: on large
        # 2x levels the upsampling is folded into the first convolution (forward_upsampled),
        # elsewhere the padded block input is built in one buffer (padded_block_input).
        fused = self.tile and not torch.is_grad_enabled()
        for k, block in enumerate(cast("Iterable[ConvBlock2D]", self.decoder_blocks)):
            j = self.depth - 1 - k
            if fused:
                skip = self.skips(noise[j])
                doubled = skip.shape[-2:] == (2 * x.shape[-2], 2 * x.shape[-1])
                if doubled and skip.shape[-2] * skip.shape[-1] >= POLYPHASE_MIN_PIXELS:
                    x = block.forward_upsampled(x, skip)
                else:
                    x = block.forward_padded(padded_block_input(x, skip))
            else:
                x = self._upsample(x, (noise[j].shape[-2], noise[j].shape[-1]))
                x = block(torch.cat([x, self.skips(noise[j])], 1))
        return self.output_conv(x)

    # ------------------------------------------------------------------ output transform
    @torch.no_grad()
    def set_output_transform(
        self,
        mean: torch.Tensor,
        rotation: torch.Tensor,
        scale: torch.Tensor,
        quantiles: torch.Tensor | None = None,
    ) -> None:
        """Store the map from network units to the exemplar's: ``x = R (y * scale) + mean``.

        Parameters
        ----------
        mean, rotation, scale
            ``[image_channels]``, ``[image_channels, out_channels]`` and ``[out_channels]``,
            e.g. the fields of a fitted :class:`texsynth.transforms.Standardizer`.
        quantiles
            ``[out_channels, n_quantiles]`` sorted values of the standardised exemplar
            (:func:`~texsynth.generators.output_transform.quantile_table`), or None to
            keep the stored table.
        """
        values = check_output_transform(
            mean,
            rotation,
            scale,
            quantiles,
            image_channels=self.image_channels,
            out_channels=self.out_channels,
            n_quantiles=self.n_quantiles,
        )
        q = values.get("quantiles")
        self.output_mean.copy_(values["mean"])
        self.output_rotation.copy_(values["rotation"])
        self.output_scale.copy_(values["scale"])
        if q is not None:
            self.output_quantiles.copy_(q)

    def to_output(self, y: torch.Tensor, match_histogram: bool = True) -> torch.Tensor:
        """Network output ``y [N, out_channels, H, W]`` -> ``[N, image_channels, H, W]``.

        If a quantile table is stored and ``match_histogram``, each sample and channel of
        ``y`` first gets exactly the table's value distribution (rank remapping: the value
        of rank ``i`` of ``n`` pixels is the table interpolated at probability
        ``(i + 0.5) / n``, the table's entry ``k`` sitting at ``(k + 0.5) / n_quantiles``).
        Then ``x = R (y * scale) + mean``, as :meth:`Standardizer.inverse
        <texsynth.transforms.Standardizer.inverse>`.
        """
        if not isinstance(y, torch.Tensor) or y.dim() != 4 or y.shape[1] != self.out_channels:
            shape = tuple(y.shape) if isinstance(y, torch.Tensor) else type(y).__name__
            raise TexsynthError(
                f"to_output expects the network output [N, {self.out_channels}, H, W], got {shape}"
            )
        quantiles = self.output_quantiles if self.n_quantiles and match_histogram else None
        return apply_output_transform(
            y, self.output_mean, self.output_rotation, self.output_scale, quantiles
        )
