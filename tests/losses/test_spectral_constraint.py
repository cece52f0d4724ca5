"""Properties of the Fourier-spectrum constraint (Liu et al. 2016) and random-phase textures."""

from __future__ import annotations

import math

import pytest
import torch

from tests.helpers import one_line, randn
from texsynth import HistogramLoss, TexsynthError
from texsynth.fourier import exemplar_spectrum, periodic_component, spectrum_projection
from texsynth.losses import SpectralConstraintLoss
from texsynth.synthesis import random_phase_texture

F64 = torch.float64


def _texture(C: int = 3, H: int = 32, W: int = 48, seed: int = 1) -> torch.Tensor:
    """Anisotropic, colour-correlated filtered noise with a non-zero mean: ``[1, C, H, W]``."""
    z = randn(1, C, H, W, seed=seed)
    ky = torch.fft.fftfreq(H, dtype=F64)[:, None]
    kx = torch.fft.fftfreq(W, dtype=F64)[None, :]
    spec = torch.exp(-((kx - 0.12) ** 2 + ky**2) / 0.003) + torch.exp(-(kx**2 + ky**2) / 0.01)
    y = torch.fft.ifft2(torch.fft.fft2(z) * spec).real
    mix = torch.tensor([[1.0, 0.0, 0.0], [0.6, 0.8, 0.0], [0.3, 0.2, 0.9]], dtype=F64)[:C, :C]
    y = torch.einsum("cd,bdhw->bchw", mix, y)
    return y / y.std() + 0.1 * randn(1, C, H, W, seed=seed + 100) + 0.5  # + sensor noise


def _radial_power(x: torch.Tensor, bins: int = 6) -> torch.Tensor:
    """Power per frequency ``|FFT|^2 / (H W)`` of the zero-mean images, averaged (over
    batch and channels) in rings of physical frequency ``|f|`` in cycles/pixel."""
    H, W = x.shape[-2:]
    p = torch.fft.fft2(x - x.mean((-2, -1), keepdim=True)).abs() ** 2 / (H * W)
    p = p.mean((0, 1))
    f = torch.sqrt(
        torch.fft.fftfreq(H, dtype=F64)[:, None] ** 2 + torch.fft.fftfreq(W, dtype=F64)[None] ** 2
    )
    idx = (f / 0.5 * bins).long().clamp(max=bins - 1).flatten()
    sums = torch.zeros(bins, dtype=F64).index_add_(0, idx, p.flatten())
    return sums / torch.bincount(idx, minlength=bins).to(F64)


def _cross_spectra(x: torch.Tensor) -> torch.Tensor:
    X = torch.fft.fft2(x)
    return X[:, :, None] * X[:, None].conj()  # [B, C, C, H, W]


# -- the loss is 0 exactly on the constraint set ---------------------------------------------


def test_exemplar_shift_and_random_phase_score_zero() -> None:
    ex = _texture()
    loss = SpectralConstraintLoss(ex, periodic=False)
    assert loss(ex).shape == (1,)
    assert float(loss(ex)) < 1e-12
    assert float(loss(torch.roll(ex, (5, 11), (-2, -1)))) < 1e-12
    # same modulus, one random phase per frequency shared by the channels
    rpn = random_phase_texture(ex, n=3, seed=4, periodic=False)
    assert rpn.shape == (3, 3, 32, 48)
    assert loss(rpn).max() < 1e-12
    # explicitly: multiply every channel's spectrum by the same random unit phase
    phase = torch.fft.fft2(randn(1, 1, 32, 48, seed=9))
    phase = phase / phase.abs()
    centred = ex - ex.mean((-2, -1), keepdim=True)
    same = torch.fft.ifft2(torch.fft.fft2(centred) * phase).real + ex.mean((-2, -1), keepdim=True)
    assert float(loss(same)) < 1e-12


