"""Scattering covariance of 1-D signals: shapes, equality with 2-D, invariances, masks."""

from __future__ import annotations

import pytest
import torch

from tests.helpers import randn
from texsynth import ScatCov, ScatteringCovariance, ScatteringCovariance1D, TexsynthError
from texsynth.stats import s3_index, s4_index
from texsynth.wavelets1d import WaveletBank1D, max_J_1d, wavelet_spectra_1d


def _signal(n: int = 256, seed: int = 1) -> torch.Tensor:
    """Non-Gaussian test signal: sparse positive bursts plus a slow wave (S3, S4 != 0)."""
    z = randn(n, seed=seed)
    k = torch.fft.fftfreq(n, dtype=torch.float64)
    smooth = torch.fft.ifft(torch.fft.fft(z) * torch.exp(-((k / 0.05) ** 2))).real
    return torch.relu(smooth / smooth.std() - 0.5) ** 1.5 + 0.1 * z


@pytest.mark.parametrize(("B", "C", "J", "n"), [(1, 1, 3, 64), (2, 3, 4, 100), (1, 2, 6, 256)])
def test_shapes_are_2d_shapes_with_one_orientation(B: int, C: int, J: int, n: int) -> None:
    s = ScatteringCovariance1D(J=J)(randn(B, C, n))
    assert isinstance(s, ScatCov) and (s.J, s.L) == (J, 1)
    assert s.S0.shape == (B, C, 2)
    assert s.S1.shape == s.S2.shape == (B, C, J, 1)
    assert s.S3.shape == (B, C, len(s3_index(J)), 1, 1) and s.S3.is_complex()
    assert s.S4.shape == (B, C, len(s4_index(J)), 1, 1, 1) and s.S4.is_complex()
    assert s.S3P is None
    # the ScatCov tools work unchanged
    assert s.iso_mean().S4.shape == (B, C, len(s4_index(J)), 1, 1)
    assert s.flatten()[0].shape[0] == B
    assert torch.all(s.distance(s) == 0)


def test_accepts_1d_and_2d_input_and_default_J() -> None:
    x = randn(300)
    sc = ScatteringCovariance1D()
    a, b = sc(x), sc(x[None])
    assert a.J == max_J_1d(300) == 6  # floor(log2 300) - 2
    torch.testing.assert_close(a.S4, b.S4)


def test_equals_2d_statistics_of_an_image_constant_along_columns() -> None:
    """With L = 1 the 2-D bank restricted to one axis is the 1-D bank: same numbers."""
    s = _signal(64)
    y = torch.roll(s, 5) ** 2
    img, img2 = s[None].expand(64, 64).clone(), y[None].expand(64, 64).clone()
    sc2, sc1 = ScatteringCovariance(J=3, L=1), ScatteringCovariance1D(J=3)
    for norm in (None, "self"):
        a, b = sc2(img, norm=norm), sc1(s, norm=norm)
        for name, t in a.fields():
            torch.testing.assert_close(getattr(b, name), t, rtol=1e-9, atol=1e-15)
    a, b = sc2(img, img2), sc1(s, y)  # cross statistics (with S3P)
    for name, t in a.fields():
        torch.testing.assert_close(getattr(b, name), t, rtol=1e-9, atol=1e-15)


def test_wavelets_are_analytic_and_partition_unity() -> None:
    psi = wavelet_spectra_1d(512, 7)
    k = torch.fft.fftfreq(512)
    assert float(psi[:, k <= 0].abs().max()) == 0.0  # positive frequencies only
    cover = (psi**2).sum(0)
    band = (k > 0.01) & (k < 0.375)  # from the coarsest band to xi, the finest centre
    torch.testing.assert_close(cover[band], torch.ones_like(cover[band]))
    bank = WaveletBank1D(512, 7)
    assert bank.radii == sorted(bank.radii) and bank.neff == sorted(bank.neff, reverse=True)


def test_white_noise_power_halves_per_octave_and_couplings_vanish() -> None:
    x = randn(16, 1, 1024, seed=3)
    raw = ScatteringCovariance1D(J=6)(x)
    s2 = raw.S2.mean((0, 1, 3))
    ratios = s2[1:-1] / s2[2:]
    torch.testing.assert_close(ratios, torch.full_like(ratios, 2.0), rtol=0.1, atol=0)
    sc = ScatteringCovariance1D(J=6)
    s = sc(x, norm="self")
    # normalised S3 and S4 at fine scales (j3 <= 2, many samples) nearly vanish for noise
    s3, s4 = s.S3[:, :, :6].abs().mean(), s.S4[:, :, :10].abs().mean()
    assert float(s3) < 0.015 and float(s4) < 0.015
    # and not for sparse spikes (phase alignment across scales)
    g = torch.Generator().manual_seed(0)
    spikes = (torch.rand(1024, generator=g, dtype=torch.float64) < 0.02).double()
    t = sc(spikes + 0.05 * x[0, 0], norm="self")
    assert float(t.S3[:, :, :6].abs().mean()) > 5 * float(s3)
    assert float(t.S4[:, :, :10].abs().mean()) > 2 * float(s4)


