"""Oriented wavelets on the HEALPix sphere, from a stencil in each pixel's tangent plane.

The construction follows foscat's (Delouis et al. 2022, "Non-Gaussian modelling and
statistical denoising of Planck dust polarisation full-sky maps using scattering
transforms"): at every pixel centre a ``K x K`` grid of points one pixel apart is laid in
the tangent plane, oriented by the local gauge (axes east and north: orientation ``l`` is
the angle ``pi l / L`` from east towards north), and projected back onto the sphere; each
point reads the map by HEALPix bilinear interpolation (``healpy.get_interp_weights``). A
Morlet wavelet sampled on the stencil then makes one linear operator per orientation,
stored as each pixel's few neighbours and their complex weights (a gathered sparse
matrix). Scale ``j`` applies the same stencil to the map averaged down to ``nside / 2**j``
(the four children of a nested pixel are consecutive).

The gauge is singular at the poles (where east and north turn around the pole): the
statistics of a field are then not invariant to rotations that move the poles; this is
foscat's "standard" gauge.
"""

from __future__ import annotations

import functools
import math
from typing import cast

import numpy as np
import torch

from .domains.healpix import HealpixSphere, npix_of, nside_of
from .errors import TexsynthError
from .healpix_cache import cached_operator
from .healpix_faces import MIN_FACE_NSIDE, FacesOperator, faces_apply
from .healpix_kernels import KERNEL_SIZE, morlet_stencil, stencil_points_at
from .healpix_stencil import reader_table, stencil_apply
from .wavelets import WaveletLayer

__all__ = [
    "BANK_METHODS",
    "HealpixWaveletBank",
    "build_stencil_operator",
    "exact_independent_samples",
    "independent_samples",
    "morlet_stencil",
    "stencil_operator",
    "stencil_points_at",
    "stencil_taps",
]

#: the ways of applying the wavelets (:class:`HealpixWaveletBank`'s ``method``)
BANK_METHODS = ("faces", "stencil")


@functools.lru_cache(maxsize=2)  # (about 1.3 GB at nside 256)
def _stencil_points(nside: int, K: int) -> tuple[np.ndarray, np.ndarray]:
    """For every pixel and stencil point: the 4 interpolation pixels and weights,
    ``[npix, K*K, 4]`` each."""
    return stencil_points_at(nside, K, np.arange(npix_of(nside)))


