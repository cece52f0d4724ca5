"""Pixel-aligned image comparisons: SSIM, MS-SSIM and PSNR.

These need a reference that is aligned pixel for pixel with the result (expansion or
inpainting where the ground truth is known). For comparisons that need no alignment, see
:mod:`texsynth.metrics.texture`.

Every function takes ``x`` (the images to score) and ``y`` (the reference, "ground truth") as
``[B, C, H, W]`` tensors (``[H, W]`` and ``[C, H, W]`` are accepted too); one of them may have
batch size 1 and is then compared with every image of the other. They return one value per
image, a tensor of shape ``[B]`` in the floating dtype of the inputs (float64 if either input
is float64). Channels are averaged.

``data_range`` (the span of possible values, ``max - min``) sets the SSIM constants and the
PSNR peak. When it is not given: ``uint8`` images use 255; otherwise 1.0 if both ``x`` and
``y`` lie entirely in [0, 1], else the range ``max - min`` of each reference image ``y[b]``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F

from .._checks import as_image_batch, size_text
from ..errors import TexsynthError

__all__ = ["ms_ssim", "psnr", "ssim"]

_K1 = 0.01
_K2 = 0.03
_SIGMA = 1.5
_TRUNCATE = 3.5  # scikit-image's Gaussian window: radius int(3.5 * 1.5 + 0.5) = 5 (11 taps)
_MS_SSIM_WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)


# ---------------------------------------------------------------------------- shared helpers
def image_pair(
    x: torch.Tensor,
    y: torch.Tensor,
    xname: str = "x",
    yname: str = "y",
    *,
    same_size: bool = False,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Validate two image batches and give them a common floating dtype and device.

    Channels must match. Batch sizes must be equal or one of them 1 (it is expanded). With
    ``same_size`` the images must also have the same height and width.
    """
    a = as_image_batch(x, xname)
    b = as_image_batch(y, yname)
    dtype = torch.promote_types(a.dtype, b.dtype)
    a = a.to(dtype)
    b = b.to(device=a.device, dtype=dtype)
    if a.shape[1] != b.shape[1]:
        raise TexsynthError(
            f"{xname} has {a.shape[1]} channels but {yname} has {b.shape[1]}; "
            "compare images with the same number of channels (convert grey/colour first)"
        )
    if same_size and a.shape[-2:] != b.shape[-2:]:
        raise TexsynthError(
            f"{xname} is {size_text(*a.shape[-2:])} pixels but {yname} is "
            f"{size_text(*b.shape[-2:])}; this metric compares aligned pixels, so give images "
            "of the same size (or use a texture metric from texsynth.metrics.texture)"
        )
    Ba, Bb = a.shape[0], b.shape[0]
    if Ba != Bb:
        if Bb == 1:
            b = b.expand(Ba, *b.shape[1:])
        elif Ba == 1:
            a = a.expand(Bb, *a.shape[1:])
        else:
            raise TexsynthError(
                f"{xname} has batch size {Ba} but {yname} has {Bb}; give equal batch sizes "
                "or a single reference image"
            )
    return a, b


def _data_range(
    x_raw: torch.Tensor,
    y_raw: torch.Tensor,
    x: torch.Tensor,
    y: torch.Tensor,
    data_range: float | None,
) -> torch.Tensor:
    """Data range per image, ``[B, 1, 1, 1]`` (see the module docstring for the default)."""
    if data_range is not None:
        if (
            isinstance(data_range, bool)
            or not isinstance(data_range, int | float)
            or not (math.isfinite(data_range) and data_range > 0)
        ):
            raise TexsynthError(
                f"data_range must be a positive number (max - min of the value scale), "
                f"got {data_range!r}"
            )
        return torch.full((x.shape[0], 1, 1, 1), float(data_range), dtype=x.dtype, device=x.device)
    uint8 = all(isinstance(t, torch.Tensor) and t.dtype == torch.uint8 for t in (x_raw, y_raw))
    if uint8:
        value = 255.0
    elif bool(((x >= 0) & (x <= 1)).all()) and bool(((y >= 0) & (y <= 1)).all()):
        value = 1.0
    else:
        flat = y.reshape(y.shape[0], -1)
        r = (flat.max(1).values - flat.min(1).values).reshape(-1, 1, 1, 1)
        if bool((r <= 0).any()):
            raise TexsynthError(
                "cannot infer data_range: a reference image is constant and the images are not "
                "in [0, 1]; pass data_range= (max - min of the value scale) explicitly"
            )
        return r
    return torch.full((x.shape[0], 1, 1, 1), value, dtype=x.dtype, device=x.device)


