"""Spin-1 (vector) fields on the HEALPix sphere: ``HealpixScatteringCovariance(spin=1)``,
foscat's ``spin=1``. The transport code is the spin-2 one with ``s = 1``
(test_healpix_spin.py checks it for spin 2); here: healpy's spin-1 maps follow the rule
the transport applies, the transported pyramid, the statistics and the refusals."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from texsynth import TexsynthError

hp = pytest.importorskip("healpy")

from texsynth.healpix_spin import HealpixSpinWaveletBank, tangent_frames  # noqa: E402
from texsynth.healpix_wavelets import HealpixWaveletBank  # noqa: E402
from texsynth.losses.healpix import HealpixScatteringLoss  # noqa: E402
from texsynth.stats.healpix import HealpixScatteringCovariance  # noqa: E402

ROT = (30.0, 60.0, 10.0)


def _eb_alms(lmax: int, seed: int, ell0: float) -> tuple[np.ndarray, np.ndarray]:
    ell = np.arange(lmax + 1)
    cl = np.zeros(lmax + 1)
    cl[1:] = np.exp(-((ell[1:] / ell0) ** 2)) / ell[1:]
    np.random.seed(seed)  # noqa: NPY002 (synalm draws from numpy's global generator)
    return hp.synalm(cl, lmax=lmax), hp.synalm(cl, lmax=lmax)


def _vector_maps(alms: tuple[np.ndarray, np.ndarray], nside: int, lmax: int) -> np.ndarray:
    """``(v_theta, v_phi)`` ``[2, npix]`` nested: healpy's spin-1 maps of (gradient, curl)
    multipoles."""
    maps = hp.alm2map_spin(list(alms), nside, 1, lmax)
    return np.stack([hp.reorder(m, r2n=True) for m in maps])


def test_healpy_spin1_maps_turn_as_vectors() -> None:
    """The same vector sky in two coordinate systems: ``P' = P e^{i beta}`` (``beta`` the
    angle of the old ``e_theta`` in the new frame), the rule the spin-1 transport uses,
    and not ``e^{-i beta}`` nor the spin-2 ``e^{2 i beta}``."""
    nside = 32
    lmax = 3 * nside - 1
    e, b = _eb_alms(lmax, 1, 8.0)
    rot = hp.Rotator(rot=ROT)
    a = hp.alm2map_spin([e, b], nside, 1, lmax)
    r = hp.alm2map_spin([rot.rotate_alm(e), rot.rotate_alm(b)], nside, 1, lmax)
    th, ph = hp.pix2ang(nside, np.arange(12 * nside**2))
    ta, pa = rot.get_inverse()(th, ph)
    e1 = tangent_frames(ta, pa)[0] @ rot.mat.T
    f1, f2 = tangent_frames(th, ph)
    beta = np.arctan2((e1 * f2).sum(-1), (e1 * f1).sum(-1))
    pa_ = hp.get_interp_val(a[0], ta, pa) + 1j * hp.get_interp_val(a[1], ta, pa)
    pb = r[0] + 1j * r[1]
    away = (np.abs(np.cos(th)) < 0.8) & (np.abs(np.cos(ta)) < 0.8)
    scale = np.abs(pb[away]).max()
    error = {s: np.abs(pa_ * np.exp(1j * s * beta) - pb)[away].max() / scale for s in (1, -1, 2)}
    assert error[1] < 0.03 and error[-1] > 0.5 and error[2] > 0.5


def test_spin1_pyramid_transports_children() -> None:
    """A smooth vector sky at nside 16 averaged down to nside 4 with spin-1 transport is
    closer to the same sky drawn at nside 4 than with spin-2 phases or scalar averaging."""
    fine, coarse = 16, 4
    lmax = 3 * coarse - 1
    alms = _eb_alms(lmax, 2, 3.0)
    v = torch.tensor(_vector_maps(alms, fine, lmax))
    c = _vector_maps(alms, coarse, lmax)
    want = c[0] + 1j * c[1]
    p = torch.complex(v[0], v[1])
    err = {}
    for spin in (1, 2):
        got = HealpixSpinWaveletBank(fine, 3, spin=spin).spin_downsample(p, 2).numpy()
        err[spin] = np.abs(got - want).max() / np.abs(want).max()
    plain = HealpixWaveletBank(fine, 3)
    flat = plain.downsample(v[0], 2) + 1j * plain.downsample(v[1], 2)
    err[0] = np.abs(flat.numpy() - want).max() / np.abs(want).max()
    assert err[1] < 0.05 and err[2] > 1.5 * err[1] and err[0] > 1.4 * err[1]


def test_spin1_statistics() -> None:
    nside = 8
    lmax = 3 * nside - 1
    v = torch.tensor(_vector_maps(_eb_alms(lmax, 0, 6.0), nside, lmax))[None]
    sc = HealpixScatteringCovariance(J=3, spin=1)
    s, sigma = sc(v, calc_var=True)
    assert s.S1.shape == (1, 1, 3, 4) and s.S3.shape == (1, 1, 6, 4, 4)
    assert s.S4.shape == (1, 1, 10, 4, 4, 4) and sigma.S2.shape == s.S2.shape
    amp = v[0, 0].hypot(v[0, 1])  # S0: mean and standard deviation of |v|
    assert torch.allclose(s.S0[0, 0], torch.stack([amp.mean(), amp.std(unbiased=False)]))
    # a global turn of every vector, P -> e^{i phi} P: S1, S2, S4 stay, S3 turns
    phi = 0.9
    turned = torch.stack([np.cos(phi) * v[:, 0] - np.sin(phi) * v[:, 1],
                          np.sin(phi) * v[:, 0] + np.cos(phi) * v[:, 1]], 1)  # fmt: skip
    t = sc(turned)
    for name in ("S0", "S1", "S2", "S4"):
        assert torch.allclose(getattr(t, name), getattr(s, name), rtol=1e-6, atol=1e-10)
    assert torch.allclose(t.S3, np.exp(1j * phi) * s.S3, rtol=1e-6, atol=1e-10)
    # not the spin-2 statistics of the same two maps (the transport differs)
    s2 = HealpixScatteringCovariance(J=3, spin=2)(v)
    assert not torch.allclose(s2.S2, s.S2, rtol=1e-3)
    # gradients flow to both components
    x = v.clone().requires_grad_(True)
    sc(x).S4.abs().sum().backward()
    assert x.grad is not None and bool(x.grad.abs().sum(-1).gt(0).all())


def test_spin1_refusals() -> None:
    npix = 12 * 8**2
    with pytest.raises(TexsynthError, match="even channel count"):
        HealpixScatteringCovariance(J=2, spin=1)(torch.randn(1, 3, npix))
    with pytest.raises(TexsynthError, match="only the stencil bank"):
        HealpixScatteringCovariance(spin=1, bank="faces")
    with pytest.raises(TexsynthError, match="spin=1 \\(vector fields\\) has statistics"):
        HealpixScatteringLoss(torch.randn(2, npix), J=2, spin=1)
    with pytest.raises(TexsynthError, match="spin must be 0 \\(scalar maps\\), 1 .* or 2"):
        HealpixScatteringCovariance(spin=3)