def test_periodic_default_scores_periodic_component_zero_and_exemplar_small() -> None:
    ex = _texture()
    loss = SpectralConstraintLoss(ex)  # periodic=True
    assert float(loss(periodic_component(ex))) < 1e-12
    assert float(loss(ex)) < 0.05  # only the smooth (boundary) component differs


def test_unrelated_images_score_order_one() -> None:
    ex = _texture()
    loss = SpectralConstraintLoss(ex)
    m, s = ex.mean((-2, -1), keepdim=True), ex.std((-2, -1), keepdim=True)
    white = randn(4, 3, 32, 48, seed=2) * s + m  # right mean and variance, flat spectrum
    v = loss(white)
    assert v.shape == (4,)
    assert bool(((v > 0.3) & (v < 3)).all())
    # an unrelated texture with the right statistics' kind scores less than white noise
    other = _texture(seed=7)
    assert 0.05 < float(loss(other)) < float(v.min())


# -- the projection ---------------------------------------------------------------------------


def test_projection_idempotent_and_keeps_power_spectrum() -> None:
    ex = _texture()
    E = exemplar_spectrum(ex, periodic=False)
    x = randn(2, 3, 32, 48, seed=3)
    p = spectrum_projection(x, E)
    assert p.shape == x.shape and p.dtype == x.dtype
    torch.testing.assert_close(spectrum_projection(p, E), p, atol=1e-10, rtol=1e-10)
    # every channel's power spectrum (and the mean) is the exemplar's
    P = torch.fft.fft2(p).abs()
    torch.testing.assert_close(P, torch.fft.fft2(ex).abs().expand_as(P), atol=1e-8, rtol=1e-8)
    # the loss's own projection agrees, and P(x) is closer to x than the exemplar is
    loss = SpectralConstraintLoss(ex, periodic=False)
    torch.testing.assert_close(loss.project(x), p)
    assert bool(((x - p) ** 2).sum((1, 2, 3)).lt(((x - ex) ** 2).sum((1, 2, 3))).all())


def test_projection_keeps_colour_cross_spectra() -> None:
    ex = _texture()
    E = exemplar_spectrum(ex, periodic=False)
    p = spectrum_projection(randn(2, 3, 32, 48, seed=5), E)
    target = _cross_spectra(ex).expand(2, -1, -1, -1, -1)
    torch.testing.assert_close(_cross_spectra(p), target, atol=1e-7, rtol=1e-7)

    # hence the channel covariance (colour correlation) is the exemplar's
    def cov(t: torch.Tensor) -> torch.Tensor:
        c = (t - t.mean((-2, -1), keepdim=True)).flatten(-2)
        return c @ c.transpose(-1, -2) / c.shape[-1]

    torch.testing.assert_close(cov(p), cov(ex).expand(2, -1, -1), atol=1e-10, rtol=1e-8)
    assert float(cov(ex)[0, 0, 1]) > 0.3  # the test texture's channels are correlated


def test_projection_accepts_modulus_and_checks_shape() -> None:
    ex = _texture(C=1, H=32, W=32)
    x = randn(32, 32, seed=6)
    p = spectrum_projection(x, exemplar_spectrum(ex, periodic=False).abs())
    assert p.shape == (32, 32)
    torch.testing.assert_close(
        torch.fft.fft2(p).abs(), torch.fft.fft2(ex[0, 0]).abs(), atol=1e-8, rtol=1e-8
    )
    with pytest.raises(TexsynthError, match="does not fit"):
        spectrum_projection(x, exemplar_spectrum(ex, size=(32, 40)))


# -- gradient ---------------------------------------------------------------------------------


