"""Statistics of HEALPix skies that the evaluation of sky syntheses compares
(:func:`texsynth.evaluation_healpix.evaluate_healpix`): the 12 base faces as images, their
flat-sky power spectra, full-sky angular power spectra in half-octave bins (healpy's
``anafast``) and peak counts by height (the Minkowski functionals are in
:mod:`texsynth.metrics.minkowski`, Schmalzing and Gorski 1998). Maps are NESTED
(Gorski et al. 2005)."""

from __future__ import annotations

import math

import numpy as np
import torch

from .domains.healpix import neighbour_table, nside_of

__all__ = [
    "NU",
    "PEAK_EDGES",
    "anafast_binned",
    "base_faces",
    "face_order",
    "face_spectrum",
    "peak_density",
    "standardise",
]

#: the thresholds of the Minkowski functionals, in units of each map's standard deviation
NU = torch.linspace(-3.0, 3.0, 25, dtype=torch.float64)
#: edges of the peak-height histogram (sigma); the outer bins are open
PEAK_EDGES = (-1.0, -0.5, 0.0, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0)


# ------------------------------------------------------------------------------ geometry
def _compress_bits(v: torch.Tensor) -> torch.Tensor:
    """The even bits of ``v`` packed together (HEALPix's nested x coordinate)."""
    out = torch.zeros_like(v)
    for b in range(31):
        out |= ((v >> (2 * b)) & 1) << b
    return out


def face_order(nside: int) -> torch.Tensor:
    """``[nside**2]``: the nested index within a base face of each pixel of the face seen as
    an ``nside x nside`` image, row by row (row ``y``, column ``x``; grid neighbours are
    HEALPix neighbours, those sharing an edge are the 4-neighbours)."""
    i = torch.arange(nside * nside)
    ix, iy = _compress_bits(i), _compress_bits(i >> 1)
    order = torch.empty_like(i)
    order[iy * nside + ix] = i
    return order


def base_faces(x: torch.Tensor) -> torch.Tensor:
    """Maps ``[M, C, npix]`` (nested) as the images of their 12 base faces
    ``[M, 12, C, nside, nside]``."""
    M, C, npix = x.shape
    n = nside_of(npix)
    faces = x.reshape(M, C, 12, n * n)[..., face_order(n).to(x.device)]
    return faces.reshape(M, C, 12, n, n).transpose(1, 2)


def standardise(x: torch.Tensor) -> torch.Tensor:
    """Each map and channel of ``[M, C, npix]`` to mean 0, standard deviation 1."""
    sd = x.std(-1, unbiased=False, keepdim=True).clamp_min(torch.finfo(x.dtype).tiny)
    return (x - x.mean(-1, keepdim=True)) / sd


# ------------------------------------------------------------------------------ statistics
def face_spectrum(faces: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Flat-sky log power of face images ``[..., n, n]`` (Hann window, mean removed) in
    half-octave rings of the wavenumber; ``(ell [K], log P [..., K])``, ``ell`` the ring's
    centre in multipoles (a base face spans ``sqrt(pi / 3)`` radians)."""
    n = faces.shape[-1]
    w1 = torch.hann_window(n, periodic=False, dtype=faces.dtype, device=faces.device)
    w = w1[:, None] * w1[None, :]
    xc = faces - (faces * w).sum((-2, -1), keepdim=True) / w.sum()
    p = torch.fft.fft2(xc * w).abs().pow(2).flatten(-2)
    f = torch.fft.fftfreq(n, d=1.0 / n, dtype=faces.dtype, device=faces.device)
    r = (f[:, None] ** 2 + f[None, :] ** 2).sqrt().flatten()
    edges = [1.0]
    while edges[-1] * math.sqrt(2) < n / 2:
        edges.append(edges[-1] * math.sqrt(2))
    edges.append(n / 2 + 0.5)
    tiny = torch.finfo(faces.dtype).tiny
    logp, centres = [], []
    for lo, hi in zip(edges[:-1], edges[1:], strict=True):
        sel = (r >= lo) & (r < hi)
        logp.append(p[..., sel].mean(-1).clamp_min(tiny).log())
        centres.append(float(r[sel].mean()) * 2 * math.pi / math.sqrt(math.pi / 3))
    return torch.tensor(centres, dtype=torch.float64), torch.stack(logp, -1)


def _ell_bins(lmax: int) -> list[tuple[int, int]]:
    """Multipole ranges ``[lo, hi)`` from 2 to ``lmax``, a half octave each."""
    out, lo = [], 2
    while lo <= lmax:
        hi = min(lmax + 1, max(lo + 1, math.ceil(lo * math.sqrt(2))))
        out.append((lo, hi))
        lo = hi
    return out


def anafast_binned(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Full-sky angular power spectra of maps ``[M, C, npix]`` (healpy's ``anafast``) in
    half-octave bins of ``ell >= 2`` (means weighted by ``2 ell + 1``); ``(ell [K], log C
    [M, C, K])``."""
    from .healpix_views import angular_power_spectrum

    arr = x.detach().cpu().double().numpy()
    cl = np.stack([angular_power_spectrum(m) for m in arr])  # [M, C, lmax + 1]
    bins = _ell_bins(cl.shape[-1] - 1)
    ell = np.arange(cl.shape[-1], dtype=np.float64)
    w = 2 * ell + 1
    out = np.stack([(cl[..., a:b] * w[a:b]).sum(-1) / w[a:b].sum() for a, b in bins], -1)
    tiny = np.finfo(np.float64).tiny
    centres = torch.tensor([math.sqrt(a * (b - 1)) for a, b in bins], dtype=torch.float64)
    return centres, torch.from_numpy(np.log(np.maximum(out, tiny)))


def peak_density(z: torch.Tensor) -> torch.Tensor:
    """Local maxima of standardised maps ``z [M, C, npix]`` (higher than each of their 7 or
    8 HEALPix neighbours), counted by height (``PEAK_EDGES``, sigma) per base face and
    divided by the face's pixels: ``[M, 12, C, len(PEAK_EDGES) + 1]``."""
    M, C, npix = z.shape
    nside = nside_of(npix)
    nb = neighbour_table(nside).to(z.device)
    own = nb == torch.arange(npix, device=z.device)[:, None]
    around = z[..., nb].masked_fill(own, -math.inf).amax(-1)
    peak = z > around
    edges = torch.tensor(PEAK_EDGES, dtype=z.dtype, device=z.device)
    k = len(PEAK_EDGES) + 1
    slot = (torch.arange(npix, device=z.device) // (nside * nside)) * k
    slot = slot + torch.bucketize(z, edges)
    counts = torch.zeros(M, C, 12 * k, dtype=torch.float64, device=z.device)
    counts.scatter_add_(-1, slot, peak.double())
    return counts.reshape(M, C, 12, k).transpose(1, 2) / (nside * nside)
