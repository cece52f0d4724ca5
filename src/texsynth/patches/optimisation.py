"""Texture optimisation of one output, coarse to fine (Kwatra et al. 2005, "Texture
optimization for example-based synthesis").

At every pyramid level, alternate a PatchMatch search of the output patches with a vote
(finest level, robust weights) or a stitch (coarse levels); the last pass stitches whole
exemplar pixels and moves each channel half-way to the exemplar's histogram, as Kaspar et
al. 2015 ("Self-tuning texture optimization") do.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

from ..cancellation import Cancel, check_cancelled
from .grid import PatchGrid, extract_patches, make_grid, pixel_index, vote
from .histogram import match_histogram
from .lattice import Lattice
from .levels import ExemplarLevel, level_features
from .patchmatch import exact_candidates, occurrence_cost, patchmatch_sweeps, upsample_nnf
from .stitch import stitch

__all__ = ["COARSE_MULT", "synthesize_one"]

COARSE_MULT = 4
"""EM iterations at the coarsest level = iterations * ``COARSE_MULT``."""
_STRIDE_DIV = 4  # grid stride = patch // _STRIDE_DIV (Kwatra et al.: about a quarter patch)
_EXACT_FLOPS = 4e8  # exhaustive search below this many multiply-adds per iteration
_EXACT_K = 4  # exhaustive candidates per query
_HIST_BLEND = 0.5  # final pass: move each channel this far towards the exemplar's histogram


def _vote_equal(
    lv: ExemplarLevel, pix: torch.Tensor, src_y: torch.Tensor, src_x: torch.Tensor, H: int, W: int
) -> torch.Tensor:
    """:func:`~texsynth.patches.grid.vote` of the source patches ``(src_y, src_x)``, each
    counted once."""
    patches = lv.patches[(src_y * lv.ws + src_x).reshape(-1)]
    ones = torch.ones(src_y.numel(), dtype=patches.dtype, device=patches.device)
    return vote(patches, pix, ones, lv.C, H, W)


def synthesize_one(
    ex_raw: torch.Tensor,
    exn: torch.Tensor,
    mean: torch.Tensor,
    std: torch.Tensor,
    ex_pyr: list[torch.Tensor],
    get_level: Callable[[int, int], ExemplarLevel],
    stages: list[tuple[int, int]],
    iters: int,
    sweeps: int,
    hw: tuple[int, int],
    tile: bool,
    init: torch.Tensor | None,
    mask: torch.Tensor | None,
    gen: torch.Generator,
    bar: object,
    callback: Callable[[int, int, torch.Tensor], None] | None,
    lattice: Lattice | None,
    cancel: Cancel | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """One output ``[C, H, W]`` of size ``hw`` in exemplar units, and the ``[2, H, W]``
    exemplar coordinates (row, column) each of its pixels was copied from.

    ``stages`` lists ``(pyramid level, patch size)`` from coarse to fine; ``get_level``
    returns the (cached) :class:`~texsynth.patches.levels.ExemplarLevel` of a stage. With
    ``mask`` (1 = synthesise) the pixels of ``init`` outside it are kept.
    """
    H, W = hw
    C = exn.shape[0]
    dev = exn.device
    init_n = None if init is None else (init - mean) / std
    x = None
    prev: tuple[PatchGrid, torch.Tensor, torch.Tensor, int] | None = None
    grid = src_y = src_x = None
    lv = None
    for lvl, ps in stages:
        Hl, Wl = H // 2**lvl, W // 2**lvl
        if lattice is not None:  # each level re-reads the phase at its own resolution
            lattice.phase = None
        lv = get_level(lvl, ps)
        s = max(2, ps // _STRIDE_DIV)
        grid = make_grid(Hl, Wl, ps, s, tile, dev)
        pix = pixel_index(grid, ps)
        known = None
        init_l = None
        if init_n is not None:
            init_l = level_features(init_n, lvl)[:, :Hl, :Wl]
        if mask is not None:
            m = mask[None, None]
            for _ in range(lvl):
                m = F.max_pool2d(m, 2)
            known = (m[0, 0, :Hl, :Wl] <= 0)[None]
        if prev is None:
            src_y = lv.random_sources((grid.ys.numel(), grid.xs.numel()), gen)
            src_x = src_y % lv.ws
            src_y = src_y // lv.ws
            if init_l is not None:
                x = init_l
                if known is not None:  # random patchwork inside the hole
                    noise = _vote_equal(lv, pix, src_y, src_x, Hl, Wl)
                    x = torch.where(known, init_l, noise)
            else:  # sharp random patchwork (a vote of random patches averages to mush)
                x = stitch(ex_pyr[lvl], grid, src_y, src_x, ps)[0]
        else:
            g_c, py, px, plvl = prev
            assert x is not None  # the previous stage's output
            if plvl == lvl:  # same resolution, new patch size: restart the field from x
                src_y = lv.random_sources((grid.ys.numel(), grid.xs.numel()), gen)
                src_x = src_y % lv.ws
                src_y = src_y // lv.ws
                q = extract_patches(x, pix)
                src_y, src_x, _ = patchmatch_sweeps(
                    lv, q, grid, src_y, src_x, None, gen, sweeps + 2, None, lattice, lvl
                )
            else:
                src_y, src_x = upsample_nnf(py, px, g_c, grid, lv)
                x = _vote_equal(lv, pix, src_y, src_x, Hl, Wl)
                if known is not None and init_l is not None:  # (a mask comes with init)
                    x = torch.where(known, init_l, x)
        exact = grid.n * lv.feats.shape[0] * lv.feats.shape[1] <= _EXACT_FLOPS
        n_it = iters * COARSE_MULT if prev is None else iters
        for it in range(n_it):
            q = extract_patches(x, pix)
            occ = occurrence_cost(lv, src_y, src_x)
            extra = exact_candidates(lv, q, occ, _EXACT_K, *src_y.shape) if exact else None
            src_y, src_x, d = patchmatch_sweeps(
                lv, q, grid, src_y, src_x, occ, gen, sweeps, extra, lattice, lvl
            )
            if lvl > 0:  # coarse levels: whole exemplar pieces, no averaging (no blur to keep)
                x = stitch(ex_pyr[lvl], grid, src_y, src_x, ps)[0]
            else:  # robust weights (Kwatra et al. 2005, r = 0.8): ||x_p - z_p||^(r - 2)
                wts = (d + 1e-3).pow(-0.6)
                x = vote(lv.patches[(src_y * lv.ws + src_x).reshape(-1)], pix, wts, lv.C, Hl, Wl)
            if known is not None and init_l is not None:
                x = torch.where(known, init_l, x)
            if callback is not None:
                callback(lvl, it, (x[:C] * std + mean)[None])
            check_cancelled(cancel)
            if bar is not None:
                bar.update(1)  # type: ignore[attr-defined]
        prev = (grid, src_y, src_x, lvl)
    assert grid is not None and src_y is not None and src_x is not None and lv is not None
    assert x is not None
    # final search on the converged image, then copy each pixel from the source most of the
    # patches over it agree on (whole coherent pieces, few seams, no blur)
    q = extract_patches(x, pix)
    occ = occurrence_cost(lv, src_y, src_x)
    src_y, src_x, _ = patchmatch_sweeps(
        lv, q, grid, src_y, src_x, occ, gen, sweeps, None, lattice, stages[-1][0]
    )
    out, ey, exx = stitch(ex_raw, grid, src_y, src_x, stages[-1][1])
    if mask is None and _HIST_BLEND > 0:  # half-way to the exemplar's value distribution
        out = out + _HIST_BLEND * (match_histogram(out, ex_raw) - out)
    if mask is not None and init is not None:
        out = mask[None] * out + (1 - mask[None]) * init
    return out, torch.stack([ey, exx])
