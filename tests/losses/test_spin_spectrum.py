"""The differentiable E/B spectra of spin-2 skies and their loss
(texsynth.losses.spin_spectrum)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from texsynth import TexsynthError

hp = pytest.importorskip("healpy")

from texsynth.losses.spin_spectrum import SpinSpectrumLoss, spin_spectra  # noqa: E402


def _qu(nside: int, seed: int, b_ratio: float = 0.0, slope: float = 1.0) -> torch.Tensor:
    """``[2, npix]`` nested (Q, U) of a Gaussian sky with ``C^EE = ell**-slope`` and
    ``C^BB = b_ratio C^EE``."""
    lmax = 3 * nside - 1
    ell = np.arange(lmax + 1)
    ee = np.zeros(lmax + 1)
    ee[2:] = ell[2:] ** -slope
    np.random.seed(seed)  # noqa: NPY002 (synfast draws from numpy's global generator)
    _, q, u = hp.synfast([0 * ee, ee, b_ratio * ee, 0 * ee], nside, new=True, lmax=lmax)
    return torch.tensor(np.stack([hp.reorder(q, r2n=True), hp.reorder(u, r2n=True)]))


def test_spectra_are_anafast_pol_of_the_ring_maps() -> None:
    nside = 8
    x = torch.stack([_qu(nside, 0, 0.3), _qu(nside, 1, 0.0)])  # [2, 2, npix]
    cl = spin_spectra(x)
    assert cl.shape == (2, 3, 3 * nside)
    for k in range(2):
        q, u = (hp.reorder(c.numpy(), n2r=True) for c in x[k])
        ref = hp.anafast([0 * q, q, u], pol=True, iter=0)  # TT EE BB TE EB TB
        for mine, theirs in ((0, 1), (1, 2), (2, 4)):
            np.testing.assert_allclose(cl[k, mine].numpy(), ref[theirs], rtol=1e-10, atol=1e-14)
    # healpy's map2alm_spin gives map2alm(pol=True)'s E and B alms, sign included
    q, u = (hp.reorder(c.numpy(), n2r=True) for c in x[0])
    e, b = hp.map2alm_spin([q, u], 2, lmax=3 * nside - 1)
    _, e_pol, b_pol = hp.map2alm([0 * q, q, u], pol=True, iter=0)
    np.testing.assert_allclose(e, e_pol, atol=1e-12)
    np.testing.assert_allclose(b, b_pol, atol=1e-12)


@pytest.mark.parametrize("nside", [2, 4])
def test_spectra_gradcheck_float64(nside: int) -> None:
    g = torch.Generator().manual_seed(nside)
    x = torch.randn(2, 2, 12 * nside**2, generator=g, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(spin_spectra, (x,))


def test_loss_is_zero_on_the_exemplar_and_sees_b_modes() -> None:
    ex = _qu(16, 0)  # pure E
    loss = SpinSpectrumLoss(ex)
    same = _qu(16, 1)  # another pure-E sky of the same spectrum
    p = torch.complex(ex[0], ex[1]) * 1j**0.5  # every angle turned by 22.5 degrees: E -> B
    turned = torch.stack([p.real, p.imag])
    values = loss(torch.stack([ex, same, turned]))
    assert values[0] == 0
    assert values[1] < 2 < 50 < values[2]
    with_b = SpinSpectrumLoss(_qu(16, 0, 0.25))
    assert float(with_b(_qu(16, 1, 0.25)[None])) < float(with_b(_qu(16, 1, 0.0)[None])) / 5


def test_descent_on_the_loss_removes_b() -> None:
    ex = _qu(8, 0)
    loss = SpinSpectrumLoss(ex)
    g = torch.Generator().manual_seed(0)
    x = torch.randn(1, 2, ex.shape[-1], dtype=torch.float64, generator=g, requires_grad=True)
    opt = torch.optim.LBFGS([x], max_iter=200, line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        opt.zero_grad()
        value = loss(x).sum()
        value.backward()
        return value

    opt.step(closure)
    cl = spin_spectra(x.detach()[0])[:, 2:].sum(-1)
    ref = spin_spectra(ex)[:, 2:].sum(-1)
    assert abs(float(cl[0] / ref[0]) - 1) < 0.1 and float(cl[1] / cl[0]) < 0.03


def test_bad_input() -> None:
    npix = 12 * 4**2
    with pytest.raises(TexsynthError, match="one \\(Q, U\\) field"):
        SpinSpectrumLoss(torch.randn(3, npix))
    with pytest.raises(TexsynthError, match="lmin"):
        SpinSpectrumLoss(torch.randn(2, npix), lmin=1)
    with pytest.raises(TexsynthError, match="floor"):
        SpinSpectrumLoss(torch.randn(2, npix), floor=0.0)
    with pytest.raises(TexsynthError, match="no power"):
        SpinSpectrumLoss(torch.zeros(2, npix))
    loss = SpinSpectrumLoss(torch.randn(2, npix))
    with pytest.raises(TexsynthError, match="nside 4"):
        loss(torch.randn(1, 2, 12 * 8**2))
    assert loss.at(torch.randn(2, npix), floor=0.1).floor == 0.1


def test_spin_synthesis_of_a_pure_e_sky_keeps_b_out() -> None:
    """The scattering statistics cannot tell E from B (docs/sphere.md, "E and B"): without
    the spectrum term a synthesis from a pure-E sky came out with about as much B as E and
    too little power at low ell; with it (the default) B stays below 5 % of E."""
    from texsynth.stats.healpix import HealpixScatteringCovariance
    from texsynth.synthesis.sphere import synthesize_healpix

    ex = _qu(16, 0).float()
    ref = spin_spectra(ex.double())[:, 2:]
    ratios = {}
    for weight in (None, 0.0):  # the default (10) and the scattering statistics alone
        out = synthesize_healpix(ex, spin=2, seed=0, steps=30, spectrum=weight, progress=False)
        cl = spin_spectra(out[0].double())[:, 2:]
        ratios[weight] = (
            float(cl[1].sum() / cl[0].sum()),
            float(cl[0, :4].sum() / ref[0, :4].sum()),
        )
        if weight is None:
            sc = HealpixScatteringCovariance(J=3, spin=2)
            s2 = sc(out.double()).S2.mean(-1) / sc(ex[None].double()).S2.mean(-1)
            assert bool(((s2 - 1).abs() < 0.2).all()), s2
    assert ratios[None][0] < 0.05 < 0.3 < ratios[0.0][0], ratios  # B / E
    assert 0.6 < ratios[None][1] < 1.5, ratios  # C^EE at 2 <= ell < 6
