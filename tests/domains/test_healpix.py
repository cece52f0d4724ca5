"""The HEALPix sphere as a domain and its stencil wavelets (texsynth.domains.healpix,
texsynth.healpix_wavelets)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from texsynth import TexsynthError

hp = pytest.importorskip("healpy")

from texsynth.domains.healpix import (  # noqa: E402
    HealpixSphere,
    check_nside,
    neighbour_table,
    nside_of,
)
from texsynth.healpix_wavelets import HealpixWaveletBank, morlet_stencil  # noqa: E402


def test_nside_checks() -> None:
    assert check_nside(16) == 16 and nside_of(12 * 16**2) == 16
    for bad in (0, 3, 12, True, 2.0):
        with pytest.raises(TexsynthError, match="power of two"):
            check_nside(bad)
    with pytest.raises(TexsynthError, match="not 12 \\* nside\\*\\*2"):
        nside_of(1000)


def test_pyramid_is_the_mean_of_nested_children() -> None:
    sphere = HealpixSphere()
    x = torch.randn(2, 1, 12 * 8**2, dtype=torch.float64)
    small = sphere.downsample(x, (12 * 4**2,))
    assert small.shape == (2, 1, 192)
    # healpy's ud_grade of a nested map averages the same children
    ref = hp.ud_grade(x[0, 0].numpy(), 4, order_in="NESTED", order_out="NESTED")
    np.testing.assert_allclose(small[0, 0].numpy(), ref, rtol=1e-12)
    assert sphere.max_scales((12 * 8**2,)) == 3
    assert sphere.scale_shape((12 * 8**2,), 2) == (12 * 2**2,)
    torch.testing.assert_close(sphere.mean(x), x.mean(-1))


def test_erosion_follows_neighbours() -> None:
    sphere = HealpixSphere()
    nside = 8
    valid = torch.ones(1, 1, 12 * nside**2)
    valid[..., 100] = 0
    one = sphere.erode(valid, 1)
    lost = set(torch.nonzero(one[0, 0] == 0).flatten().tolist())
    expected = {100, *hp.get_all_neighbours(nside, 100, nest=True).tolist()} - {-1}
    assert lost == expected
    assert bool((sphere.erode(valid, 2) <= one).all())
    assert neighbour_table(nside).shape == (12 * nside**2, 8)


def test_morlet_stencil_has_zero_mean_and_unit_energy() -> None:
    psi = morlet_stencil(5, 4)
    assert psi.shape == (4, 25)
    np.testing.assert_allclose(psi.sum(1), 0, atol=1e-12)
    np.testing.assert_allclose((np.abs(psi) ** 2).sum(1), 1, atol=1e-12)


def test_wavelets_respond_to_their_orientation() -> None:
    nside = 32
    bank = HealpixWaveletBank(nside, J=3, L=4)
    theta, phi = hp.pix2ang(nside, np.arange(12 * nside**2), nest=True)
    equator = torch.as_tensor(np.abs(theta - math.pi / 2) < 0.3)
    # waves along the local east (longitude) and north (colatitude) near the equator
    for field, best in ((np.cos(20 * phi), 0), (np.cos(20 * theta), 2)):
        c = bank.transform(torch.as_tensor(field)[None, None], 0).abs()[0, 0]
        energy = [float(c[l][equator].mean()) for l in range(4)]
        assert int(np.argmax(energy)) == best, energy
        assert min(energy) < 0.1 * max(energy)
    # a constant map has no wavelet coefficients (zero-mean wavelets)
    flat = bank.transform(torch.ones(1, 1, 12 * nside**2, dtype=torch.float64), 0)
    assert float(flat.abs().max()) < 1e-6
    with pytest.raises(TexsynthError, match="at most J=5"):
        HealpixWaveletBank(nside, J=6)


def test_first_layer_and_rows_shapes_and_gradients() -> None:
    nside = 16
    bank = HealpixWaveletBank(nside, J=3, L=4)
    x = torch.randn(2, 1, 12 * nside**2, requires_grad=True)
    layer = bank.first_layer(x)
    assert [tuple(c.shape) for c in layer.coef] == [
        (2, 1, 4, 12 * (nside >> j) ** 2) for j in range(3)
    ]
    rows = bank.rows(layer, 2)
    assert rows.shape == (2, 1, 4, 1 + 3 * 4, 12 * 4**2)
    rows.abs().sum().backward()
    assert x.grad is not None and bool(torch.isfinite(x.grad).all())


def _sky(nside: int, seed: int, slope: float = 2.0) -> torch.Tensor:
    """A Gaussian random field on the sphere (power spectrum ell^-slope, no monopole or
    dipole), nested ordering."""
    rng = np.random.default_rng(seed)
    lmax = 3 * nside - 1
    cl = np.zeros(lmax + 1)
    cl[2:] = np.arange(2, lmax + 1, dtype=float) ** -slope
    ell, m = hp.Alm.getlm(lmax)
    size = hp.Alm.getsize(lmax)
    amp = np.sqrt(cl[ell] / 2)
    alm = amp * (rng.standard_normal(size) + 1j * rng.standard_normal(size))
    alm[m == 0] = np.sqrt(2) * alm[m == 0].real
    ring = hp.alm2map(alm, nside, lmax=lmax)
    return torch.as_tensor(hp.reorder(ring, r2n=True) / ring.std())


def test_sphere_statistics_shapes_options_and_gradients() -> None:
    from texsynth.stats.healpix import HealpixScatteringCovariance

    nside = 16
    sc = HealpixScatteringCovariance()
    x = _sky(nside, 0)[None, None].float().requires_grad_(True)
    s = sc(x)
    assert s.J == 4 and s.S1.shape == (1, 1, 4, 4) and s.S4.shape == (1, 1, 20, 4, 4, 4)
    s.flatten()[0].abs().sum().backward()
    assert x.grad is not None and bool(torch.isfinite(x.grad).all())
    stats, sigma = sc(x.detach(), calc_var=True)
    assert bool((sigma.S2 > 0).all())
    mask = torch.ones(12 * nside**2)
    mask[: 12 * nside**2 // 4] = 0  # a partial sky
    assert sc(x.detach(), mask=mask).S3.shape == stats.S3.shape
    assert sc(x.detach(), x.detach() ** 2).S3P is not None
    with pytest.raises(TexsynthError, match="at most J=4"):
        sc(x.detach(), J=5)
    with pytest.raises(TexsynthError, match="not 12 \\* nside"):
        sc(torch.randn(1, 1, 1000))


def test_sphere_loss_ranks_the_same_process_closer() -> None:
    from texsynth.losses.healpix import HealpixScatteringLoss

    nside = 16
    loss = HealpixScatteringLoss(_sky(nside, 0)[None, None].float())
    same = torch.stack([_sky(nside, s) for s in (1, 2)])[:, None].float()
    other = torch.stack([_sky(nside, s, slope=0.5) for s in (1, 2)])[:, None].float()
    a, b = loss(same), loss(other)
    assert a.shape == (2,) and float(a.max()) < float(b.min()), (a, b)
    coarse = loss.at(_sky(nside // 2, 0)[None, None].float(), J=2)
    assert coarse.options["J"] == 2


def test_standard_errors_match_the_spread_of_white_noise_skies() -> None:
    """calc_var's standard errors (the bank's independent-sample counts) against the
    spread over 40 white-noise skies: the median ratio near 1 (it was 1.3 with a flat-sky
    count from the stencil alone)."""
    from texsynth import HealpixScatteringCovariance

    sc = HealpixScatteringCovariance(J=3)
    xs = torch.randn(
        40, 1, 12 * 8**2, generator=torch.Generator().manual_seed(0), dtype=torch.float64
    )
    spread = sc(xs, norm=None).S2[:, 0].std(0)
    estimated = torch.stack(
        [sc(xs[k : k + 1], norm=None, calc_var=True)[1].S2[0, 0] for k in range(6)]
    ).mean(0)
    ratio = float((estimated / spread).median())
    assert 0.8 < ratio < 1.2, ratio


def test_independent_samples_per_pixel_is_kept_above_the_exact_nside() -> None:
    from texsynth.healpix_wavelets import (
        EXACT_NSIDE,
        exact_independent_samples,
        independent_samples,
    )

    per_pixel = exact_independent_samples(EXACT_NSIDE, 3, 4) / (12 * EXACT_NSIDE**2)
    assert independent_samples(4 * EXACT_NSIDE, 3, 4) == pytest.approx(
        per_pixel * 12 * (4 * EXACT_NSIDE) ** 2
    )
    # the count per pixel converges as nside grows (smaller, by less each time)
    a, b, c = (exact_independent_samples(n, 3, 4) / (12 * n * n) for n in (4, 8, 16))
    assert a > b > c and a - b > b - c
