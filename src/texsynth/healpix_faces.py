"""The fast path of the HEALPix oriented wavelets: the 12 base faces as padded images.

In the nested ordering every base face is an ``nside x nside`` pixel grid (pixel ``(x, y)``
of face ``f`` is nested index ``f nside**2`` plus the bits of ``x`` and ``y`` interleaved;
``+x`` points north-east, ``+y`` north-west, Gorski et al. 2005). Each face is padded by
``R`` pixels read from its neighbour faces (a precomputed gather, :func:`pad_table`) and
convolved by one ``(2R + 1) x (2R + 1)`` kernel per orientation with ``conv2d``, instead of
applying each pixel's own sparse stencil row (:mod:`texsynth.healpix_wavelets`).

The kernels are the reference stencil bank's own operator at the centre pixel of a face of
each ring (north polar faces 0-3, equatorial 4-7, south polar 8-11;
:func:`face_kernels`): at the centre of every face the fast operator *is* the reference
one; elsewhere it keeps the kernel's shape in face coordinates where the reference keeps
its shape on the sphere, so the two differ where the faces are distorted (towards their
corners and, in the polar faces, where the face grid turns against east and north). The
orientations are thus measured in the *face gauge* (relative to each face's grid, equal to
the reference's east/north gauge at the face centres). docs/sphere.md quantifies the
difference.

The padding is a gather (each padded position reads one pixel); at the 8 points where only
three faces meet, the positions beyond the corner read the nearest pixel along the
extrapolated grid line. The backward pass is the transpose, again as gathers in a fixed
order (:class:`FacesApply`, :class:`FacesTranspose`): gradients repeat bit for bit on any
number of threads, and second derivatives work.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from .domains.healpix import healpy_module, npix_of
from .errors import TexsynthError
from .healpix_kernels import morlet_stencil, stencil_points_at

__all__ = [
    "FacesApply",
    "FacesTranspose",
    "FacesOperator",
    "face_kernels",
    "faces_apply",
    "pad_table",
    "MIN_FACE_NSIDE",
]

#: the coarsest sky on which the faces path is used (coarser skies use the stencil bank)
MIN_FACE_NSIDE = 8


@functools.cache
def _face_grid(nside: int) -> np.ndarray:
    """``[12, nside, nside]`` nested pixel of each face position ``(f, y, x)``."""
    hp = healpy_module()
    f, y, x = np.meshgrid(np.arange(12), np.arange(nside), np.arange(nside), indexing="ij")
    return np.asarray(hp.xyf2pix(nside, x.ravel(), y.ravel(), f.ravel(), nest=True)).reshape(
        12, nside, nside
    )


#: the face across each edge or corner of each base face, and the flips/swap of the
#: coordinates there (healpix_cxx's ``nb_facearray`` and ``nb_swaparray``, indexed by
#: ``4 + (x beyond: +-1) + (y beyond: +-3)``; -1: no face, where only three faces meet)
_NB_FACE = np.array(
    [
        [8, 9, 10, 11, -1, -1, -1, -1, 10, 11, 8, 9],
        [5, 6, 7, 4, 8, 9, 10, 11, 9, 10, 11, 8],
        [-1, -1, -1, -1, 5, 6, 7, 4, -1, -1, -1, -1],
        [4, 5, 6, 7, 11, 8, 9, 10, 11, 8, 9, 10],
        [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11],
        [1, 2, 3, 0, 0, 1, 2, 3, 5, 6, 7, 4],
        [-1, -1, -1, -1, 7, 4, 5, 6, -1, -1, -1, -1],
        [3, 0, 1, 2, 3, 0, 1, 2, 4, 5, 6, 7],
        [2, 3, 0, 1, -1, -1, -1, -1, 0, 1, 2, 3],
    ]
)
_NB_SWAP = np.array(
    [
        [0, 0, 3],
        [0, 0, 6],
        [0, 0, 0],
        [0, 0, 5],
        [0, 0, 0],
        [5, 0, 0],
        [0, 0, 0],
        [6, 0, 0],
        [3, 0, 0],
    ]
)


def _walk(nside: int, f: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Nested pixels at face coordinates ``(x, y)`` of faces ``f`` that may lie up to
    ``nside - 1`` pixels beyond the face, continued into the neighbour faces as HEALPix's
    own neighbour search does; -1 beyond the corners where only three faces meet."""
    hp = healpy_module()
    num = 4 + np.where(x < 0, -1, np.where(x >= nside, 1, 0))
    num = num + np.where(y < 0, -3, np.where(y >= nside, 3, 0))
    x, y = x % nside, y % nside
    face = _NB_FACE[num, f]
    bits = _NB_SWAP[num, f >> 2]
    x = np.where(bits & 1, nside - x - 1, x)
    y = np.where(bits & 2, nside - y - 1, y)
    x, y = np.where(bits & 4, y, x), np.where(bits & 4, x, y)
    ok = face >= 0
    out = np.full(f.shape, -1, dtype=np.int64)
    out[ok] = hp.xyf2pix(nside, x[ok], y[ok], face[ok], nest=True)
    return out