def test_gradient_is_two_times_residual_over_normaliser() -> None:
    ex = _texture()
    loss = SpectralConstraintLoss(ex)
    x = randn(2, 3, 32, 48, seed=8).requires_grad_(True)
    (g,) = torch.autograd.grad(loss(x).sum(), x)
    norm = 32 * 48 * float(ex.var((-2, -1), unbiased=False).sum())
    torch.testing.assert_close(g, 2 * (x.detach() - loss.project(x)) / norm)
    # ... and it is the true derivative: central finite difference along a random direction
    d = randn(2, 3, 32, 48, seed=10)
    h = 1e-5
    with torch.no_grad():
        fd = (loss(x + h * d) - loss(x - h * d)).sum() / (2 * h)
    torch.testing.assert_close(fd, (g * d).sum(), rtol=1e-5, atol=1e-9)


# -- any output size --------------------------------------------------------------------------


@pytest.mark.parametrize("size", [(64, 64), (24, 24), (40, 24), (128, 96)])
def test_any_size_keeps_radial_power(size: tuple[int, int]) -> None:
    ex = _texture(H=32, W=48)
    loss = SpectralConstraintLoss(ex)
    x = randn(2, 3, *size, seed=11)
    v = loss(x)
    assert v.shape == (2,) and bool(torch.isfinite(v).all())
    p = loss.project(x)
    assert p.shape == x.shape
    assert float(loss(p).max()) < 1e-12
    want = _radial_power(periodic_component(ex))
    got = _radial_power(p)
    ratio = got / want
    upsized = size[0] >= 32 and size[1] >= 48
    lo, hi = (0.75, 1.35) if upsized else (0.5, 2.0)  # a crop is a noisier estimate
    assert bool(((ratio > lo) & (ratio < hi)).all()), ratio
    # each channel's variance is the exemplar's periodic component's, or, along an axis
    # where the output is smaller, that of the central crop seen at the output's size
    h, w = min(size[0], 32), min(size[1], 48)
    y0, x0 = (32 - h) // 2, (48 - w) // 2
    crop = periodic_component(ex[..., y0 : y0 + h, x0 : x0 + w])
    want_var = crop.var((-2, -1), unbiased=False).expand(2, -1)
    torch.testing.assert_close(p.var((-2, -1), unbiased=False), want_var)
    torch.testing.assert_close(p.mean((-2, -1)), ex.mean((-2, -1)).expand(2, -1))


def test_target_cache_dtype_and_device() -> None:
    ex = _texture(C=1, H=32, W=32)
    loss = SpectralConstraintLoss(ex)
    x32 = randn(1, 1, 48, 40, seed=12).float()
    v = loss(x32)
    assert v.dtype == torch.float32
    assert len(loss._cache) == 1
    loss(x32 + 1)
    assert len(loss._cache) == 1  # same size: cached
    loss(randn(1, 1, 16, 16, seed=13))
    assert len(loss._cache) == 2
    torch.testing.assert_close(v.double(), loss(x32.double()), rtol=1e-4, atol=1e-6)


# -- options ----------------------------------------------------------------------------------


def test_include_mean_false_ignores_mean() -> None:
    ex = _texture()
    with_mean = SpectralConstraintLoss(ex, periodic=False)
    without = SpectralConstraintLoss(ex, periodic=False, include_mean=False)
    shifted = ex + 3.0
    assert float(without(shifted)) < 1e-12
    expected = 3 * 9.0 / float(ex.var((-2, -1), unbiased=False).sum())
    assert float(with_mean(shifted)) == pytest.approx(expected, rel=1e-8)


def test_in_mask_ignores_invalid_pixels() -> None:
    ex = _texture(C=1, H=48, W=48)
    bad = ex.clone()
    bad[..., 16:32, 16:32] = 50.0  # garbage in the masked square
    mask = torch.ones(1, 1, 48, 48, dtype=F64)
    mask[..., 16:32, 16:32] = 0
    clean_loss = SpectralConstraintLoss(ex)
    masked_loss = SpectralConstraintLoss(bad, in_mask=mask)
    x = randn(2, 1, 48, 48, seed=14)
    want = _radial_power(clean_loss.project(x))
    got = _radial_power(masked_loss.project(x))
    assert bool(((got / want > 0.7) & (got / want < 1.4)).all()), got / want
    torch.testing.assert_close(
        masked_loss.project(x).mean(), ex[..., mask[0, 0] > 0].mean(), rtol=1e-6, atol=1e-6
    )
    # without the mask the garbage dominates
    assert float(SpectralConstraintLoss(bad)(ex)) > 0.5


