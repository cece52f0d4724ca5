"""Decoder-only U-Net texture generator (foscat's ``SynthHalfUNet2D``), tileable, any size.

White noise ``z [N, 1, H, W]`` is average-pooled into a pyramid of ``Jmax + 1`` levels. At
each level a frozen bank of ``L`` oriented complex wavelets filters that level's noise (in
the Fourier domain, so periodically), giving ``2L + 1`` skip channels (real parts,
imaginary parts, the noise itself). A learned decoder starts at the coarsest level and, at
each finer level, upsamples its features, concatenates the skip channels and applies a
:class:`ConvBlock2D`. A 1x1 convolution gives the output, in the network's normalised
units; :meth:`SynthHalfUNet2D.to_output` maps it to the exemplar's units.

Differences from foscat (see ``shared/notes/foscat.md`` section 5):

* every operation is periodic (circular padding, wrap-around upsampling, Fourier-domain
  skips), so outputs tile seamlessly and rolling ``z`` by a multiple of ``2**Jmax`` pixels
  rolls the output by the same amount (``tile=False`` restores foscat's zero padding);
* any ``H x W`` works, not only multiples of ``2**Jmax``: level sizes are rounded up, an
  odd side is extended periodically by one pixel before the 2x2 noise pooling, and the
  features are upsampled by wrap-around bilinear interpolation to the odd size;
* the skips use texsynth's own wavelets (:func:`texsynth.wavelets.wavelet_spectra`), scaled
  so that each channel has unit variance on white noise;
* the 3x3 convolutions have no bias: each is followed by an affine InstanceNorm, which
  subtracts the per-channel mean and so cancels a bias exactly (it would get a zero
  gradient); the norm's own shift plays that role.
"""

from __future__ import annotations

import functools
import math
import numbers
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .._checks import check_device, check_seed, size_text
from ..arrays import TENSOR, Kind, to_user
from ..errors import TexsynthError
from ..memory import BATCH_BYTES, check_memory, estimate_sampling_bytes
from ..pyramid import level_shape
from ..transforms import match_histogram as _match_histogram
from ..wavelets import wavelet_spectra

__all__ = [
    "ARCHITECTURE",
    "ConvBlock2D",
    "SynthHalfUNet2D",
    "activation_bytes",
    "default_channel_list",
    "generate_samples",
    "periodic_upsample",
    "quantile_table",
]

ARCHITECTURE = "SynthHalfUNet2D"
"""Value of ``config["architecture"]`` for :class:`SynthHalfUNet2D`."""

CONFIG_KEYS = (
    "architecture",
    "Jmax",
    "channel_list",
    "out_channels",
    "L",
    "negative_slope",
    "tile",
    "image_channels",
    "n_quantiles",
)

POLYPHASE_MIN_PIXELS = 2**16
"""Levels with at least this many pixels use :meth:`ConvBlock2D.forward_upsampled` at
inference (faster there on CPU; on smaller levels building the padded input is faster)."""


def _is_int(x: Any) -> bool:
    return isinstance(x, numbers.Integral) and not isinstance(x, bool)


def _check_int(x: Any, name: str, minimum: int, fix: str) -> int:
    if not _is_int(x) or x < minimum:
        raise TexsynthError(f"{name} must be an integer >= {minimum}, got {x!r}; {fix}")
    return int(x)


