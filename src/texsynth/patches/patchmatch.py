"""Nearest-patch search: vectorised PatchMatch sweeps, exhaustive candidates, the occurrence
cost and the coarse-to-fine upsampling of the field of source corners.

PatchMatch (Barnes et al. 2009) with coherent candidates (Ashikhmin 2001): propagation from
grid neighbours, random search at halving radii and a few global random candidates, all
evaluated in parallel. The cost adds an occurrence penalty (Kaspar et al. 2015,
"Self-tuning texture optimization") and a coherence limit that bounds the size of any region
copied verbatim from the exemplar.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .grid import PatchGrid
from .lattice import Lattice
from .levels import ExemplarLevel, box_sum

__all__ = ["exact_candidates", "occurrence_cost", "patchmatch_sweeps", "upsample_nnf"]

_OCC_WEIGHT = 0.2  # occurrence penalty, in units of the normalised per-pixel squared distance
_COH_WEIGHT = 2.0  # coherence-limit penalty (larger than any plausible patch distance)
_COH_RANGE = 8  # grid steps: a source offset may not repeat this many grid cells away
_COH_TOL = 0  # offsets closer than this (pixels, per axis) count as the same
_STAY = 0.5  # fraction of queries kept at random in each sweep (damps herding)
_JUMPS = (1, 4)  # propagation distances, in grid steps


def patchmatch_sweeps(
    lv: ExemplarLevel,
    q: torch.Tensor,
    grid: PatchGrid,
    src_y: torch.Tensor,
    src_x: torch.Tensor,
    occ_cost: torch.Tensor | None,
    gen: torch.Generator,
    sweeps: int,
    extra: tuple[torch.Tensor, torch.Tensor] | None = None,
    lattice: Lattice | None = None,
    lvl: int = 0,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """A few parallel PatchMatch sweeps for query patches ``q``.

    ``src_y``/``src_x`` (``[ny, nx]``) hold the current source corners; returns updated ones
    and the match distance of each. With a ``lattice`` (at pyramid level ``lvl``) every
    candidate is snapped to the lattice phase; a lattice without a phase yet takes it from
    this search's result.
    """
    dev = q.device
    ny, nx = src_y.shape
    D = lv.D
    q = lv.project(q)
    qsq = q.pow(2).sum(1)
    gy = grid.ys[:, None].expand(ny, nx)
    gx = grid.xs[None, :].expand(ny, nx)
    # grid steps to the previous / next cell along each axis (wrapping when tiling)
    radii = []
    r = max(lv.hs, lv.ws) // 2
    while r >= 1:
        radii.append(r)
        r //= 2
    K = min(_COH_RANGE, ny - 1, nx - 1) if grid.tile else _COH_RANGE
    tol = _COH_TOL
    best_d = None
    # jump-flooding propagation distances (grid steps)
    steps = [st for st in _JUMPS if st < max(ny, nx)]
    shifts = []
    for st in steps:
        for sign in (1, -1):
            dy = (grid.ys - torch.roll(grid.ys, sign * st)) % grid.H
            dx = (grid.xs - torch.roll(grid.xs, sign * st)) % grid.W
            if sign < 0:
                dy = dy - grid.H
                dx = dx - grid.W
            shifts.append((sign * st, 0, dy[:, None]))
            shifts.append((sign * st, 1, dx[None, :]))
    for _ in range(sweeps):
        cy = [src_y]
        cx = [src_x]
        # propagation (Ashikhmin 2001 / Barnes et al. 2009): a neighbour's source, shifted
        for sh, axis, delta in shifts:
            ny_src = torch.roll(src_y, sh, axis)
            nx_src = torch.roll(src_x, sh, axis)
            if axis == 0:
                cy.append(ny_src + delta)
                cx.append(nx_src)
            else:
                cy.append(ny_src)
                cx.append(nx_src + delta)
        if extra is not None:
            cy.extend(extra[0].unbind(-1))
            cx.extend(extra[1].unbind(-1))
        # random search at halving radii
        for r in radii:
            ry = torch.randint(-r, r + 1, (ny, nx), generator=gen, device=dev)
            rx = torch.randint(-r, r + 1, (ny, nx), generator=gen, device=dev)
            cy.append(src_y + ry)
            cx.append(src_x + rx)
        for _ in range(2):  # global random candidates
            g = lv.random_sources((ny, nx), gen)
            cy.append(g // lv.ws)
            cx.append(g % lv.ws)
        CY = torch.stack(cy, -1)  # [ny, nx, Kc]
        CX = torch.stack(cx, -1)
        if lattice is not None and lattice.phase is not None:
            CY, CX = lattice.snap(CY, CX, gy[..., None], gx[..., None], lvl, lv.hs, lv.ws)
        CY = CY.clamp(0, lv.hs - 1)
        CX = CX.clamp(0, lv.ws - 1)
        idx = (CY * lv.ws + CX).reshape(ny * nx, -1)  # [Nq, Kc]
        cand = lv.feats[idx]  # [Nq, Kc, d]
        dot = torch.einsum("nd,nkd->nk", q, cand)
        dist = (qsq[:, None] + lv.sqn[idx] - 2 * dot).clamp_min(0) / D
        if occ_cost is None:
            occ_now = torch.zeros_like(lv.sqn)
        else:  # refreshed every sweep: parallel updates otherwise herd onto the same sources
            occ_now = occurrence_cost(lv, src_y, src_x)
        cost = dist + occ_now[idx]
        cost = cost.masked_fill(~lv.valid[idx], float("inf"))
        # coherence limit: no (near-)repeat of the offset used K grid cells away
        oy = (CY - gy[..., None]).reshape(ny * nx, -1)
        ox = (CX - gx[..., None]).reshape(ny * nx, -1)
        off_y = src_y - gy
        off_x = src_x - gx
        for ay, ax in ((K, 0), (-K, 0), (0, K), (0, -K), (K, K), (K, -K), (-K, K), (-K, -K)):
            ny_off = torch.roll(off_y, (ay, ax), (0, 1)).reshape(-1, 1)
            nx_off = torch.roll(off_x, (ay, ax), (0, 1)).reshape(-1, 1)
            same = ((oy - ny_off).abs() <= tol) & ((ox - nx_off).abs() <= tol)
            if not grid.tile:  # rolled neighbours across the border are not neighbours
                keep = torch.ones(ny, nx, dtype=torch.bool, device=dev)
                if ay > 0:
                    keep[:ay] = False
                elif ay < 0:
                    keep[ay:] = False
                if ax > 0:
                    keep[:, :ax] = False
                elif ax < 0:
                    keep[:, ax:] = False
                same &= keep.reshape(-1, 1)
            cost = cost + _COH_WEIGHT * same
        best = cost.argmin(1)
        if occ_cost is not None:
            # damping: half of the queries (at random) keep their source this sweep
            stay = torch.rand(best.shape, generator=gen, device=dev) < _STAY
            best = torch.where(stay & torch.isfinite(cost[:, 0]), torch.zeros_like(best), best)
        sel = idx.gather(1, best[:, None])[:, 0]
        best_d = dist.gather(1, best[:, None])[:, 0]
        src_y = (sel // lv.ws).reshape(ny, nx)
        src_x = (sel % lv.ws).reshape(ny, nx)
    assert best_d is not None
    if lattice is not None and lattice.phase is None:
        lattice.set_phase(gy, gx, src_y, src_x, lvl)
        src_y, src_x = lattice.snap(src_y, src_x, gy, gx, lvl, lv.hs, lv.ws)
    return src_y, src_x, best_d


def exact_candidates(
    lv: ExemplarLevel, q: torch.Tensor, occ_cost: torch.Tensor, k: int, ny: int, nx: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Exhaustive search: the ``k`` sources of lowest distance + occurrence cost per query,
    as ``[ny, nx, k]`` corner fields (matrix products, chunked to bound memory)."""
    D = lv.D
    q = lv.project(q)
    bias = (lv.sqn / D + occ_cost).masked_fill(~lv.valid, float("inf"))
    chunk = max(1, int(2**25 // max(1, lv.feats.shape[0])))
    out = []
    for i in range(0, q.shape[0], chunk):
        cost = bias[None] - (2.0 / D) * (q[i : i + chunk] @ lv.feats.T)
        out.append(cost.topk(k, dim=1, largest=False).indices)
    idx = torch.cat(out).reshape(ny, nx, k)
    return idx // lv.ws, idx % lv.ws


def occurrence_cost(lv: ExemplarLevel, src_y: torch.Tensor, src_x: torch.Tensor) -> torch.Tensor:
    """Kaspar et al. 2015 occurrence term per source patch ``[Ns]``: mean over the patch of the
    coverage of its exemplar pixels relative to a uniform coverage."""
    dev = src_y.device
    dt = lv.patches.dtype
    counts = torch.zeros(lv.hs * lv.ws, dtype=dt, device=dev)
    counts.index_add_(
        0, (src_y * lv.ws + src_x).reshape(-1), torch.ones(src_y.numel(), dtype=dt, device=dev)
    )
    p = lv.p
    cover = box_sum(F.pad(counts.reshape(lv.hs, lv.ws), (p - 1, p - 1, p - 1, p - 1)), p)
    fair = src_y.numel() * p * p / float(lv.h * lv.w)
    rel = box_sum(cover, p) / (p * p * fair)  # [hs, ws]
    return _OCC_WEIGHT * (rel - 1).clamp_min(0).reshape(-1)


def upsample_nnf(
    src_y: torch.Tensor,
    src_x: torch.Tensor,
    grid_c: PatchGrid,
    grid_f: PatchGrid,
    lv_f: ExemplarLevel,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Map a coarse field of source corners to the next finer grid (offsets doubled)."""
    iy = torch.bucketize(grid_f.ys // 2, grid_c.ys, right=True).sub(1).clamp(0, len(grid_c.ys) - 1)
    ix = torch.bucketize(grid_f.xs // 2, grid_c.xs, right=True).sub(1).clamp(0, len(grid_c.xs) - 1)
    sy = src_y[iy][:, ix] * 2 + (grid_f.ys[:, None] - 2 * grid_c.ys[iy][:, None])
    sx = src_x[iy][:, ix] * 2 + (grid_f.xs[None, :] - 2 * grid_c.xs[ix][None, :])
    return sy.clamp(0, lv_f.hs - 1), sx.clamp(0, lv_f.ws - 1)
