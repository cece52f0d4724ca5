"""Spin-2 fields (Q/U polarisation) and spin-1 fields (vectors) on the HEALPix sphere:
stencil wavelets with parallel transport.

A spin-2 field ``P = Q + i U`` is defined relative to each pixel's own frame: healpy's
default COSMO convention (Gorski et al. 2005, "HEALPix"), axes ``(e_theta, e_phi)`` (south,
east), angles counted from ``e_theta`` towards ``e_phi``, so that a frame turned by ``beta``
sees ``P e^{-2 i beta}`` (the IAU convention flips the sign of ``U``). The stencil wavelets of
:mod:`texsynth.healpix_wavelets` read other pixels, whose values are in *their* frames;
each value read is therefore parallel-transported along the great circle from the pixel it
comes from to the stencil's centre before weighting:

``c_l(p) = e^{-2 i psi_l} sum_m W_l[p, m] e^{2 i alpha[p, m]} P[n_m]``

with ``W_l`` the scalar operator (:func:`~texsynth.healpix_wavelets.stencil_operator`),
``alpha[p, m]`` the angle from ``e_theta`` of ``p`` to the transported ``e_theta`` of the
pixel ``n_m`` (counted towards ``e_phi``), and ``psi_l`` the direction of wavelet ``l``
(``pi l / L`` from east towards north, i.e. ``pi / 2 + pi l / L`` from ``e_theta``). The
transport is applied per pixel read (each of the four bilinear corners of a stencil point,
taken from its own centre to ``p``), so the operator stays complex-linear in ``P`` (no
``conj(P)`` term) and the slots of a pixel read by several stencil points share one phase.
The factor ``e^{-2 i psi_l}`` expresses ``P`` relative to the wavelet's own axis, which
makes ``c_l`` a quantity of the wavelet's physical direction (like a scalar map's
coefficient) rather than of the gauge: S3, which pairs ``c`` with scalar second-layer
coefficients, is then as gauge-covariant as for scalar maps.

The pyramid transports too: the map of scale ``j`` is the mean of each coarse pixel's
``4**j`` finest descendants, each turned to the coarse pixel's frame along its great circle.
This is foscat's ``spin=2`` input (``Q`` and ``U`` maps) with another construction: foscat
builds E/B-mode operators from spherical harmonic transforms of its wavelets.

A spin-1 field is a tangent vector field, ``P = v_theta + i v_phi`` from its components on
``(e_theta, e_phi)`` (healpy's ``alm2map_spin(..., spin=1)`` maps: the gradient and curl
parts of the field); a frame turned by ``beta`` sees ``P e^{-i beta}``. Everything above
holds with ``s = 1`` in place of 2 (foscat's ``spin=1``, its "U, V" maps); the statistics
take it, the losses and the synthesis do not yet (:data:`SPINS`).
"""

from __future__ import annotations

import functools
import math

import numpy as np
import torch

from .domains.healpix import HealpixSphere, npix_of, nside_of
from .errors import TexsynthError
from .healpix_kernels import KERNEL_SIZE
from .healpix_stencil import reader_table, stencil_apply
from .healpix_wavelets import HealpixWaveletBank, stencil_operator
from .wavelets import WaveletLayer

__all__ = [
    "SPINS",
    "STATISTICS_SPINS",
    "HealpixSpinWaveletBank",
    "as_spin_field",
    "check_spin",
    "pyramid_phases",
    "spin_stencil_taps",
    "tangent_frames",
    "transport_angle",
]

#: the spins the losses and the synthesis accept (0: scalar maps, 2: Q/U polarisation)
SPINS = (0, 2)
#: the spins the statistics accept (1: vector fields, their (e_theta, e_phi) components)
STATISTICS_SPINS = (0, 1, 2)


def check_spin(spin: object, allowed: tuple[int, ...] = SPINS) -> int:
    """``spin`` if it is one of ``allowed`` (:data:`SPINS` by default, the losses' and the
    synthesis'; :data:`STATISTICS_SPINS` for the statistics), a one-line error otherwise."""
    is_int = isinstance(spin, (int, np.integer)) and not isinstance(spin, bool)
    if is_int and spin in allowed:
        return int(spin)
    if is_int and spin == 1:
        raise TexsynthError(
            "spin=1 (vector fields) has statistics (HealpixScatteringCovariance(spin=1)) "
            "but no loss or synthesis yet; use spin=0 (scalar maps) or spin=2 (Q/U maps)"
        )
    kinds = {0: "0 (scalar maps)", 1: "1 (vector fields)", 2: "2 (Q/U polarisation maps)"}
    names = [kinds[s] for s in allowed]
    raise TexsynthError(f"spin must be {', '.join(names[:-1])} or {names[-1]}, got {spin!r}")


