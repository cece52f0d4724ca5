"""The tangent-plane stencil and the Morlet kernel of the HEALPix wavelets.

Shared by the reference bank (:mod:`texsynth.healpix_wavelets`, one stencil per pixel) and
the fast bank (:mod:`texsynth.healpix_faces`, the stencil of a face's centre pixel as a
``conv2d`` kernel). The construction follows foscat's (Delouis et al. 2022,
"Non-Gaussian modelling and statistical denoising of Planck dust polarisation full-sky
maps using scattering transforms"): a ``K x K`` grid of points one pixel apart in each
pixel's tangent plane, axes east and north, read by HEALPix bilinear interpolation
(``healpy.get_interp_weights``).
"""

from __future__ import annotations

import math

import numpy as np

from .domains.healpix import HealpixSphere, healpy_module, npix_of

__all__ = ["KERNEL_SIZE", "SIGMA", "XI", "morlet_stencil", "stencil_points_at"]

#: default stencil size (pixels a side) and Morlet parameters (radians per pixel, pixels)
KERNEL_SIZE = 5
XI = 3 * math.pi / 4
SIGMA = 0.9


def morlet_stencil(K: int, L: int, xi: float = XI, sigma: float = SIGMA) -> np.ndarray:
    """``[L, K*K]`` complex Morlet wavelets on a ``K x K`` stencil (rows: offsets east,
    columns: north; zero mean, unit energy), orientation ``l`` at ``pi l / L`` from east."""
    r = (K - 1) / 2
    u, v = np.meshgrid(np.arange(K) - r, np.arange(K) - r, indexing="ij")  # east, north
    envelope = np.exp(-(u**2 + v**2) / (2 * sigma**2))
    out = []
    for l in range(L):
        a = math.pi * l / L
        wave = np.exp(1j * xi * (u * math.cos(a) + v * math.sin(a)))
        beta = (envelope * wave).sum() / envelope.sum()  # zero mean
        psi = envelope * (wave - beta)
        out.append((psi / np.sqrt((np.abs(psi) ** 2).sum())).ravel())
    return np.stack(out)


def stencil_points_at(nside: int, K: int, pixels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For the given pixels and every stencil point: the 4 interpolation pixels and weights,
    ``[len(pixels), K*K, 4]`` each (the reference stencil's geometry)."""
    hp = healpy_module()
    npix = npix_of(nside)
    theta, phi = HealpixSphere.centres(nside)
    theta, phi = theta[pixels], phi[pixels]
    n = len(theta)
    centre = hp.ang2vec(theta, phi)  # [n, 3]
    east = np.stack([-np.sin(phi), np.cos(phi), np.zeros_like(phi)], -1)
    north = np.stack(
        [-np.cos(theta) * np.cos(phi), -np.cos(theta) * np.sin(phi), np.sin(theta)], -1
    )
    h = math.sqrt(4 * math.pi / npix)  # pixel size (radians)
    r = (K - 1) / 2
    offsets = np.arange(K) - r
    a, b = np.meshgrid(offsets, offsets, indexing="ij")
    pts = (
        centre[:, None, :]
        + h * a.ravel()[None, :, None] * east[:, None, :]
        + h * b.ravel()[None, :, None] * north[:, None, :]
    )  # gnomonic: the tangent plane point, projected back along the radius
    pts /= np.linalg.norm(pts, axis=-1, keepdims=True)
    th, ph = hp.vec2ang(pts.reshape(-1, 3))
    pix, w = hp.get_interp_weights(nside, th, ph, nest=True)  # [4, n*K*K]
    return pix.T.reshape(n, K * K, 4), w.T.reshape(n, K * K, 4)
