"""Spin-2 (Q/U) statistics on the HEALPix sphere (texsynth.healpix_spin and
HealpixScatteringCovariance(spin=2))."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from texsynth import TexsynthError

hp = pytest.importorskip("healpy")

from texsynth.healpix_spin import (  # noqa: E402
    HealpixSpinWaveletBank,
    tangent_frames,
    transport_angle,
)
from texsynth.healpix_wavelets import HealpixWaveletBank  # noqa: E402
from texsynth.losses.healpix import HealpixScatteringLoss  # noqa: E402
from texsynth.stats.healpix import HealpixScatteringCovariance  # noqa: E402

ROT = (30.0, 60.0, 10.0)  # Euler angles (degrees): moves the poles well away


def _nested(m: np.ndarray) -> np.ndarray:
    return np.stack([hp.reorder(x, r2n=True) for x in m])


def _teb_alms(nside: int, seed: int, ell0: float) -> list[np.ndarray]:
    lmax = 3 * nside - 1
    ell = np.arange(lmax + 1)
    cl = np.zeros(lmax + 1)
    cl[2:] = np.exp(-((ell[2:] / ell0) ** 2)) / ell[2:]
    np.random.seed(seed)  # noqa: NPY002 (synalm draws from numpy's global generator)
    return list(hp.synalm([cl, cl, cl, 0 * cl], lmax=lmax, new=True))


def _two_systems(nside: int, seed: int, ell0: float) -> tuple[np.ndarray, np.ndarray]:
    """The same (T, Q, U) sky in two coordinate systems, ``[3, npix]`` nested each."""
    alms = _teb_alms(nside, seed, ell0)
    rotated = [hp.Rotator(rot=ROT).rotate_alm(a) for a in alms]
    return _nested(hp.alm2map(alms, nside)), _nested(hp.alm2map(rotated, nside))


def test_healpy_polarisation_is_cosmo_and_transport_angles_rotate() -> None:
    """healpy's Q/U follow ``P' = P e^{2 i beta}`` with ``beta`` the angle (from
    ``e_theta`` towards ``e_phi``) of the old frame in the new one, the rule the transport
    applies; and transport angles change with the frames at both ends only."""
    nside = 32
    alms = _teb_alms(nside, 1, 8.0)
    rot = hp.Rotator(rot=ROT)
    a = hp.alm2map(alms, nside)
    b = hp.alm2map([rot.rotate_alm(x) for x in alms], nside)
    th, ph = hp.pix2ang(nside, np.arange(12 * nside**2))
    ta, pa = rot.get_inverse()(th, ph)  # the same points in the first system
    assert np.allclose(hp.ang2vec(ta, pa) @ rot.mat.T, hp.ang2vec(th, ph), atol=1e-12)

    def beta(t_a: np.ndarray, p_a: np.ndarray, t_b: np.ndarray, p_b: np.ndarray) -> np.ndarray:
        e1 = tangent_frames(t_a, p_a)[0] @ rot.mat.T  # first system's e_theta, seen in B
        f1, f2 = tangent_frames(t_b, p_b)
        return np.arctan2((e1 * f2).sum(-1), (e1 * f1).sum(-1))

    pol_a = hp.get_interp_val(a[1], ta, pa) + 1j * hp.get_interp_val(a[2], ta, pa)
    pol_b = b[1] + 1j * b[2]
    away = (np.abs(np.cos(th)) < 0.8) & (np.abs(np.cos(ta)) < 0.8)  # (interpolating Q, U)
    bt = beta(ta, pa, th, ph)
    cosmo = np.abs(pol_a * np.exp(2j * bt) - pol_b)[away]
    iau = np.abs(pol_a * np.exp(-2j * bt) - pol_b)[away]
    scale = np.abs(pol_b[away]).max()
    assert cosmo.max() < 0.05 * scale and iau.max() > 0.5 * scale

    # transport commutes with rotations: alpha_B = alpha_A + beta(to) - beta(from)
    rng = np.random.default_rng(0)
    t0, p0 = rng.uniform(0.2, 2.9, 50), rng.uniform(0, 2 * np.pi, 50)
    t1, p1 = t0 + rng.uniform(-0.1, 0.1, 50), p0 + rng.uniform(-0.3, 0.3, 50)
    tb0, pb0 = rot(t0, p0)
    tb1, pb1 = rot(t1, p1)
    lhs = transport_angle(tb0, pb0, tb1, pb1)
    rhs = transport_angle(t0, p0, t1, p1) + beta(t1, p1, tb1, pb1) - beta(t0, p0, tb0, pb0)
    assert np.allclose(np.angle(np.exp(1j * (lhs - rhs))), 0, atol=1e-10)
    # along a meridian the frames are parallel; the angle is antisymmetric
    assert np.allclose(transport_angle(t0, p0, t1, p0), 0, atol=1e-12)
    assert np.allclose(transport_angle(t1, p1, t0, p0), -transport_angle(t0, p0, t1, p1))


def _iso_s1_s2(s1: torch.Tensor, s2: torch.Tensor) -> np.ndarray:
    """``[2, J]``: S1 and S2 averaged over orientations (the orientations are measured from
    the local east, which the two systems draw differently)."""
    return torch.stack([s1.mean(-1), s2.mean(-1)]).reshape(2, -1).numpy()


def _untransported(bank: HealpixWaveletBank, qu: torch.Tensor) -> np.ndarray:
    """S1 and S2 of ``Q + i U`` filtered as two scalar maps (no parallel transport)."""
    q, u = qu[:, :1], qu[:, 1:]
    s1, s2 = [], []
    for j in range(bank.J):
        c = bank.transform(bank.downsample(q, j), j) + 1j * bank.transform(bank.downsample(u, j), j)
        s1.append(c.abs().mean(-1))
        s2.append((c.abs() ** 2).mean(-1))
    return _iso_s1_s2(torch.stack(s1, 2), torch.stack(s2, 2))


def test_statistics_do_not_depend_on_the_coordinate_system() -> None:
    nside, J = 16, 3
    sky_a, sky_b = _two_systems(nside, 0, 12.0)
    sc = HealpixScatteringCovariance(J=J, spin=2)
    scalar = HealpixWaveletBank(nside, J)
    errors, untransported, temperature = [], [], []
    for sky in (sky_a, sky_b):
        qu = torch.tensor(sky[None, 1:3])
        s = sc(qu)
        errors.append(_iso_s1_s2(s.S1, s.S2))
        untransported.append(_untransported(scalar, qu))
        t = HealpixScatteringCovariance(J=J)(torch.tensor(sky[None, :1]))
        temperature.append(_iso_s1_s2(t.S1, t.S2))
    with_transport = np.abs(errors[0] / errors[1] - 1).max()
    without = np.abs(untransported[0] / untransported[1] - 1).max()
    scalar_map = np.abs(temperature[0] / temperature[1] - 1).max()
    # as close as a scalar map's statistics are (pixelisation, orientations), and several
    # times closer than without the transport (which the test would then fail)
    assert with_transport < 0.04 and scalar_map < 0.04
    assert without > 0.1 and without > 4 * with_transport


def test_pure_e_and_pure_b_differ_by_s3_phase() -> None:
    """A pure-B sky with the E sky's multipoles is ``P_B = i P_E``: the operator is complex
    linear, so S1, S2, S4 agree and S3 turns by ``i`` (parity-odd information)."""
    nside = 8
    lmax = 3 * nside - 1
    np.random.seed(3)  # noqa: NPY002 (as above)
    alm = hp.synalm(np.r_[0.0, 0.0, 1.0 / np.arange(2, lmax + 1)], lmax=lmax)
    zero = 0 * alm
    e = _nested(hp.alm2map([zero, alm, zero], nside)[1:])
    b = _nested(hp.alm2map([zero, zero, alm], nside)[1:])
    assert np.allclose(b[0] + 1j * b[1], 1j * (e[0] + 1j * e[1]))
    sc = HealpixScatteringCovariance(J=2, spin=2)
    se, sb = sc(torch.tensor(e[None])), sc(torch.tensor(b[None]))
    for name in ("S0", "S1", "S2", "S4"):
        assert torch.allclose(getattr(se, name), getattr(sb, name), atol=1e-10)
    assert torch.allclose(sb.S3, 1j * se.S3, atol=1e-10)
    assert (sb.S3 - se.S3).abs().max() > 0.1 * se.S3.abs().max()


def test_shapes_and_errors() -> None:
    npix = 12 * 8**2
    x = torch.randn(3, 4, npix, dtype=torch.float64)  # two polarisation fields
    sc = HealpixScatteringCovariance(J=2, L=4, spin=2)
    s, sigma = sc(x, calc_var=True)
    assert s.S0.shape == (3, 2, 2) and s.S1.shape == (3, 2, 2, 4)
    assert s.S3.shape == (3, 2, 3, 4, 4) and s.S4.shape == (3, 2, 4, 4, 4, 4)
    assert sigma.S2.shape == s.S2.shape and bool(torch.isfinite(sigma.S4.abs()).all())
    cross = sc(x, x.flip(0))
    assert cross.S3P is not None and cross.S3P.shape == s.S3.shape
    masked = sc(x, mask=(torch.rand(npix) > 0.2).double())
    assert masked.S2.shape == s.S2.shape
    # gradients flow to Q and U
    q = x[:1, :2].clone().requires_grad_(True)
    sc(q).S4.abs().sum().backward()
    assert q.grad is not None and bool(q.grad.abs().sum(-1).gt(0).all())
    with pytest.raises(TexsynthError, match="even channel count"):
        sc(torch.randn(1, 3, npix))
    with pytest.raises(TexsynthError, match="one map per sky"):
        sc(x, mask=torch.ones(1, 4, npix, dtype=torch.float64))
    for bad in (3, -2, True, 2.0):  # (spin 1: vector fields, test_healpix_spin1.py)
        with pytest.raises(TexsynthError, match="spin must be 0"):
            HealpixScatteringCovariance(spin=bad)  # type: ignore[arg-type]
    with pytest.raises(TexsynthError, match="spin-2"):
        HealpixSpinWaveletBank(8, 2, spin=0)


def test_spin_pyramid_transports_children() -> None:
    """A smooth polarisation sky at nside 16, averaged down to nside 4 with transport, is
    close to the same sky drawn at nside 4; averaging Q and U as scalars is not, near the
    poles (where the children's frames turn)."""
    fine, coarse = 16, 4
    alms = _teb_alms(fine, 2, 3.0)
    lmax = 3 * coarse - 1
    small = [hp.resize_alm(a, 3 * fine - 1, 3 * fine - 1, lmax, lmax) for a in alms]
    qu_fine = torch.tensor(_nested(hp.alm2map(small, fine, lmax=lmax)[1:]))
    qu_coarse = _nested(hp.alm2map(small, coarse, lmax=lmax)[1:])
    want = qu_coarse[0] + 1j * qu_coarse[1]
    bank = HealpixSpinWaveletBank(fine, 3)
    p = torch.complex(qu_fine[0], qu_fine[1])
    got = bank.spin_downsample(p, 2).numpy()
    plain = HealpixWaveletBank(fine, 3)
    flat = plain.downsample(qu_fine[0], 2) + 1j * plain.downsample(qu_fine[1], 2)
    scale = np.abs(want).max()
    assert np.abs(got - want).max() < 0.1 * scale
    assert np.abs(flat.numpy() - want).max() > 2.5 * np.abs(got - want).max()


def test_spin_loss_is_small_at_the_exemplar_and_has_gradients() -> None:
    npix = 12 * 8**2
    g = torch.Generator().manual_seed(0)
    ex = torch.randn(2, npix, generator=g, dtype=torch.float64)
    loss = HealpixScatteringLoss(ex, J=2, spin=2)
    other = torch.randn(1, 2, npix, generator=g, dtype=torch.float64)
    rotated = torch.stack([-ex[1], ex[0]])[None]  # P -> i P: the same S1, S2, S4
    x = (2 * other).requires_grad_(True)
    far = loss(x)
    far.sum().backward()
    assert x.grad is not None and bool(torch.isfinite(x.grad).all())
    assert float(loss(ex[None])) < 1e-12 < float(far.detach())
    assert float(loss(rotated)) > 1e-6  # S3 tells P from i P
    assert loss.at(ex).spin == 2
    with pytest.raises(TexsynthError, match="one \\(Q, U\\) field"):
        HealpixScatteringLoss(torch.randn(4, npix), J=2, spin=2)


def test_spin_pyramid_of_the_synthesis_transports() -> None:
    """The synthesis pyramid's transported interpolation brings a smooth nside-4 sky up to
    nside 16 closer to the same sky drawn at 16 than interpolating Q and U as scalars."""
    from texsynth.synthesis.resampling import SPHERE
    from texsynth.synthesis.sphere_spin import SPIN_SPHERE

    fine, coarse = 16, 4
    lmax = 3 * coarse - 1
    alms = [
        hp.resize_alm(a, 3 * fine - 1, 3 * fine - 1, lmax, lmax) for a in _teb_alms(fine, 2, 3.0)
    ]
    want = torch.tensor(_nested(hp.alm2map(alms, fine, lmax=lmax)[1:]))[None]
    small = torch.tensor(_nested(hp.alm2map(alms, coarse, lmax=lmax)[1:]))[None]
    up = SPIN_SPHERE.upsample(small, (12 * fine**2,))
    plain = SPHERE.sphere.upsample(small, (12 * fine**2,))
    err, err_plain = (up - want).abs().max(), (plain - want).abs().max()
    assert err < 0.15 * want.abs().max() and err_plain > 3 * err
    # its averaging is the bank's
    bank = HealpixSpinWaveletBank(fine, 3)
    down = SPIN_SPHERE.downsample(want, (12 * coarse**2,))
    ref = bank.spin_downsample(torch.complex(want[:, 0], want[:, 1]), 2)
    assert torch.allclose(down, torch.stack([ref.real, ref.imag], 1))


def test_spin_synthesis_matches_the_statistics() -> None:
    from texsynth.synthesis.sphere import synthesize_healpix

    nside = 8
    qu = torch.tensor(_nested(hp.alm2map(_teb_alms(nside, 4, 6.0), nside)[1:])).float()
    # (the default 100 steps: 20 left S2 at j = 1 at 0.79 with the E/B term at its weight of
    # 10, against 0.92 at weight 1; 100 steps give 0.99 with either)
    out, rep = synthesize_healpix(qu, spin=2, seed=0, J=2, progress=False, report=True)
    assert out.shape == (1, 2, 12 * nside**2) and rep.losses[-1][-1] < 0.1 * rep.losses[-1][0]
    sc = HealpixScatteringCovariance(J=2, spin=2)
    ratio = sc(out.double()).S2.mean(-1) / sc(qu[None].double()).S2.mean(-1)
    assert bool(((ratio - 1).abs() < 0.05).all())
    with pytest.raises(TexsynthError, match="in_mask is not supported with spin=2"):
        synthesize_healpix(qu, spin=2, in_mask=torch.ones(12 * nside**2), progress=False)
    with pytest.raises(TexsynthError, match="one \\(Q, U\\) field"):
        synthesize_healpix(qu[:1], spin=2, progress=False)
    with pytest.raises(TexsynthError, match="spin=1 \\(vector fields\\) has statistics"):
        synthesize_healpix(qu, spin=1, progress=False)