def default_channel_list(Jmax: int, width: int = 32) -> list[int]:
    """Default decoder channels, coarsest to finest: ``min(width * 2**(Jmax - j), 8 * width)``.

    ``width=32`` gives foscat's ``[256, 128, 64, 32]`` for ``Jmax=3``.
    """
    Jmax = _check_int(Jmax, "Jmax", 1, "give the number of decoder levels, e.g. Jmax=3")
    width = _check_int(width, "width", 1, "give the channels of the finest level, e.g. 32")
    return [min(width * 2 ** (Jmax - j), 8 * width) for j in range(Jmax + 1)]


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
        in_ch = _check_int(in_ch, "in_ch", 1, "give a positive number of channels")
        out_ch = _check_int(out_ch, "out_ch", 1, "give a positive number of channels")
        slope = _check_slope(negative_slope)
        mode = "circular" if tile else "zeros"
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
        (:func:`_polyphase_weight`): the features part of the first convolution runs at
        the coarse resolution with ``4 * out_ch`` outputs, then ``pixel_shuffle``
        interleaves the phases. Same multiply-adds, but no upsampled copy of the (wide)
        features; the skip channels are convolved at full resolution and added.
        """
        conv = self.block[0]
        C = x.shape[1]
        w = conv.weight
        coarse = F.conv2d(F.pad(x, (1, 1, 1, 1), mode="circular"), _polyphase_weight(w[:, :C]))
        fine = F.conv2d(F.pad(skip, (1, 1, 1, 1), mode="circular"), w[:, C:], conv.bias)
        return self.block[1:](F.pixel_shuffle(coarse, 2).add_(fine))

    def forward_padded(self, xp: torch.Tensor) -> torch.Tensor:
        """Same as :meth:`forward` on ``[N, in_ch, h + 2, w + 2]``, an input already padded
        by one pixel on each side (periodically when ``tile``): the first convolution then
        needs no padding copy. Returns ``[N, out_ch, h, w]``."""
        conv = self.block[0]
        return self.block[1:](F.conv2d(xp, conv.weight, conv.bias))


def _upsample_taps() -> torch.Tensor:
    """``U[a, d + 1, e + 1]``: weight of coarse sample ``x[i + e]`` in the periodic 2x
    bilinear enlargement at fine index ``2i + a + d`` (``a`` in {0, 1}, ``d, e`` in
    {-1, 0, 1}); fine sample ``2j`` is ``0.25 x[j-1] + 0.75 x[j]``, ``2j+1`` is ``0.75 x[j]
    + 0.25 x[j+1]``."""
    U = torch.zeros(2, 3, 3, dtype=torch.float64)
    for a in (0, 1):
        for d in (-1, 0, 1):
            j, phase = divmod(a + d, 2)
            taps = {-1: 0.25, 0: 0.75} if phase == 0 else {0: 0.75, 1: 0.25}
            for e, c in taps.items():
                U[a, d + 1, j + e + 1] += c
    return U


_UPSAMPLE_TAPS = _upsample_taps()


def _polyphase_weight(w: torch.Tensor) -> torch.Tensor:
    """3x3 kernels ``[4 O, C, 3, 3]`` on the coarse grid equivalent to the 3x3 kernels
    ``w [O, C, 3, 3]`` applied after a 2x periodic bilinear enlargement; output channel
    ``4 o + 2 a + b`` is phase (row ``a``, column ``b``), the order of ``pixel_shuffle``."""
    U = _UPSAMPLE_TAPS.to(device=w.device, dtype=w.dtype)
    k = torch.einsum("ocrs,are->oacse", w, U)
    k = torch.einsum("oacse,bsf->oabcef", k, U)
    return k.reshape(-1, w.shape[1], 3, 3)


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


@functools.lru_cache(maxsize=16)
def _wavelet_gain(L: int) -> tuple[float, ...]:
    """Per-orientation factor giving unit-variance real and imaginary parts on white noise.

    For white noise of unit variance, ``Var Re(psi * z) = Var Im(psi * z) = mean_k psi(k)^2
    / 2`` (the multipliers live on one half-plane). The mean is taken on a 128 x 128 grid,
    where it has converged (it is within 3% of that from 8 x 8 up), so the filter is the
    same function at every level and every image size.
    """
    psi = wavelet_spectra(128, 128, 1, L)[0]
    return tuple(float(v) for v in torch.sqrt(2.0 / (psi**2).mean((-2, -1))))


def _skip_multipliers(h: int, w: int, L: int) -> torch.Tensor:
    """Complex multipliers ``[2L, h, w // 2 + 1]`` of the rfft2 layout giving the real then
    the imaginary parts of the scale-0 wavelets applied to a real ``h x w`` field."""
    psi = wavelet_spectra(h, w, 1, L)[0]  # [L, h, w] float64, real, half-plane support
    psi = psi * torch.tensor(_wavelet_gain(L), dtype=psi.dtype)[:, None, None]
    # psi(-k): flip then roll by one so index 0 (k = 0) stays in place
    psi_neg = torch.roll(torch.flip(psi, (-2, -1)), (1, 1), (-2, -1))
    even = (psi + psi_neg) / 2  # Re(psi * z) = ifft(Z * even)
    odd = (psi - psi_neg) / 2  # Im(psi * z) = ifft(Z * (-i) * odd)
    m = torch.cat([even.to(torch.complex128), -1j * odd.to(torch.complex128)])
    return m[..., : w // 2 + 1].contiguous()


def _halve_noise(z: torch.Tensor) -> torch.Tensor:
    """Next (coarser) noise level, ``ceil(h / 2) x ceil(w / 2)``, times 2: unit variance.

    A 2x2 mean pool; an odd side is first extended periodically by one pixel (its first
    row or column is repeated after the last), so every output pixel averages exactly four
    input pixels (variance exactly 1/4, then multiplied by 2); the two cells on either
    side of the wrap-around seam share one pixel (a slight correlation, not a
    discontinuity). A side of length 1 is not pooled (factor ``sqrt(2)`` instead of 2)."""
    h, w = z.shape[-2:]
    kh, kw = (2 if h > 1 else 1), (2 if w > 1 else 1)
    ph, pw = h % kh, w % kw
    if ph or pw:
        z = F.pad(z, (0, pw, 0, ph), mode="circular")
    return F.avg_pool2d(z, (kh, kw)) * math.sqrt(kh * kw)


def _wrap_interp(x: torch.Tensor, n_out: int, dim: int) -> torch.Tensor:
    """Periodic linear interpolation of axis ``dim`` to ``n_out`` samples.

    Same sample positions as ``F.interpolate(..., align_corners=False)`` (output pixel ``i``
    reads source position ``(i + 0.5) * n_in / n_out - 0.5``), but indices wrap around
    instead of being clamped at the borders.
    """
    n_in = x.shape[dim]
    if n_in == n_out:
        return x
    s = (torch.arange(n_out, dtype=torch.float64) + 0.5) * (n_in / n_out) - 0.5
    i0 = torch.floor(s)
    shape = [1] * x.dim()
    shape[dim] = n_out
    t = (s - i0).to(device=x.device, dtype=x.dtype).view(shape)
    i0 = i0.long()
    lo = (i0 % n_in).to(x.device)
    hi = ((i0 + 1) % n_in).to(x.device)
    return torch.lerp(x.index_select(dim, lo), x.index_select(dim, hi), t)


def periodic_upsample(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Bilinear resize of ``[N, C, h, w]`` to ``size`` that wraps around the borders.

    For an exact 2x enlargement it circular-pads by one pixel, calls ``F.interpolate``
    (bilinear, ``align_corners=False``) and crops; otherwise (odd target sizes) it
    interpolates each axis with wrapped indices (:func:`_wrap_interp`). Both give the same
    values (up to rounding): those of bilinear interpolation of the periodic extension.
    """
    h, w = x.shape[-2:]
    H, W = size
    if (H, W) == (2 * h, 2 * w):
        xp = F.pad(x, (1, 1, 1, 1), mode="circular")
        up = F.interpolate(xp, size=(2 * h + 4, 2 * w + 4), mode="bilinear", align_corners=False)
        return up[..., 2:-2, 2:-2]
    return _wrap_interp(_wrap_interp(x, H, -2), W, -1)


def _upsample2x_into(x: torch.Tensor, out: torch.Tensor) -> None:
    """Write the periodic 2x bilinear enlargement of ``x [N, C, h, w]`` into ``out [N, C,
    2h, 2w]`` (any strides, unit stride on the last axis), as :func:`periodic_upsample`.

    Bilinear 2x with ``align_corners=False`` has fixed weights: output row ``2i`` is
    ``0.25 x[i - 1] + 0.75 x[i]`` and row ``2i + 1`` is ``0.75 x[i] + 0.25 x[i + 1]``
    (indices mod ``h``), the same along columns. Done separably with ``out=`` writes.
    """
    N, C, h, w = x.shape
    xp = F.pad(x, (1, 1, 1, 1), mode="circular")
    rows = torch.empty(N, C, h, 2, w + 2, dtype=x.dtype, device=x.device)
    centre = xp[:, :, 1:-1] * 0.75
    torch.add(centre, xp[:, :, :-2], alpha=0.25, out=rows[:, :, :, 0])
    torch.add(centre, xp[:, :, 2:], alpha=0.25, out=rows[:, :, :, 1])
    del centre, xp
    rows = rows.view(N, C, 2 * h, w + 2)
    cols = out.unflatten(-1, (w, 2))
    centre = rows[..., 1:-1] * 0.75
    torch.add(centre, rows[..., :-2], alpha=0.25, out=cols[..., 0])
    torch.add(centre, rows[..., 2:], alpha=0.25, out=cols[..., 1])


def _padded_block_input(x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
    """``circular_pad(cat[periodic_upsample(x, skip's size), skip], 1)`` built in place.

    One buffer ``[N, C + S, h + 2, w + 2]`` receives the upsampled features and the skips
    in its interior, then its one-pixel border is filled from the opposite side. This is
    what a decoder block's first (circular) convolution sees, without the separate
    upsampled, concatenated and padded copies. Not differentiable (``out=`` writes).
    """
    N, C = x.shape[:2]
    S, (h, w) = skip.shape[1], skip.shape[-2:]
    buf = torch.empty(N, C + S, h + 2, w + 2, dtype=x.dtype, device=x.device)
    inner = buf[:, :, 1:-1, 1:-1]
    if (h, w) == (2 * x.shape[-2], 2 * x.shape[-1]):
        _upsample2x_into(x, inner[:, :C])
    else:
        inner[:, :C].copy_(periodic_upsample(x, (h, w)))
    inner[:, C:].copy_(skip)
    buf[:, :, 0, 1:-1].copy_(buf[:, :, h, 1:-1])
    buf[:, :, h + 1, 1:-1].copy_(buf[:, :, 1, 1:-1])
    buf[:, :, :, 0].copy_(buf[:, :, :, w])
    buf[:, :, :, w + 1].copy_(buf[:, :, :, 1])
    return buf


class SynthHalfUNet2D(nn.Module):
    """Decoder-only U-Net that turns white noise into texture in one forward pass.

    Parameters
    ----------
    Jmax
        Number of upsampling levels (the coarsest level is ``2**Jmax`` times smaller).
    channel_list
        Decoder channels per level, coarsest to finest (length ``Jmax + 1``). Default
        :func:`default_channel_list` ``(Jmax, width)``.
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
    two pixels, i.e. ``H > 2**Jmax`` or ``W > 2**Jmax`` (each side >= 1): InstanceNorm
    needs more than one value per channel. Sizes that are not multiples of ``2**Jmax`` work;
    only for multiples is the output exactly equivariant to rolls of ``z`` by multiples of
    ``2**Jmax`` pixels (with ``tile=True``).

    The wavelet multipliers are not parameters and not in the ``state_dict``: they are
    computed for each level's grid on first use and cached per ``(h, w, device, dtype)``.

    The output transform to the exemplar's units is held in buffers (saved with the
    weights): ``output_mean [image_channels]``, ``output_rotation [image_channels,
    out_channels]``, ``output_scale [out_channels]`` and ``output_quantiles [out_channels,
    n_quantiles]``; see :meth:`set_output_transform` and :meth:`to_output`.
    """

    def __init__(
        self,
        Jmax: int = 3,
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
        Jmax = _check_int(Jmax, "Jmax", 1, "give the number of decoder levels, e.g. Jmax=3")
        if channel_list is None:
            channel_list = default_channel_list(Jmax, width)
        if isinstance(channel_list, (str, bytes)) or not isinstance(channel_list, Sequence):
            raise TexsynthError(
                f"channel_list must be a list of Jmax + 1 = {Jmax + 1} positive integers, got "
                f"{channel_list!r}; e.g. {default_channel_list(Jmax)}"
            )
        if len(channel_list) != Jmax + 1 or not all(_is_int(c) and c >= 1 for c in channel_list):
            raise TexsynthError(
                f"channel_list must hold Jmax + 1 = {Jmax + 1} positive integers (coarsest "
                f"first), got {list(channel_list)!r}; e.g. {default_channel_list(Jmax)}"
            )
        out_channels = _check_int(out_channels, "out_channels", 1, "e.g. 1 (grey) or 3 (colour)")
        L = _check_int(L, "L", 1, "give the number of wavelet orientations, e.g. L=4")
        slope = _check_slope(negative_slope)
        if not isinstance(tile, bool):
            raise TexsynthError(f"tile must be True or False, got {tile!r}")
        if image_channels is None:
            image_channels = out_channels
        image_channels = _check_int(
            image_channels, "image_channels", 1, "give the exemplar's number of channels"
        )
        n_quantiles = _check_int(n_quantiles, "n_quantiles", 0, "use 0 (no histogram) or >= 2")
        if n_quantiles == 1:
            raise TexsynthError(
                "n_quantiles=1 would map every pixel to one value; use 0 (no histogram "
                "matching) or at least 2 (e.g. 256)"
            )

        self.Jmax = Jmax
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
            ConvBlock2D(C[k] + skip_ch, C[k + 1], slope, tile=tile) for k in range(Jmax)
        )
        self.output_conv = nn.Conv2d(C[-1], out_channels, 1)

        self.register_buffer("output_mean", torch.zeros(image_channels))
        self.register_buffer("output_rotation", torch.eye(image_channels, out_channels))
        self.register_buffer("output_scale", torch.ones(out_channels))
        self.register_buffer(
            "output_quantiles", _normal_quantiles(n_quantiles).expand(out_channels, -1).clone()
        )
        # wavelet multipliers per (h, w, device, dtype): plain dict, not in the state_dict
        self._skip_cache: dict[tuple[Any, ...], torch.Tensor] = {}

    # ------------------------------------------------------------------ configuration
    @property
    def config(self) -> dict[str, Any]:
        """JSON-serialisable settings that rebuild this module with :meth:`from_config`."""
        return {
            "architecture": ARCHITECTURE,
            "Jmax": self.Jmax,
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
        """Rebuild an (untrained) module from :attr:`config`.

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
            kwargs.pop("Jmax"),
            kwargs.pop("channel_list"),
            kwargs.pop("out_channels"),
            **kwargs,
        )

    def extra_repr(self) -> str:
        return (
            f"Jmax={self.Jmax}, channel_list={self.channel_list}, out_channels="
            f"{self.out_channels}, L={self.L}, tile={self.tile}, image_channels="
            f"{self.image_channels}, n_quantiles={self.n_quantiles}"
        )

    # ------------------------------------------------------------------ network
    def level_sizes(self, H: int, W: int) -> list[tuple[int, int]]:
        """``[(ceil(H / 2**j), ceil(W / 2**j)) for j in 0..Jmax]``, finest first."""
        return [level_shape((H, W), j) for j in range(self.Jmax + 1)]

    def min_size_ok(self, H: int, W: int) -> bool:
        """Whether an ``H x W`` input is large enough (coarsest level >= 2 pixels)."""
        h, w = level_shape((H, W), self.Jmax)
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
            f = 2**self.Jmax
            raise TexsynthError(
                f"z of {size_text(H, W)} pixels is too small for Jmax={self.Jmax}: the coarsest "
                "level "
                f"(sides divided by {f}, rounded up) needs at least 2 pixels; give H or W "
                f"> {f} or a smaller Jmax"
            )
        return z.to(self.output_conv.weight.dtype)

    def _multipliers(
        self, h: int, w: int, device: torch.device, dtype: torch.dtype
    ) -> torch.Tensor:
        key = (h, w, device, dtype)
        m = self._skip_cache.get(key)
        if m is None:
            cdtype = torch.complex128 if dtype == torch.float64 else torch.complex64
            m = _skip_multipliers(h, w, self.L).to(device=device, dtype=cdtype)
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
        """Unit-variance noise levels ``[z_0, ..., z_Jmax]`` (finest first) of ``z``."""
        levels = [z]
        for _ in range(self.Jmax):
            levels.append(_halve_noise(levels[-1]))
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
        x = self.init_block(self.skips(noise[self.Jmax]))
        # Without autograd and with tile=True, the same values with fewer copies: on large
        # 2x levels the upsampling is folded into the first convolution (forward_upsampled),
        # elsewhere the padded block input is built in one buffer (_padded_block_input).
        fused = self.tile and not torch.is_grad_enabled()
        for k, block in enumerate(self.decoder_blocks):
            j = self.Jmax - 1 - k
            if fused:
                skip = self.skips(noise[j])
                doubled = skip.shape[-2:] == (2 * x.shape[-2], 2 * x.shape[-1])
                if doubled and skip.shape[-2] * skip.shape[-1] >= POLYPHASE_MIN_PIXELS:
                    x = block.forward_upsampled(x, skip)
                else:
                    x = block.forward_padded(_padded_block_input(x, skip))
            else:
                x = self._upsample(x, tuple(noise[j].shape[-2:]))
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
            (:func:`quantile_table`), or None to keep the stored table.
        """
        Ci, Co, Q = self.image_channels, self.out_channels, self.n_quantiles
        checks = [
            ("mean", mean, (Ci,)),
            ("rotation", rotation, (Ci, Co)),
            ("scale", scale, (Co,)),
        ]
        if quantiles is not None:
            checks.append(("quantiles", quantiles, (Co, Q)))
        values = {}
        for name, t, shape in checks:
            t = torch.as_tensor(t)
            if tuple(t.shape) != shape:
                raise TexsynthError(
                    f"output transform {name} must have shape {list(shape)} (image_channels="
                    f"{Ci}, out_channels={Co}, n_quantiles={Q}), got {list(t.shape)}"
                )
            if not bool(torch.isfinite(t).all()):
                raise TexsynthError(f"output transform {name} has non-finite values")
            values[name] = t
        if bool((values["scale"] <= 0).any()):
            raise TexsynthError("output transform scale must be positive in every channel")
        q = values.get("quantiles")
        if q is not None and Q > 1 and bool((q[:, 1:] < q[:, :-1]).any()):
            raise TexsynthError(
                "output transform quantiles must be sorted along each channel; build them "
                "with quantile_table"
            )
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
        if self.n_quantiles and match_histogram:
            y = _match_histogram(y, self.output_quantiles[None, :, None, :])
        m, R, s = (
            t.to(device=y.device, dtype=y.dtype)
            for t in (self.output_mean, self.output_rotation, self.output_scale)
        )
        x = torch.einsum("bdhw,cd->bchw", y * s[:, None, None], R)
        return x + m[:, None, None]


def _normal_quantiles(n: int) -> torch.Tensor:
    """Standard-normal quantiles at ``(k + 0.5) / n``: the default quantile table."""
    p = (torch.arange(n, dtype=torch.float64) + 0.5) / max(n, 1)
    return torch.special.ndtri(p).float()[None]


def quantile_table(y: torch.Tensor, n: int, mask: torch.Tensor | None = None) -> torch.Tensor:
    """Quantile table ``[C, n]`` of standardised exemplar pixels ``y [1, C, H, W]``.

    Entry ``k`` is the exemplar's quantile at probability ``(k + 0.5) / n``, with the same
    convention as :func:`texsynth.transforms.match_histogram` (sorted value ``i`` of ``N``
    sits at ``(i + 0.5) / N``, linear in between, clamped at the ends): with ``n = N`` the
    table is the sorted pixels, and :meth:`SynthHalfUNet2D.to_output` reproduces the
    exemplar's histogram up to this piecewise-linear interpolation.

    Parameters
    ----------
    y
        Standardised exemplar ``[1, C, H, W]`` (or ``[C, H, W]``).
    n
        Number of quantiles (>= 2).
    mask
        Optional ``[H, W]`` (or broadcastable ``[1, 1, H, W]``) weights; pixels with weight
        0 are left out.
    """
    if (
        not isinstance(y, torch.Tensor)
        or y.dim() not in (3, 4)
        or (y.dim() == 4 and y.shape[0] != 1)
    ):
        shape = tuple(y.shape) if isinstance(y, torch.Tensor) else type(y).__name__
        raise TexsynthError(f"quantile_table expects an exemplar [1, C, H, W], got {shape}")
    n = _check_int(n, "n (number of quantiles)", 2, "e.g. 256")
    if y.dim() == 3:
        y = y[None]
    C = y.shape[1]
    pix = y[0].reshape(C, -1)
    if mask is not None:
        keep = torch.as_tensor(mask, device=y.device).expand(1, 1, *y.shape[-2:]).reshape(-1) > 0
        pix = pix[:, keep]
    N = pix.shape[1]
    if N == 0:
        raise TexsynthError("quantile_table: the mask excludes every pixel; keep some pixels")
    s = torch.sort(pix, dim=1).values
    pos = (torch.arange(n, dtype=torch.float64, device=y.device) + 0.5) / n * N - 0.5
    lo = pos.floor().clamp(0, N - 1).long()
    hi = (lo + 1).clamp(max=N - 1)
    t = (pos - lo).clamp(0, 1).to(y.dtype)
    return s[:, lo] * (1 - t) + s[:, hi] * t


def _model_device_dtype(model: nn.Module) -> tuple[torch.device, torch.dtype]:
    p = next(model.parameters())
    return p.device, p.dtype


def activation_bytes(model: SynthHalfUNet2D, H: int, W: int) -> int:
    """Rough peak activation memory (bytes) of one ``H x W`` sample in inference mode.

    At decoder level ``j`` (``h*w`` pixels, ``c_in = C + 2L + 1`` input and ``c_out``
    output channels) the live tensors are about the concatenated input and its padded
    copy, the upsampled features, and two ``c_out`` maps: ``(3 c_in + 2 c_out) h w``
    values. The estimate is the maximum over levels (the finest usually dominates), times
    the element size.
    """
    _, dtype = _model_device_dtype(model)
    itemsize = torch.empty((), dtype=dtype).element_size()
    C, skip = model.channel_list, 2 * model.L + 1
    sizes = model.level_sizes(H, W)
    peak = (3 * skip + 2 * C[0]) * sizes[-1][0] * sizes[-1][1]
    for k in range(model.Jmax):
        h, w = sizes[model.Jmax - 1 - k]
        peak = max(peak, (3 * (C[k] + skip) + 2 * C[k + 1]) * h * w)
    return peak * itemsize


def generate_samples(
    model: SynthHalfUNet2D,
    n_samples: int,
    H: int,
    W: int,
    device: str | torch.device | None = None,
    seed: int | None = None,
    *,
    match_histogram: bool = True,
    raw: bool = False,
    batch_size: int | None = None,
    generator: torch.Generator | None = None,
    output: str = "tensor",
    max_memory: int | None = None,
) -> Any:
    """Draw ``n_samples`` textures of ``H x W`` pixels from a trained generator.

    Parameters
    ----------
    model
        A :class:`SynthHalfUNet2D` (it is run in eval mode; its previous mode is restored).
    n_samples
        Number of textures.
    H, W
        Size in pixels (any size whose coarsest level has >= 2 pixels).
    device
        Where to run; default the model's device. If given, the model is moved there.
    seed
        Seed of the noise (drawn on the CPU, so a seed gives the same textures on every
        device); None draws a fresh one. The global RNG is never touched.
    match_histogram
        Apply the stored quantile table (see :meth:`SynthHalfUNet2D.to_output`).
    raw
        Return the network output ``[n_samples, out_channels, H, W]`` as is.
    batch_size
        Samples per forward pass; default the most that keep the activations under about
        1 GiB (:func:`activation_bytes`: ~0.3 GB per 512 x 512 sample for the default
        width 32, as measured, so batches of 3 at 512^2 and 57 at 128^2). Each sample's
        noise is drawn separately, so the result does not depend on the batching (up to
        float rounding) nor on ``n_samples`` (the first samples are always the same).
    generator
        A CPU ``torch.Generator`` to draw the noise from instead of ``seed`` (which must then
        be None). It advances by the samples drawn, so consecutive calls continue one
        sequence: two calls of ``n`` samples give the samples of one call of ``2 n``.
    output
        ``"tensor"`` (default), ``"numpy"`` (a float32 array ``[n, H, W, C]``, or
        ``[n, H, W]`` for one channel) or ``"pil"`` (8-bit Pillow images of values in
        [0, 1]: one image for one sample, else a list).
    max_memory
        Memory limit in bytes (default: what is available). Draws whose estimated peak,
        results included, exceeds it are refused before any work.

    Returns
    -------
    torch.Tensor
        ``[n_samples, image_channels, H, W]`` in the exemplar's units (``raw``: network
        units, ``out_channels``), on ``device``; or the kind ``output`` asks for.
    """
    kinds = {"tensor": TENSOR, "numpy": Kind("numpy", np.float32, 2), "pil": Kind("pil")}
    if output not in kinds:
        raise TexsynthError(f"output must be 'tensor', 'numpy' or 'pil', got {output!r:.40}")
    modes = {1: "L", 3: "RGB", 4: "RGBA"}
    if output == "pil" and (raw or getattr(model, "image_channels", 0) not in modes):
        raise TexsynthError(
            "output='pil' needs images of 1, 3 or 4 channels (and raw=False); use output='numpy'"
        )
    if not isinstance(model, SynthHalfUNet2D):
        raise TexsynthError(
            f"model must be a SynthHalfUNet2D, got {type(model).__name__}; load one with "
            "load_generator"
        )
    n_samples = _check_int(n_samples, "n_samples", 1, "ask for at least one sample")
    H = _check_int(H, "H (height)", 1, "give the output size in pixels")
    W = _check_int(W, "W (width)", 1, "give the output size in pixels")
    if not model.min_size_ok(H, W):
        f = 2**model.Jmax
        raise TexsynthError(
            f"{size_text(H, W)} pixels is too small for this generator (Jmax={model.Jmax}): the "
            f"coarsest level needs at least 2 pixels; give H or W > {f}"
        )
    device = check_device(device)
    seed = check_seed(seed)
    # the whole result stays in memory (n_samples images) besides one batch's activations
    result_bytes = 4 * n_samples * H * W * max(model.out_channels, model.image_channels)
    check_memory(
        estimate_sampling_bytes(model.config, n_samples, (H, W)) + result_bytes,
        max_memory,
        device=device if device is not None else _model_device_dtype(model)[0],
        what="generate_samples",
        fix="ask for fewer or smaller samples",
        override="max_memory=",
    )
    if batch_size is None:
        batch_size = max(1, BATCH_BYTES // max(activation_bytes(model, H, W), 1))
    batch_size = min(_check_int(batch_size, "batch_size", 1, "e.g. 1"), n_samples)
    if device is not None:
        model.to(device)
    device, dtype = _model_device_dtype(model)
    if generator is not None:
        if seed is not None:
            raise TexsynthError("give seed or generator, not both")
        if not isinstance(generator, torch.Generator) or generator.device.type != "cpu":
            raise TexsynthError(
                "generator must be a CPU torch.Generator (the noise is drawn on the CPU)"
            )
        gen = generator
    else:
        gen = torch.Generator()
        if seed is None:
            gen.seed()  # fresh, non-deterministic; seeds this generator only
        else:
            gen.manual_seed(seed)

    was_training = model.training
    model.eval()
    out = []
    try:
        with torch.inference_mode():
            for start in range(0, n_samples, batch_size):
                n = min(batch_size, n_samples - start)
                # one draw per sample: the noise does not depend on the batching
                z = torch.cat([torch.randn(1, 1, H, W, generator=gen) for _ in range(n)])
                y = model(z.to(device=device, dtype=dtype))
                out.append(y if raw else model.to_output(y, match_histogram=match_histogram))
    finally:
        model.train(was_training)
    # outside inference mode: a normal tensor (inference tensors refuse in-place edits)
    result = torch.cat(out)
    kind = kinds[output]
    if kind.kind == "tensor":
        return result
    C = result.shape[1]
    if kind.kind == "numpy" and C == 1:
        kind = Kind("numpy", np.float32, None)
    if kind.kind == "pil":
        kind = Kind("pil", None, None, modes[C])
    return to_user(result.float(), kind)