def tangent_frames(theta: np.ndarray, phi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Unit vectors ``(e_theta, e_phi)`` (south, east), ``[n, 3]`` each, at ``(theta,
    phi)``."""
    ct, st, cp, sp = np.cos(theta), np.sin(theta), np.cos(phi), np.sin(phi)
    e_theta = np.stack([ct * cp, ct * sp, -st], -1)
    e_phi = np.stack([-sp, cp, np.zeros_like(phi)], -1)
    return e_theta, e_phi


def transport_angle(
    theta_from: np.ndarray, phi_from: np.ndarray, theta_to: np.ndarray, phi_to: np.ndarray
) -> np.ndarray:
    """Angle (radians) from the frame at ``to`` to the frame of ``from`` carried there by
    parallel transport along the great circle: a spin-``s`` value ``P`` at ``from`` is
    ``P e^{i s alpha}`` in the frame of ``to`` (angles from ``e_theta`` towards ``e_phi``).

    The transport is the rotation about ``from x to`` taking ``from`` onto ``to``
    (Rodrigues' formula, written without its axis' normalisation so that coincident points
    give 0); antipodal points are not expected (stencils span a few pixels).
    """
    s = np.stack([np.sin(theta_from) * np.cos(phi_from), np.sin(theta_from) * np.sin(phi_from)], -1)
    s = np.concatenate([s, np.cos(theta_from)[..., None]], -1)
    c = np.stack([np.sin(theta_to) * np.cos(phi_to), np.sin(theta_to) * np.sin(phi_to)], -1)
    c = np.concatenate([c, np.cos(theta_to)[..., None]], -1)
    e1_s, _ = tangent_frames(theta_from, phi_from)
    e1_c, e2_c = tangent_frames(theta_to, phi_to)
    k = np.cross(s, c)  # sin(angle) times the unit axis
    cos = (s * c).sum(-1, keepdims=True)
    t1 = e1_s * cos + np.cross(k, e1_s) + k * (k * e1_s).sum(-1, keepdims=True) / (1 + cos)
    return np.arctan2((t1 * e2_c).sum(-1), (t1 * e1_c).sum(-1))


def _axis_phases(L: int, spin: int) -> np.ndarray:
    """``e^{-i s psi_l}``, ``psi_l = pi / 2 + pi l / L`` the direction of wavelet ``l`` from
    ``e_theta`` (``pi l / L`` from east towards north)."""
    psi = math.pi / 2 + math.pi * np.arange(L) / L
    return np.exp(-1j * spin * psi)


def spin_operator(nside: int, K: int, L: int, spin: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The spin-``s`` stencil wavelets at ``nside``: ``(neighbours [npix, M], weights [L,
    npix, M])`` complex128, ``c_l[p] = sum_m weights[l, p, m] P[neighbours[p, m]]`` (the
    scalar weights times the transport phase of each pixel read and the wavelet's axis
    phase; see the module's docstring)."""
    nb, w = stencil_operator(nside, K, L)
    theta, phi = HealpixSphere.centres(nside)
    cols = nb.numpy()
    rows = np.broadcast_to(np.arange(npix_of(nside))[:, None], cols.shape)
    alpha = transport_angle(theta[cols], phi[cols], theta[rows], phi[rows])  # [npix, M]
    phase = np.exp(1j * spin * alpha)[None] * _axis_phases(L, spin)[:, None, None]
    return nb, w.to(torch.complex128) * torch.as_tensor(phase)


@functools.lru_cache(maxsize=8)
def spin_stencil_taps(
    nside: int, K: int, L: int, spin: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """:func:`spin_operator` as the bank uses it: ``(neighbours [npix, M], taps [npix, M,
    2L], readers [npix, R])``, the real and then imaginary parts of the weights (float32),
    and the transpose for the backward pass
    (:func:`~texsynth.healpix_stencil.reader_table`)."""
    nb, w = spin_operator(nside, K, L, spin)
    taps = torch.cat([w.real, w.imag]).permute(1, 2, 0).contiguous().float()
    return nb, taps, reader_table(nb, taps)


@functools.lru_cache(maxsize=16)
def pyramid_phases(nside: int, j: int, spin: int) -> torch.Tensor:
    """``[npix(nside)]`` complex128 ``e^{i s alpha}``: each pixel's value turned to the
    frame of its ancestor at ``nside / 2**j`` (nested: pixel ``p`` has ancestor
    ``p // 4**j``)."""
    theta, phi = HealpixSphere.centres(nside)
    ta, pa = HealpixSphere.centres(nside >> j)
    parent = np.arange(npix_of(nside)) >> (2 * j)
    alpha = transport_angle(theta, phi, ta[parent], pa[parent])
    return torch.as_tensor(np.exp(1j * spin * alpha))


def as_spin_field(x: torch.Tensor, name: str = "the maps") -> torch.Tensor:
    """``[B, 2F, npix]`` real maps, ``(Q, U)`` pairs of channels, as ``[B, F, npix]``
    complex ``P = Q + i U``."""
    C = int(x.shape[1])
    if C % 2:
        raise TexsynthError(
            f"{name} have {C} channels; spin-2 maps are (Q, U) pairs of channels (spin 1: "
            "vector components), [B, 2, npix] for one field (an even channel count)"
        )
    return torch.complex(x[:, 0::2], x[:, 1::2])


class HealpixSpinWaveletBank(HealpixWaveletBank):
    """The stencil wavelets of :class:`~texsynth.healpix_wavelets.HealpixWaveletBank` on
    spin-2 (or spin-1) maps, with parallel transport (see the module's docstring).

    :meth:`first_layer` takes ``[B, 2F, npix]`` real maps, ``(Q, U)`` pairs of channels
    (healpy's COSMO convention; spin 1: ``(v_theta, v_phi)`` pairs), and returns ``F``
    channels of complex coefficients, whose moduli are scalar maps: :meth:`rows` (the
    second layer) is the scalar bank's.

    Parameters
    ----------
    nside, J, L, K
        As :class:`~texsynth.healpix_wavelets.HealpixWaveletBank`.
    spin
        2 (Q/U polarisation) or 1 (vector fields).
    """

    def __init__(self, nside: int, J: int, L: int = 4, K: int = KERNEL_SIZE, spin: int = 2) -> None:
        super().__init__(nside, J, L, K)
        if check_spin(spin, STATISTICS_SPINS) == 0:
            raise TexsynthError(
                "a spin bank is for spin-1 (vector) or spin-2 (Q/U) maps, got spin=0; use "
                "HealpixWaveletBank for scalar maps"
            )
        self.spin = spin
        for j in range(J):
            nb, taps, readers = spin_stencil_taps(nside >> j, K, L, spin)
            self.register_buffer(f"snb{j}", nb, persistent=False)
            self.register_buffer(f"staps{j}", taps, persistent=False)
            self.register_buffer(f"sreaders{j}", readers, persistent=False)
            self.register_buffer(f"up{j}", pyramid_phases(nside, j, spin), persistent=False)

    def first_layer(self, x: torch.Tensor) -> WaveletLayer:
        """The coefficients of ``x [B, 2F, npix]`` (``(Q, U)`` pairs) at every scale, ``[B,
        F, L, npix_j]``, and their moduli."""
        p = as_spin_field(x)
        coef = [self.spin_transform(self.spin_downsample(p, j), j) for j in range(self.J)]
        return WaveletLayer(coef, [c.abs() for c in coef])

    def spin_downsample(self, p: torch.Tensor, j: int) -> torch.Tensor:
        """A full-resolution complex spin-2 map ``[..., npix]`` averaged down to the sky of
        scale ``j``, each pixel transported to its coarse pixel's frame first."""
        if j == 0:
            return p
        phase: torch.Tensor = getattr(self, f"up{j}")
        return (p * phase.to(p.dtype)).unflatten(-1, (-1, 4**j)).mean(-1)

    def spin_transform(self, p: torch.Tensor, j: int) -> torch.Tensor:
        """The ``L`` oriented wavelets of scale ``j`` on a complex spin-2 map ``p [...,
        npix_j]``: ``[..., L, npix_j]`` complex."""
        nb: torch.Tensor = getattr(self, f"snb{j}")
        taps: torch.Tensor = getattr(self, f"staps{j}")
        npix = int(nb.shape[0])
        if p.shape[-1] != npix:
            raise TexsynthError(
                f"scale {j} works on {npix} pixels (nside {nside_of(npix)}), "
                f"got a map of {p.shape[-1]}"
            )
        lead = p.shape[:-1]
        flat = p.reshape(-1, npix)
        X = flat.shape[0]
        readers: torch.Tensor = getattr(self, f"sreaders{j}")
        # [npix, 2X, 2L]: Wr Q, Wi Q; Wr U, Wi U (a gather again in the backward pass)
        out = stencil_apply(torch.cat([flat.real, flat.imag]), nb, taps, readers)
        wr_q, wi_q = out[:, :X, : self.L], out[:, :X, self.L :]
        wr_u, wi_u = out[:, X:, : self.L], out[:, X:, self.L :]
        c = torch.complex(wr_q - wi_u, wi_q + wr_u)  # [npix, X, L]
        return c.permute(1, 2, 0).reshape(*lead, self.L, npix)
