"""Weight-free features: one layer of random multi-scale filters and a ReLU.

Ustyuzhaninov, Brendel, Gatys & Bethge, "What does it take to generate natural textures?"
(ICLR 2017; arXiv:1606.00021, first titled "Texture synthesis using shallow convolutional
networks with random filters") showed that the Gram matrices of a *single* convolutional layer
with *random* filters of several sizes (3 to 55 px, 128 filters each) followed by a ReLU
synthesise textures that rival, and sometimes beat, Gatys et al.'s trained 19-layer VGG; patches
of the same texture are also closer in that feature space than patches of different textures.
What matters is the range of filter sizes (it sets the range of spatial scales whose joint
statistics are captured) and the nonlinearity (which turns second-order statistics of filter
outputs into higher-order statistics of the image), not learned weights.

That makes :class:`RandomFeatures` a good default descriptor when no pretrained weights are
installed, and the only CNN descriptor for inputs that are not RGB photographs (any number of
channels: grey, multispectral, physical fields). It downloads nothing, is exactly reproducible
from its ``seed``, and is cheap: the default 6 sizes x 32 filters cost a few tens of
milliseconds for a 96x96 image on one CPU core.

Filters are Gaussian, made zero-mean over each input channel's window (so features ignore a
constant offset of any channel) and scaled to unit L2 norm (so every size responds with the
same variance to white noise). Biases are zero.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F

from .._checks import as_image_batch, size_text
from ..errors import TexsynthError
from .layer_choice import chosen_layers

__all__ = ["RandomFeatures"]

_PADDINGS = ("circular", "reflect", "zeros", "valid")


class RandomFeatures(torch.nn.Module):
    """Single-layer random multi-scale ReLU features (Ustyuzhaninov et al. 2017).

    ``features(x)`` returns ``{"rand3": [B, n_filters, H, W], "rand5": ..., ...}``: one entry per
    filter size, each the ReLU of ``n_filters`` random zero-mean filters of that size applied
    to all input channels.

    Parameters
    ----------
    sizes
        Filter sizes in pixels (odd); default ``(3, 5, 7, 11, 15, 23)``.
    n_filters
        Filters per size (the paper uses 128; 32 keeps CPU cost low).
    seed
        Seed of the filters. The filters of one size depend only on ``(seed, size, n_filters,
        in_channels)``; nothing touches the global random state.
    in_channels
        Number of input channels; ``None`` builds the filters for whatever ``C`` the first
        input has (and rebuilds, deterministically, when ``C`` changes).
    padding
        ``"circular"`` (periodic: textures that tile; the default), ``"reflect"``, ``"zeros"``,
        or ``"valid"`` (no padding: outputs shrink by ``size - 1``, no boundary effects; needs
        images larger than the biggest filter).

    Notes
    -----
    Filters are non-persistent buffers (they are rebuilt from ``seed``, not saved) and follow
    the input's device and dtype. The module has no trainable parameters.
    """

    def __init__(
        self,
        sizes: Sequence[int] = (3, 5, 7, 11, 15, 23),
        n_filters: int = 32,
        *,
        seed: int = 0,
        in_channels: int | None = None,
        padding: str = "circular",
    ) -> None:
        super().__init__()
        sizes = tuple(int(s) for s in sizes)
        if not sizes or any(s < 1 or s % 2 == 0 for s in sizes):
            raise TexsynthError(f"sizes must be odd positive filter sizes, got {sizes}")
        if len(set(sizes)) != len(sizes):
            raise TexsynthError(f"sizes must be distinct, got {sizes}")
        if int(n_filters) < 1:
            raise TexsynthError(f"n_filters must be at least 1, got {n_filters}")
        if padding not in _PADDINGS:
            raise TexsynthError(
                f"padding must be 'circular', 'reflect', 'zeros' or 'valid', got {padding!r}"
            )
        if in_channels is not None and int(in_channels) < 1:
            raise TexsynthError(f"in_channels must be at least 1, got {in_channels}")
        self.sizes = sizes
        self.n_filters = int(n_filters)
        self.seed = int(seed)
        self.padding = padding
        self.in_channels: int | None = None
        self.layer_names: tuple[str, ...] = tuple(f"rand{s}" for s in sizes)
        self.default_layers: tuple[str, ...] = self.layer_names
        if in_channels is not None:
            self._build(int(in_channels))

    def extra_repr(self) -> str:
        """The settings shown by ``repr``."""
        return (
            f"sizes={self.sizes}, n_filters={self.n_filters}, seed={self.seed}, "
            f"in_channels={self.in_channels}, padding={self.padding!r}"
        )

    def filters(self, size: int, in_channels: int) -> torch.Tensor:
        """The ``[n_filters, in_channels, size, size]`` float64 CPU filters of one size."""
        # one generator per (seed, size, C): a size's filters do not depend on the other sizes
        g = torch.Generator().manual_seed(
            (self.seed * 1_000_003 + size * 10_007 + in_channels) % (2**63)
        )
        w = torch.randn(self.n_filters, in_channels, size, size, generator=g, dtype=torch.float64)
        if size > 1:
            w = w - w.mean(dim=(-2, -1), keepdim=True)
        return w / w.flatten(1).norm(dim=1).clamp_min(1e-12)[:, None, None, None]

    def _build(self, in_channels: int) -> None:
        old = getattr(self, f"weight{self.sizes[0]}", None)
        device = old.device if old is not None else torch.device("cpu")
        dtype = old.dtype if old is not None else torch.get_default_dtype()
        for s in self.sizes:
            w = self.filters(s, in_channels).to(device=device, dtype=dtype)
            self.register_buffer(f"weight{s}", w, persistent=False)
        self.in_channels = in_channels

    def forward(
        self, x: torch.Tensor, layers: Sequence[str] | str | None = None
    ) -> dict[str, torch.Tensor]:
        """Features ``{"rand<size>": [B, n_filters, H', W']}`` of images ``x [B, C, H, W]``.

        ``layers`` selects sizes by name (default: all); only those are computed.
        """
        layers = chosen_layers(layers, self.layer_names, "random-feature")
        x = as_image_batch(x, "image")
        C, H, W = x.shape[1:]
        if C != self.in_channels:
            self._build(C)
        out: dict[str, torch.Tensor] = {}
        for name in layers:
            s = int(name[4:])
            w = getattr(self, f"weight{s}")
            if w.device != x.device or w.dtype != x.dtype:
                # rebuild from the float64 original rather than cast a rounded copy
                w = self.filters(s, C).to(device=x.device, dtype=x.dtype)
                self.register_buffer(f"weight{s}", w, persistent=False)
            p = s // 2
            if self.padding == "valid" or p == 0:
                if min(H, W) < s:
                    raise TexsynthError(
                        f"images of {size_text(H, W)} pixels are smaller than the {s}-pixel "
                        "filters of "
                        f"{name} with padding='valid'; give larger images, smaller sizes or "
                        "padding='circular'"
                    )
                out[name] = torch.relu(F.conv2d(x, w))
            elif self.padding == "zeros":
                out[name] = torch.relu(F.conv2d(x, w, padding=p))
            else:
                if self.padding == "reflect" and min(H, W) <= p:
                    raise TexsynthError(
                        f"images of {size_text(H, W)} pixels are too small for reflect padding of "
                        "the "
                        f"{s}-pixel filters of {name} (need more than {p} pixels a side); use "
                        "padding='circular' or smaller sizes"
                    )
                xp = _pad(x, p, self.padding)
                out[name] = torch.relu(F.conv2d(xp, w))
        return out


def _pad(x: torch.Tensor, p: int, mode: str) -> torch.Tensor:
    """Pad by ``p`` on each side; circular padding wider than the image wraps repeatedly."""
    H, W = x.shape[-2:]
    if mode == "circular" and p > min(H, W):
        reps_h, reps_w = -(-(H + 2 * p) // H), -(-(W + 2 * p) // W)
        tiled = x.repeat(1, 1, reps_h, reps_w)
        # start so that tiled[..., 0, 0] == x[..., -p % H, -p % W]
        tiled = torch.roll(tiled, shifts=(p % H, p % W), dims=(-2, -1))
        return tiled[..., : H + 2 * p, : W + 2 * p]
    return F.pad(x, (p, p, p, p), mode=mode)