def test_periodic_translation_invariance() -> None:
    """Exact for shifts on the coarsest grid; S2 exact for any shift (spectral), the others
    close (moduli are sampled on each scale's decimated grid)."""
    x = _signal()
    sc = ScatteringCovariance1D(J=5)
    a = sc(x, norm="self")
    b = sc(torch.roll(x, 40), norm="self")  # 40 is a multiple of 2^(J-2) = 8
    for name, t in a.fields():
        torch.testing.assert_close(getattr(b, name), t, rtol=1e-9, atol=1e-12)
    c = sc(torch.roll(x, 13), norm="self")
    for name in ("S0", "S2"):
        torch.testing.assert_close(getattr(c, name), getattr(a, name), rtol=1e-9, atol=1e-12)
    for name in ("S1", "S3", "S4"):
        t = getattr(a, name)
        torch.testing.assert_close(getattr(c, name), t, rtol=0, atol=0.03 * float(t.abs().max()))


def test_gradcheck_float64_and_finite_gradients() -> None:
    x = randn(1, 1, 32, seed=5).requires_grad_(True)
    sc = ScatteringCovariance1D(J=2)

    def f(t: torch.Tensor) -> tuple[torch.Tensor, ...]:
        s = sc(t, norm="self")
        return s.S1, s.S2, torch.view_as_real(s.S3), torch.view_as_real(s.S4)

    assert torch.autograd.gradcheck(f, (x,), eps=1e-6, atol=1e-5, rtol=1e-3, fast_mode=True)
    y = _signal().requires_grad_(True)
    mask = torch.ones(256, dtype=torch.float64)
    mask[100:140] = 0
    s = ScatteringCovariance1D(J=5)(y, mask=mask, edge=True)
    (s.S1.sum() + s.S4.abs().sum() + s.S3.abs().sum()).backward()
    assert y.grad is not None and torch.isfinite(y.grad).all()
    assert float(y.grad[100:140].abs().max()) == 0.0  # masked samples get no gradient


def test_mask_excludes_samples_exactly() -> None:
    x = _signal()
    mask = torch.ones(256, dtype=torch.float64)
    mask[90:150] = 0
    y = x.clone()
    y[90:150] = 1e3 * randn(60, seed=9)  # garbage where masked
    sc = ScatteringCovariance1D(J=4)
    a, sa = sc(x, mask=mask, norm="self", calc_var=True)
    b, sb = sc(y, mask=mask, norm="self", calc_var=True)
    for name, t in a.fields():
        torch.testing.assert_close(getattr(b, name), t, rtol=1e-9, atol=1e-12)
        torch.testing.assert_close(getattr(sb, name), getattr(sa, name), rtol=1e-9, atol=1e-12)
    # without the mask, the garbage changes everything
    assert float((sc(y, norm="self").S1 - sc(x, norm="self").S1).abs().max()) > 0.05


def test_uniform_mask_equals_no_mask_and_spatial_equals_fourier_path() -> None:
    x = _signal()
    sc = ScatteringCovariance1D(J=5)
    a = sc(x)
    b = sc(x, mask=torch.ones(256, dtype=torch.float64))
    c, _ = sc(x, calc_var=True)  # calc_var takes the spatial path
    for name, t in a.fields():
        torch.testing.assert_close(getattr(b, name), t, rtol=1e-9, atol=1e-14)
        torch.testing.assert_close(getattr(c, name), t, rtol=1e-9, atol=1e-14)


def test_cross_with_itself_equals_auto_and_swaps_correctly() -> None:
    x, y = _signal(seed=1), _signal(seed=2)
    sc = ScatteringCovariance1D(J=4)
    auto = sc(x, norm="self")
    cross = sc(x, x.clone(), norm="self")
    for name, t in auto.fields():
        torch.testing.assert_close(getattr(cross, name), t, rtol=1e-6, atol=1e-9)
    torch.testing.assert_close(cross.S3P, auto.S3, rtol=1e-9, atol=1e-12)
    torch.testing.assert_close(sc(x, y).S3P, sc(y, x).S3)


def test_calc_var_positive_and_matches_spread_across_realisations() -> None:
    sc = ScatteringCovariance1D(J=5)
    xs = randn(32, 1, 512, seed=21)
    stats, sigma = sc(xs, calc_var=True)
    for name, t in sigma.fields():
        assert t.shape == getattr(stats, name).shape and not t.is_complex()
        assert bool((t > 0).all()), name
    ratio = sigma.S2.mean(0)[0] / stats.S2.std(0)[0]
    # exact in expectation for Gaussian noise; 32 realisations leave ~15% scatter
    assert float(ratio.min()) > 0.6 and float(ratio.max()) < 1.6
    # cross statistics get standard errors for S3P too
    _, csig = sc(xs[:4], randn(4, 1, 512, seed=22), calc_var=True)
    assert csig.S3P is not None and bool((csig.S3P > 0).all())


