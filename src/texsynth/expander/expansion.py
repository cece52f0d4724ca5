"""Enlarging one image with a trained expander: :func:`expand` (``texsynth expand``).

The network doubles the side (Liu et al. 2020, "Transposer"); scale 4 applies it twice, or,
for the selection head with ``x4_direct`` (the shipped model), fills a 4 x canvas around the
input with copies of the input itself in one pass; with ``border_zero_x4`` off (the shipped
model) scale 4 keeps the zero-shift copy, the input's own tiling, out of the border:
otherwise a first pass that tiles the input is tiled again, a 4 x 4 repetition.
It works on values in [0, 1]: an image already in [0, 1] (every 8- and 16-bit image, and
float images in that range) goes in as it is and comes out clipped to [0, 1]; a float
field with values outside is mapped linearly from its ``[min, max]`` to [0, 1] and the
output mapped back to its units. Grey images run as RGB and come back grey.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import torch

from ..arrays import accepts_arrays
from ..errors import TexsynthError
from ..memory import check_memory
from .model import MULTIPLE, ExpanderConfig, TransposerExpander, load_expander

__all__ = ["SCALES", "default_model_path", "estimate_expand_bytes", "expand", "resolve_model"]

SCALES = (2, 4)

#: peak bytes per output pixel of one pass: a base, per decoder channel and per encoder
#: channel, and a fixed overhead. ``benchmarks/bench_expander_memory.py`` measured 690-870
#: bytes per output pixel for the default configuration (estimate 1062) and 245-365 for
#: widths (8, 8, 16), decoder 16 (estimate 422), at 64-256 px inputs
BYTES_PER_PIXEL_BASE = 150.0
BYTES_PER_PIXEL_DECODER = 15.0
BYTES_PER_PIXEL_ENCODER = 1.0
OVERHEAD_BYTES = 64 << 20


def default_model_path() -> Path:
    """Where the packaged pretrained expander lives:
    ``texsynth/expander/models/default.safetensors`` (it may be absent from a checkout)."""
    return Path(__file__).resolve().parent / "models" / "default.safetensors"


def resolve_model(model: TransposerExpander | str | os.PathLike[str] | None) -> TransposerExpander:
    """A network from ``model``: itself, a file of :func:`~.model.save_expander`, or
    ``None`` for the packaged default (:func:`default_model_path`)."""
    if isinstance(model, TransposerExpander):
        return model
    if model is None:
        path = default_model_path()
        if not path.is_file():
            text = (
                f"the packaged expander model {str(path)!r} is not installed in this copy of "
                "texsynth; give a model file"
            )
            raise TexsynthError(
                f"{text} with model= (train one with texsynth train-expander)",
                cli=f"{text} with --model FILE (train one with texsynth train-expander)",
            )
        return load_expander(path)
    return load_expander(model)


def estimate_expand_bytes(
    height: int, width: int, scale: int = 2, config: ExpanderConfig | None = None
) -> int:
    """Peak memory (bytes, an over-estimate) of expanding an ``height x width`` image by
    ``scale``: the last pass dominates (its output has ``scale**2`` times the pixels)."""
    cfg = config or ExpanderConfig()
    out = float(height * width * scale * scale)
    per_pixel = (
        BYTES_PER_PIXEL_BASE
        + BYTES_PER_PIXEL_DECODER * cfg.decoder_width
        + BYTES_PER_PIXEL_ENCODER * sum(cfg.widths)
    )
    return int(out * per_pixel + OVERHEAD_BYTES)


@contextmanager
def _without_tiling(net: TransposerExpander, on: bool) -> Iterator[None]:
    """While ``on``: the selection head's zero-shift copy kept out of the border."""
    head = net.selector if on and net.config.head == "select" else None
    was = head.border_zero if head is not None else True
    if head is not None:
        head.border_zero = False
    try:
        yield
    finally:
        if head is not None:
            head.border_zero = was


@accepts_arrays("image", like="image")
def expand(
    image: torch.Tensor,
    *,
    scale: int = 2,
    model: TransposerExpander | str | os.PathLike[str] | None = None,
    periodic: bool = False,
    seed: int | None = None,
    max_memory: int | None = None,
) -> torch.Tensor:
    """Enlarge a texture ``scale`` times with a trained universal expander.

    Parameters
    ----------
    image
        ``[H, W]`` or ``[C, H, W]`` (C = 1 or 3), in its own units (see the module notes);
        a NumPy array or Pillow image comes back as the same kind. At least 8 x 8.
    scale
        2, or 4 (the network applied twice, or one 4 x pass: see the module notes).
    model
        A :class:`~.model.TransposerExpander`, the path of an expander file
        (``texsynth train-expander``), or ``None``: the packaged model
        (:func:`default_model_path`).
    periodic
        A tileable output (both passes periodic).
    seed
        Seed of torch's generator during the run, for networks that draw noise (the
        expander as built draws none: its output does not depend on the seed).
    max_memory
        Refuse, before any work, a run whose estimate (:func:`estimate_expand_bytes`) is
        above this many bytes (default: the RAM available now).

    Returns
    -------
    torch.Tensor
        ``[1, C, scale H, scale W]`` with the input in the centre box (blended over 4 pixels
        at its edge).
    """
    x = torch.as_tensor(image)
    if x.ndim == 2:
        x = x[None]
    if x.ndim != 3 or x.shape[0] not in (1, 3):
        raise TexsynthError(
            f"expand takes one [H, W] or [C, H, W] image with 1 or 3 channels, got shape "
            f"{tuple(x.shape)}"
        )
    if scale not in SCALES:
        raise TexsynthError(f"scale must be 2 or 4, got {scale}")
    H, W = int(x.shape[-2]), int(x.shape[-1])
    if min(H, W) < MULTIPLE:
        raise TexsynthError(
            f"the expander needs an image of at least {MULTIPLE}x{MULTIPLE} pixels, got {W}x{H}"
        )
    if not bool(torch.isfinite(x).all()):
        raise TexsynthError("expand takes finite values; the image holds NaN or Inf")
    net = resolve_model(model)
    check_memory(
        estimate_expand_bytes(H, W, scale, net.config),
        max_memory,
        what=f"expanding {W}x{H} by {scale}",
        fix="expand a smaller image or use scale 2",
        override="max_memory=",
    )
    x = x.float()
    lo, hi = float(x.min()), float(x.max())
    mapped = lo < 0 or hi > 1
    span = hi - lo if hi > lo else 1.0
    y = (x - lo) / span if mapped else x
    with torch.random.fork_rng(devices=[]):  # the caller's random state is left alone
        if seed is not None:
            torch.manual_seed(seed)
        with _without_tiling(net, scale == 4 and not net.config.border_zero_x4):
            if scale == 4 and net.config.head == "select" and net.config.x4_direct:
                y = net.expand(y, periodic=periodic, factor=4)[0]
            else:
                for _ in range(int(math.log2(scale))):
                    y = net.expand(y, periodic=periodic)[0]
    y = y.clamp(0, 1)
    return (y * span + lo if mapped else y)[None]
