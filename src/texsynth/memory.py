"""Memory estimates and bounds checked before a run starts (issue 17, item 4).

A run that cannot fit should be refused in a second with one line, not end in an
allocation traceback after minutes. The functions here estimate the peak memory of a run
from its settings alone (no tensor is built) and :func:`check_memory` refuses an estimate
above the limit: the memory available now (``MemAvailable`` of ``/proc/meminfo``, else
the physical memory) or, on a CUDA device, its free memory; ``--max-memory`` on the
command line and ``limit_bytes`` in Python override it.

Calibration
-----------
The constants were fitted to the peak resident memory (``resource.getrusage(...).
ru_maxrss`` after the run minus before it, imports and a warm-up run excluded) of small
CPU runs, float32, one thread, one pyramid level (the finest level is the peak):

============================================  ==========  ==========
run                                           measured    estimate
============================================  ==========  ==========
synthesize scattering 256², grey, L=4, n=1    305 MiB     342 MiB
synthesize scattering 256², grey, L=8, n=1    907 MiB     1015 MiB
synthesize scattering 256², colour, L=4       1044 MiB    1198 MiB
synthesize scattering 128², grey, L=4, n=16   301 MiB     280 MiB
synthesize gram (VGG19) 128², colour, n=4     325 MiB     439 MiB
synthesize patch 256², colour, n=4            271 MiB     419 MiB
train scattering 64², colour, batch 4, w 16   254 MiB     193 MiB
train scattering 128², colour, batch 2, w 16  505 MiB     577 MiB
stats 256², grey, L=4 (float64)               111 MiB     106 MiB
stats 256², colour, L=8 (float64)             592 MiB     565 MiB
sample 256², n=2, width 16                    42 MiB      99 MiB
sample 512², n=1, width 16                    134 MiB     221 MiB
============================================  ==========  ==========

So the estimates are within about -25 % / +130 % of what a run takes: good enough to refuse
what is tens or thousands of times too large (``--L 1000``: terabytes) and to let through
what fits, not to pack a machine to the last megabyte. The scattering cost grows with the
number of wavelet maps per pixel, ``4.3 L + L**2`` (first-layer maps and the ``L x L``
second-layer maps of the covariances; the coarser scales are subsampled, so ``J`` adds at
most a third), times an effective channel count (``(C + 1) / 2``, plus ``C (C - 1) / 4``
with cross-channel statistics). The exemplar's statistics cost more per pixel than the
samples' (their normalisation and variance estimates), hence two constants.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import Any

import torch

from .errors import TexsynthError

__all__ = [
    "MAX_DEPTH",
    "MAX_J",
    "MAX_L",
    "MAX_WIDTH",
    "available_bytes",
    "check_memory",
    "estimate_sampling_bytes",
    "estimate_stats_bytes",
    "estimate_synthesis_bytes",
    "estimate_training_bytes",
    "format_bytes",
    "parse_bytes",
]

#: orientations: the statistics of L > 16 differ from L = 16 by less than their noise, and
#: the second-layer maps grow as L**2 (L = 16: about 17x the memory of L = 4)
MAX_L = 16
#: scales: J = 16 needs a 262144-pixel side, beyond every image texsynth reads
MAX_J = 16
#: generator width: 512 is 16 times the default network and 8192 channels at the coarsest level
MAX_WIDTH = 512
#: generator depth (decoder levels): each halves the size; 10 needs 2048-pixel samples
MAX_DEPTH = 10

GIB = 1 << 30

BATCH_BYTES = 1 << 30
"""Activation budget of one :func:`texsynth.generators.generate_samples` batch (1 GiB)."""

# ----------------------------------------------------------------- calibrated constants
_SCAT_SAMPLE = 25.0  # bytes per output pixel, per sample, per wavelet map
_SCAT_EXEMPLAR = 140.0  # bytes per exemplar pixel per wavelet map
_VGG_VALUES = 296  # VGG19 activations per pixel up to conv5 (64*2 + 128*2/4 + ...)
_VGG_SAMPLE = _VGG_VALUES * 4 * 4.2  # float32, with autograd and the L-BFGS history
_VGG_EXEMPLAR = _VGG_VALUES * 4 * 1.5
_VGG_WEIGHTS = 100 * 2**20  # the convolutional weights of VGG19 and their copies
_PATCH_SAMPLE = 800.0  # patch method: bytes per output pixel and sample
_PATCH_EXEMPLAR = 3500.0  # ... per exemplar pixel (its patch tables)
_STATS_L = 285.0  # stats (float64): bytes per pixel and channel, times L ...
_STATS_L2 = 35.0  # ... and times L**2
_TRAIN_FACTOR = 1.5  # training keeps the graph of the whole batch (Adam, no L-BFGS)
_TRAIN_NET = 120.0  # bytes per pixel, sample and unit of width of the generator's graph
_NETWORK_TERMS = ("gram", "swd", "gap", "random", "gc")


def parse_bytes(text: str) -> int:
    """``"64G"`` -> ``64 * 2**30``; also ``512M``, ``1.5T``, ``800K``, ``64GB``, ``64GiB``
    or a number of bytes.

    Raises
    ------
    TexsynthError
        If ``text`` is not a positive size.
    """
    m = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*([kmgt]?)(i?b)?\s*", str(text).lower())
    value = float(m[1]) * 1024 ** " kmgt".index(m[2] or " ") if m else 0.0
    if not math.isfinite(value) or value < 1:
        raise TexsynthError(
            f"memory size must look like 64G, 512M or 1.5T (K, M, G, T = 2**10 ... 2**40 "
            f"bytes), got {str(text)[:30]!r}"
        )
    return int(value)


def format_bytes(n: float) -> str:
    """``3.2 GiB``, ``512 MiB``, ``1.4 TiB``: sizes for messages."""
    for unit, scale in (("TiB", 2**40), ("GiB", 2**30), ("MiB", 2**20)):
        if n >= scale:
            v = n / scale
            return f"{v:.3g} {unit}" if v < 1000 else f"{v:,.0f} {unit}"
    return f"{max(n, 0) / 2**10:.3g} KiB"


def available_bytes(device: str | torch.device | None = None) -> int:
    """Memory a run may use now: a CUDA device's free memory, or the host's available RAM
    (``MemAvailable`` of ``/proc/meminfo``; else the physical memory)."""
    dev = torch.device(device) if device is not None else torch.device("cpu")
    if dev.type == "cuda" and torch.cuda.is_available():
        free, _total = torch.cuda.mem_get_info(dev)
        return int(free)
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        import os

        return int(os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):
        return 1 << 62  # unknown: do not refuse


def check_memory(
    estimate_bytes: float,
    limit_bytes: int | None = None,
    *,
    device: str | torch.device | None = None,
    what: str = "this run",
    fix: str = "use a smaller size or fewer samples",
    override: str = "max_memory=",
) -> None:
    """Refuse, in one line with the estimate and the limit, a run that will not fit.

    Parameters
    ----------
    estimate_bytes
        Peak memory the run needs (one of the ``estimate_*`` functions).
    limit_bytes
        The limit; default :func:`available_bytes` of ``device``.
    device
        Where the run computes (CUDA: the device's free memory).
    what, fix, override
        Words of the message: the run, how to make it smaller, and how to raise the limit
        (``"--max-memory"`` on the command line).

    Raises
    ------
    TexsynthError
        If the estimate is above the limit.
    """
    where = "GPU memory" if device is not None and torch.device(device).type == "cuda" else "RAM"
    if limit_bytes is None:
        limit = available_bytes(device)
        source = f"available {where}"
    else:
        limit = int(limit_bytes)
        source = "the memory limit"
    if estimate_bytes > limit:
        raise TexsynthError(
            f"{what} needs about {format_bytes(estimate_bytes)} of memory (estimate), more than "
            f"{source} of {format_bytes(limit)}; {fix}, or raise the limit with {override}"
            "SIZE if this machine has more"
        )


def _hw(size: int | Sequence[int] | None, default: tuple[int, int]) -> tuple[int, int]:
    if size is None:
        return default
    if isinstance(size, (int, float)):
        return int(size), int(size)
    h, w = size
    return int(h), int(w)


def _terms(method: str) -> list[str]:
    """The descriptor names of a method string (unknown words kept; no error here)."""
    return [m for m in re.findall(r"[a-z_]+", method.lower()) if m not in ("e",)]


def _scattering_maps(channels: int, L: int, cross_channels: bool) -> float:
    c = (channels + 1) / 2 + (channels * (channels - 1) / 4 if cross_channels else 0.0)
    return c * (4.3 * L + L * L)


def estimate_synthesis_bytes(
    exemplar_shape: Sequence[int],
    size: int | Sequence[int] | None = None,
    *,
    n: int = 1,
    method: str = "scattering",
    L: int = 4,
    cross_channels: bool = True,
) -> int:
    """Peak memory (bytes) of :func:`texsynth.synthesize` with these settings.

    Parameters
    ----------
    exemplar_shape
        The exemplar's shape, ``[..., C, H, W]`` (``exemplar.shape``; ``[H, W]``: grey).
    size
        Output ``(height, width)`` or one int; default the exemplar's size.
    n
        Number of textures optimised together.
    method
        Method string (``"auto"`` counts as the costlier of its choices, scattering).
    L, cross_channels
        Scattering orientations and cross-channel statistics.

    Returns
    -------
    int
        The estimate (see the module's calibration table); 0 if the settings cannot be
        read (the run's own checks then say what is wrong).
    """
    try:
        shape = [int(s) for s in exemplar_shape]
        C = shape[-3] if len(shape) >= 3 else 1
        He, We = shape[-2], shape[-1]
        H, W = _hw(size, (He, We))
        n, L = int(n), int(L)
    except (TypeError, ValueError, IndexError):
        return 0
    ex_px, out_px = float(He * We), float(H * W) * max(n, 1)
    terms = _terms(method) if isinstance(method, str) else ["scattering"]
    total = 0.0
    if "scattering" in terms or "auto" in terms:
        maps = _scattering_maps(C, max(L, 1), cross_channels)
        total += maps * (_SCAT_EXEMPLAR * ex_px + _SCAT_SAMPLE * out_px)
    if any(t in _NETWORK_TERMS for t in terms):
        total += _VGG_WEIGHTS + _VGG_EXEMPLAR * ex_px + _VGG_SAMPLE * out_px
    if "patch" in terms:
        total += _PATCH_EXEMPLAR * ex_px + _PATCH_SAMPLE * out_px
    if "spectrum" in terms or total == 0:  # spectra, histograms, the images themselves
        total += 64.0 * C * (ex_px + out_px)
    return int(total)


def estimate_stats_bytes(hw: tuple[int, int], channels: int, L: int) -> int:
    """Peak memory (bytes) of ``texsynth stats`` (float64 scattering covariance) of an
    ``(H, W)`` image with ``channels`` channels and ``L`` orientations."""
    px = float(hw[0] * hw[1])
    return int(px * (channels + 1) / 2 * (_STATS_L * L + _STATS_L2 * L * L))


def estimate_training_bytes(
    exemplar_hw: tuple[int, int],
    size_hw: tuple[int, int],
    *,
    channels: int,
    batch: int,
    width: int,
    method: str = "scattering",
    L: int = 4,
) -> int:
    """Peak memory (bytes) of :func:`texsynth.generators.train_generator`: the loss of a
    batch of ``batch`` samples of ``size_hw`` (as :func:`estimate_synthesis_bytes`, times
    the cost of keeping the whole graph) plus the generator's activations (``width``)."""
    loss = estimate_synthesis_bytes((channels, *exemplar_hw), size_hw, n=batch, method=method, L=L)
    net = _TRAIN_NET * batch * size_hw[0] * size_hw[1] * width
    return int(_TRAIN_FACTOR * loss + net)


def estimate_sampling_bytes(config: dict[str, Any], n: int, hw: tuple[int, int]) -> int:
    """Peak memory (bytes) of drawing ``n`` samples of ``hw`` from a generator of this
    ``config`` (:attr:`SynthHalfUNet2D.config`, already validated): the activations of one
    batch of :func:`~texsynth.generators.generate_samples` (batches of at most 1 GiB, at
    least one sample) and the samples written a chunk at a time."""
    H, W = hw
    channels = list(config["channel_list"])
    # "Jmax": the key of earlier versions' files
    depth = int(config["depth"] if "depth" in config else config["Jmax"])
    skip = 2 * int(config["L"]) + 1
    peak = (3 * skip + 2 * channels[0]) * math.ceil(H / 2**depth) * math.ceil(W / 2**depth)
    for k in range(depth):
        h, w = math.ceil(H / 2 ** (depth - 1 - k)), math.ceil(W / 2 ** (depth - 1 - k))
        peak = max(peak, (3 * (channels[k] + skip) + 2 * channels[k + 1]) * h * w)
    one = 4 * peak
    batch = min(max(n, 1), max(1, BATCH_BYTES // max(one, 1)))
    out = 4 * H * W * int(config["image_channels"])
    chunk = min(max(n, 1), max(1, min(64, (256 << 20) // max(out, 1))))
    # the scale-0 wavelet multipliers of the skip inputs, built once per level size in
    # float64 and complex128 (about 48 bytes per pixel and orientation at their peak)
    multipliers = 48 * int(config["L"]) * H * W
    return int(batch * one + 6 * chunk * out + multipliers)