@functools.cache
def pad_table(nside: int, R: int) -> torch.Tensor:
    """``[12, nside + 2R, nside + 2R]`` int64: the nested pixel that each position of each
    padded face reads (row ``R + y``, column ``R + x`` for face pixel ``(x, y)``).

    Beyond an edge the face's grid continues into the neighbour face (HEALPix's neighbour
    search, which turns the coordinates where the faces' grids turn); beyond the 8 corners
    where only three faces meet, a position reads the pixel at its row's last valid column
    crossing (its ``y`` clamped to the face). Needs ``R < nside``.
    """
    if R >= nside:
        raise TexsynthError(f"cannot pad faces of nside {nside} by {R} pixels")
    S = nside + 2 * R
    f, y, x = np.meshgrid(np.arange(12), np.arange(S) - R, np.arange(S) - R, indexing="ij")
    table = _walk(nside, f, x, y)
    lost = table < 0
    table[lost] = _walk(nside, f[lost], x[lost], np.clip(y[lost], 0, nside - 1))
    return torch.as_tensor(table)


@functools.cache
def face_kernels(nside: int, K: int, L: int) -> torch.Tensor:
    """``[3, 2L, 2R + 1, 2R + 1]`` float64: for the north polar, equatorial and south polar
    faces, the reference stencil operator (:func:`~texsynth.healpix_kernels.
    stencil_points_at`, :func:`~texsynth.healpix_kernels.morlet_stencil`) of the pixel at
    the centre of face 0, 4 and 8, as a cross-correlation kernel in face coordinates (row
    ``dy``, column ``dx``): the real parts of the ``L`` orientations, then the imaginary
    parts. ``R`` is the smallest reach that holds all its taps."""
    grid = _face_grid(nside)
    c = nside // 2
    centres = np.array([grid[f, c, c] for f in (0, 4, 8)])
    pix, w = stencil_points_at(nside, K, centres)  # [3, K*K, 4] each
    psi = morlet_stencil(K, L)  # [L, K*K]
    Rmax = min(nside - 1, 2 * K)
    table = pad_table(nside, Rmax).numpy()
    kernels = []
    reach = 0
    for i, f in enumerate((0, 4, 8)):
        window = table[f, c : c + 2 * Rmax + 1, c : c + 2 * Rmax + 1]  # centred on (c, c)
        k = np.zeros((L, 2 * Rmax + 1, 2 * Rmax + 1), dtype=np.complex128)
        for point in range(K * K):
            for corner in range(4):
                q, wt = pix[i, point, corner], w[i, point, corner]
                if wt == 0:
                    continue
                ys, xs = np.nonzero(window == q)
                if ys.size == 0:
                    raise TexsynthError(f"a stencil tap of nside {nside} lies beyond the padding")
                # the position nearest to the centre (a pixel read twice near a corner)
                best = int(np.argmin(np.maximum(abs(ys - Rmax), abs(xs - Rmax))))
                dy, dx = int(ys[best]), int(xs[best])
                reach = max(reach, abs(dy - Rmax), abs(dx - Rmax))
                k[:, dy, dx] += psi[:, point] * wt
        kernels.append(k)
    ks = np.stack(kernels)[:, :, Rmax - reach : Rmax + reach + 1, Rmax - reach : Rmax + reach + 1]
    return torch.as_tensor(np.concatenate([ks.real, ks.imag], 1))


def _readers(index: np.ndarray, n_sources: int) -> np.ndarray:
    """The transpose of a gather ``y[k] = x[index[k]]``: ``[n_sources, R]`` positions ``k``
    reading each source (increasing), padded with ``index.size`` (a zero slot)."""
    order = np.argsort(index, kind="stable")
    src = index[order]
    counts = np.bincount(src, minlength=n_sources)
    R = max(int(counts.max()), 1)
    start = np.concatenate([[0], np.cumsum(counts)[:-1]])
    rank = np.arange(src.size) - np.repeat(start, counts)
    table = np.full((n_sources, R), index.size, dtype=np.int64)
    table[src, rank] = order
    return table


