"""Stitching: each output pixel copied from the exemplar pixel that most of the patches over
it agree on (no averaging, so no blur)."""

from __future__ import annotations

import torch

from .grid import PatchGrid

__all__ = ["stitch"]


def _covering(pos: torch.Tensor, size: int, p: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Per pixel coordinate, the grid cells whose patch covers it and the position inside
    that patch: ``[size, K]`` cell indices (-1 where fewer than ``K`` cover) and offsets."""
    cells: list[list[int]] = [[] for _ in range(size)]
    for i, y0 in enumerate(pos.tolist()):
        for d in range(p):
            cells[(y0 + d) % size].append(i)
    k = max(len(c) for c in cells)
    table = torch.full((size, k), -1, dtype=torch.long)
    for y, c in enumerate(cells):
        table[y, : len(c)] = torch.tensor(c, dtype=torch.long)
    table = table.to(pos.device)
    r = (torch.arange(size, device=pos.device)[:, None] - pos[table.clamp_min(0)]) % size
    return table, r


def stitch(
    ex: torch.Tensor,
    grid: PatchGrid,
    src_y: torch.Tensor,
    src_x: torch.Tensor,
    p: int,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Each output pixel copied from one exemplar pixel (no blur): among the patches that
    cover it, the source pixel that most of them agree on (weighted towards patch centres),
    so the output is a patchwork of whole coherent pieces with seams where the vote turns,
    not a mix of sources in every stride-sized cell (the coarse levels' image)."""
    H, W = grid.H, grid.W
    ty, ry = _covering(grid.ys, H, p)  # [H, Ky]
    tx, rx = _covering(grid.xs, W, p)  # [W, Kx]
    Ky, Kx = ty.shape[1], tx.shape[1]
    half = p / 2

    def tent(r: torch.Tensor) -> torch.Tensor:
        return 1.0 - (r.to(ex.dtype) + 0.5 - half).abs() / (half + 1.0)

    wy = tent(ry).masked_fill(ty < 0, 0.0)  # [H, Ky]
    wx = tent(rx).masked_fill(tx < 0, 0.0)
    cy = ty.clamp_min(0)
    cx = tx.clamp_min(0)
    # candidate source coordinates [H, W, Ky * Kx] and weights
    sy = src_y[cy[:, None, :, None], cx[None, :, None, :]] + ry[:, None, :, None]
    sx = src_x[cy[:, None, :, None], cx[None, :, None, :]] + rx[None, :, None, :]
    wt = wy[:, None, :, None] * wx[None, :, None, :]
    sy = sy.reshape(H, W, Ky * Kx)
    sx = sx.reshape(H, W, Ky * Kx)
    wt = wt.reshape(H, W, Ky * Kx)
    score = torch.empty_like(wt)
    for i in range(Ky * Kx):
        same = (sy == sy[..., i : i + 1]) & (sx == sx[..., i : i + 1])
        score[..., i] = (wt * same).sum(-1)
    best = (score + 1e-6 * wt).argmax(-1, keepdim=True)
    ey = sy.gather(-1, best)[..., 0].clamp(0, ex.shape[1] - 1)
    ex_x = sx.gather(-1, best)[..., 0].clamp(0, ex.shape[2] - 1)
    return ex[:, ey, ex_x], ey, ex_x
