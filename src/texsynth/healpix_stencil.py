"""Applying a sparse stencil operator on HEALPix maps with a deterministic backward pass.

A stencil operator stores, for each output pixel ``p``, the ``M`` pixels it reads
(``neighbours [npix, M]``) and their taps against ``D`` outputs (``taps [npix, M, D]``):
``y[p, d] = sum_m x[neighbours[p, m]] taps[p, m, d]``. The forward pass is a gather and one
small matrix product per pixel. Left to autograd, its backward pass would be the transpose of
the gather, a scatter-add (``index_put_(accumulate=True)``): slow on CPUs and, with atomic
additions, not reproducible bit for bit. :class:`StencilApply` instead precomputes the
transpose once, a *reader table* (:func:`reader_table`): for each source pixel ``q``, the
positions ``(p, m)`` of the taps that read it, so the backward pass is a product per pixel,
then a gather and a sum in a fixed order. Runs repeat bit for bit without
``torch.use_deterministic_algorithms``, and forward + backward is several times faster (see
docs/sphere.md, "Reproducible runs").
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

__all__ = ["StencilApply", "StencilTranspose", "reader_table", "stencil_apply"]


def reader_table(neighbours: torch.Tensor, taps: torch.Tensor) -> torch.Tensor:
    """The transpose of a stencil operator, ``[npix, R]`` int64: row ``q`` lists the flat
    positions ``p * M + m`` of the taps that read pixel ``q`` (``neighbours[p, m] == q``
    with a nonzero tap), in increasing order, padded with ``npix * M`` (a zero slot).

    Parameters
    ----------
    neighbours
        ``[npix, M]`` pixels read by each output pixel.
    taps
        ``[npix, M, D]`` their weights (slots whose taps are all zero are padding).
    """
    nb = neighbours.cpu().numpy().ravel()
    npix = int(neighbours.shape[0])
    used = (taps.detach().cpu().reshape(nb.size, -1) != 0).any(1).numpy()
    pos = np.flatnonzero(used)  # flat positions p * M + m, increasing
    src = nb[pos]
    order = np.argsort(src, kind="stable")  # by source pixel, positions increasing within
    pos, src = pos[order], src[order]
    counts = np.bincount(src, minlength=npix)
    R = max(int(counts.max()) if counts.size else 0, 1)
    start = np.concatenate([[0], np.cumsum(counts)[:-1]])
    rank = np.arange(pos.size) - np.repeat(start, counts)
    table = np.full((npix, R), nb.size, dtype=np.int64)
    table[src, rank] = pos
    return torch.as_tensor(table)


def _forward(x: torch.Tensor, neighbours: torch.Tensor, taps: torch.Tensor) -> torch.Tensor:
    """``x [X, npix] -> [npix, X, D]``."""
    npix, M = int(neighbours.shape[0]), int(neighbours.shape[1])
    # (index_select: about twice as fast as advanced indexing on CPUs)
    g = torch.index_select(x, 1, neighbours.reshape(-1)).view(-1, npix, M)
    return torch.bmm(g.transpose(0, 1), taps.to(x.dtype))  # [npix, X, D]


def _transpose(y: torch.Tensor, readers: torch.Tensor, taps: torch.Tensor) -> torch.Tensor:
    """The adjoint: ``y [npix, X, D] -> [X, npix]``, a product per pixel then a gather."""
    npix, X = int(y.shape[0]), int(y.shape[1])
    M = int(taps.shape[1])
    # each tap's share, [npix, M, X]: (a contiguous right-hand side and no ``out=``: with
    # either, ``bmm`` on CPUs loops over the pixels one small product at a time, 1.7x slower
    # for the whole statistics' forward + backward at nside 16 and 64, same bits)
    share = torch.bmm(taps.to(y.dtype), y.transpose(1, 2).contiguous())
    flat = torch.cat([share.reshape(npix * M, X), share.new_zeros(1, X)])  # + the zero slot
    g = torch.index_select(flat, 0, readers.reshape(-1)).view(npix, -1, X)
    return g.sum(1).T  # [X, npix], summed in a fixed order


class StencilApply(torch.autograd.Function):
    """``y = W x`` for a stencil operator ``W``, ``x [X, npix] -> y [npix, X, D]``; its
    backward pass is :class:`StencilTranspose` (a gather, not a scatter-add)."""

    @staticmethod
    def forward(
        x: torch.Tensor, neighbours: torch.Tensor, taps: torch.Tensor, readers: torch.Tensor
    ) -> torch.Tensor:
        """``[npix, X, D]``."""
        return _forward(x, neighbours, taps)

    @staticmethod
    def setup_context(ctx: Any, inputs: tuple[Any, ...], output: Any) -> None:
        """Keep the operator for the backward pass."""
        _, neighbours, taps, readers = inputs
        ctx.save_for_backward(neighbours, taps, readers)

    @staticmethod
    def backward(ctx: Any, *grads: Any) -> Any:
        """The gradient in ``x``: the transpose applied to the output's."""
        neighbours, taps, readers = ctx.saved_tensors
        gx = StencilTranspose.apply(grads[0], neighbours, taps, readers)
        return gx, None, None, None


class StencilTranspose(torch.autograd.Function):
    """``x = W^T y``, ``y [npix, X, D] -> x [X, npix]``: the backward pass of
    :class:`StencilApply`, whose own backward pass is :class:`StencilApply` (so second
    derivatives work too)."""

    @staticmethod
    def forward(
        y: torch.Tensor, neighbours: torch.Tensor, taps: torch.Tensor, readers: torch.Tensor
    ) -> torch.Tensor:
        """``[X, npix]``."""
        return _transpose(y, readers, taps)

    @staticmethod
    def setup_context(ctx: Any, inputs: tuple[Any, ...], output: Any) -> None:
        """Keep the operator for the backward pass."""
        _, neighbours, taps, readers = inputs
        ctx.save_for_backward(neighbours, taps, readers)

    @staticmethod
    def backward(ctx: Any, *grads: Any) -> Any:
        """The gradient in ``y``: the operator applied to the output's."""
        neighbours, taps, readers = ctx.saved_tensors
        gy = StencilApply.apply(grads[0], neighbours, taps, readers)
        return gy, None, None, None


def stencil_apply(
    x: torch.Tensor, neighbours: torch.Tensor, taps: torch.Tensor, readers: torch.Tensor
) -> torch.Tensor:
    """``[npix, X, D]``: the stencil operator ``(neighbours, taps)`` applied to the real maps
    ``x [X, npix]``, differentiable in ``x`` with a deterministic backward pass
    (``readers``: :func:`reader_table` of the operator)."""
    out: torch.Tensor = StencilApply.apply(x, neighbours, taps, readers)
    return out
