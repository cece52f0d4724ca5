"""Minimum-error cuts between the selection head's pieces (issue 19).

Where two neighbouring blocks of the expander's output come from different shifted copies of
the input (:mod:`texsynth.expander.selection`), the boundary between them is moved off the
straight block edge onto the path, within a band of ``seam`` pixels, along which the two
copies agree best: a dynamic-programming cut as in image quilting (Efros & Freeman 2001,
"Image quilting for texture synthesis and transfer"), one per edge, vertical edges directly
and horizontal ones on the transposed canvas. Cuts never move the input's own pixels, never
take a pixel within reach of a copy's wrap-around, and close around the tile in periodic
mode. :func:`stitch_pixels` then blends each pixel's copy over ``feather`` pixels.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

__all__ = ["pixel_labels", "row_cut_cost", "seam_labels", "seam_targets", "stitch_pixels"]


def row_cut_cost(a: torch.Tensor, b: torch.Tensor, channels: int, band: int) -> torch.Tensor:
    """The minimum-error cut cost of one pixel row (column) across an edge: the least, over
    the band's pixels (dimension ``band``), of the squared colour difference between the two
    copies ``a`` and ``b`` summed over dimension ``channels`` (broadcast; both dimensions
    removed). The cut of :func:`seam_targets` without its connectivity constraint, as the
    seam loss (:mod:`~texsynth.expander.seam_loss`) and the selection head's cut-aware choice
    score a pair of copies."""
    d = (a - b).square().sum(channels, keepdim=True).amin(band, keepdim=True)
    return d.squeeze((channels, band))


def _run_lengths(label: torch.Tensor, reverse: bool) -> torch.Tensor:
    """``[B, hb, wb]``: how many blocks of the same copy run from each block leftwards (or
    rightwards with ``reverse``), the block included (not across the canvas edge)."""
    wb = label.shape[-1]
    run = torch.ones_like(label)
    order = range(wb - 2, -1, -1) if reverse else range(1, wb)
    step = 1 if reverse else -1
    for j in order:
        same = label[..., j] == label[..., j + step]
        run[..., j] = torch.where(same, run[..., j + step] + 1, run[..., j])
    return run


def _seam_problem(
    x: torch.Tensor,
    iy: torch.Tensor,
    ix: torch.Tensor,
    label: torch.Tensor,
    known: torch.Tensor,
    block: int,
    band: int,
    periodic: bool,
) -> tuple[torch.Tensor | None, Callable[[torch.Tensor], tuple[torch.Tensor, torch.Tensor]]]:
    """:func:`seam_targets`' cut costs ``[B, 2H, E, 2 band + 1]`` (``None``: no edge to cut),
    and the function from the chosen cuts ``[B, 2H, E]`` to ``(tx, cut)``."""
    B, C, H, W = x.shape
    b = block
    hb, wb = label.shape[-2:]
    n_y, n_x = iy.shape[-1], ix.shape[-1]  # the canvas (2H x 2W, or larger)
    s = max(0, min(band, n_x // 4))
    dev = x.device
    edges = torch.arange(0 if periodic else 1, wb, device=dev)  # the right block's column
    x0 = edges * b
    E = len(edges)
    own = torch.div(torch.arange(n_x, device=dev), b, rounding_mode="floor")
    tx = own.expand(B, n_y, n_x).clone()
    if E == 0 or s == 0:
        return None, lambda path: (tx, x0.expand(B, n_y, E).clone())
    rows = torch.arange(n_y, device=dev)
    by = rows // b
    left_col = (edges - 1) % wb
    lab_rows = label[:, by]  # [B, 2H, wb]
    lab_a, lab_b = lab_rows[..., left_col], lab_rows[..., edges]  # [B, 2H, E]
    # only the (row, edge) pairs where the copies differ are cut (a few per cent); elsewhere
    # the cut stays on the edge (every other state costs 1e6)
    t = torch.arange(2 * s + 1, device=dev)
    cost = (1e6 * (t != s).to(x.dtype)).expand(B, n_y, E, 2 * s + 1).clone()
    bi, yi, ei = (lab_a != lab_b).nonzero(as_tuple=True)  # [N]
    la, lb = lab_a[bi, yi, ei], lab_b[bi, yi, ei]
    # how far the cut may move: half the run of each side's copy
    ext_l = (_run_lengths(label, False)[bi, by[yi], left_col[ei]] * b // 2).clamp(max=s)
    ext_r = (_run_lengths(label, True)[bi, by[yi], edges[ei]] * b // 2).clamp(max=s)
    # d at the band's pixels and one more on either side: columns x0 - s - 1 ... x0 + s
    off = torch.arange(-s - 1, s + 1, device=dev)
    cols = x0[:, None] + off[None, :]  # [E, 2s + 2]
    cols = cols % n_x if periodic else cols.clamp(0, n_x - 1)
    flat_t = x.reshape(B, C, H * W).transpose(1, 2)  # [B, HW, C]
    sx_a = ix[bi[:, None], la[:, None], cols[ei]]  # [N, 2s + 2]: source columns
    sx_b = ix[bi[:, None], lb[:, None], cols[ei]]
    va = flat_t[bi[:, None], iy[bi, la, yi][:, None] * W + sx_a]  # [N, 2s + 2, C]
    vb = flat_t[bi[:, None], iy[bi, lb, yi][:, None] * W + sx_b]
    d = (va - vb).square().sum(-1)
    c = d[:, :-1] + d[:, 1:]  # [N, 2s + 1]: cut t at column x0 - s + t
    c = c + 1e-6 * (t - s).abs()  # ties stay on the block edge
    out = (t < s - ext_l[:, None]) | (t > s + ext_r[:, None])
    # Under cut t the band's pixels ``pos < t`` (pixel x0 - s + pos) take A, the others B;
    # a cut is refused where it hands a pixel of the input (``known``) another copy than
    # copy 0, or moves a pixel to a copy's source within ``keep`` pixels of that copy's
    # wrap-around seam. Counts of such pixels before / from ``t``: cumulative sums.
    j = torch.arange(-s, s, device=dev)  # band pixel x0 + j
    band_cols = (x0[:, None] + j[None, :]) % n_x  # [E, 2s]
    kn = known[yi[:, None], band_cols[ei]].to(x.dtype)  # [N, 2s]
    keep = 2
    right = j >= 0  # pixels right of the edge (B's own)
    near_a = (torch.minimum(sx_a, W - 1 - sx_a)[:, 1:-1] < keep) & right
    near_b = (torch.minimum(sx_b, W - 1 - sx_b)[:, 1:-1] < keep) & ~right
    take_a = kn * (la != 0)[:, None] + near_a  # [N, 2s]: bad if it takes A
    take_b = kn * (lb != 0)[:, None] + near_b

    def before(v: torch.Tensor) -> torch.Tensor:  # [.., 2s] -> [.., 2s + 1]: sum over pos < t
        return F.pad(v.cumsum(-1), (1, 0))

    bad = before(take_a) + (before(take_b.flip(-1)).flip(-1))
    cost[bi, yi, ei] = c + 1e6 * ((bad > 0) | out)

    def finish(path: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        tx_ = tx.clone()
        cut = x0[None, None] - s + path
        # moved pixels: left of the edge and right of the cut take B, right of the edge and
        # left of the cut take A (at most one edge moves a pixel)
        p = path[bi, yi, ei][:, None]  # [N, 1]
        pos = j[None, :] + s  # 0 ... 2s - 1
        to_b = (j < 0) & (pos >= p)  # [N, 2s]
        to_a = (j >= 0) & (pos < p)
        target = torch.where(to_b, edges[ei][:, None], left_col[ei][:, None])
        n_i, j_i = (to_a | to_b).nonzero(as_tuple=True)
        tx_[bi[n_i], yi[n_i], band_cols[ei[n_i], j_i]] = target[n_i, j_i]
        return tx_, cut

    return cost, finish


def seam_targets(
    x: torch.Tensor,
    iy: torch.Tensor,
    ix: torch.Tensor,
    label: torch.Tensor,
    known: torch.Tensor,
    block: int,
    band: int,
    periodic: bool = False,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Minimum-error cuts across the *vertical* block edges (image quilting, Efros & Freeman
    2001): ``(tx [B, 2H, 2W], cut [B, 2H, E])``.

    Along every vertical edge between two blocks (every ``block``-th pixel column; with
    ``periodic`` also the wrap-around one), the cut column ``c(y)`` of each pixel row is chosen
    in ``[x0 - band, x0 + band]`` (``x0`` the edge) by dynamic programming down the canvas,
    ``|c(y) - c(y - 1)| <= 1`` (a connected path; closed around the torus when ``periodic``),
    at the least total cost ``d(c - 1) + d(c)``, ``d`` the squared difference between the
    left block's copy ``A`` and the right block's copy ``B``: the pixels left of the cut take
    ``A``, the others ``B``, so the two copies meet where they agree best. A cut moves at most
    half-way into the run of blocks of one copy on either side (so that the cuts of two
    edges never claim the same pixel); where ``A`` is ``B`` it stays on the edge. A pixel of
    the input (``known [2H, 2W]``) never takes another copy than the input's own (copy 0).

    ``tx``: the block column whose copy each pixel takes (its own outside the cuts' moves);
    ``cut``: the cut columns of the ``E`` edges (for tests)."""
    cost, finish = _seam_problem(x, iy, ix, label, known, block, band, periodic)
    return finish(_dp_path(cost, periodic) if cost is not None else torch.empty(0))


