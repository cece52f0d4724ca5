"""The differentiable angular power spectrum and its loss (texsynth.losses.angular_spectrum)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from texsynth import TexsynthError

hp = pytest.importorskip("healpy")

from texsynth.losses.angular_spectrum import (  # noqa: E402
    AngularSpectrumLoss,
    angular_spectrum,
    ell_bins,
)


def _sky(nside: int, slope: float, seed: int) -> torch.Tensor:
    ell = np.arange(3 * nside)
    cl = np.zeros(3 * nside)
    cl[1:] = ell[1:] ** -slope
    lmax = 3 * nside - 1
    ells, m = hp.Alm.getlm(lmax)
    rng = np.random.default_rng(seed)
    z = rng.standard_normal(ells.size) + 1j * rng.standard_normal(ells.size)
    alm = np.where(m == 0, z.real, z / np.sqrt(2)) * np.sqrt(cl[ells])
    return torch.tensor(hp.reorder(hp.alm2map(alm, nside, lmax=lmax), r2n=True))


def test_spectrum_is_anafast_of_the_ring_map() -> None:
    x = torch.randn(2, 3, 12 * 8**2, dtype=torch.float64)
    cl = angular_spectrum(x)
    assert cl.shape == (2, 3, 24)
    ref = hp.anafast(hp.reorder(x[1, 2].numpy(), n2r=True), iter=0)
    np.testing.assert_allclose(cl[1, 2].numpy(), ref, rtol=1e-12, atol=1e-15)


def test_spectrum_gradcheck_float64() -> None:
    x = torch.randn(2, 12 * 2**2, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(angular_spectrum, (x,))


def test_bins_cover_the_range_once() -> None:
    bins = ell_bins(1, 95)
    assert bins[0] == (1, 2) and bins[-1][1] == 96
    assert all(a[1] == b[0] for a, b in zip(bins, bins[1:], strict=False))
    assert all(hi - lo <= max(1, round(0.1 * lo) + 1) for lo, hi in bins)


def test_loss_is_zero_on_the_exemplar_and_orders_spectra() -> None:
    ex = _sky(16, 2.0, 0)
    loss = AngularSpectrumLoss(ex, lmin=2)
    same = _sky(16, 2.0, 1)  # another sky of the same spectrum
    steeper = _sky(16, 3.0, 1)  # the same phases, too little small-scale power
    values = loss(torch.stack([ex, same, steeper])[:, None])
    assert values[0] == 0
    assert values[1] < values[2] / 5


def test_descent_on_the_loss_brings_the_spectrum_to_the_exemplar() -> None:
    ex = _sky(8, 2.0, 0)
    loss = AngularSpectrumLoss(ex, lmin=1)
    x = torch.randn(1, 1, ex.numel(), dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([x], max_iter=200, line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        opt.zero_grad()
        value = loss(x).sum()
        value.backward()
        return value

    start = float(loss(x.detach()).sum())
    opt.step(closure)
    assert float(loss(x.detach()).sum()) < 1e-3 * start


def test_bad_input() -> None:
    with pytest.raises(TexsynthError, match="lmin"):
        AngularSpectrumLoss(torch.randn(12 * 4**2), lmin=100)
    loss = AngularSpectrumLoss(torch.randn(12 * 4**2))
    with pytest.raises(TexsynthError, match="nside 4"):
        loss(torch.randn(1, 1, 12 * 8**2))