def _symmetric_index(n: int, pad: int, device: torch.device) -> torch.Tensor:
    """Indices that pad a length-``n`` axis by ``pad`` on each side, edge sample repeated.

    This is SciPy's ``mode="reflect"`` (``d c b a | a b c d | d c b a``), as scikit-image uses.
    """
    i = torch.arange(-pad, n + pad, device=device) % (2 * n)
    return torch.where(i < n, i, 2 * n - 1 - i)


def _filter_crop(t: torch.Tensor, kernel: torch.Tensor, crop: int) -> torch.Tensor:
    """Filter ``[N, 1, H, W]`` with the separable 1-D ``kernel`` and drop ``crop`` px per side.

    Matches SciPy's ``correlate1d`` (``mode="reflect"``) along both axes followed by cropping;
    only the padding the kept region needs is added.
    """
    r = (kernel.numel() - 1) // 2
    H, W = t.shape[-2:]
    pad = max(r - crop, 0)
    if pad:
        t = t.index_select(-2, _symmetric_index(H, pad, t.device))
        t = t.index_select(-1, _symmetric_index(W, pad, t.device))
    k = kernel.to(t)
    t = F.conv2d(t, k.reshape(1, 1, 1, -1))
    t = F.conv2d(t, k.reshape(1, 1, -1, 1))
    off = crop + pad - r
    if off:
        t = t[..., off : t.shape[-2] - off, off : t.shape[-1] - off]
    return t


def _gaussian_kernel(dtype: torch.dtype) -> torch.Tensor:
    r = int(_TRUNCATE * _SIGMA + 0.5)
    d = torch.arange(-r, r + 1, dtype=dtype)
    k = torch.exp(-0.5 * (d / _SIGMA) ** 2)
    return k / k.sum()


def _ssim_maps(
    x: torch.Tensor,
    y: torch.Tensor,
    data_range: torch.Tensor,
    kernel: torch.Tensor,
    crop: int,
    cov_norm: float,
) -> tuple[torch.Tensor, torch.Tensor]:
    """SSIM and contrast-structure (cs) maps ``[B, C, H', W']`` on the cropped region."""
    B, C, H, W = x.shape
    stack = torch.stack([x, y, x * x, y * y, x * y]).reshape(5 * B * C, 1, H, W)
    ux, uy, uxx, uyy, uxy = _filter_crop(stack, kernel, crop).reshape(
        5, B, C, *_cropped(H, W, crop)
    )
    vx = cov_norm * (uxx - ux * ux)
    vy = cov_norm * (uyy - uy * uy)
    vxy = cov_norm * (uxy - ux * uy)
    c1 = (_K1 * data_range) ** 2
    c2 = (_K2 * data_range) ** 2
    cs = (2 * vxy + c2) / (vx + vy + c2)
    s = (2 * ux * uy + c1) / (ux * ux + uy * uy + c1) * cs
    return s, cs


def _cropped(H: int, W: int, crop: int) -> tuple[int, int]:
    return H - 2 * crop, W - 2 * crop