def seam_labels(
    x: torch.Tensor,
    iy: torch.Tensor,
    ix: torch.Tensor,
    label: torch.Tensor,
    known: torch.Tensor,
    block: int,
    band: int,
    periodic: bool = False,
) -> torch.Tensor:
    """``[B, 2H, 2W]``: each pixel's copy after the minimum-error cuts across the vertical and
    (on the transposed canvas) the horizontal block edges (:func:`seam_targets`); the two
    sets of paths are found by one dynamic programme where the canvas is square."""
    tr = (-1, -2)
    v_cost, v_finish = _seam_problem(x, iy, ix, label, known, block, band, periodic)
    h_cost, h_finish = _seam_problem(
        x.transpose(*tr), ix, iy, label.transpose(*tr), known.T, block, band, periodic
    )
    empty = torch.empty(0)
    if v_cost is not None and h_cost is not None and v_cost.shape[1::2] == h_cost.shape[1::2]:
        path = _dp_path(torch.cat([v_cost, h_cost], 2), periodic)
        v_path, h_path = path.split([v_cost.shape[2], h_cost.shape[2]], 2)
    else:
        v_path = _dp_path(v_cost, periodic) if v_cost is not None else empty
        h_path = _dp_path(h_cost, periodic) if h_cost is not None else empty
    tx, _ = v_finish(v_path)
    tyt, _ = h_finish(h_path)
    return pixel_labels(label, tyt.transpose(*tr), tx)


