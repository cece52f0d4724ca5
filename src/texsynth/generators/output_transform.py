"""From the generator's normalised units to the exemplar's: histogram, colours, units.

A :class:`~texsynth.generators.SynthHalfUNet2D` works in the synthesis engine's space
(standardised, colour-decorrelated channels, :class:`texsynth.transforms.Standardizer`).
Its output is mapped back in two steps: each channel first gets exactly the exemplar's
value distribution (rank remapping onto a stored quantile table, as
:func:`texsynth.transforms.match_histogram`), then ``x = R (y * scale) + mean``.
"""

from __future__ import annotations

import torch

from .._checks import check_int_at_least
from ..errors import TexsynthError
from ..transforms import match_histogram

__all__ = [
    "apply_output_transform",
    "check_output_transform",
    "normal_quantiles",
    "quantile_table",
]


def check_output_transform(
    mean: torch.Tensor,
    rotation: torch.Tensor,
    scale: torch.Tensor,
    quantiles: torch.Tensor | None,
    *,
    image_channels: int,
    out_channels: int,
    n_quantiles: int,
) -> dict[str, torch.Tensor]:
    """The fields of an output transform as tensors, checked; a one-line error otherwise.

    Parameters
    ----------
    mean, rotation, scale
        ``[image_channels]``, ``[image_channels, out_channels]`` and ``[out_channels]``
        (positive), all finite.
    quantiles
        ``[out_channels, n_quantiles]``, sorted along each channel, or None (left out of
        the result).
    image_channels, out_channels, n_quantiles
        The generator's sizes.

    Returns
    -------
    dict
        ``"mean"``, ``"rotation"``, ``"scale"`` and, if given, ``"quantiles"``.
    """
    Ci, Co, Q = image_channels, out_channels, n_quantiles
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
    return values


def apply_output_transform(
    y: torch.Tensor,
    mean: torch.Tensor,
    rotation: torch.Tensor,
    scale: torch.Tensor,
    quantiles: torch.Tensor | None = None,
) -> torch.Tensor:
    """``y [N, out_channels, H, W]`` -> ``x = R (y * scale) + mean`` ``[N, image_channels,
    H, W]``, each sample and channel of ``y`` first remapped onto the ``quantiles
    [out_channels, n_quantiles]`` table if one is given (see
    :meth:`texsynth.generators.SynthHalfUNet2D.to_output`)."""
    if quantiles is not None:
        y = match_histogram(y, quantiles[None, :, None, :])
    m, R, s = (t.to(device=y.device, dtype=y.dtype) for t in (mean, rotation, scale))
    x = torch.einsum("bdhw,cd->bchw", y * s[:, None, None], R)
    return x + m[:, None, None]


def normal_quantiles(n: int) -> torch.Tensor:
    """Standard-normal quantiles at ``(k + 0.5) / n``: the default quantile table."""
    p = (torch.arange(n, dtype=torch.float64) + 0.5) / max(n, 1)
    return torch.special.ndtri(p).float()[None]


def quantile_table(y: torch.Tensor, n: int, mask: torch.Tensor | None = None) -> torch.Tensor:
    """Quantile table ``[C, n]`` of standardised exemplar pixels ``y [1, C, H, W]``.

    Entry ``k`` is the exemplar's quantile at probability ``(k + 0.5) / n``, with the same
    convention as :func:`texsynth.transforms.match_histogram` (sorted value ``i`` of ``N``
    sits at ``(i + 0.5) / N``, linear in between, clamped at the ends): with ``n = N`` the
    table is the sorted pixels, and :meth:`texsynth.generators.SynthHalfUNet2D.to_output`
    reproduces the exemplar's histogram up to this piecewise-linear interpolation.

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
    n = check_int_at_least(n, "n (number of quantiles)", 2, "e.g. 256")
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
