"""Weight-free, non-parametric patch synthesis for structured textures.

Texture optimisation in the line of Kwatra et al. 2005 ("Texture optimization for
example-based synthesis"): coarse to fine over a box pyramid, alternate a nearest-patch
search for output patches on a strided grid with a vote that averages the chosen exemplar
patches. The search is a vectorised PatchMatch (Barnes et al. 2009; coherent candidates as in
Ashikhmin 2001): propagation from grid neighbours, random search at halving radii and a few
global random candidates, all evaluated in parallel. Its cost adds

* an occurrence penalty (Kaspar et al. 2015, "Self-tuning texture optimization"): exemplar
  pixels covered more than their fair share make the patches over them dearer, so the output
  draws on the whole exemplar instead of repeating one region;
* a coherence limit: a patch may not use (nearly) the same source offset as the grid patches a
  fixed distance away, which bounds the size of any region copied verbatim from the exemplar.

The last pass copies, for each output pixel, the exemplar pixel that most of the patches over
it agree on (weighted towards patch centres; no averaging), so the output is a patchwork of
whole coherent pieces and is not blurred; each channel is then moved half-way to the
exemplar's value distribution (histogram specification, as Kaspar et al. 2015 do), which
corrects the colour balance that the occurrence penalty leaves skewed. On an exemplar with a
regular lattice (tiles, grids), every source offset is held to one phase of the lattice, so
pieces are only ever placed where the lattice repeats.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from ._checks import as_image_batch, check_mask, size_text
from .cancellation import Cancel, check_cancelled
from .errors import TexsynthError

__all__ = ["synthesize_patches"]

_QUALITY = {
    # pyramid levels, EM iterations per level, PatchMatch sweeps per iteration,
    # extra final stage with smaller patches
    "fast": (4, 3, 2, False),
    "default": (4, 6, 3, False),
    "best": (4, 10, 3, True),
}

_OCC_WEIGHT = 0.2  # occurrence penalty, in units of the normalised per-pixel squared distance
_COH_WEIGHT = 2.0  # coherence-limit penalty (larger than any plausible patch distance)
_COH_RANGE = 8  # grid steps: a source offset may not repeat this many grid cells away
_COH_TOL = 0  # offsets closer than this (pixels, per axis) count as the same
_STRIDE_DIV = 4  # grid stride = patch // _STRIDE_DIV (Kwatra et al.: about a quarter patch)
_COARSE_MULT = 4  # EM iterations at the coarsest level = iterations * _COARSE_MULT
_STAY = 0.5  # fraction of queries kept at random in each sweep (damps herding)
_PCA_DIMS = 32  # matching dimensions
_JUMPS = (1, 4)  # propagation distances, in grid steps
_EXACT_FLOPS = 4e8  # exhaustive search below this many multiply-adds per iteration
_EXACT_K = 4  # exhaustive candidates per query
_MINMAX_WEIGHT = 1.0  # weight of the block max / min channels in the coarse matching features
_LATTICE_PEAK = 0.5  # autocorrelation a repeat must reach to count as a lattice period ...
_LATTICE_PROMINENCE = 0.5  # ... above the lowest autocorrelation at shorter lags
_HIST_BLEND = 0.5  # final pass: move each channel this far towards the exemplar's histogram
_ROWS_PEAK = 0.9  # a row (column) spacing: the row-mean profile repeats this well 3 times


@dataclass
class _Grid:
    """Top-left corners of the output patches of one level."""

    ys: torch.Tensor  # [ny] long
    xs: torch.Tensor  # [nx] long
    H: int
    W: int
    tile: bool

    @property
    def n(self) -> int:
        return self.ys.numel() * self.xs.numel()


def _axis_positions(size: int, p: int, s: int, tile: bool, device: torch.device) -> torch.Tensor:
    if tile:
        return torch.arange(0, size, s, device=device)
    pos = list(range(0, size - p + 1, s))
    if pos[-1] != size - p:
        pos.append(size - p)
    return torch.tensor(pos, device=device)


def _make_grid(H: int, W: int, p: int, s: int, tile: bool, device: torch.device) -> _Grid:
    return _Grid(
        _axis_positions(H, p, s, tile, device), _axis_positions(W, p, s, tile, device), H, W, tile
    )


def _pixel_index(grid: _Grid, p: int) -> torch.Tensor:
    """Flat pixel index ``[Nq, p*p]`` of every output patch (wrapping when tiling)."""
    d = torch.arange(p, device=grid.ys.device)
    yy = (grid.ys[:, None] + d[None]) % grid.H  # [ny, p]
    xx = (grid.xs[:, None] + d[None]) % grid.W  # [nx, p]
    idx = yy[:, None, :, None] * grid.W + xx[None, :, None, :]  # [ny, nx, p, p]
    return idx.reshape(grid.n, p * p)


def _extract(x: torch.Tensor, pix: torch.Tensor) -> torch.Tensor:
    """Patches ``[Nq, C*p*p]`` of ``x`` ``[C, H, W]`` (same ordering as ``F.unfold``)."""
    C = x.shape[0]
    return x.reshape(C, -1)[:, pix].permute(1, 0, 2).reshape(pix.shape[0], -1)


def _vote(
    src_patches: torch.Tensor, pix: torch.Tensor, weights: torch.Tensor, C: int, H: int, W: int
) -> torch.Tensor:
    """Weighted average of the chosen patches ``[Nq, C*p*p]`` at pixels ``pix``."""
    Nq, P = pix.shape
    vals = src_patches.reshape(Nq, C, P) * weights[:, None, None]
    acc = torch.zeros(C, H * W, dtype=src_patches.dtype, device=src_patches.device)
    acc.index_add_(1, pix.reshape(-1), vals.permute(1, 0, 2).reshape(C, -1))
    wsum = torch.zeros(H * W, dtype=src_patches.dtype, device=src_patches.device)
    wsum.index_add_(0, pix.reshape(-1), weights[:, None].expand(Nq, P).reshape(-1))
    return (acc / wsum.clamp_min(1e-12)).reshape(C, H, W)


def _level_features(img: torch.Tensor, lvl: int) -> torch.Tensor:
    """Matching features ``[C (+2), h, w]`` of the normalised image ``img`` at pyramid level
    ``lvl``: the box-filtered channels, plus (above the finest level) the maximum and minimum
    of the channel mean over each ``2**lvl`` block, so that structures thinner than a
    coarse pixel (grout, joints, cell borders) keep their full contrast where they would
    otherwise average away."""
    if lvl == 0:
        return img
    f = 2**lvl
    h, w = img.shape[-2] // f * f, img.shape[-1] // f * f
    img = img[None, :, :h, :w]
    avg = F.avg_pool2d(img, f)
    lum = img.mean(1, keepdim=True)
    hi = F.max_pool2d(lum, f)
    lo = -F.max_pool2d(-lum, f)
    return torch.cat([avg, _MINMAX_WEIGHT * hi, _MINMAX_WEIGHT * lo], 1)[0]


def _box_sum(a: torch.Tensor, p: int) -> torch.Tensor:
    """Sums of ``a`` ``[h, w]`` over every ``p x p`` window (valid positions)."""
    k = torch.ones(1, 1, p, p, dtype=a.dtype, device=a.device)
    return F.conv2d(a[None, None], k)[0, 0]


def _peak(profile: list[float], i: int) -> float:
    """Sub-pixel position of the peak at index ``i`` (a parabola through its neighbours)."""
    a, b, c = profile[i - 1], profile[i], profile[i + 1]
    curv = a - 2 * b + c
    return i + (0.5 * (a - c) / curv if curv < 0 else 0.0)


def _axis_period(profile: list[float], search: int) -> float | None:
    """The first lag up to ``search`` at which a normalised autocorrelation profile peaks
    above :data:`_LATTICE_PEAK`, at least :data:`_LATTICE_PROMINENCE` above its lowest value
    at shorter lags; refined on the farthest strong multiple of it in the profile (the
    error of one peak's position divides by the multiple) and rounded to a whole pixel when
    within a quarter of one (drawn and generated lattices). ``None`` if there is none."""
    low = profile[0]
    for i in range(1, min(search, len(profile) - 1)):
        low = min(low, profile[i])
        b = profile[i]
        if (
            b >= profile[i - 1]
            and b >= profile[i + 1]
            and b >= _LATTICE_PEAK
            and b - low >= _LATTICE_PROMINENCE
        ):
            period = _peak(profile, i)
            k = int((len(profile) - 2) // period)
            while k > 1:
                j = round(k * period)
                j = max(range(j - 1, j + 2), key=lambda t: profile[t])
                if 0 < j < len(profile) - 1 and profile[j] >= _LATTICE_PEAK:
                    period = _peak(profile, j) / k
                    break
                k -= 1
            return float(round(period)) if abs(period - round(period)) < 0.25 else period
    return None


def _warn_lattice_seam(periods: tuple[float | None, float | None], hw: tuple[int, int]) -> None:
    """Warn when a tiling output cannot hold a whole number of the exemplar's lattice periods
    (its wrap-around then breaks the lattice), naming the nearest size that can."""
    for per, n, axis, way in zip(
        periods, hw, ("height", "width"), ("vertically", "horizontally"), strict=True
    ):
        if per is None:
            continue
        k = max(1, round(n / per))
        if abs(n - k * per) >= 1:
            good = round(k * per) if per == round(per) else f"about {k * per:.0f}"
            warnings.warn(
                f"the exemplar repeats every {per:g} px {way}; "
                f"an output {axis} of {n} px holds no whole number of repeats, so the tiled "
                f"output shows a seam at its edge: give a {axis} of {good} px for a seamless tile",
                UserWarning,
                stacklevel=4,
            )


def _autocorrelation(x: torch.Tensor) -> torch.Tensor:
    """Non-circular autocorrelation of ``x`` (1-D or 2-D, mean removed), normalised by the
    overlap at each lag and by the lag-0 value: 1 at lag 0."""
    x = x - x.mean()
    shape = x.shape
    dims = tuple(range(-len(shape), 0))
    spec = torch.fft.rfftn(x, s=[2 * n for n in shape], dim=dims)
    ac = torch.fft.irfftn(spec.abs() ** 2, s=[2 * n for n in shape], dim=dims)
    ac = ac[tuple(slice(0, n) for n in shape)]
    count = torch.ones((), dtype=ac.dtype, device=ac.device)
    for i, n in enumerate(shape):
        lag = n - torch.arange(n, dtype=ac.dtype, device=ac.device)
        count = count * lag.reshape([-1 if j == i else 1 for j in range(len(shape))])
    ac = ac / count
    return ac / ac.reshape(-1)[0] if float(ac.reshape(-1)[0]) > 0 else torch.zeros_like(ac)


def _row_period(profile: list[float], search: int) -> float | None:
    """A spacing of rows (text lines, courses) from the autocorrelation of the row-mean
    profile: a period whose first three multiples all repeat at least :data:`_ROWS_PEAK`
    (a mean profile is noisy, so one peak is not enough)."""
    period = _axis_period(profile, search)
    if period is None:
        return None
    for k in (1, 2, 3):
        j = round(k * period)
        if j >= len(profile) or max(profile[max(0, j - 1) : j + 2]) < _ROWS_PEAK:
            return None
    return period


def lattice_periods(exemplar: torch.Tensor) -> tuple[float | None, float | None]:
    """Vertical and horizontal lattice periods of a ``[C, h, w]`` exemplar, in pixels.

    A period is a lag at which the exemplar's (non-circular, overlap-normalised)
    autocorrelation of its channel mean repeats strongly (tiles, chequerboards, regular
    grids). An axis without one may still have evenly spaced rows (text lines): then the
    period is the spacing at which the profile of row (column) means repeats at least
    :data:`_ROWS_PEAK` at three multiples. ``None`` on an axis with neither, and for every
    irregular texture. At least two periods must fit in the exemplar.
    """
    lum = exemplar.to(torch.float64).mean(0)
    h, w = lum.shape
    ac = _autocorrelation(lum)
    # periods are found up to half the side (two must fit) and refined up to three quarters
    py = _axis_period(ac[: 3 * h // 4, 0].tolist(), h // 2 + 1)
    px = _axis_period(ac[0, : 3 * w // 4].tolist(), w // 2 + 1)
    if py is None:
        py = _row_period(_autocorrelation(lum.mean(1))[: 3 * h // 4].tolist(), h // 2 + 1)
    if px is None:
        px = _row_period(_autocorrelation(lum.mean(0))[: 3 * w // 4].tolist(), w // 2 + 1)
    return py, px


@dataclass
class _Lattice:
    """Lattice periods of the exemplar (full-resolution pixels) and the phase every source
    offset is held to (read from the first search of each pyramid level, a free search
    started from the previous level's in-phase sources, so that the phase sharpens with
    the resolution and an inpainting keeps the phase of the kept pixels)."""

    periods: tuple[float | None, float | None]
    phase: tuple[float, float] | None = None

    def snap(
        self,
        cy: torch.Tensor,
        cx: torch.Tensor,
        gy: torch.Tensor,
        gx: torch.Tensor,
        lvl: int,
        hs: int,
        ws: int,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Move candidate corners ``cy``/``cx`` (any shape broadcasting with the grid
        corners ``gy``/``gx``) to the nearest corner whose offset from the output corner is
        the lattice phase modulo the period, so pieces never break the lattice."""
        assert self.phase is not None
        out = []
        for c, g, per, ph, n in (
            (cy, gy, self.periods[0], self.phase[0], hs),
            (cx, gx, self.periods[1], self.phase[1], ws),
        ):
            if per is None or per / 2**lvl < 2:
                out.append(c)
                continue
            per_l, ph_l = per / 2**lvl, ph / 2**lvl
            d = (g - c).to(torch.float64) - ph_l
            s = c + (d - per_l * torch.round(d / per_l))
            s = torch.where(s < 0, s + per_l, s)
            s = torch.where(s > n - 1, s - per_l, s)
            out.append(torch.round(s).long().clamp(0, n - 1))
        return out[0], out[1]

    def set_phase(
        self, gy: torch.Tensor, gx: torch.Tensor, sy: torch.Tensor, sx: torch.Tensor, lvl: int
    ) -> None:
        """The most common offset modulo each period among the current sources (the mode
        of a one-pixel histogram at this level: robust to the few sources that slipped a
        pixel), stored at full resolution."""
        ph = []
        for g, s, per in ((gy, sy, self.periods[0]), (gx, sx, self.periods[1])):
            if per is None or per / 2**lvl < 2:
                ph.append(0.0)
                continue
            per_l = per / 2**lvl
            r = torch.remainder((g - s).to(torch.float64), per_l).reshape(-1)
            bins = torch.floor(r).long().clamp(0, math.ceil(per_l) - 1)
            mode = int(torch.bincount(bins).argmax())
            ph.append(float(r[bins == mode].mean()) * 2**lvl)
        self.phase = (ph[0], ph[1])


class _Level:
    """Exemplar patches and search state of one pyramid level."""

    def __init__(
        self,
        ex: torch.Tensor,
        p: int,
        hole: torch.Tensor | None,
    ) -> None:
        C, h, w = ex.shape
        self.C, self.h, self.w, self.p = C, h, w, p
        self.hs, self.ws = h - p + 1, w - p + 1
        self.patches = F.unfold(ex[None], p)[0].T.contiguous()  # [Ns, C*p*p]
        self.D = self.patches.shape[1]
        # matching runs on PCA-reduced patch vectors (Kwatra et al. 2005 do the same)
        self.mu = self.patches.mean(0)
        cen = self.patches - self.mu
        if self.D > _PCA_DIMS:
            cov = cen.T @ cen / cen.shape[0]
            _, vecs = torch.linalg.eigh(cov.double())
            self.basis: torch.Tensor | None = vecs[:, -_PCA_DIMS:].to(ex.dtype).contiguous()
            self.feats = (cen @ self.basis).contiguous()
        else:
            self.basis = None
            self.feats = cen.contiguous()
        self.sqn = self.feats.pow(2).sum(1)
        valid = torch.ones(self.hs, self.ws, dtype=torch.bool, device=ex.device)
        if hole is not None:
            valid = _box_sum(hole.to(ex.dtype), p) < 0.5
            if not bool(valid.any()):
                raise TexsynthError(
                    f"the mask leaves no whole {p}x{p} exemplar patch outside the hole; "
                    "use a smaller hole or a smaller patch_size"
                )
        self.valid = valid.reshape(-1)
        self.valid_idx = self.valid.nonzero()[:, 0]

    def project(self, q: torch.Tensor) -> torch.Tensor:
        """Query patches ``[Nq, D]`` in the reduced space of the exemplar patches."""
        q = q - self.mu
        return q if self.basis is None else q @ self.basis

    def random_sources(self, shape: tuple[int, ...], gen: torch.Generator) -> torch.Tensor:
        k = torch.randint(
            0, self.valid_idx.numel(), shape, generator=gen, device=self.valid_idx.device
        )
        return self.valid_idx[k]


def _vote_equal(
    lv: _Level, pix: torch.Tensor, src_y: torch.Tensor, src_x: torch.Tensor, H: int, W: int
) -> torch.Tensor:
    """:func:`_vote` of the source patches ``(src_y, src_x)``, each counted once."""
    patches = lv.patches[(src_y * lv.ws + src_x).reshape(-1)]
    ones = torch.ones(src_y.numel(), dtype=patches.dtype, device=patches.device)
    return _vote(patches, pix, ones, lv.C, H, W)


def _pm_iteration(
    lv: _Level,
    q: torch.Tensor,
    grid: _Grid,
    src_y: torch.Tensor,
    src_x: torch.Tensor,
    occ_cost: torch.Tensor | None,
    gen: torch.Generator,
    sweeps: int,
    extra: tuple[torch.Tensor, torch.Tensor] | None = None,
    lattice: _Lattice | None = None,
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
            occ_now = _occurrence_cost(lv, src_y, src_x)
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


def _exact_candidates(
    lv: _Level, q: torch.Tensor, occ_cost: torch.Tensor, k: int, ny: int, nx: int
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


def _occurrence_cost(lv: _Level, src_y: torch.Tensor, src_x: torch.Tensor) -> torch.Tensor:
    """Kaspar et al. 2015 occurrence term per source patch ``[Ns]``: mean over the patch of the
    coverage of its exemplar pixels relative to a uniform coverage."""
    dev = src_y.device
    dt = lv.patches.dtype
    counts = torch.zeros(lv.hs * lv.ws, dtype=dt, device=dev)
    counts.index_add_(
        0, (src_y * lv.ws + src_x).reshape(-1), torch.ones(src_y.numel(), dtype=dt, device=dev)
    )
    p = lv.p
    cover = _box_sum(F.pad(counts.reshape(lv.hs, lv.ws), (p - 1, p - 1, p - 1, p - 1)), p)
    fair = src_y.numel() * p * p / float(lv.h * lv.w)
    rel = _box_sum(cover, p) / (p * p * fair)  # [hs, ws]
    return _OCC_WEIGHT * (rel - 1).clamp_min(0).reshape(-1)


def _upsample_nnf(
    src_y: torch.Tensor,
    src_x: torch.Tensor,
    grid_c: _Grid,
    grid_f: _Grid,
    lv_f: _Level,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Map a coarse field of source corners to the next finer grid (offsets doubled)."""
    iy = torch.bucketize(grid_f.ys // 2, grid_c.ys, right=True).sub(1).clamp(0, len(grid_c.ys) - 1)
    ix = torch.bucketize(grid_f.xs // 2, grid_c.xs, right=True).sub(1).clamp(0, len(grid_c.xs) - 1)
    sy = src_y[iy][:, ix] * 2 + (grid_f.ys[:, None] - 2 * grid_c.ys[iy][:, None])
    sx = src_x[iy][:, ix] * 2 + (grid_f.xs[None, :] - 2 * grid_c.xs[ix][None, :])
    return sy.clamp(0, lv_f.hs - 1), sx.clamp(0, lv_f.ws - 1)


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


def _stitch(
    ex: torch.Tensor,
    grid: _Grid,
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


def match_histogram(x: torch.Tensor, reference: torch.Tensor) -> torch.Tensor:
    """Give each channel of ``x`` ``[C, H, W]`` the value distribution of ``reference``'s
    (histogram specification, as in Heeger & Bergen 1995 and Kaspar et al. 2015).

    The map is monotone and keeps equal values equal (each distinct value of ``x`` goes to
    the mean of the reference quantiles its ranks cover), so flat regions stay flat and an
    ``x`` that already has the reference's distribution is returned unchanged."""
    out = torch.empty_like(x)
    for c in range(x.shape[0]):
        v = x[c].reshape(-1)
        ref = reference[c].reshape(-1).sort().values.to(x.dtype)
        values, inverse, counts = torch.unique(v, return_inverse=True, return_counts=True)
        # rank range [lo, hi) of each distinct value, mapped onto the reference's quantiles
        hi = counts.cumsum(0).to(torch.float64)
        lo = hi - counts
        n, m = v.numel(), ref.numel()
        r64 = ref.to(torch.float64)
        csum = torch.cat([r64.new_zeros(1), r64.cumsum(0)])
        # mean of the quantile function over [lo, hi) * m / n (its integral is piecewise
        # linear through csum)
        ends = []
        for t in (lo * m / n, hi * m / n):
            i = t.floor().long().clamp(0, m - 1)
            ends.append(csum[i] + (t - i) * r64[i])
        mapped = (ends[1] - ends[0]) / (counts.to(torch.float64) * m / n)
        out[c] = mapped.to(x.dtype)[inverse].reshape(x.shape[1:])
    return out


def _as_size(size: object, default: tuple[int, int]) -> tuple[int, int]:
    if size is None:
        return default
    if isinstance(size, bool):
        raise TexsynthError(f"size must be an int or (H, W), got {size!r}")
    if isinstance(size, int):
        hw = (size, size)
    elif isinstance(size, (tuple, list)) and len(size) == 2:
        hw = tuple(size)
    else:
        raise TexsynthError(f"size must be an int or (H, W), got {size!r}")
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in hw):
        raise TexsynthError(f"size must hold integers, got {size!r}")
    if min(hw) <= 0:
        raise TexsynthError(f"size must be positive, got {size!r}; give e.g. size=256")
    return int(hw[0]), int(hw[1])


def synthesize_patches(
    exemplar: torch.Tensor,
    *,
    size: int | tuple[int, int] | None = None,
    n: int = 1,
    seed: int | None = None,
    tile: bool = True,
    mask: torch.Tensor | None = None,
    init: torch.Tensor | None = None,
    quality: str = "default",
    patch_size: int | None = None,
    lattice: bool = True,
    progress: bool = True,
    callback: Callable[[int, int, torch.Tensor], None] | None = None,
    cancel: Cancel | None = None,
) -> torch.Tensor:
    """Synthesise textures by multi-resolution patch search and voting.

    Texture optimisation (Kwatra et al. 2005) over a box pyramid with a vectorised PatchMatch
    search (Barnes et al. 2009; coherent candidates after Ashikhmin 2001), an occurrence
    penalty (Kaspar et al. 2015) and a coherence limit that bounds verbatim copies; the last
    pass copies exemplar pixels (no blur). Suited to structured textures (bricks, tiles,
    cells, pebbles, stripes). No weights, no gradients.

    Parameters
    ----------
    exemplar
        ``[H, W]``, ``[C, H, W]`` or ``[1, C, H, W]`` float image in its own units (any
        number of channels).
    size
        Output size, an int or ``(H, W)``; default the exemplar's (or ``init``'s) size. May
        exceed the exemplar.
    n
        Number of outputs. Member ``k`` uses seed ``seed + k`` and equals a run with
        ``n=1, seed=seed + k``.
    seed
        Base seed (``None``: fresh randomness). The global RNG is never used.
    tile
        ``True``: periodic output that tiles seamlessly (patches wrap around the borders).
        ``False``: patches stay inside the output (no wrap).
    mask
        Inpainting mask of the output's size, 1 = synthesise, 0 = keep from ``init``
        (default: the exemplar itself, whose patches overlapping the hole are then not used
        as sources). Kept pixels are returned exactly.
    init
        Warm start ``[H, W]``, ``[C, H, W]`` or ``[1|n, C, H, W]`` of the output's size.
    quality
        ``"fast"``, ``"default"`` or ``"best"`` (more levels, iterations, and a final pass
        with smaller patches).
    patch_size
        Patch side at every level (default 8; at least 3, at most half the exemplar's
        shorter side).
    lattice
        Detect a regular lattice in the exemplar (tiles, chequerboards, grids: a strong
        repeat of its autocorrelation, see :func:`lattice_periods`) and place every piece in
        phase with it, so that the lattice never shears or breaks. Irregular textures are
        unaffected. With ``tile=True`` the output wraps without a seam only when its size is
        a multiple of the period.
    progress
        Show a ``tqdm`` progress bar.
    callback
        Called as ``callback(level, iteration, x)`` after every iteration, ``level`` 0 being
        the finest and ``x`` the current ``[1, C, h, w]`` image in exemplar units.
    cancel
        Cancels the whole run (a ``threading.Event`` or a function returning ``True``,
        checked at every iteration): :class:`~texsynth.synthesis.Cancelled` is raised.

    Returns
    -------
    torch.Tensor
        ``[n, C, H, W]`` in the exemplar's units, dtype and device.

    Raises
    ------
    TexsynthError
        For bad inputs or options.
    """
    return _synthesize_patches(
        exemplar,
        size=size,
        n=n,
        seed=seed,
        tile=tile,
        mask=mask,
        init=init,
        quality=quality,
        patch_size=patch_size,
        lattice=lattice,
        progress=progress,
        callback=callback,
        cancel=cancel,
    )


def _synthesize_patches(
    exemplar: torch.Tensor,
    *,
    size: int | tuple[int, int] | None,
    n: int,
    seed: int | None,
    tile: bool,
    mask: torch.Tensor | None,
    init: torch.Tensor | None,
    quality: str,
    patch_size: int | None,
    progress: bool,
    callback: Callable[[int, int, torch.Tensor], None] | None,
    lattice: bool = True,
    record: list[torch.Tensor] | None = None,
    cancel: Cancel | None = None,
) -> torch.Tensor:
    """:func:`synthesize_patches`; ``record`` (if given) receives, per output, the ``[2, H, W]``
    exemplar coordinates (row, column) each output pixel was copied from."""
    ex = as_image_batch(exemplar, "exemplar")
    if ex.shape[0] != 1:
        raise TexsynthError(
            f"exemplar must be a single image, got batch size {ex.shape[0]}; pass exemplar[k]"
        )
    if not isinstance(lattice, bool):
        raise TexsynthError(f"lattice must be True or False, got {lattice!r}")
    if quality not in _QUALITY:
        raise TexsynthError(
            f"unknown quality {quality!r}; choose one of {', '.join(map(repr, _QUALITY))}"
        )
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise TexsynthError(f"n must be an integer >= 1, got {n!r}")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
        raise TexsynthError(f"seed must be an int or None, got {seed!r}")
    if callback is not None and not callable(callback):
        raise TexsynthError("callback must be callable as callback(level, iteration, x)")
    _, C, h, w = ex.shape
    p = 8 if patch_size is None else patch_size
    if isinstance(p, bool) or not isinstance(p, int) or p < 3:
        raise TexsynthError(f"patch_size must be an integer >= 3, got {patch_size!r}")
    if p > min(h, w) // 2:
        if patch_size is not None:
            raise TexsynthError(
                f"patch_size={p} is too big for the {h}x{w} exemplar; give at most "
                f"{min(h, w) // 2} (half its shorter side) or a larger exemplar"
            )
        p = min(h, w) // 2
        if p < 3:
            raise TexsynthError(
                f"exemplar of {h}x{w} pixels is too small for patch synthesis; give at least 6x6"
            )
    dt, dev = ex.dtype, ex.device

    init_b = None
    if init is not None:
        init_b = as_image_batch(init, "init").to(dtype=dt, device=dev)
        if init_b.shape[1] != C:
            raise TexsynthError(
                f"init has {init_b.shape[1]} channels but the exemplar has {C}; give matching "
                "channels"
            )
        if init_b.shape[0] not in (1, n):
            raise TexsynthError(f"init must have batch size 1 or n={n}, got {init_b.shape[0]}")
    if size is None:
        if init_b is not None:
            default_hw = tuple(init_b.shape[-2:])
        elif mask is not None and isinstance(mask, torch.Tensor) and mask.dim() >= 2:
            default_hw = tuple(mask.shape[-2:])
        else:
            default_hw = (h, w)
    else:
        default_hw = (h, w)
    H, W = _as_size(size, default_hw)  # type: ignore[arg-type]
    if min(H, W) < p:
        raise TexsynthError(f"size {H}x{W} is smaller than patch_size={p}; give a larger size")
    if init_b is not None and tuple(init_b.shape[-2:]) != (H, W):
        raise TexsynthError(
            f"init is {size_text(*init_b.shape[-2:])} pixels but the output is "
            f"{size_text(H, W)}; give init of the output's size",
            cli=f"--init is {size_text(*init_b.shape[-2:])} pixels but the output is "
            f"{size_text(H, W)}; give --init of the output's size",
        )
    hole_ex = None
    mask_b = None
    if mask is not None:
        mask_b = check_mask(mask, torch.Size((n, C, H, W))).to(dtype=dt, device=dev)
        if mask_b.shape[1] != 1:
            mask_b = mask_b.amax(1, keepdim=True)
        if init_b is None:
            if (H, W) != (h, w):
                raise TexsynthError(
                    f"mask is {size_text(H, W)} pixels but the exemplar is {size_text(h, w)}; "
                    "with a mask and no init the exemplar is inpainted, so give a mask of its "
                    "size (or pass init=...)",
                    cli=f"--mask is {size_text(H, W)} pixels but the exemplar is "
                    f"{size_text(h, w)}; give a mask of the exemplar's size (or the image to "
                    "fill with --init)",
                )
            init_b = ex
            if mask_b.shape[0] != 1:
                raise TexsynthError(
                    "with mask and no init, give a single [H, W] mask (the exemplar's hole)"
                )
            hole_ex = mask_b[0, 0] > 0

    # normalisation used for matching only (outputs hold exemplar values)
    mean = ex.mean(dim=(2, 3), keepdim=True)
    std = ex.std().clamp_min(1e-12)
    exn = ((ex - mean) / std)[0]

    levels_max, iters, sweeps, extra = _QUALITY[quality]
    levels = 1
    while (
        levels < levels_max and min(h, w) // 2**levels >= 3 * p and min(H, W) // 2**levels >= 2 * p
    ):
        levels += 1
    stages: list[tuple[int, int]] = [(lvl, p) for lvl in range(levels - 1, -1, -1)]
    if extra:
        stages.append((0, max(3, (p * 3) // 4)))

    # pyramids (box filter); hole of the exemplar: max-pooled so any hole pixel excludes
    ex_pyr = [_level_features(exn, lvl) for lvl in range(levels)]
    hole_pyr = [hole_ex]
    for _ in range(1, levels):
        hole_pyr.append(
            None
            if hole_pyr[-1] is None
            else F.max_pool2d(hole_pyr[-1][None, None].to(dt), 2)[0, 0] > 0
        )
    level_cache: dict[tuple[int, int], _Level] = {}
    # regular lattices (tiles, grids): every piece is placed in phase with the lattice
    periods = lattice_periods(exn) if lattice else (None, None)
    if tile:
        _warn_lattice_seam(periods, (H, W))

    def get_level(lvl: int, ps: int) -> _Level:
        key = (lvl, ps)
        if key not in level_cache:
            level_cache[key] = _Level(ex_pyr[lvl], ps, hole_pyr[lvl])
        return level_cache[key]

    total = n * (len(stages) - 1 + _COARSE_MULT) * iters  # (the coarsest stage runs longer)
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=total, desc="patch synthesis", leave=False)

    base = torch.Generator().seed() if seed is None else seed
    outs = []
    sources: list[torch.Tensor] = []
    try:
        for k in range(n):
            gen = torch.Generator(device=dev)
            gen.manual_seed((base + k) % (2**63))
            ini = None if init_b is None else init_b[min(k, init_b.shape[0] - 1)]
            msk = None if mask_b is None else mask_b[min(k, mask_b.shape[0] - 1), 0]
            out, srcs = _synthesize_one(
                ex[0],
                exn,
                mean[0],
                std,
                ex_pyr,
                get_level,
                stages,
                iters,
                sweeps,
                (H, W),
                tile,
                ini,
                msk,
                gen,
                bar,
                callback,
                None if periods == (None, None) else _Lattice(periods),
                cancel,
            )
            outs.append(out)
            sources.append(srcs)
    finally:
        if bar is not None:
            bar.close()
    if record is not None:
        record.extend(sources)
    return torch.stack(outs)


def _synthesize_one(
    ex_raw: torch.Tensor,
    exn: torch.Tensor,
    mean: torch.Tensor,
    std: torch.Tensor,
    ex_pyr: list[torch.Tensor],
    get_level: Callable[[int, int], _Level],
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
    lattice: _Lattice | None,
    cancel: Cancel | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    H, W = hw
    C = exn.shape[0]
    dev = exn.device
    init_n = None if init is None else (init - mean) / std
    x = None
    prev: tuple[_Grid, torch.Tensor, torch.Tensor, int] | None = None
    grid = src_y = src_x = None
    lv = None
    for lvl, ps in stages:
        Hl, Wl = H // 2**lvl, W // 2**lvl
        if lattice is not None:  # each level re-reads the phase at its own resolution
            lattice.phase = None
        lv = get_level(lvl, ps)
        s = max(2, ps // _STRIDE_DIV)
        grid = _make_grid(Hl, Wl, ps, s, tile, dev)
        pix = _pixel_index(grid, ps)
        known = None
        init_l = None
        if init_n is not None:
            init_l = _level_features(init_n, lvl)[:, :Hl, :Wl]
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
                x = _stitch(ex_pyr[lvl], grid, src_y, src_x, ps)[0]
        else:
            g_c, py, px, plvl = prev
            if plvl == lvl:  # same resolution, new patch size: restart the field from x
                src_y = lv.random_sources((grid.ys.numel(), grid.xs.numel()), gen)
                src_x = src_y % lv.ws
                src_y = src_y // lv.ws
                q = _extract(x, pix)
                src_y, src_x, _ = _pm_iteration(
                    lv, q, grid, src_y, src_x, None, gen, sweeps + 2, None, lattice, lvl
                )
            else:
                src_y, src_x = _upsample_nnf(py, px, g_c, grid, lv)
                x = _vote_equal(lv, pix, src_y, src_x, Hl, Wl)
                if known is not None:
                    x = torch.where(known, init_l, x)
        exact = grid.n * lv.feats.shape[0] * lv.feats.shape[1] <= _EXACT_FLOPS
        n_it = iters * _COARSE_MULT if prev is None else iters
        for it in range(n_it):
            q = _extract(x, pix)
            occ = _occurrence_cost(lv, src_y, src_x)
            extra = _exact_candidates(lv, q, occ, _EXACT_K, *src_y.shape) if exact else None
            src_y, src_x, d = _pm_iteration(
                lv, q, grid, src_y, src_x, occ, gen, sweeps, extra, lattice, lvl
            )
            if lvl > 0:  # coarse levels: whole exemplar pieces, no averaging (no blur to keep)
                x = _stitch(ex_pyr[lvl], grid, src_y, src_x, ps)[0]
            else:  # robust weights (Kwatra et al. 2005, r = 0.8): ||x_p - z_p||^(r - 2)
                wts = (d + 1e-3).pow(-0.6)
                x = _vote(lv.patches[(src_y * lv.ws + src_x).reshape(-1)], pix, wts, lv.C, Hl, Wl)
            if known is not None:
                x = torch.where(known, init_l, x)
            if callback is not None:
                callback(lvl, it, (x[:C] * std + mean)[None])
            check_cancelled(cancel)
            if bar is not None:
                bar.update(1)  # type: ignore[attr-defined]
        prev = (grid, src_y, src_x, lvl)
    assert grid is not None and src_y is not None and src_x is not None and lv is not None
    # final search on the converged image, then copy each pixel from the source most of the
    # patches over it agree on (whole coherent pieces, few seams, no blur)
    q = _extract(x, pix)
    occ = _occurrence_cost(lv, src_y, src_x)
    src_y, src_x, _ = _pm_iteration(
        lv, q, grid, src_y, src_x, occ, gen, sweeps, None, lattice, stages[-1][0]
    )
    out, ey, exx = _stitch(ex_raw, grid, src_y, src_x, stages[-1][1])
    if mask is None and _HIST_BLEND > 0:  # half-way to the exemplar's value distribution
        out = out + _HIST_BLEND * (match_histogram(out, ex_raw) - out)
    if mask is not None and init is not None:
        out = mask[None] * out + (1 - mask[None]) * init
    return out, torch.stack([ey, exx])