def test_transform_is_applied_to_exemplar_and_images() -> None:
    ex = _texture()

    def scale(t: torch.Tensor) -> torch.Tensor:
        return 2.0 * t.flip(1)

    plain = SpectralConstraintLoss(ex)
    tl = SpectralConstraintLoss(ex, transform=scale)
    x = randn(2, 3, 32, 48, seed=15).requires_grad_(True)
    torch.testing.assert_close(tl(x), plain(x))  # the projection is homogeneous
    (g,) = torch.autograd.grad(tl(x).sum(), x)
    assert bool(torch.isfinite(g).all()) and float(g.abs().sum()) > 0


def test_at_rebuilds_and_ignores_foreign_options() -> None:
    ex = _texture(C=1, H=64, W=64)
    with pytest.raises(TypeError, match="periodc"):  # a misspelt option is an error
        SpectralConstraintLoss(ex, periodc=False)
    loss = SpectralConstraintLoss(ex, periodic=False, include_mean=False)
    coarse = ex[..., ::2, ::2]
    mask = torch.ones(1, 1, 32, 32, dtype=F64)
    k = loss.at(coarse, in_mask=mask, J=2, reference=None)
    assert isinstance(k, SpectralConstraintLoss)
    assert k.options["periodic"] is False and k.options["include_mean"] is False
    assert float(k(coarse)) < 1e-12
    # composes with other losses and the composite rebuilds too
    total = 0.5 * loss + HistogramLoss(ex)
    assert total.at(coarse, in_mask=None, J=2)(coarse).shape == (1,)


# -- random phase textures --------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["rpn", "adsn"])
def test_random_phase_texture(kind: str) -> None:
    ex = _texture()
    a = random_phase_texture(ex, size=(40, 56), n=4, seed=3, kind=kind)
    b = random_phase_texture(ex, size=(40, 56), n=4, seed=3, kind=kind)
    c = random_phase_texture(ex, size=(40, 56), n=4, seed=4, kind=kind)
    assert a.shape == (4, 3, 40, 56) and a.dtype == ex.dtype
    torch.testing.assert_close(a, b, atol=0, rtol=0)
    assert not torch.allclose(a, c)
    torch.testing.assert_close(a.mean((-2, -1)), ex.mean((-2, -1)).expand(4, -1))
    var_a = a.var((-2, -1), unbiased=False).mean(0)
    torch.testing.assert_close(var_a, ex.var((-2, -1), unbiased=False)[0], rtol=0.25, atol=0)
    # the global RNG is untouched
    state = torch.get_rng_state()
    random_phase_texture(ex, n=1, seed=5, kind=kind)
    assert torch.equal(state, torch.get_rng_state())


def test_random_phase_texture_keeps_colour_correlation() -> None:
    ex = _texture()
    t = random_phase_texture(ex, size=64, n=2, seed=1)
    assert t.shape == (2, 3, 64, 64)

    def corr(u: torch.Tensor) -> torch.Tensor:
        c = (u - u.mean((-2, -1), keepdim=True)).flatten(-2)
        cv = c @ c.transpose(-1, -2)
        d = cv.diagonal(dim1=-2, dim2=-1).sqrt()
        return cv / (d[..., :, None] * d[..., None, :])

    torch.testing.assert_close(corr(t), corr(ex).expand(2, -1, -1), atol=0.1, rtol=0)


# -- periodic component -----------------------------------------------------------------------