class FacesOperator(torch.nn.Module):
    """The ``L`` oriented wavelets at one ``nside`` on the padded base faces: real maps
    ``[X, npix] -> [X, 2L, npix]`` (real parts of the orientations, then imaginary parts).

    Buffers: the padding gather ``pad [12 S**2]`` and its transpose ``readers [npix, R]``,
    the nested order of the face images ``order [nside**2]`` and its inverse
    ``position``, and the grouped kernels ``weight [12 * 2L, 1, k, k]`` (each face its
    ring's kernel, float32).
    """

    pad: torch.Tensor
    readers: torch.Tensor
    order: torch.Tensor
    position: torch.Tensor
    weight: torch.Tensor

    def __init__(self, nside: int, K: int, L: int) -> None:
        super().__init__()
        from .healpix_statistics import face_order

        kern = face_kernels(nside, K, L)  # [3, 2L, k, k]
        self.nside, self.L = nside, L
        self.R = (int(kern.shape[-1]) - 1) // 2
        pad = pad_table(nside, self.R).reshape(-1)
        weight = kern[torch.arange(12) // 4].reshape(12 * 2 * L, 1, *kern.shape[-2:])
        order = face_order(nside)
        self.register_buffer("pad", pad, persistent=False)
        self.register_buffer(
            "readers", torch.as_tensor(_readers(pad.numpy(), npix_of(nside))), persistent=False
        )
        self.register_buffer("order", order, persistent=False)
        self.register_buffer("position", torch.argsort(order), persistent=False)
        self.register_buffer("weight", weight.float(), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``[X, 2L, npix]`` for real maps ``x [X, npix]``."""
        return faces_apply(x, self)


def _take(t: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """``t[..., index]`` for a 1-D ``index``: ``torch.gather`` with the index expanded over
    the leading axes (several times faster on CPUs than ``index_select`` on the last axis)."""
    flat = t.reshape(-1, t.shape[-1])
    out = torch.gather(flat, 1, index.expand(flat.shape[0], -1))
    return out.view(*t.shape[:-1], index.shape[0])


def _apply(x: torch.Tensor, op: FacesOperator) -> torch.Tensor:
    """``x [X, npix] -> [X, D, npix]``: pad, convolve, back to nested order (a depthwise
    ``conv2d`` of each face repeated ``D`` times: faster on CPUs than a grouped one)."""
    n, R = op.nside, op.R
    S = n + 2 * R
    X = int(x.shape[0])
    w = op.weight.to(x.dtype)  # [12 D, 1, k, k]
    D = int(w.shape[0]) // 12
    xpad = _take(x, op.pad).view(X, 12, 1, S, S).expand(X, 12, D, S, S)
    out = F.conv2d(xpad.reshape(X, 12 * D, S, S), w, groups=12 * D)  # [X, 12 D, n, n]
    out = _take(out.reshape(X, 12, D, n * n), op.position)
    return out.transpose(1, 2).reshape(X, D, 12 * n * n)


def _transpose(y: torch.Tensor, op: FacesOperator) -> torch.Tensor:
    """The adjoint of :func:`_apply`: ``y [X, D, npix] -> [X, npix]`` (the flipped kernels
    on the zero-padded output, summed over ``D``, then the padding's transpose)."""
    n, R = op.nside, op.R
    S = n + 2 * R
    X, D = int(y.shape[0]), int(y.shape[1])
    g = y.reshape(X, D, 12, n * n).transpose(1, 2)
    g = _take(g, op.order).reshape(X, 12 * D, n, n)
    w = op.weight.to(y.dtype).flip(-1, -2)
    gpad = F.conv2d(F.pad(g, (2 * R,) * 4), w, groups=12 * D).view(X, 12, D, S, S).sum(2)
    flat = torch.cat([gpad.reshape(X, -1), gpad.new_zeros(X, 1)], 1)
    readers = op.readers
    return _take(flat, readers.reshape(-1)).view(X, -1, readers.shape[1]).sum(-1)


class FacesApply(torch.autograd.Function):
    """``y = A x`` for the faces operator ``A``, ``x [X, npix] -> y [X, D, npix]``; its
    backward pass is :class:`FacesTranspose`."""

    @staticmethod
    def forward(x: torch.Tensor, op: FacesOperator) -> torch.Tensor:
        """``[X, D, npix]``."""
        return _apply(x, op)

    @staticmethod
    def setup_context(ctx: Any, inputs: tuple[Any, ...], output: Any) -> None:
        """Keep the operator for the backward pass."""
        ctx.op = inputs[1]

    @staticmethod
    def backward(ctx: Any, *grads: Any) -> Any:
        """The gradient in ``x``: the transpose applied to the output's."""
        return FacesTranspose.apply(grads[0], ctx.op), None


class FacesTranspose(torch.autograd.Function):
    """``x = A^T y``: the backward pass of :class:`FacesApply` (whose own backward pass is
    :class:`FacesApply`, so second derivatives work)."""

    @staticmethod
    def forward(y: torch.Tensor, op: FacesOperator) -> torch.Tensor:
        """``[X, npix]``."""
        return _transpose(y, op)

    @staticmethod
    def setup_context(ctx: Any, inputs: tuple[Any, ...], output: Any) -> None:
        """Keep the operator for the backward pass."""
        ctx.op = inputs[1]

    @staticmethod
    def backward(ctx: Any, *grads: Any) -> Any:
        """The gradient in ``y``: the operator applied to the output's."""
        return FacesApply.apply(grads[0], ctx.op), None


def faces_apply(x: torch.Tensor, op: FacesOperator) -> torch.Tensor:
    """``[X, 2L, npix]``: the faces operator applied to real maps ``x [X, npix]``,
    differentiable in ``x`` with a deterministic backward pass."""
    out: torch.Tensor = FacesApply.apply(x, op)
    return out
