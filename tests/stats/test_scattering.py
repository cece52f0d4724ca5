"""Properties of the scattering-covariance statistics (shapes, invariances, masks, gradients)."""

from __future__ import annotations

import math

import pytest
import torch

from tests.helpers import randn
from texsynth import TexsynthError
from texsynth.stats import ScatCov, ScatteringCovariance, s3_index, s4_index


def _texture(n: int = 64, seed: int = 1) -> torch.Tensor:
    """A non-Gaussian, anisotropic test texture: thresholded, oriented filtered noise."""
    z = randn(1, 1, n, n, seed=seed)
    k = torch.fft.fftfreq(n, dtype=torch.float64)
    ky, kx = k[:, None], k[None, :]
    spec = torch.exp(-((kx - 0.12) ** 2 + ky**2) / 0.002) + torch.exp(-(kx**2 + ky**2) / 0.004)
    y = torch.fft.ifft2(torch.fft.fft2(z) * spec).real
    return torch.relu(y / y.std() - 0.5) ** 1.5 + 0.1 * z  # sparse, positive: S3 != 0


@pytest.mark.parametrize(
    ("B", "C", "J", "L", "n"), [(1, 1, 2, 4, 32), (2, 3, 3, 4, 32), (1, 2, 4, 6, 64)]
)
def test_shapes(B: int, C: int, J: int, L: int, n: int) -> None:
    s = ScatteringCovariance(J=J, L=L)(randn(B, C, n, n + 8))
    assert s.S0.shape == (B, C, 2)
    assert s.S1.shape == s.S2.shape == (B, C, J, L)
    assert s.S3.shape == (B, C, J * (J + 1) // 2, L, L) and s.S3.is_complex()
    assert s.S4.shape == (B, C, J * (J + 1) * (J + 2) // 6, L, L, L)
    assert s.S3P is None
    assert len(s3_index(J)) == s.S3.shape[2] and len(s4_index(J)) == s.S4.shape[2]


def test_accepts_2d_and_3d_input_and_default_J() -> None:
    sc = ScatteringCovariance()
    s2d = sc(randn(64, 64))
    s3d = sc(randn(1, 64, 64))
    assert s2d.S1.shape == (1, 1, 4, 4)  # floor(log2 64) - 2 scales
    torch.testing.assert_close(s2d.S1, s3d.S1)


def test_dtype_and_float32_agreement() -> None:
    x = _texture()
    sc = ScatteringCovariance(J=3)
    s64 = sc(x)
    s32 = sc(x.float())
    assert s64.S2.dtype == torch.float64 and s64.S4.dtype == torch.complex128
    assert s32.S2.dtype == torch.float32 and s32.S4.dtype == torch.complex64
    torch.testing.assert_close(s32.S2.double(), s64.S2, rtol=1e-4, atol=1e-7)
    torch.testing.assert_close(s32.S4.to(torch.complex128), s64.S4, rtol=1e-3, atol=1e-7)


def test_periodic_translation_invariance() -> None:
    """Exact for shifts on the coarsest grid (multiples of 4 for J=4), close for any shift.

    S2, S3, S4 are exact for any shift (spectral); S1 samples the modulus on each scale's
    grid, so odd shifts change it slightly at coarse scales.
    """
    x = _texture()
    sc = ScatteringCovariance(J=4)
    a = sc(x, norm="self")
    b = sc(torch.roll(x, shifts=(12, -28), dims=(-2, -1)), norm="self")
    for name, t in a.fields():
        torch.testing.assert_close(getattr(b, name), t, rtol=1e-9, atol=1e-12)
    c = sc(torch.roll(x, shifts=(13, -29), dims=(-2, -1)), norm="self")
    torch.testing.assert_close(c.S2, a.S2, rtol=1e-9, atol=0)
    for name in ("S1", "S3", "S4"):
        t = getattr(a, name)
        torch.testing.assert_close(getattr(c, name), t, rtol=0, atol=0.03 * float(t.abs().max()))


def test_rot90_permutes_orientations() -> None:
    """Rotating by 90 degrees shifts orientation l to l + L/2; magnitudes follow exactly."""
    L = 4
    x = _texture()
    sc = ScatteringCovariance(J=3, L=L)
    a = sc(x)
    # rot90 maps column c to row W-1-c; the extra roll maps the coarse sampling grids
    # (multiples of 2^(j-1)) onto themselves, so even the sampled moduli match exactly
    b = sc(torch.roll(torch.rot90(x, 1, dims=(-2, -1)), 1, dims=-2))
    perm = [(l + L // 2) % L for l in range(L)]
    direct = torch.allclose(b.S2, a.S2[..., perm], rtol=1e-9)
    inverse = [perm.index(l) for l in range(L)]
    assert direct or torch.allclose(b.S2, a.S2[..., inverse], rtol=1e-9)
    p = perm if direct else inverse
    torch.testing.assert_close(b.S1, a.S1[..., p], rtol=1e-9, atol=0)
    torch.testing.assert_close(b.S3.abs(), a.S3.abs()[..., p, :][..., p], rtol=1e-7, atol=1e-12)
    s4 = a.S4.abs()[..., p, :, :][..., p, :][..., p]
    torch.testing.assert_close(b.S4.abs(), s4, rtol=1e-7, atol=1e-12)
    # the anisotropic texture really prefers some orientations
    assert a.S2[0, 0, 1].max() > 1.5 * a.S2[0, 0, 1].min()


def test_white_noise_slope_and_gaussian_statistics() -> None:
    x = randn(8, 1, 128, 128, seed=3)
    s = ScatteringCovariance(J=5)(x, norm="self")
    raw = ScatteringCovariance(J=5)(x)
    s2 = raw.S2.mean((0, 1, 3))
    ratios = s2[1:-1] / s2[2:]
    # S2 of white noise falls by 4 per octave (the band area), away from the Nyquist taper
    torch.testing.assert_close(ratios, torch.full_like(ratios, 4.0), rtol=0.1, atol=0)
    # S2 is isotropic
    spread = raw.S2.mean(0)[0, 1:-1] / raw.S2.mean(0)[0, 1:-1].mean(-1, keepdim=True)
    assert float((spread - 1).abs().max()) < 0.1
    # normalised S3 and S4 (phase and modulus couplings across scales) nearly vanish
    assert float(s.S3.abs().mean()) < 0.01
    assert float(s.S4.abs().mean()) < 0.01


def test_texture_statistics_differ_from_noise() -> None:
    sc = ScatteringCovariance(J=4)
    t = sc(_texture(), norm="self")
    n = sc(randn(1, 1, 64, 64), norm="self")
    assert float(t.S3.abs().mean()) > 3 * float(n.S3.abs().mean())
    assert float(t.S4.abs().mean()) > 2 * float(n.S4.abs().mean())


def test_cross_with_itself_equals_auto() -> None:
    x = _texture()
    sc = ScatteringCovariance(J=3)
    auto = sc(x, norm="self")
    cross = sc(x, x.clone(), norm="self")
    for name, t in auto.fields():
        torch.testing.assert_close(getattr(cross, name), t, rtol=1e-6, atol=1e-9)
    torch.testing.assert_close(cross.S3P, auto.S3, rtol=1e-9, atol=1e-12)


def test_cross_statistics_are_symmetric_in_the_right_way() -> None:
    x, y = _texture(seed=1), _texture(seed=2)
    sc = ScatteringCovariance(J=3)
    xy = sc(x, y)
    yx = sc(y, x)
    torch.testing.assert_close(xy.S3P, yx.S3)
    torch.testing.assert_close(xy.S2, yx.S2)
    # S4 swaps (j1, l1) with (j2, l2) and conjugates: check the j1 = j2 blocks
    idx = s4_index(3)
    for i, (j1, j2, _) in enumerate(idx):
        if j1 == j2:
            torch.testing.assert_close(xy.S4[:, :, i], yx.S4[:, :, i].transpose(-3, -2).conj())


def test_gradcheck_float64() -> None:
    x = randn(1, 1, 16, 16, seed=5).requires_grad_(True)
    sc = ScatteringCovariance(J=2, L=2)

    def f(t: torch.Tensor) -> tuple[torch.Tensor, ...]:
        s = sc(t, norm="self")
        return s.S1, s.S2, torch.view_as_real(s.S3), torch.view_as_real(s.S4)

    assert torch.autograd.gradcheck(f, (x,), eps=1e-6, atol=1e-5, rtol=1e-3, fast_mode=True)


def test_gradient_flows_through_masked_path() -> None:
    x = _texture(32).requires_grad_(True)
    mask = torch.ones(32, 32, dtype=torch.float64)
    mask[:8] = 0
    s = ScatteringCovariance(J=2)(x, mask=mask)
    (s.S2.sum() + s.S4.abs().sum()).backward()
    assert x.grad is not None and torch.isfinite(x.grad).all()
    assert float(x.grad[0, 0, :8].abs().max()) == 0.0  # masked pixels get no gradient


def test_uniform_mask_equals_no_mask_and_spatial_equals_fourier_path() -> None:
    x = _texture()
    sc = ScatteringCovariance(J=4)
    a = sc(x)
    b = sc(x, mask=torch.ones(64, 64, dtype=torch.float64))
    c, _ = sc(x, calc_var=True)
    for name, t in a.fields():
        torch.testing.assert_close(getattr(b, name), t, rtol=1e-9, atol=1e-14)
        torch.testing.assert_close(getattr(c, name), t, rtol=1e-9, atol=1e-14)


def test_mask_excludes_pixels_exactly() -> None:
    x = _texture()
    mask = torch.ones(64, 64, dtype=torch.float64)
    mask[20:40, 10:30] = 0
    y = x.clone()
    y[..., 20:40, 10:30] = 1e3 * randn(20, 20, seed=9)  # garbage where masked
    sc = ScatteringCovariance(J=3)
    a = sc(x, mask=mask, norm="self")
    b = sc(y, mask=mask, norm="self")
    for name, t in a.fields():
        torch.testing.assert_close(getattr(b, name), t, rtol=1e-9, atol=1e-12)
    # and the masked statistics stay close to the full-image ones (same texture)
    full = sc(x, norm="self")
    assert float((a.S2 - full.S2).abs().max()) < 0.3


def test_tiny_valid_region_still_gives_statistics() -> None:
    """Erosion shrinks where the valid region is too small, instead of failing."""
    s = ScatteringCovariance(J=3)(randn(1, 1, 32, 32), mask=_spot(32, 6))
    assert all(bool(torch.isfinite(t.abs()).all()) for _, t in s.fields())


def test_edge_mode_ignores_wraparound_discontinuity() -> None:
    n = 64
    noise = randn(1, 1, n, n, seed=11)
    # a 5-sigma step across the wrap-around: periodic S2 is ~10x too large at coarse scales
    ramp = torch.linspace(0, 5, n, dtype=torch.float64)[None, None, None, :].expand(1, 1, n, n)
    sc = ScatteringCovariance(J=3)
    clean = sc(noise, edge=True).S2
    periodic = sc(noise + ramp).S2  # the wrap-around step dominates
    edge = sc(noise + ramp, edge=True).S2
    assert float((periodic / clean).max()) > 5
    torch.testing.assert_close(edge, clean, rtol=0.03, atol=0)


def test_norm_modes() -> None:
    x, y = _texture(seed=1), _texture(seed=4)
    sc = ScatteringCovariance(J=3)
    raw = sc(x)
    selfn = sc(x, norm="self")
    torch.testing.assert_close(selfn.S2, torch.ones_like(selfn.S2))
    torch.testing.assert_close(selfn.S1, raw.S1 / raw.S2.sqrt())
    first = sc(x, norm="auto")
    torch.testing.assert_close(first.S2, torch.ones_like(first.S2))
    second = sc(y, norm="auto")  # divided by x's cached S2, not its own
    torch.testing.assert_close(second.S2, sc(y).S2 / raw.S2)
    with pytest.raises(TexsynthError, match="reset_norm"):
        sc(x, J=2, norm="auto")
    sc.reset_norm()
    torch.testing.assert_close(sc(y, norm="auto").S2, torch.ones_like(raw.S2))
    # the normalised S3 of x equals raw S3 / sqrt(S2_j2 S2_j3)
    i3 = torch.tensor(s3_index(3))
    f = (raw.S2[:, :, i3[:, 0], :, None] * raw.S2[:, :, i3[:, 1], None, :]).sqrt()
    torch.testing.assert_close(selfn.S3, raw.S3 / f)


def test_calc_var_matches_spread_across_realisations() -> None:
    sc = ScatteringCovariance(J=3)
    xs = randn(24, 1, 64, 64, seed=21)
    stats, sigma = sc(xs, calc_var=True)
    empirical = stats.S2.std(0)
    predicted = sigma.S2.mean(0)
    ratio = predicted[0] / empirical[0]
    # exact in expectation for a Gaussian field; 24 realisations leave ~15% scatter
    assert float(ratio.min()) > 0.6 and float(ratio.max()) < 1.6
    for name, t in sigma.fields():
        assert t.shape == getattr(stats, name).shape
        assert not t.is_complex() and bool((t >= 0).all())


def test_iso_mean_hand_computed() -> None:
    L = 3
    s = _toy(L)
    iso = s.iso_mean()
    torch.testing.assert_close(iso.S1, s.S1.mean(-1))
    # S3: out[dl] = mean_l2 S3[l2, (l2 + dl) % L]
    S3 = s.S3[0, 0, 0]
    expect = torch.stack([sum(S3[l, (l + d) % L] for l in range(L)) / L for d in range(L)])
    torch.testing.assert_close(iso.S3[0, 0, 0], expect)
    S4 = s.S4[0, 0, 0]
    e4 = torch.stack(
        [
            torch.stack(
                [sum(S4[l, (l + a) % L, (l + b) % L] for l in range(L)) / L for b in range(L)]
            )
            for a in range(L)
        ]
    )
    torch.testing.assert_close(iso.S4[0, 0, 0], e4)
    assert iso.S1.shape == (1, 1, 2) and iso.S4.shape == (1, 1, 4, L, L)
    with pytest.raises(TexsynthError, match="already reduced"):
        iso.iso_mean()


def test_fft_ang_hand_computed_and_rotation_invariant_amplitude() -> None:
    L = 4
    s = _toy(L)
    f = s.fft_ang(nharm=1, imaginary=True)
    assert f.S2.shape == (1, 1, 2, 3) and f.S3.shape == (1, 1, 3, L, 3)
    assert f.S4.shape == (1, 1, 4, L, L, 3) and f.harmonics == ("dc", "cos1", "sin1")
    v = s.S2[0, 0, 0]
    l = torch.arange(L, dtype=torch.float64)
    expect = torch.stack(
        [
            v.mean(),
            (v * torch.cos(2 * math.pi * l / L)).sum(),
            (v * torch.sin(2 * math.pi * l / L)).sum(),
        ]
    )
    torch.testing.assert_close(f.S2[0, 0, 0], expect)
    torch.testing.assert_close(f.S3[..., 0], s.iso_mean().S3)  # dc == iso_mean
    # cyclic shift of the orientation axis (a rotation by pi/L) keeps the harmonic amplitude
    shifted = ScatCov(
        S0=s.S0,
        S1=s.S1.roll(1, -1),
        S2=s.S2.roll(1, -1),
        S3=s.S3.roll((1, 1), (-2, -1)),
        S4=s.S4.roll((1, 1, 1), (-3, -2, -1)),
        J=s.J,
        L=L,
    )
    g = shifted.fft_ang(nharm=1, imaginary=True)
    amp = lambda t: (t[..., 1].abs() ** 2 + t[..., 2].abs() ** 2).sqrt()  # noqa: E731
    torch.testing.assert_close(amp(g.S2), amp(f.S2))
    torch.testing.assert_close(amp(g.S4), amp(f.S4))
    c = s.fft_ang(nharm=2, imaginary=False)
    assert c.S1.shape == (1, 1, 2, 3) and c.harmonics == ("dc", "cos1", "cos2")


def test_fft_ang_sigma_propagation() -> None:
    s = _toy(4).map(torch.abs)
    sig = s.fft_ang_sigma(nharm=1, imaginary=True)
    v = s.S1[0, 0, 0]
    l = torch.arange(4, dtype=torch.float64)
    expect = torch.stack(
        [
            (v**2 / 16).sum().sqrt(),
            (v**2 * torch.cos(math.pi * l / 2) ** 2).sum().sqrt(),
            (v**2 * torch.sin(math.pi * l / 2) ** 2).sum().sqrt(),
        ]
    )
    torch.testing.assert_close(sig.S1[0, 0, 0], expect)
    assert bool((sig.S4 >= 0).all())
    iso = s.iso_mean_sigma()
    torch.testing.assert_close(iso.S1[0, 0, 0], (v**2).sum().sqrt() / 4)


def test_arithmetic_flatten_labels_and_distance() -> None:
    sc = ScatteringCovariance(J=2)
    a = sc(_texture(32, seed=1))
    b = sc(_texture(32, seed=2))
    torch.testing.assert_close((a + b - b).S4, a.S4)
    torch.testing.assert_close((2 * a / 2.0).S1, a.S1)
    torch.testing.assert_close((-a).S3, -a.S3)
    vec, labels = a.flatten()
    assert vec.shape == (1, len(labels)) and not vec.is_complex()
    keys = {tuple(sorted((k, str(v)) for k, v in lab.items())) for lab in labels}
    assert len(keys) == len(labels)  # every column has its own label
    assert {lab["stat"] for lab in labels} == {"S0", "S1", "S2", "S3", "S4"}
    s4re = [lab for lab in labels if lab["stat"] == "S4" and lab["part"] == "re"]
    assert set(s4re[0]) == {"stat", "part", "channel", "j", "l1", "l2", "l3"}
    assert float(a.distance(a)) == 0.0 and float(a.distance(b)) > 0
    sigma = a.map(lambda t: torch.full(t.shape, 2.0, dtype=torch.float64))
    torch.testing.assert_close(a.distance(b, sigma), a.distance(b) / 4)
    iso_labels = a.iso_mean().flatten()[1]
    assert any("dl12" in lab for lab in iso_labels)
    with pytest.raises(TexsynthError, match="different settings"):
        a.distance(a.iso_mean())


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda sc: sc(torch.full((1, 1, 32, 32), float("nan"))), "1024 non-finite values"),
        (lambda sc: sc(torch.zeros(2, 1, 1, 32, 32)), "must have shape"),
        (lambda sc: sc(torch.zeros(1, 1, 0, 32)), "empty"),
        (lambda sc: sc(torch.zeros(1, 1, 16, 16), J=3), "too small for J=3"),
        (lambda sc: sc(torch.zeros(1, 1, 32, 32), norm="log"), "norm must be"),
        (lambda sc: sc(torch.zeros(1, 1, 32, 32), torch.zeros(1, 1, 32, 16)), "same shape"),
        (lambda sc: sc(torch.zeros(1, 1, 32, 32), mask=torch.ones(16, 16)), "does not fit"),
        (lambda sc: sc(torch.zeros(1, 1, 32, 32), mask=torch.zeros(32, 32)), "excludes every"),
        (lambda sc: sc(torch.zeros(1, 1, 32, 32), mask=2 * torch.ones(32, 32)), r"\[0, 1\]"),
        (lambda sc: sc([[0.0]]), "torch.Tensor"),
    ],
)
def test_bad_input_gives_one_line_error(call, match: str) -> None:  # noqa: ANN001
    with pytest.raises(TexsynthError, match=match) as info:
        call(ScatteringCovariance())
    assert "\n" not in str(info.value)


def test_bad_constructor_arguments() -> None:
    with pytest.raises(TexsynthError, match="J"):
        ScatteringCovariance(J=0)
    with pytest.raises(TexsynthError, match="L"):
        ScatteringCovariance(L=0)


def _spot(n: int, k: int) -> torch.Tensor:
    """A mask keeping only a ``k x k`` square of an ``n x n`` image."""
    m = torch.zeros(n, n)
    m[:k, :k] = 1
    return m


def _toy(L: int) -> ScatCov:
    """Random statistics with J = 2 for testing the reductions by hand."""
    J = 2
    g = torch.Generator().manual_seed(0)

    def c(*shape: int) -> torch.Tensor:
        return torch.complex(
            torch.randn(*shape, generator=g, dtype=torch.float64),
            torch.randn(*shape, generator=g, dtype=torch.float64),
        )

    return ScatCov(
        S0=torch.randn(1, 1, 2, generator=g, dtype=torch.float64),
        S1=torch.randn(1, 1, J, L, generator=g, dtype=torch.float64),
        S2=torch.randn(1, 1, J, L, generator=g, dtype=torch.float64),
        S3=c(1, 1, 3, L, L),
        S4=c(1, 1, 4, L, L, L),
        J=J,
        L=L,
    )
