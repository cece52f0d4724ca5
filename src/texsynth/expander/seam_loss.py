"""A training objective for the selection head that rewards seamless stitching (issue 19).

The selection head (:mod:`texsynth.expander.selection`) makes its border of pieces of the
input; what the quality benchmark sees is whether the pieces meet without visible seams. The
oracle cross-entropy (the copy closest to the *real*, unknowable continuation) and the
seed's style loss both moved the head towards switching copies more often and made the
benchmark worse. This loss scores the seams themselves, as image quilting chooses its
patches by their overlap error (Efros & Freeman 2001):

For every generated block ``i`` and each of its four neighbours ``j`` (the neighbours'
current hard choices fixed), the cost of copy ``k`` at ``i`` is the **minimum-error cut
cost** between copy ``k`` and ``j``'s copy across their shared edge: per pixel row (column)
along the edge, the least squared colour difference of the two copies within ``band`` pixels
of the edge (the cut of :mod:`~texsynth.expander.seams` without its connectivity constraint),
averaged along the edge; 0 where ``k`` is ``j``'s copy. The loss is the **expected** cost
under the block's choice probabilities (the softmax of its logits when it was chosen),
averaged over the generated blocks and their neighbours, divided by the mean squared step
between *real* neighbouring pixels of the target (so 1 reads "the seams jump like ordinary
pixel steps of the texture"; the per-row minimum makes a good seam cost less than that).
Its gradient reaches every parameter that shapes the logits (the matching features,
``tau``, ``w_s``), not through the hard choice (no straight-through estimate needed).
"""

from __future__ import annotations

import torch

from ..errors import TexsynthError
from .seams import row_cut_cost
from .selection import Choices

__all__ = ["block_seam_costs", "real_seam_cost", "scale_free_probs", "seam_loss"]


