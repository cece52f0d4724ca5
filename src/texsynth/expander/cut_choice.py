"""The cut-aware term of the selection head's choice (``w_cut``, off in the shipped model):
the minimum-error cut cost of every candidate copy against the copies its neighbours already
took, as image quilting chooses a patch by its cut (Efros & Freeman 2001); the cost per pair
is :func:`~texsynth.expander.seams.row_cut_cost`, the one the seam loss scores."""

from __future__ import annotations

import torch

from .seams import row_cut_cost

__all__ = ["cut_costs"]


def cut_costs(
    x: torch.Tensor,
    iy: torch.Tensor,
    ix: torch.Tensor,
    label: torch.Tensor,
    done: torch.Tensor,
    at: tuple[torch.Tensor, torch.Tensor, torch.Tensor],
    block: int,
    band: int,
    periodic: bool = False,
) -> torch.Tensor:
    """``[N, K]``: for each of the ``N`` blocks ``at = (bi, yi, xi)`` and each copy ``k``, the
    mean, over its four neighbours already chosen (``done [B, hb, wb]``, their copies in
    ``label``), of the minimum-error cut cost between copy ``k`` and the neighbour's copy
    across their shared edge (image quilting's choice by the cut, Efros & Freeman 2001): per
    pixel row (column) along the edge, every other one for even blocks, the least squared
    colour difference within ``band`` pixels of the edge (:func:`~texsynth.expander.seams.
    row_cut_cost`, as the seam loss scores a pair), averaged along the edge; 0 against a
    neighbour of the same copy, and 0 for a block with no chosen neighbour.

    ``x [B, C, H, W]``; ``iy [B, K, n_y]``, ``ix [B, K, n_x]``: every copy's source rows and
    columns on the canvas (pixels beyond its edge clamped, or circular with ``periodic``)."""
    bi, yi, xi = at
    B, C, H, W = x.shape
    K, n_y, n_x = iy.shape[1], iy.shape[-1], ix.shape[-1]
    hb, wb = label.shape[-2:]
    b, dev = block, x.device
    xt = x.permute(1, 0, 2, 3).reshape(C, B * H * W)
    sub = 2 if b % 2 == 0 else 1
    along = torch.arange(0, b, sub, device=dev)  # pixels along the edge
    across = torch.arange(-band, band, device=dev)  # the band, the edge at 0
    n = len(bi)
    total = x.new_zeros(n, K)
    count = x.new_zeros(n, 1)
    ar = torch.arange(n, device=dev)
    for dy, dx in ((0, -1), (0, 1), (-1, 0), (1, 0)):
        ny, nx = yi + dy, xi + dx
        inside = (ny >= 0) & (ny < hb) & (nx >= 0) & (nx < wb)
        if periodic:
            inside = torch.ones_like(inside)
        ny, nx = ny % hb, nx % wb
        has = inside & done[bi, ny, nx]
        if not bool(has.any()):
            continue
        if dx != 0:  # a vertical edge: rows along it, columns across
            rows = yi[:, None] * b + along[None, :]  # [N, R]
            cols = (xi + (dx > 0))[:, None] * b + across[None, :]  # [N, 2 band]
        else:
            rows = (yi + (dy > 0))[:, None] * b + across[None, :]
            cols = xi[:, None] * b + along[None, :]
        rows = rows % n_y if periodic else rows.clamp(0, n_y - 1)
        cols = cols % n_x if periodic else cols.clamp(0, n_x - 1)
        sy = iy[bi[:, None, None], torch.arange(K, device=dev)[None, :, None], rows[:, None]]
        sx = ix[bi[:, None, None], torch.arange(K, device=dev)[None, :, None], cols[:, None]]
        lin = (bi[:, None, None, None] * H + sy[..., :, None]) * W + sx[..., None, :]
        v = xt[:, lin]  # [C, N, K, rows, cols]
        other = v[:, ar, label[bi, ny, nx]][:, :, None]  # [C, N, 1, rows, cols]
        band_dim = -1 if dx != 0 else -2
        d = row_cut_cost(v, other, 0, band_dim).mean(-1)  # [N, K]
        total = total + d * has[:, None]
        count = count + has[:, None]
    return total / count.clamp_min(1.0)