# ---------------------------------------------------------------------------- metrics
def ssim(
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    data_range: float | None = None,
    win_size: int | None = None,
    gaussian: bool = False,
) -> torch.Tensor:
    """Mean structural similarity (SSIM) of each image with its reference; higher is better.

    1 means identical; values fall towards 0 (and can go below) as local means, contrasts and
    correlations differ. This reproduces ``skimage.metrics.structural_similarity`` with the
    same settings (``K1=0.01``, ``K2=0.03``, sample covariances, scikit-image's borders): the
    SSIM map is averaged after cropping ``(win_size - 1) // 2`` pixels from every side, then
    averaged over channels.

    Parameters
    ----------
    x, y
        Images and reference, ``[B, C, H, W]`` (one of them may have batch size 1), same size.
    data_range
        ``max - min`` of the value scale; see the module docstring for the default.
    win_size
        Odd window side. ``None``: 7 for the uniform window, 11 with ``gaussian`` (as in
        scikit-image).
    gaussian
        Weight the window with a Gaussian of sigma 1.5 (scikit-image's ``gaussian_weights``;
        its 11-tap kernel does not change with ``win_size``, which then sets only the crop
        and the covariance correction, as in scikit-image).

    Returns
    -------
    torch.Tensor
        ``[B]`` mean SSIM per image.

    Raises
    ------
    TexsynthError
        For mismatched shapes, an even or too large window, or a bad ``data_range``.
    """
    a, b = image_pair(x, y, same_size=True)
    if win_size is None:
        win_size = 11 if gaussian else 7
    if (
        isinstance(win_size, bool)
        or not isinstance(win_size, int)
        or win_size < 1
        or (win_size % 2 == 0)
    ):
        raise TexsynthError(f"win_size must be an odd positive integer, got {win_size!r}")
    H, W = a.shape[-2:]
    if min(H, W) < win_size:
        raise TexsynthError(
            f"images of {size_text(H, W)} pixels are smaller than the {win_size}x{win_size} SSIM "
            "window; "
            f"give images of at least {win_size}x{win_size} pixels or a smaller odd win_size"
        )
    dr = _data_range(x, y, a, b, data_range)
    if gaussian:
        kernel = _gaussian_kernel(a.dtype)
    else:
        kernel = torch.full((win_size,), 1.0 / win_size, dtype=a.dtype)
    n = win_size**2
    cov_norm = n / (n - 1) if n > 1 else 1.0
    s, _ = _ssim_maps(a, b, dr, kernel, (win_size - 1) // 2, cov_norm)
    return s.mean((1, 2, 3))


def ms_ssim(
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    data_range: float | None = None,
    weights: Sequence[float] = _MS_SSIM_WEIGHTS,
) -> torch.Tensor:
    """Multi-scale SSIM (Wang, Simoncelli & Bovik 2003) of each image; higher is better.

    1 means identical, 0 means no similarity. At each of ``len(weights)`` scales the images are
    compared with an 11x11 Gaussian window (sigma 1.5, population covariances, only positions
    where the window fits); between scales they are averaged over 2x2 blocks (odd sizes lose
    their last row/column). The result is ``prod_i cs_i ** w_i`` over the finer scales times
    ``ssim_M ** w_M`` at the coarsest, where ``cs`` (contrast-structure) and ``ssim`` are means
    over pixels and channels.

    As torchmetrics does by default (``normalize="relu"``), negative mean ``cs`` and ``ssim``
    values are set to 0 before the powers (a fractional power of a negative number is
    undefined), so strongly anti-correlated images score 0.

    Parameters
    ----------
    x, y
        Images and reference, ``[B, C, H, W]`` (one of them may have batch size 1), same size;
        each side needs at least ``11 * 2 ** (len(weights) - 1)`` pixels (176 for 5 scales).
    data_range
        ``max - min`` of the value scale; see the module docstring for the default.
    weights
        Exponent of each scale, finest first (the default is Wang et al.'s).

    Returns
    -------
    torch.Tensor
        ``[B]`` MS-SSIM per image.
    """
    a, b = image_pair(x, y, same_size=True)
    w = [float(v) for v in weights]
    if not w or not all(math.isfinite(v) and v >= 0 for v in w):
        raise TexsynthError(
            f"weights must be a non-empty sequence of non-negative numbers, got {weights!r}"
        )
    kernel = _gaussian_kernel(a.dtype)
    win = kernel.numel()
    H, W = a.shape[-2:]
    need = win * 2 ** (len(w) - 1)
    h, wd = H, W
    for _ in range(len(w) - 1):
        h, wd = h // 2, wd // 2
    if min(h, wd) < win:
        raise TexsynthError(
            f"images of {size_text(H, W)} pixels are too small for MS-SSIM with {len(w)} scales: "
            "it needs "
            f"at least {need}x{need} pixels (the coarsest scale must fit the {win}x{win} window); "
            "give larger images or fewer weights"
        )
    dr = _data_range(x, y, a, b, data_range)
    crop = (win - 1) // 2
    values = []
    for i in range(len(w)):
        s, cs = _ssim_maps(a, b, dr, kernel, crop, 1.0)
        last = i == len(w) - 1
        values.append(torch.relu((s if last else cs).mean((1, 2, 3))))
        if not last:
            a = F.avg_pool2d(a, 2)
            b = F.avg_pool2d(b, 2)
    out = torch.ones_like(values[0])
    for v, e in zip(values, w, strict=True):
        out = out * v**e
    return out


def psnr(x: torch.Tensor, y: torch.Tensor, *, data_range: float | None = None) -> torch.Tensor:
    """Peak signal-to-noise ratio in dB, ``10 log10(data_range**2 / MSE)``; higher is better.

    ``inf`` for identical images. The mean squared error runs over channels and pixels; this
    matches ``skimage.metrics.peak_signal_noise_ratio(y, x, data_range=...)``.

    Parameters
    ----------
    x, y
        Images and reference, ``[B, C, H, W]`` (one of them may have batch size 1), same size.
    data_range
        ``max - min`` of the value scale; see the module docstring for the default.

    Returns
    -------
    torch.Tensor
        ``[B]`` PSNR per image, in decibels.
    """
    a, b = image_pair(x, y, same_size=True)
    dr = _data_range(x, y, a, b, data_range).reshape(-1)
    mse = (a - b).pow(2).mean((1, 2, 3))
    return 10 * torch.log10(dr**2 / mse)