def _dp_path(cost: torch.Tensor, periodic: bool) -> torch.Tensor:
    """``[B, n, E]``: for each of the ``E`` chains of ``cost [B, n, E, T]``, the states
    ``t(0..n-1)`` with ``|t(y) - t(y - 1)| <= 1`` of least summed cost (dynamic programming;
    with ``periodic`` also ``|t(n - 1) - t(0)| <= 1``).

    A closed chain with a *forced* row (every state but the middle one costing ``>= 1e6``:
    a row without a seam) is solved as an open chain that starts at that row and ends within
    one state of the middle; the others run one programme per start state."""
    if not periodic:
        return _dp_run(cost, False)
    B, n, E, T = cost.shape
    dev = cost.device
    mid = T // 2
    t = torch.arange(T, device=dev)
    forced = ((cost >= 1e6).sum(-1) == T - 1) & (cost[..., mid] < 1e6)  # [B, n, E]
    has = forced.any(1)  # [B, E]
    first = forced.to(torch.uint8).argmax(1)  # [B, E]: the first forced row
    idx = (torch.arange(n, device=dev)[None, :, None] + first[:, None, :]) % n  # [B, n, E]
    rolled = cost.gather(1, idx[..., None].expand(B, n, E, T)).clone()
    rolled[:, -1] += 1e6 * ((t - mid).abs() > 1).to(cost.dtype)  # back to the forced row
    path = torch.empty(B, n, E, dtype=torch.long, device=dev)
    path.scatter_(1, idx, _dp_run(rolled, False))
    if not bool(has.all()):
        bi, ei = (~has).nonzero(as_tuple=True)
        sub = cost[bi, :, ei].permute(1, 0, 2)[None]  # [1, n, M, T]
        path[bi, :, ei] = _dp_run(sub, True)[0].T
    return path