def test_masked_standard_errors_stay_finite_and_nonzero() -> None:
    """A hole leaves few eroded samples at coarse scales; their spread is estimated over
    every valid sample, so no standard error collapses to 0 (the chi-square would explode)."""
    x = torch.cumsum(randn(1024, seed=4), 0)
    mask = torch.ones(1024, dtype=torch.float64)
    mask[400:600] = 0
    _, sigma = ScatteringCovariance1D()(x, mask=mask, edge=True, norm="self", calc_var=True)
    for name, t in sigma.fields():
        assert bool(torch.isfinite(t).all()) and float(t.min()) > 1e-4, name


def test_edge_mode_ignores_wraparound_jump() -> None:
    noise = randn(1, 1, 512, seed=11)
    ramp = torch.linspace(0, 10, 512, dtype=torch.float64)  # a 10-sigma jump at the wrap
    sc = ScatteringCovariance1D(J=5)
    clean = sc(noise, edge=True).S2
    periodic = sc(noise + ramp).S2
    edge = sc(noise + ramp, edge=True).S2
    assert float((periodic / clean).max()) > 5
    torch.testing.assert_close(edge, clean, rtol=0.03, atol=0)


def test_norm_modes_and_auto_cache() -> None:
    x, y = _signal(seed=1), _signal(seed=4)
    sc = ScatteringCovariance1D(J=4)
    raw = sc(x)
    torch.testing.assert_close(sc(x, norm="self").S1, raw.S1 / raw.S2.sqrt())
    torch.testing.assert_close(sc(x, norm="auto").S2, torch.ones_like(raw.S2))
    torch.testing.assert_close(sc(y, norm="auto").S2, sc(y).S2 / raw.S2)  # x's cache
    with pytest.raises(TexsynthError, match="reset_norm"):
        sc(x, J=3, norm="auto")
    sc.reset_norm()
    torch.testing.assert_close(sc(y, norm="auto").S2, torch.ones_like(raw.S2))


def test_float32_agrees_with_float64() -> None:
    x = _signal()
    sc = ScatteringCovariance1D(J=5)
    a, b = sc(x), sc(x.float())
    assert b.S2.dtype == torch.float32 and b.S4.dtype == torch.complex64
    torch.testing.assert_close(b.S2.double(), a.S2, rtol=1e-4, atol=1e-7)
    torch.testing.assert_close(b.S4.to(torch.complex128), a.S4, rtol=1e-3, atol=1e-7)


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda sc: sc(randn(2, 2, 2, 64)), r"\[N\], \[C, N\] or \[B, C, N\]"),
        (lambda sc: sc(randn(64), J=5), "too short for J=5"),
        (lambda sc: sc(randn(64), norm="yes"), "norm must be"),
        (lambda sc: sc(randn(64), randn(65)), "same shape"),
        (lambda sc: sc(randn(64), mask=torch.ones(63)), "does not fit"),
        (lambda sc: sc(randn(64), mask=torch.zeros(64)), "excludes every sample"),
        (lambda sc: sc(randn(64), mask=torch.full((64,), 2.0)), r"\[0, 1\]"),
        (lambda sc: sc(torch.full((64,), float("nan"))), "non-finite"),
        (lambda sc: sc([0.0] * 64), "torch.Tensor"),  # (NumPy arrays are accepted)
    ],
)
def test_bad_input_gives_one_line_error(call, match: str) -> None:  # noqa: ANN001
    with pytest.raises(TexsynthError, match=match) as info:
        call(ScatteringCovariance1D())
    assert "\n" not in str(info.value)


def test_bad_constructor_arguments() -> None:
    with pytest.raises(TexsynthError, match="positive integer"):
        ScatteringCovariance1D(J=0)
    with pytest.raises(TexsynthError, match="positive integer"):
        ScatteringCovariance1D(J=2.5)  # type: ignore[arg-type]
    with pytest.raises(TexsynthError, match="L must be 1"):
        ScatteringCovariance1D(L=4)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_matches_cpu_and_synthesises() -> None:
    from texsynth import synthesize_1d

    x = randn(2, 2, 256, seed=7)
    sc = ScatteringCovariance1D(J=5)
    cpu = sc(x, norm="self")
    gpu = sc.cuda()(x.cuda(), norm="self")
    for name, t in cpu.fields():
        torch.testing.assert_close(getattr(gpu, name).cpu(), t, rtol=1e-7, atol=1e-10)
    out = synthesize_1d(x[0], device="cuda", seed=0, steps=10, progress=False)
    assert out.device.type == "cuda" and out.shape == (1, 2, 256)
    assert torch.isfinite(out).all()