def test_periodic_component_removes_boundary_jump_and_keeps_interior() -> None:
    H, W = 32, 40
    yy, xx = torch.meshgrid(torch.arange(H, dtype=F64), torch.arange(W, dtype=F64), indexing="ij")
    ramp = (0.7 * yy + 0.3 * xx + 0.05 * randn(H, W, seed=16))[None, None]
    p = periodic_component(ramp)
    assert p.shape == ramp.shape

    def jump(u: torch.Tensor) -> float:
        rows = (u[..., 0, :] - u[..., -1, :]).abs().mean()
        cols = (u[..., :, 0] - u[..., :, -1]).abs().mean()
        return float(rows + cols)

    assert jump(p) < 0.05 * jump(ramp)
    torch.testing.assert_close(p.mean(), ramp.mean())

    def lap(u: torch.Tensor) -> torch.Tensor:  # discrete Laplacian at interior pixels
        c = u[..., 1:-1, 1:-1]
        return u[..., :-2, 1:-1] + u[..., 2:, 1:-1] + u[..., 1:-1, :-2] + u[..., 1:-1, 2:] - 4 * c

    torch.testing.assert_close(lap(p), lap(ramp), atol=1e-9, rtol=0)
    # an image that is already smooth across the wrap changes little; constants not at all
    const = torch.full((3, 16, 16), 2.5, dtype=F64)
    torch.testing.assert_close(periodic_component(const), const)


# -- errors -----------------------------------------------------------------------------------


def test_errors() -> None:
    ex = _texture(C=3, H=32, W=32)
    loss = SpectralConstraintLoss(ex)
    with pytest.raises(TexsynthError, match="shape") as e:
        SpectralConstraintLoss(torch.zeros(1, 1, 3, 32, 32))
    one_line(e)
    with pytest.raises(TexsynthError, match="shape") as e:
        loss(torch.zeros(1, 1, 3, 32, 32))
    one_line(e)
    with pytest.raises(TexsynthError, match="channels") as e:
        loss(randn(2, 1, 32, 32))
    one_line(e)
    with pytest.raises(TexsynthError, match="at least 8x8") as e:
        loss(randn(1, 3, 6, 32))
    one_line(e)
    with pytest.raises(TexsynthError, match="at least 8x8") as e:
        SpectralConstraintLoss(randn(1, 6, 6))
    one_line(e)
    with pytest.raises(TexsynthError, match="one exemplar") as e:
        SpectralConstraintLoss(randn(2, 1, 16, 16))
    one_line(e)
    with pytest.raises(TexsynthError, match="zero variance") as e:
        SpectralConstraintLoss(torch.ones(1, 16, 16))
    one_line(e)
    with pytest.raises(TexsynthError, match="in_mask") as e:
        SpectralConstraintLoss(ex, in_mask=torch.ones(16, 16))
    one_line(e)
    with pytest.raises(TexsynthError, match="size") as e:
        random_phase_texture(ex, size=(4, 32))
    one_line(e)
    with pytest.raises(TexsynthError, match="size") as e:
        random_phase_texture(ex, size="big")  # type: ignore[arg-type]
    one_line(e)
    with pytest.raises(TexsynthError, match="kind") as e:
        random_phase_texture(ex, kind="gauss")
    one_line(e)
    with pytest.raises(TexsynthError, match="n must") as e:
        random_phase_texture(ex, n=0)
    one_line(e)


# -- optimisation smoke test ------------------------------------------------------------------


def test_lbfgs_from_noise_reduces_loss() -> None:
    ex = _texture(C=3, H=32, W=32)
    loss = SpectralConstraintLoss(ex)
    x = randn(1, 3, 32, 32, seed=17).requires_grad_(True)
    start = float(loss(x.detach()))
    opt = torch.optim.LBFGS([x], max_iter=30, line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        opt.zero_grad()
        v = loss(x).sum()
        v.backward()
        return v

    opt.step(closure)
    end = float(loss(x.detach()))
    assert start > 0.5 and end < 1e-3 * start
    assert math.isfinite(end)