def _dp_run(cost: torch.Tensor, periodic: bool) -> torch.Tensor:
    """:func:`_dp_path` by brute force: one programme, or one per start state."""
    B, n, E, T = cost.shape
    dev = cost.device
    t = torch.arange(T, device=dev)
    starts = T if periodic else 1
    acc = cost[:, 0, :, None, :].expand(B, E, starts, T).clone()
    if periodic:
        eye = torch.eye(T, dtype=torch.bool, device=dev)
        acc = acc.masked_fill(~eye, float("inf"))
    back = torch.empty(B, n, E, starts, T, dtype=torch.int8, device=dev)
    # acc padded with infinities on both ends: the three predecessors are three slices
    pad = torch.full((B, E, starts, T + 2), float("inf"), dtype=cost.dtype, device=dev)
    costs = cost.permute(1, 0, 2, 3)[:, :, :, None, :]  # [n, B, E, 1, T]
    for y in range(1, n):
        pad[..., 1:-1] = acc
        best, arg = torch.stack([pad[..., :-2], acc, pad[..., 2:]], -1).min(-1)
        back[:, y] = arg.to(torch.int8)  # 0, 1, 2: from t - 1, t, t + 1
        acc = best + costs[y]
    if periodic:  # closed path: the last state within 1 of the first
        far = (t[None, :] - t[:, None]).abs() > 1  # [start, T]
        acc = acc.masked_fill(far, float("inf"))
    pick = acc.reshape(B, E, -1).argmin(-1)  # [B, E]
    sel, cur = pick // T, pick % T
    steps = back.gather(3, sel[:, None, :, None, None].expand(B, n, E, 1, T))[:, :, :, 0]
    steps = steps.permute(1, 0, 2, 3).long() - 1  # [n, B, E, T]
    path = torch.empty(n, B, E, dtype=torch.long, device=dev)
    path[n - 1] = cur
    for y in range(n - 1, 0, -1):
        cur = cur + steps[y].gather(-1, cur[..., None])[..., 0]
        path[y - 1] = cur
    path = path.permute(1, 0, 2)
    return path


def pixel_labels(label: torch.Tensor, ty: torch.Tensor, tx: torch.Tensor) -> torch.Tensor:
    """``[B, 2H, 2W]``: each pixel's copy, that of block ``(ty, tx)`` (:func:`seam_targets`
    across the vertical and, transposed, the horizontal edges)."""
    B = label.shape[0]
    return label[torch.arange(B, device=label.device)[:, None, None], ty, tx]


def stitch_pixels(
    x: torch.Tensor,
    iy: torch.Tensor,
    ix: torch.Tensor,
    plabel: torch.Tensor,
    feather: int,
    periodic: bool = False,
) -> torch.Tensor:
    """``[B, C, 2H, 2W]``: each pixel's copy ``plabel [B, 2H, 2W]`` of ``x [B, C, H, W]``,
    cross-faded over ``feather`` pixels (the mean, over the ``2 feather + 1`` window around a
    pixel, of the copies its window's pixels chose, taken at the pixel; the window stops at the
    canvas edge unless ``periodic``); ``feather = 0``: every pixel is an input pixel. Gathers a
    second copy only where a pixel of the window chose another copy."""
    B, C, H, W = x.shape
    K = iy.shape[1]
    n_y, n_x = iy.shape[-1], ix.shape[-1]
    flat = x.reshape(B, C, H * W)
    pos_y = torch.arange(n_y, device=x.device)
    pos_x = torch.arange(n_x, device=x.device)
    src_y = iy.reshape(B, K * n_y).gather(1, (plabel * n_y + pos_y[:, None]).flatten(1))
    src_x = ix.reshape(B, K * n_x).gather(1, (plabel * n_x + pos_x[None, :]).flatten(1))
    base = flat.gather(2, (src_y * W + src_x)[:, None].expand(B, C, -1)).view(B, C, n_y, n_x)
    if feather == 0:
        return base
    f = feather
    same = x.new_zeros(B, 1, n_y, n_x)
    total = x.new_zeros(n_y, n_x)
    extra = torch.zeros_like(base)
    for oy in range(-f, f + 1):
        for ox in range(-f, f + 1):
            if periodic:
                inside = torch.ones(n_y, n_x, dtype=torch.bool, device=x.device)
            else:
                iny = (pos_y + oy >= 0) & (pos_y + oy < n_y)
                inx = (pos_x + ox >= 0) & (pos_x + ox < n_x)
                inside = iny[:, None] & inx[None, :]
            total = total + inside
            nb = torch.roll(plabel, shifts=(-oy, -ox), dims=(-2, -1))  # the window pixel's copy
            diff = (nb != plabel) & inside
            same = same + (inside & ~diff)[:, None]
            bi, yy, xx = diff.nonzero(as_tuple=True)
            if len(bi) == 0:
                continue
            k = nb[bi, yy, xx]
            extra[bi, :, yy, xx] += x[bi, :, iy[bi, k, yy], ix[bi, k, xx]]
    return (base * same + extra) / total