def stencil_operator(nside: int, K: int, L: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The oriented wavelets at ``nside`` as ``(neighbours [npix, M], weights [L, npix,
    M])``: pixel ``p`` of orientation ``l`` is ``sum_m weights[l, p, m] x[neighbours[p,
    m]]`` (complex64 weights; ``M`` the most distinct pixels a stencil reads, rows padded
    with weight 0). Read from the on-disk cache when it holds them
    (:mod:`texsynth.healpix_cache`), else built and written there."""
    return cached_operator("stencil", nside, K, L, lambda: build_stencil_operator(nside, K, L))


def build_stencil_operator(
    nside: int, K: int, L: int, dtype: torch.dtype = torch.complex64
) -> tuple[torch.Tensor, torch.Tensor]:
    """:func:`stencil_operator`, built (no cache): computed in float64, the weights
    returned as ``dtype`` (complex64 by default, as cached: the bank applies them in
    float32)."""
    pix, w = _stencil_points(nside, K)  # [npix, K*K, 4] each
    npix = npix_of(nside)
    T = K * K * 4
    psi = morlet_stencil(K, L)  # [L, K*K]
    # each pixel's T taps sorted by the pixel they read; repeated pixels share a slot
    cols = pix.reshape(npix, T).astype(np.int32)  # (a smaller key sorts faster)
    order = np.argsort(cols, axis=1)  # (the order of equal keys does not matter: summed)
    cols = np.take_along_axis(cols, order, 1)
    new = np.ones((npix, T), dtype=np.int64)
    new[:, 1:] = cols[:, 1:] != cols[:, :-1]
    slot = np.cumsum(new, 1) - 1
    M = int(slot[:, -1].max()) + 1
    flat = (np.arange(npix)[:, None] * M + slot).ravel()
    neighbours = np.repeat(np.arange(npix), M)  # padding reads the pixel itself...
    neighbours[flat] = cols.ravel()  # (int64 indices, as torch gathers take them)
    weights = np.zeros((L, npix * M), dtype=np.complex128)  # ...with weight 0
    for l in range(L):
        taps = np.take_along_axis((psi[l][None, :, None] * w).reshape(npix, T), order, 1)
        weights[l] = np.bincount(flat, taps.real.ravel(), npix * M) + 1j * np.bincount(
            flat, taps.imag.ravel(), npix * M
        )
    return (
        torch.as_tensor(neighbours.reshape(npix, M)),
        torch.as_tensor(weights.reshape(L, npix, M)).to(dtype),
    )


@functools.lru_cache(maxsize=8)
def stencil_taps(nside: int, K: int, L: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """:func:`stencil_operator` as the bank uses it: ``(neighbours [npix, M], taps [npix,
    M, 2L], readers [npix, R])``, each pixel's taps against the real and then the imaginary
    parts of the ``L`` wavelets (float32), so that one batched product per pixel gives all
    of them, and the operator's transpose for the backward pass
    (:func:`~texsynth.healpix_stencil.reader_table`). Kept for the last few skies: every
    pyramid level of a synthesis builds its fronts anew."""
    nb, w = stencil_operator(nside, K, L)
    taps = torch.cat([w.real, w.imag]).permute(1, 2, 0).contiguous().float()
    return nb, taps, reader_table(nb, taps)


class HealpixWaveletBank(torch.nn.Module):
    """``J`` scales and ``L`` orientations of stencil wavelets on a full HEALPix sky.

    The interface of the scattering core's wavelet banks: ``grids`` (the ``(npix,)`` of
    each scale), ``radii`` (full-resolution rings a wavelet of scale ``j`` reaches, for the
    erosion of masks), ``neff`` (independent samples of a mean, per pixel of the scale's
    sky), :meth:`transform` (the wavelet transform at one scale) and :meth:`downsample`.

    Parameters
    ----------
    nside
        The sky's resolution.
    J, L
        Scales (``nside / 2**j`` for ``j < J``, down to ``nside = 2``) and orientations.
    K
        Stencil size (pixels a side, odd).
    method
        ``"stencil"``: every pixel's own stencil (the reference, foscat's construction);
        ``"faces"``: the fast path of :mod:`texsynth.healpix_faces` (the base faces as
        padded images convolved with the stencil of each ring's face centre) on the skies
        of ``nside >= MIN_FACE_NSIDE``, the stencil on coarser ones.
    """

    def __init__(
        self, nside: int, J: int, L: int = 4, K: int = KERNEL_SIZE, method: str = "stencil"
    ) -> None:
        super().__init__()
        self.domain = HealpixSphere()
        if J < 1 or nside >> (J - 1) < 2:
            raise TexsynthError(
                f"a HEALPix map of nside {nside} supports at most "
                f"J={int(math.log2(nside))} scales, got J={J}"
            )
        if K < 3 or K % 2 == 0:
            raise TexsynthError(f"the stencil size K must be odd and >= 3, got {K}")
        if method not in BANK_METHODS:
            choices = ", ".join(BANK_METHODS)
            raise TexsynthError(
                f"unknown HEALPix wavelet method {method!r}; choose one of {choices}"
            )
        self.nside, self.J, self.L, self.K, self.method = nside, J, L, K, method
        self.grids: list[tuple[int, ...]] = [(npix_of(nside >> j),) for j in range(J)]
        self.radii = [(K // 2 + 1) * 2**j for j in range(J)]
        self.neff = [independent_samples(nside >> j, K, L) for j in range(J)]
        self.faces = torch.nn.ModuleList()
        for j in range(J):
            if method == "faces" and nside >> j >= MIN_FACE_NSIDE:
                op = FacesOperator(nside >> j, K, L)
                self.faces.append(op)
                self.radii[j] = max(self.radii[j], op.R * 2**j)  # (the kernels' reach)
                continue
            nb, taps, readers = stencil_taps(nside >> j, K, L)
            self.register_buffer(f"nb{j}", nb, persistent=False)
            self.register_buffer(f"taps{j}", taps, persistent=False)
            self.register_buffer(f"readers{j}", readers, persistent=False)

    #: the rows of the scattering Gram matrices are computed in pixel space only
    fourier_rows = False

    @property
    def device(self) -> torch.device:
        """Where the bank's operators are."""
        return next(self.buffers()).device

    def first_layer(self, x: torch.Tensor) -> WaveletLayer:
        """The wavelet coefficients of ``x [B, C, npix]`` at every scale (on its sky) and
        their moduli."""
        coef = [self.transform(self.downsample(x, j), j) for j in range(self.J)]
        return WaveletLayer(coef, [c.abs() for c in coef])

    def rows(self, layer: WaveletLayer, j3: int) -> torch.Tensor:
        """The rows of the scattering Gram matrix of scale ``j3``, ``[B, C, L3, A, P]``:
        ``c_{j3}``, then ``|c_{j2}|`` (averaged down to the sky of ``j3``) filtered at
        ``j3``, for ``j2 = 0 ... j3`` (``A = 1 + (j3 + 1) L``)."""
        rows = [layer.coef[j3][:, :, :, None]]  # [B, C, L3, 1, P]
        for j2 in range(j3 + 1):
            m = self.downsample(layer.modulus[j2], j3)  # [B, C, L2, P]
            rows.append(self.transform(m, j3).transpose(2, 3))  # [B, C, L3, L2, P]
        return torch.cat(rows, 3)

    def fourier_rows_of(self, layer: WaveletLayer, j3: int) -> torch.Tensor:
        """Not available: the stencil wavelets have no Fourier form (see
        :attr:`fourier_rows`)."""
        raise TexsynthError("HEALPix stencil wavelets have no Fourier-domain rows")

    def downsample(self, t: torch.Tensor, j: int) -> torch.Tensor:
        """A full-resolution (or finer) map averaged down to the sky of scale ``j``."""
        return self.domain.downsample(t, self.grids[j])

    def transform(self, t: torch.Tensor, j: int) -> torch.Tensor:
        """The ``L`` oriented wavelets of scale ``j`` on a real map ``t [..., npix_j]``:
        ``[..., L, npix_j]`` complex."""
        if j < len(self.faces):
            op = cast(FacesOperator, self.faces[j])
            npix = npix_of(op.nside)
            if t.shape[-1] != npix:
                raise TexsynthError(
                    f"scale {j} works on {npix} pixels (nside {op.nside}), "
                    f"got a map of {t.shape[-1]}"
                )
            y = faces_apply(t.reshape(-1, npix), op)  # [X, 2L, npix]
            y = y.reshape(*t.shape[:-1], 2, self.L, npix)
            return torch.complex(y[..., 0, :, :], y[..., 1, :, :])
        nb: torch.Tensor = getattr(self, f"nb{j}")
        taps: torch.Tensor = getattr(self, f"taps{j}")
        npix = int(nb.shape[0])
        if t.shape[-1] != npix:
            raise TexsynthError(
                f"scale {j} works on {npix} pixels (nside {nside_of(npix)}), "
                f"got a map of {t.shape[-1]}"
            )
        lead = t.shape[:-1]
        readers: torch.Tensor = getattr(self, f"readers{j}")
        # [npix, X, 2L]: one small product per pixel; a gather again in the backward pass
        out = stencil_apply(t.reshape(-1, npix), nb, taps, readers)
        out = out.permute(1, 2, 0).reshape(*lead, 2, self.L, npix)
        return torch.complex(out[..., 0, :, :], out[..., 1, :, :])


#: above this nside the count per pixel is that of this nside (it converges: 0.2854 at 16,
#: 0.2815 at 32, 0.2799 at 64, 0.2793 at 128 for K=5, L=4), the exact sums costing seconds
EXACT_NSIDE = 16


def independent_samples(nside: int, K: int, L: int) -> float:
    """:func:`exact_independent_samples` up to :data:`EXACT_NSIDE`, the same count per
    pixel above (within 2 % at nside 128)."""
    if nside <= EXACT_NSIDE:
        return exact_independent_samples(nside, K, L)
    per_pixel = exact_independent_samples(EXACT_NSIDE, K, L) / npix_of(EXACT_NSIDE)
    return per_pixel * npix_of(nside)


@functools.cache
def exact_independent_samples(nside: int, K: int, L: int) -> float:
    """Independent samples of the sky mean of ``|psi * x|**2`` (the ``neff`` that turns a
    coefficient map's spatial variance into the standard error of its mean), computed
    exactly from the operators for white noise ``x`` and averaged over orientations.

    With ``c = W x`` (``W = Wr + i Wi``, ``x`` real white noise), ``|c_p|**2`` has the
    covariances ``Cov(|c_p|**2, |c_q|**2) = 2 (A_pq**2 + 2 B_pq**2 + D_pq**2)``
    (``A = Wr Wr^T``, ``B = Wr Wi^T``, ``D = Wi Wi^T``; Isserlis' theorem), so the mean
    over the ``P`` pixels has the variance ``sum_pq Cov / P**2``, and the expected spatial
    variance of ``|c|**2`` is its pixels' own variance plus the spread of their means
    (the stencil's gain changes a little over the sphere). ``neff`` is their ratio. A
    flat-sky count from the stencil alone came out a third too low (standard errors a
    quarter too large against 40 white-noise skies).
    """
    from scipy import sparse

    nb, w = stencil_operator(nside, K, L)
    npix = npix_of(nside)
    rows = np.repeat(np.arange(npix), nb.shape[1])
    cols = nb.numpy().ravel()
    out = []
    for l in range(L):
        wl = w[l].numpy().astype(np.complex128).ravel()
        Wr = sparse.csr_matrix((wl.real, (rows, cols)), shape=(npix, npix))
        Wi = sparse.csr_matrix((wl.imag, (rows, cols)), shape=(npix, npix))
        A, B, D = Wr @ Wr.T, Wr @ Wi.T, Wi @ Wi.T
        total = 2 * (A.multiply(A).sum() + 2 * B.multiply(B).sum() + D.multiply(D).sum())
        var_mean = total / npix**2
        a, b, d = A.diagonal(), B.diagonal(), D.diagonal()
        power = a + d  # E|c_p|**2
        spread = np.mean(2 * (a**2 + 2 * b**2 + d**2)) + np.var(power)
        out.append(spread / var_mean)
    return float(np.mean(out))
