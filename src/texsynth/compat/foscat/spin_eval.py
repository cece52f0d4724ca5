"""foscat's ``eval(..., spin=1 | 2)`` computed by texsynth's spin statistics
(:class:`~texsynth.stats.healpix.HealpixScatteringCovariance` with ``spin``): Q/U
polarisation or U/V vector maps, the layout in docs/foscat-compat.md ("Polarisation")."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import torch

from ...errors import TexsynthError
from ...stats import ScatCov
from ...stats.healpix import HealpixScatteringCovariance
from .inputs import as_eval_mask, as_spin_batch
from .sky import check_out_nside, sky_layout
from .statistics import scat_cov

__all__ = ["eval_spin"]


def _cat_channels(parts: list[ScatCov]) -> ScatCov:
    """Statistics of the same maps under several masks, concatenated along the channels."""
    first = parts[0]
    if len(parts) == 1:
        return first
    kw: dict[str, Any] = {
        name: torch.cat([getattr(p, name) for p in parts], 1) for name, _ in first.fields()
    }
    return dataclasses.replace(first, **kw)


def eval_spin(
    operator: Callable[[int, int], HealpixScatteringCovariance],
    images: tuple[Any, Any, Any],
    *,
    norm: str | None,
    calc_var: bool,
    Jmax: int | None,
    sky: tuple[Any, Any, Any],
    spin: int,
    dtype: torch.dtype,
    device: torch.device,
) -> scat_cov | tuple[scat_cov, scat_cov]:
    """``funct.eval`` of spin-2 (or spin-1) maps ``(2, npix)`` or ``(B, 2F, npix)``.

    ``operator(spin, k)`` gives the statistics module of mask ``k`` (one per mask, so that
    each keeps its own ``'auto'`` reference); ``images`` is ``(image1, image2, mask)`` and
    ``sky`` is ``(out_nside, nside, cell_ids)`` as ``eval`` takes them. One call per mask
    (texsynth's spin masks are one map per sky), the results stacked on the mask axis:
    ``[B, N_mask, F, ...]``.
    """
    image1, image2, mask = images
    out_nside, nside, cell_ids = sky
    x, _ = as_spin_batch(image1, "image1", spin, dtype, device)
    y = None
    if image2 is not None:
        y, _ = as_spin_batch(image2, "image2", spin, dtype, device)
        if y.shape != x.shape:
            raise TexsynthError(
                f"image2 has shape {tuple(y.shape)} but image1 has {tuple(x.shape)}; "
                "cross statistics need arrays of the same shape"
            )
    layout = sky_layout(int(x.shape[-1]), nside, cell_ids)
    check_out_nside(out_nside, layout.nside)
    m = as_eval_mask(mask, (int(x.shape[-1]),), dtype, device)  # [1, N_mask, n]
    x = layout.embed(x)
    y = None if y is None else layout.embed(y)
    valid = layout.valid(dtype, device)
    if valid is not None:  # (the user's mask is per cell: 0 off the cells)
        m = valid[None, None] if m is None else layout.embed(m)
    if Jmax is None:
        Jmax = layout.max_scales()
    masks = [None] if m is None else [m[:, k : k + 1] for k in range(m.shape[1])]
    stats, sigmas = [], []
    for k, mk in enumerate(masks):
        op = operator(spin, k)
        out = op(x, y, mask=mk, norm=norm, calc_var=calc_var, J=Jmax)
        if calc_var:
            stats.append(out[0])
            sigmas.append(out[1])
        else:
            stats.append(out)
    fields = int(x.shape[1]) // 2
    result = scat_cov.from_texsynth(_cat_channels(stats), fields=fields)
    if not calc_var:
        return result
    return result, scat_cov.from_texsynth(_cat_channels(sigmas), fields=fields)
