"""The selection head of the expander: a per-block *choice* among shifted copies of the input.

The soft Transposer head (:class:`~texsynth.expander.model.Transposer`) fills the border with
a normalised average of many shifted copies of the texture, which is a blur wherever the
weights are not peaked. This head chooses instead: every output block of ``block`` pixels takes
its pixels from **one** circular copy of the input, among ``candidates`` shifts (the zero shift
and the highest peaks of the input's self-similarity map, :func:`candidate_shifts`), so the
border is made of real pieces of the input, stitched with a short feathered blend.

The choice grows outwards from the input in rings of blocks (``grow`` blocks per pass), as in
image quilting (Efros & Freeman 2001) with the global shifts of shift-map editing (Pritch et
al. 2009) as labels: the logits of candidate ``k`` at block ``y`` are

``-E_k(y) / tau + w_s S(p_k) - w_m [margin_k(y) < m]``,

``E_k`` the mean squared difference, over the already filled pixels within ``radius`` blocks,
between the candidate's copy and the output so far, computed on the RGB pixels and on learned
matching features (:class:`MatchFeatures`); ``S`` the self-similarity of the shift, ``margin``
the distance of the block's source pixels from the copy's own wrap-around seam (a copy is not
used across its seam), ``tau``, ``w_s`` trained. Inference takes the argmax (a hard choice);
training takes the argmax forward and the softmax's gradient backward (straight-through,
Bengio et al. 2013), and can add a cross-entropy towards the *oracle* choice, the candidate
closest to the real continuation (:func:`oracle_choice`).

The canvas is ``2H x 2W`` for a ``H x W`` (padded) input whose zero-shift copy sits at
``(H / 2, W / 2)``; ``periodic`` makes every filter, the growth and the margins circular on
that torus, so the output tiles.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import TexsynthError
from .cut_choice import cut_costs
from .seams import seam_labels, stitch_pixels
from .selfsim import self_similarity

__all__ = [
    "Choices",
    "MatchFeatures",
    "SelectionHead",
    "box_sum",
    "candidate_copies",
    "candidate_shifts",
    "oracle_choice",
    "stitch",
]


def candidate_shifts(s: torch.Tensor, k: int, min_shift: int = 4, nms: int = 3) -> torch.Tensor:
    """``[B, k, 2]`` integer shifts ``(dy, dx)`` in ``[0, h) x [0, w)``: the zero shift first,
    then the ``k - 1`` highest local maxima (over a circular ``2 nms + 1`` window) of the
    self-similarity ``s [B, h, w]`` farther than ``min_shift`` pixels (Chebyshev, circular)
    from zero; fewer maxima are topped up with the next best shifts."""
    B, h, w = s.shape
    pad = F.pad(s[:, None], (nms, nms, nms, nms), mode="circular")
    peak = F.max_pool2d(pad, 2 * nms + 1, stride=1)[:, 0] <= s
    iy = torch.arange(h, device=s.device)
    ix = torch.arange(w, device=s.device)
    dy = torch.minimum(iy, h - iy)[:, None]
    dx = torch.minimum(ix, w - ix)[None, :]
    far = torch.maximum(dy, dx) > min_shift
    # peaks first (score + 10: S is in [-2, 0]), then any far shift, never the near ones
    score = torch.where(far, s + 10 * peak.to(s.dtype), torch.full_like(s, -1e9))
    k1 = max(0, min(k - 1, int(far.sum())))
    idx = score.flatten(1).topk(k1, dim=1).indices
    zero = torch.zeros(B, 1, dtype=idx.dtype, device=s.device)
    idx = torch.cat([zero, idx], 1)
    return torch.stack([idx // w, idx % w], -1)


def _source_index(shifts: torch.Tensor, size: int, n: int, offset: int) -> torch.Tensor:
    """``[B, K, size]``: the source row (column) ``(Y - offset - shift) mod n`` of canvas
    row ``Y`` for each copy."""
    y = torch.arange(size, device=shifts.device)
    return torch.remainder(y[None, None] - offset - shifts[..., None], n)


def candidate_copies(x: torch.Tensor, shifts: torch.Tensor) -> torch.Tensor:
    """``[B, K, C, 2H, 2W]``: circular copies of ``x [B, C, H, W]`` on the ``2H x 2W`` canvas,
    copy ``k`` at ``shifts[:, k]`` from the zero-shift position ``(H / 2, W / 2)``."""
    B, C, H, W = x.shape
    K = shifts.shape[1]
    iy = _source_index(shifts[..., 0], 2 * H, H, H // 2)  # [B, K, 2H]
    ix = _source_index(shifts[..., 1], 2 * W, W, W // 2)  # [B, K, 2W]
    rows = x[:, None].expand(B, K, C, H, W)
    rows = rows.gather(3, iy[:, :, None, :, None].expand(B, K, C, 2 * H, W))
    return rows.gather(4, ix[:, :, None, None, :].expand(B, K, C, 2 * H, 2 * W))


def box_sum(t: torch.Tensor, r: int, periodic: bool) -> torch.Tensor:
    """Sum of ``t [..., h, w]`` over the ``(2r + 1)^2`` window around each entry (zeros beyond
    the edge, or circular), by cumulative sums (cost independent of ``r``)."""
    if r == 0:
        return t
    for dim in (-2, -1):
        n = t.shape[dim]
        if periodic:
            # (windows wider than the map wrap more than once)
            idx = torch.remainder(torch.arange(-r, n + r, device=t.device), n)
            padded = t.index_select(dim, idx)
        else:
            pad = [0, 0] * (-dim - 1) + [r, r]
            padded = F.pad(t, pad)
        c = torch.cumsum(padded, dim)
        c = torch.cat([torch.zeros_like(c.narrow(dim, 0, 1)), c], dim)
        t = c.narrow(dim, 2 * r + 1, n) - c.narrow(dim, 0, n)
    return t


def _block_mean(t: torch.Tensor, b: int) -> torch.Tensor:
    shape = t.shape
    out = F.avg_pool2d(t.reshape(-1, 1, *shape[-2:]), b)
    return out.reshape(*shape[:-2], *out.shape[-2:])


def _up(t: torch.Tensor, b: int) -> torch.Tensor:
    return t.repeat_interleave(b, -2).repeat_interleave(b, -1)


def stitch(
    x: torch.Tensor,
    iy: torch.Tensor,
    ix: torch.Tensor,
    label: torch.Tensor,
    block: int,
    feather: int,
    periodic: bool = False,
) -> torch.Tensor:
    """``[B, C, 2H, 2W]``: each block's chosen copy of ``x [B, C, H, W]``, cross-faded over
    ``feather`` pixels (the one-hot choices box-filtered over ``2 feather + 1`` pixels and
    renormalised), by gathers of the chosen copies only (``feather < block``).

    ``iy [B, K, 2H]``, ``ix [B, K, 2W]``: source rows and columns of every copy; ``label [B,
    2H / block, 2W / block]``: the chosen copy of each block. Equal to the dense blend of
    :class:`SelectionHead` (tested); this form gathers ``9 C`` values per pixel instead of
    ``K C``, and only where a neighbouring block chose another copy."""
    B, C, H, W = x.shape
    K = iy.shape[1]
    n_y, n_x = iy.shape[-1], ix.shape[-1]  # the canvas (2H x 2W, or larger)
    b, f = block, feather
    hb, wb = label.shape[-2:]
    flat = x.reshape(B, C, H * W)
    pos_y = torch.arange(n_y, device=x.device)
    pos_x = torch.arange(n_x, device=x.device)

    def overlap(pos: torch.Tensor, n: int) -> dict[int, torch.Tensor]:
        """Pixels of the window ``[p - f, p + f]`` in the block before, of, and after ``p``'s
        (clipped to the canvas unless periodic)."""
        o = pos % b
        before = (f - o).clamp(min=0)
        after = (o + f - (b - 1)).clamp(min=0)
        if not periodic:  # the window stops at the canvas edge
            before = torch.minimum(before, pos - o)  # (pixels before the own block)
            after = torch.minimum(after, n - (pos - o + b))
        own = torch.full_like(pos, 2 * f + 1) - (f - o).clamp(min=0) - (o + f - b + 1).clamp(min=0)
        return {-1: before, 0: own, 1: after}

    wy, wx = overlap(pos_y, n_y), overlap(pos_x, n_x)
    by, bx = pos_y // b, pos_x // b
    own = label[:, by[:, None], bx[None, :]]  # [B, 2H, 2W]: each pixel's block's copy
    src_y = iy.reshape(B, K * n_y).gather(1, (own * n_y + pos_y[:, None]).flatten(1))
    src_x = ix.reshape(B, K * n_x).gather(1, (own * n_x + pos_x[None, :]).flatten(1))
    base = flat.gather(2, (src_y * W + src_x)[:, None].expand(B, C, -1)).view(B, C, n_y, n_x)
    if f == 0:
        return base
    # every neighbour block whose copy is the pixel's own adds to the own copy's weight; only
    # where a neighbour chose another copy is that copy gathered (the seams: few pixels)
    same = x.new_zeros(B, 1, n_y, n_x)
    total = x.new_zeros(n_y, n_x)
    extra = torch.zeros_like(base)
    for dy in (-1, 0, 1):
        for dx in (-1, 0, 1):
            w = (wy[dy][:, None] * wx[dx][None, :]).to(x.dtype)  # [2H, 2W]
            total = total + w
            if dy == 0 and dx == 0:
                same = same + w
                continue
            nb = torch.roll(label, shifts=(-dy, -dx), dims=(-2, -1))  # the neighbour's copy
            lab = nb[:, by[:, None], bx[None, :]]  # [B, 2H, 2W]
            diff = (lab != own) & (w > 0)
            same = same + (w * ~diff)[:, None]
            bi, yy, xx = diff.nonzero(as_tuple=True)
            if len(bi) == 0:
                continue
            k = lab[bi, yy, xx]
            val = x[bi, :, iy[bi, k, yy], ix[bi, k, xx]]  # [N, C]
            extra[bi, :, yy, xx] += val * w[yy, xx][:, None]
    out = base * same + extra
    return out / total.clamp_min(1e-8)


class Choices(NamedTuple):
    """What a training forward of :class:`SelectionHead` chose (for losses on the choices,
    e.g. :func:`texsynth.expander.seam_loss.seam_loss`): ``label [B, hb, wb]`` the hard copy
    of each block, ``probs [B, hb, wb, K]`` the softmax of each generated block's logits when
    it was chosen (zero on the input's blocks), ``copies [B, K, C, 2H, 2W]`` the candidate
    copies, ``generated [hb, wb]`` bool, the blocks the growth chose, ``logits [B, hb, wb, K]``
    the logits themselves (invalid copies at ``-1e4``; zero on the input's blocks)."""

    label: torch.Tensor
    probs: torch.Tensor
    copies: torch.Tensor
    generated: torch.Tensor
    logits: torch.Tensor


class MatchFeatures(nn.Module):
    """Learned matching features: two 3 x 3 convolutions (circular padding, so that the copies
    of the features wrap like the copies of the pixels); the last starts small, so an
    untrained head matches on the pixels, nearly alone (not at zero: the matching error's
    gradient with respect to features that are zero everywhere is zero)."""

    def __init__(self, width: int) -> None:
        super().__init__()
        self.c1 = nn.Conv2d(3, width, 3, padding=1, padding_mode="circular")
        self.c2 = nn.Conv2d(width, width, 3, padding=1, padding_mode="circular")
        nn.init.normal_(self.c2.weight, std=0.01)
        if self.c2.bias is not None:
            nn.init.zeros_(self.c2.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``[B, width, H, W]`` features of ``x [B, 3, H, W]``."""
        return self.c2(F.leaky_relu(self.c1(x), 0.2))


def oracle_choice(
    copies: torch.Tensor, target: torch.Tensor, valid: torch.Tensor, block: int, radius: int
) -> torch.Tensor:
    """``[B, h, w]`` index of the valid copy closest (mean squared difference over the window
    of ``radius`` blocks) to ``target [B, C, 2H, 2W]`` at each block: the choice that would
    reproduce the real continuation best."""
    d = (copies - target[:, None]).square().mean(2)  # [B, K, 2H, 2W]
    e = box_sum(_block_mean(d, block), radius, False)
    return e.masked_fill(~valid, float("inf")).argmin(1)


class SelectionHead(nn.Module):
    """Hard per-block choice among shifted copies of the input (see the module doc).

    Parameters
    ----------
    candidates
        number of shifts ``K`` (the zero shift and ``K - 1`` self-similarity peaks).
    block
        side of the blocks that choose (pixels).
    radius
        matching window, in blocks around the block.
    grow
        rings of blocks filled per pass.
    margin
        a copy is not used within ``margin`` pixels of its wrap-around seam (at most a
        quarter of the input's side).
    feather
        width (pixels) of the blend between neighbouring blocks' copies.
    width
        channels of the learned matching features.
    refine
        passes of iterated conditional modes after the growth (inference only).
    seam
        half-width (pixels) of the band in which neighbouring blocks' copies meet along a
        minimum-error cut (:mod:`~texsynth.expander.seams`; inference only); 0: the block
        edges themselves.
    """

    def __init__(
        self,
        candidates: int = 16,
        block: int = 4,
        radius: int = 3,
        grow: int = 2,
        margin: int = 8,
        feather: int = 2,
        width: int = 8,
        refine: int = 0,
        seam: int = 0,
        border_zero: bool = True,
        stick: float = 0.0,
        w_cut: float = 0.0,
    ) -> None:
        super().__init__()
        self.refine, self.seam, self.border_zero, self.stick = refine, seam, border_zero, stick
        self.candidates, self.block, self.radius = candidates, block, radius
        self.grow, self.margin, self.feather = grow, margin, feather
        self.features = MatchFeatures(width)
        self.log_tau = nn.Parameter(torch.tensor(-5.0))  # matching error scale (exp: ~0.007)
        self.w_sim = nn.Parameter(torch.tensor(1.0))  # weight of the shift's self-similarity
        # weight of the minimum-error cut cost against the chosen neighbours (``cut_costs``),
        # in units of the matching error (both over ``tau``); 0: the choice ignores the cuts
        self.w_cut = nn.Parameter(torch.tensor(float(w_cut)))
        self.last_aux: torch.Tensor | None = None
        self.last_choices: Choices | None = None

    def _refine(
        self,
        label: torch.Tensor,
        patches: Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor],
        valid: torch.Tensor,
        sim: torch.Tensor,
        kb: torch.Tensor,
        periodic: bool,
        bar: torch.Tensor | None = None,
        cuts: Callable[..., torch.Tensor] | None = None,
    ) -> torch.Tensor:
        """One pass of iterated conditional modes (Besag 1986) over the filled canvas: every
        generated block re-chooses its copy against all its neighbours (its own block left
        out), all at once; ``bar``: the ranking of :meth:`forward` without ``border_zero``;
        ``cuts``: the cut-aware term (:meth:`forward`'s, already over ``tau``)."""
        B, hb, wb = label.shape
        bi, yi, xi = torch.ones_like(label, dtype=torch.bool).nonzero(as_tuple=True)
        pk = patches(bi, yi, xi)  # [G, N, K, b', b']
        cur = pk[:, torch.arange(len(bi), device=label.device), label[bi, yi, xi]]
        d = (pk - cur[:, :, None]).square().mean(0).sum((-2, -1))  # [N, K]
        K = d.shape[1]
        d = d.view(B, hb, wb, K).permute(0, 3, 1, 2)
        e = box_sum(d, self.radius, periodic) - d
        n = box_sum(torch.ones_like(d[:, :1]), self.radius, periodic) - 1
        logits = -e / (n * self.log_tau.exp()) + self.w_sim * sim[..., None, None]
        if cuts is not None:  # against all four neighbours, as they stand
            c = cuts(label, torch.ones_like(label, dtype=torch.bool), bi, yi, xi)
            logits = logits - self.w_cut * c.view(B, hb, wb, K).permute(0, 3, 1, 2)
        if self.stick > 0:
            hot = F.one_hot(label, K).permute(0, 3, 1, 2).to(d.dtype)  # [B, K, hb, wb]
            n1 = box_sum(torch.ones_like(d[:, :1]), 1, periodic) - 1
            logits = logits + self.stick * (box_sum(hot, 1, periodic) - hot) / n1
        new = (logits.masked_fill(~valid, -1e4) if bar is None else logits - bar).argmax(1)
        return torch.where((kb > 0.999).expand_as(label), label, new)

    def forward(
        self,
        x: torch.Tensor,
        known: torch.Tensor,
        periodic: bool = False,
        target: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """``[B, 3, 2H, 2W]`` canvas for ``x [B, 3, H, W]`` (``H, W`` multiples of ``block``);
        ``known [2H, 2W]`` bool marks the canvas pixels of the real input (the zero-shift copy
        is theirs; a ``known`` of ``[4H, 4W]`` makes a 4 x canvas, the zero-shift copy in its
        centre, at inference). With ``target [B, 3, 2H, 2W]`` (training), :attr:`last_aux` is
        the mean cross-entropy of the choices against :func:`oracle_choice`."""
        B, C, H, W = x.shape
        b, r = self.block, self.radius
        g = torch.cat([x, self.features(x)], 1)  # matched channels: pixels and features
        s = self_similarity(g.detach() - g.detach().mean((-2, -1), keepdim=True))  # [B, H, W]
        shifts = candidate_shifts(s, self.candidates, min_shift=max(2, b // 2))
        K = shifts.shape[1]
        sim = s.flatten(1).gather(1, shifts[..., 0] * W + shifts[..., 1])  # [B, K]
        n_y, n_x = known.shape  # the canvas: 2H x 2W, or 4H x 4W for a direct x 4
        hb, wb = n_y // b, n_x // b
        iy = _source_index(shifts[..., 0], n_y, H, (n_y - H) // 2)  # [B, K, n_y]
        ix = _source_index(shifts[..., 1], n_x, W, (n_x - W) // 2)  # [B, K, n_x]
        # a block may use a copy only where all its source pixels keep ``margin`` from the seam
        my = torch.minimum(iy, H - 1 - iy).view(B, K, hb, b).amin(-1)
        mx = torch.minimum(ix, W - 1 - ix).view(B, K, wb, b).amin(-1)
        margin = min(self.margin, min(H, W) // 4)  # (small inputs keep some valid sources)
        valid = torch.minimum(my[..., :, None], mx[..., None, :]) >= margin
        kp = known.to(x.dtype)
        kb = _block_mean(kp, b)  # [hb, wb]: known fraction of each block
        valid[:, 0] |= kb > 0.5  # the input is its own copy
        # without ``border_zero`` the choice ranks valid other copies, then the zero-shift
        # copy where valid (beyond the input it is a tiling: a last resort), then the invalid
        # copies by their logits (keeping their order where nothing is valid)
        bar = None
        if not self.border_zero:
            bar = 1e4 * (~valid).to(x.dtype)
            bar[:, 0] += 5e3 * (kb == 0).to(x.dtype)  # (blocks with no pixel of the input)
        # matching uses every other pixel of a block (exactly aligned for every shift, 4x
        # cheaper); ``g`` laid out channel-first over all pixels, for gathers
        sub = 2 if b % 2 == 0 else 1
        iyb, ixb = iy.view(B, K, hb, b)[..., ::sub], ix.view(B, K, wb, b)[..., ::sub]
        G = g.shape[1]
        gt = g.permute(1, 0, 2, 3).reshape(G, B * H * W)

        def patches(bi: torch.Tensor, yi: torch.Tensor, xi: torch.Tensor) -> torch.Tensor:
            """``[G, N, K, b', b']``: every copy's pixels and features on blocks ``(yi, xi)``
            of images ``bi`` (every ``sub``-th pixel, ``b' = b / sub``)."""
            rows = iyb[bi, :, yi][..., :, None]  # [N, K, b', 1]
            cols = ixb[bi, :, xi][..., None, :]  # [N, K, 1, b']
            lin = (bi[:, None, None, None] * H + rows) * W + cols  # [N, K, b', b']
            return gt.index_select(1, lin.flatten()).view(G, *lin.shape)

        # per block and copy: summed squared difference to the canvas so far over its filled
        # pixels (first the input's), and how many pixels are filled
        err_sum = torch.zeros(B, hb, wb, K, dtype=x.dtype, device=x.device)
        # (only the known blocks that some unknown block's window reaches)
        edge = (kb > 0) & (box_sum((kb < 0.999).to(x.dtype), r + self.grow, periodic) > 0)
        bi, yi, xi = edge.expand(B, hb, wb).nonzero(as_tuple=True)
        pk = patches(bi, yi, xi)
        m = kp.view(hb, b, wb, b)[yi, ::sub, xi, ::sub][:, None]  # [N, 1, b', b']
        e0 = ((pk - pk[:, :, :1].detach()).square().mean(0) * m).sum((-2, -1)) * sub * sub
        err_sum = err_sum.index_put((bi, yi, xi), e0)
        count = (kb * b * b).expand(B, hb, wb)
        done = (kb > 0.999).expand(B, hb, wb).clone()  # hold the zero-shift copy from the start
        label = torch.zeros(B, hb, wb, dtype=torch.long, device=x.device)
        soft_sel = torch.zeros(B, hb, wb, K, dtype=x.dtype, device=x.device)
        all_logits = torch.zeros_like(soft_sel)
        tau = self.log_tau.exp()
        # the K pixel copies, for the oracle and the differentiable blend (training)
        dense = target is not None or (torch.is_grad_enabled() and self.training)
        if dense and (n_y, n_x) != (2 * H, 2 * W):
            raise TexsynthError("the selection head trains on a 2 x canvas only")
        pix = candidate_copies(x, shifts) if dense else None  # [B, K, C, 2H, 2W]
        oracle = None
        if target is not None and pix is not None:
            oracle = oracle_choice(pix, target, valid, b, r)
        ce_terms: list[torch.Tensor] = []
        # the cut-aware term (``w_cut`` != 0, or training it): skipped entirely at 0, so that
        # the choice is then exactly the one without it
        cuts = None
        if bool(self.w_cut.detach() != 0) or (
            self.training and torch.is_grad_enabled() and self.w_cut.requires_grad
        ):
            band = self.seam or 4

            def cuts(
                lab: torch.Tensor,
                dn: torch.Tensor,
                bi: torch.Tensor,
                yi: torch.Tensor,
                xi: torch.Tensor,
            ) -> torch.Tensor:
                c = cut_costs(x.detach(), iy, ix, lab, dn, (bi, yi, xi), b, band, periodic)
                return c / tau

        for _ in range(hb + wb):
            near = box_sum(done.to(x.dtype), self.grow, periodic) > 0
            front = near & ~done  # [B, hb, wb]
            bi, yi, xi = front.nonzero(as_tuple=True)
            if len(bi) == 0:
                break
            e = box_sum(err_sum.permute(0, 3, 1, 2), r, periodic)[bi, :, yi, xi]  # [N, K]
            n = box_sum(count, r, periodic)[bi, yi, xi][:, None]
            logits = -e / (n.clamp_min(1.0) * tau) + self.w_sim * sim[bi]
            if cuts is not None:
                logits = logits - self.w_cut * cuts(label, done, bi, yi, xi)
            if self.stick > 0:  # the share of the filled neighbours holding each copy
                hot = F.one_hot(label, K).permute(0, 3, 1, 2).to(x.dtype)
                hot = hot * done[:, None].to(x.dtype)
                n1 = box_sum(done.to(x.dtype), 1, periodic)[bi, yi, xi][:, None]
                share = box_sum(hot, 1, periodic)[bi, :, yi, xi] / n1.clamp_min(1.0)
                logits = logits + self.stick * share
            if bar is None:
                logits = logits.masked_fill(~valid[bi, :, yi, xi], -1e4)
            else:
                logits = logits - bar[bi, :, yi, xi]
            choice = logits.argmax(1)  # [N]
            if self.training:
                soft_sel = soft_sel.index_put((bi, yi, xi), torch.softmax(logits, 1))
                all_logits = all_logits.index_put((bi, yi, xi), logits)
            if oracle is not None:
                lp = torch.log_softmax(logits, 1).gather(1, oracle[bi, yi, xi][:, None])
                ce_terms.append(-lp.mean())
            label = label.index_put((bi, yi, xi), choice)
            done = done | front
            pk = patches(bi, yi, xi)  # [G, N, K, b', b']
            new = pk[:, torch.arange(len(bi), device=x.device), choice].detach()
            e_new = (pk - new[:, :, None]).square().mean(0).sum((-2, -1)) * sub * sub
            err_sum = err_sum.index_put((bi, yi, xi), e_new)
            count = count.index_put((bi, yi, xi), torch.full_like(bi, b * b, dtype=x.dtype))
        self.last_aux = torch.stack(ce_terms).mean() if ce_terms else None
        self.last_choices = None
        if pix is not None and self.training:
            self.last_choices = Choices(label, soft_sel, pix, kb < 0.999, all_logits)
        if pix is None:
            for _ in range(self.refine):
                label = self._refine(label, patches, valid, sim, kb, periodic, bar, cuts)
            if self.seam == 0:
                return stitch(x, iy, ix, label, b, self.feather, periodic)
            plabel = seam_labels(x, iy, ix, label, known, b, self.seam, periodic)
            return stitch_pixels(x, iy, ix, plabel, self.feather, periodic)
        hard = F.one_hot(label, K).permute(0, 3, 1, 2).to(x.dtype)
        # straight-through: hard choice forward, the softmax's gradient backward; the known
        # blocks keep a constant (gradient-free) zero-shift choice
        soft = soft_sel.permute(0, 3, 1, 2)
        sel = hard + soft - soft.detach()
        wts = _up(sel, b)
        if self.feather > 0:
            wts = box_sum(wts, self.feather, periodic) / (2 * self.feather + 1) ** 2
            wts = wts / wts.sum(1, keepdim=True).clamp_min(1e-8)
        return (wts[:, :, None] * pix).sum(1)