def _vertical_costs(
    copies: torch.Tensor, label: torch.Tensor, block: int, band: int
) -> torch.Tensor:
    """``[B, K, hb, wb]``: for each block and copy ``k``, the summed cut cost against its left
    and right neighbours' chosen copies (vertical edges only)."""
    B, K, C, Y, X = copies.shape
    hb, wb = label.shape[-2:]
    cost = copies.new_zeros(B, K, hb, wb)
    if wb < 2:
        return cost
    E = wb - 1
    dev = copies.device
    x0 = torch.arange(1, wb, device=dev) * block  # the right block's first column
    cols = (x0[:, None] + torch.arange(-band, band, device=dev)[None, :]).clamp(0, X - 1)
    sub = 2 if block % 2 == 0 else 1  # every other row along the edge (as the matching)
    pix = copies[:, :, :, ::sub][..., cols]  # [B, K, C, Y / sub, E, 2 band]
    Y = pix.shape[3]
    by = torch.div(torch.arange(Y, device=dev) * sub, block, rounding_mode="floor")
    rows = label[:, by]  # [B, Y, wb]

    def against(fixed: torch.Tensor) -> torch.Tensor:
        """``[B, K, hb, E]``: cut cost of every copy against the copy ``fixed [B, Y, E]``."""
        idx = fixed[:, None, None, :, :, None].expand(B, 1, C, Y, E, 2 * band)
        other = pix.gather(1, idx)  # [B, 1, C, Y, E, 2 band]
        d = row_cut_cost(pix, other, 2, -1)  # [B, K, Y, E]: the row's best cut
        return d.view(B, K, hb, block // sub, E).mean(3)

    cost[..., :-1] += against(rows[..., 1:])  # the block takes k, its right neighbour fixed
    cost[..., 1:] += against(rows[..., :-1])  # the block takes k, its left neighbour fixed
    return cost


def block_seam_costs(
    copies: torch.Tensor, label: torch.Tensor, block: int, band: int = 4
) -> torch.Tensor:
    """``[B, K, hb, wb]``: the summed minimum-error cut cost (squared colour difference per
    pixel, the least within ``band`` pixels of the edge per row, mean along the edge over
    every other row for even blocks) of
    putting copy ``k`` at each block against its four neighbours' copies in ``label [B, hb,
    wb]``; ``copies [B, K, C, hb block, wb block]``. Non-periodic (the canvas edge has no
    neighbour)."""
    if band < 1 or block < 1:
        raise TexsynthError(f"need band >= 1 and block >= 1, got {band} and {block}")
    v = _vertical_costs(copies, label, block, band)
    h = _vertical_costs(copies.transpose(-1, -2), label.transpose(-1, -2), block, band)
    return v + h.transpose(-1, -2)


def real_seam_cost(target: torch.Tensor) -> torch.Tensor:
    """``[B]``: the mean squared colour step between *real* neighbouring pixels of ``target
    [B, C, Y, X]`` (horizontal and vertical neighbours; the scale of an ordinary pixel
    boundary of this texture)."""
    dx = (target[..., 1:] - target[..., :-1]).square().sum(1).mean((-2, -1))
    dy = (target[..., 1:, :] - target[..., :-1, :]).square().sum(1).mean((-2, -1))
    return 0.5 * (dx + dy)


def scale_free_probs(logits: torch.Tensor) -> torch.Tensor:
    """``softmax(z / std(z))`` over the last dimension of ``logits [..., K]``, the standard
    deviation over the valid entries (``> -1e3``; at least 1e-6): choice probabilities that
    do not change when every logit is scaled by the same factor, as the hard choice does not
    (so the loss cannot fall by merely sharpening the softmax)."""
    valid = logits > -1e3
    n = valid.sum(-1, keepdim=True).clamp_min(1)
    z = torch.where(valid, logits, torch.zeros_like(logits))
    mean = z.sum(-1, keepdim=True) / n
    var = (torch.where(valid, z - mean, torch.zeros_like(z)).square()).sum(-1, keepdim=True) / n
    scaled = torch.where(valid, (z - mean) / (var + 1e-12).sqrt().clamp_min(1e-6), -1e4)
    return torch.softmax(scaled, -1)


def seam_loss(
    choices: Choices,
    target: torch.Tensor,
    block: int,
    band: int = 4,
    floor: float = 1e-4,
    scale_free: bool = False,
) -> tuple[torch.Tensor, torch.Tensor]:
    """``(expected, realised)``: the selection head's expected seam cost under its choice
    probabilities (differentiable; see the module doc) and the cost of its hard choices (for
    monitoring), both per generated block and neighbour, relative to
    :func:`real_seam_cost` of ``target [B, C, Y, X]`` (clamped at ``floor``), mean over the
    batch. ``choices``: :attr:`~texsynth.expander.selection.SelectionHead.last_choices` of
    a training forward on the canvas of ``target``'s size (inputs a multiple of 8 pixels:
    no padding). ``scale_free``: the probabilities of :func:`scale_free_probs` instead of
    the head's softmax (whose temperature the loss would otherwise just sharpen)."""
    label, probs, copies, gen, logits = choices
    if scale_free:
        probs = scale_free_probs(logits)
    if copies.shape[-2:] != target.shape[-2:]:
        raise TexsynthError(
            f"the seam loss needs the canvas {tuple(copies.shape[-2:])} to be the target's "
            f"size {tuple(target.shape[-2:])} (inputs a multiple of 8 pixels)"
        )
    cost = block_seam_costs(copies, label, block, band).detach()  # [B, K, hb, wb]
    hb, wb = label.shape[-2:]
    dev = label.device
    iy, ix = torch.arange(hb, device=dev), torch.arange(wb, device=dev)
    nb = (
        (iy > 0).to(cost.dtype)[:, None]
        + (iy < hb - 1).to(cost.dtype)[:, None]
        + (ix > 0).to(cost.dtype)[None, :]
        + (ix < wb - 1).to(cost.dtype)[None, :]
    )  # neighbours of each block
    w = gen.to(cost.dtype) / nb  # [hb, wb]
    norm = real_seam_cost(target).clamp_min(floor) * w.sum()  # [B]
    expected = (probs.permute(0, 3, 1, 2) * cost).sum(1)  # [B, hb, wb]
    realised = cost.gather(1, label[:, None])[:, 0]
    return (
        ((expected * w).sum((-2, -1)) / norm).mean(),
        ((realised * w).sum((-2, -1)) / norm).mean().detach(),
    )
