"""Evaluation metrics: known answers (scikit-image, SciPy), real textures, bad inputs."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy import ndimage
from scipy.stats import wasserstein_distance
from skimage import data
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from tests.helpers import gen
from texsynth import TexsynthError
from texsynth.metrics import copying as copying_module
from texsynth.metrics.copying import copy_score
from texsynth.metrics.image import ms_ssim, psnr, ssim
from texsynth.metrics.texture import (
    _autocorrelation,
    autocorrelation_distance,
    diversity,
    histogram_distance,
    power_spectrum,
    scattering_distance,
    seam_score,
    spectrum_distance,
)

N = 128  # side of the real-texture crops


def _pair_np(shape: tuple[int, ...], seed: int = 0, noise: float = 0.2) -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(seed)
    a = rng.random(shape)
    b = np.clip(a + noise * rng.standard_normal(shape), 0, 1)
    return a, b


@pytest.fixture(scope="module")
def brick() -> torch.Tensor:
    return torch.tensor(data.brick(), dtype=torch.float64) / 255


@pytest.fixture(scope="module")
def grass() -> torch.Tensor:
    return torch.tensor(data.grass(), dtype=torch.float64) / 255


def _crops(t: torch.Tensor, n: int = N) -> list[torch.Tensor]:
    """Four disjoint ``n x n`` crops; the first is the reference."""
    return [
        t[i : i + n, j : j + n] for i, j in ((0, 0), (n + 20, 0), (2 * n + 40, 10), (0, n + 20))
    ]


def _white_like(t: torch.Tensor, seed: int = 0) -> torch.Tensor:
    return t.mean() + t.std() * torch.randn(t.shape, generator=gen(seed), dtype=t.dtype)


def _periodic_noise(B: int, n: int, seed: int = 0, width: float = 0.1) -> torch.Tensor:
    """Smooth Gaussian noise that is exactly periodic (filtered in the Fourier domain)."""
    k = torch.fft.fftfreq(n, dtype=torch.float64)
    kr2 = k[:, None] ** 2 + k[None, :] ** 2
    z = torch.randn(B, 1, n, n, generator=gen(seed), dtype=torch.float64)
    return torch.fft.ifft2(torch.fft.fft2(z) * torch.exp(-kr2 / width**2)).real


# ============================================================================ SSIM / PSNR
@pytest.mark.parametrize(
    ("kw", "skw"),
    [
        ({}, {}),
        ({"win_size": 5}, {"win_size": 5}),
        ({"gaussian": True}, {"gaussian_weights": True}),
        ({"gaussian": True, "win_size": 7}, {"gaussian_weights": True, "win_size": 7}),
    ],
)
def test_ssim_matches_skimage_rgb(kw: dict, skw: dict) -> None:
    a, b = _pair_np((2, 3, 40, 33))
    got = ssim(torch.tensor(a), torch.tensor(b), **kw)
    assert got.shape == (2,) and got.dtype == torch.float64
    want = [
        structural_similarity(a[i], b[i], channel_axis=0, data_range=1.0, **skw) for i in (0, 1)
    ]
    np.testing.assert_allclose(got.numpy(), want, atol=1e-6, rtol=0)


def test_ssim_matches_skimage_grey_and_data_range() -> None:
    a, b = _pair_np((37, 45), seed=1)
    a, b = 10 * a - 3, 10 * b - 3  # not in [0, 1]: data_range defaults to the range of y
    got = ssim(torch.tensor(a), torch.tensor(b))
    want = structural_similarity(a, b, data_range=float(b.max() - b.min()))
    assert got.shape == (1,)
    assert abs(float(got[0]) - want) < 1e-6
    got = ssim(torch.tensor(a), torch.tensor(b), data_range=20.0)
    assert abs(float(got[0]) - structural_similarity(a, b, data_range=20.0)) < 1e-6


def test_ssim_identity_and_broadcast() -> None:
    x = torch.rand(3, 2, 24, 24, generator=gen(0), dtype=torch.float64)
    assert torch.allclose(ssim(x, x), torch.ones(3, dtype=torch.float64), atol=1e-12)
    ref = x[:1]
    got = ssim(x, ref)
    assert got.shape == (3,)
    assert float(got[0]) == pytest.approx(1.0) and bool((got[1:] < 0.5).all())


def test_psnr_matches_skimage() -> None:
    a, b = _pair_np((2, 3, 20, 30), seed=2)
    got = psnr(torch.tensor(a), torch.tensor(b))
    want = [peak_signal_noise_ratio(b[i], a[i], data_range=1.0) for i in (0, 1)]
    np.testing.assert_allclose(got.numpy(), want, rtol=1e-10)
    x = torch.tensor(a)
    assert torch.isinf(psnr(x, x)).all()
    # uint8 images use data_range 255, as in scikit-image
    ua, ub = (a * 255).astype(np.uint8), (b * 255).astype(np.uint8)
    got = psnr(torch.from_numpy(ua[0]), torch.from_numpy(ub[0]))
    assert float(got[0]) == pytest.approx(peak_signal_noise_ratio(ub[0], ua[0]), rel=1e-5)


def _ms_ssim_reference(a: np.ndarray, b: np.ndarray, weights: tuple[float, ...]) -> float:
    """Independent NumPy/SciPy MS-SSIM (Wang et al. 2003) of two grey images in [0, 1]."""
    c1, c2 = 0.01**2, 0.03**2
    out = 1.0
    for i, w in enumerate(weights):

        def f(t: np.ndarray) -> np.ndarray:
            return ndimage.gaussian_filter(t, 1.5, truncate=3.5)[5:-5, 5:-5]

        ux, uy = f(a), f(b)
        vx, vy, vxy = f(a * a) - ux**2, f(b * b) - uy**2, f(a * b) - ux * uy
        cs = (2 * vxy + c2) / (vx + vy + c2)
        s = (2 * ux * uy + c1) / (ux**2 + uy**2 + c1) * cs
        value = s.mean() if i == len(weights) - 1 else cs.mean()
        out *= max(value, 0.0) ** w
        h, v = a.shape[0] // 2 * 2, a.shape[1] // 2 * 2
        a = a[:h, :v].reshape(h // 2, 2, v // 2, 2).mean((1, 3))
        b = b[:h, :v].reshape(h // 2, 2, v // 2, 2).mean((1, 3))
    return out


def test_ms_ssim_known_answers() -> None:
    a, b = _pair_np((181, 190), seed=3, noise=0.3)
    got = ms_ssim(torch.tensor(a), torch.tensor(b))
    assert got.shape == (1,)
    want = _ms_ssim_reference(a, b, (0.0448, 0.2856, 0.3001, 0.2363, 0.1333))
    assert float(got[0]) == pytest.approx(want, abs=1e-6)
    assert 0 < float(got[0]) < 1
    x = torch.tensor(a)
    assert float(ms_ssim(x, x)[0]) == pytest.approx(1.0, abs=1e-12)
    # one scale is scikit-image's Gaussian SSIM with population covariances
    small_a, small_b = a[:40, :50], b[:40, :50]
    one = ms_ssim(torch.tensor(small_a), torch.tensor(small_b), weights=(1.0,))
    want1 = structural_similarity(
        small_a, small_b, gaussian_weights=True, use_sample_covariance=False, data_range=1.0
    )
    assert float(one[0]) == pytest.approx(want1, abs=1e-6)
    # three scales fit 44 px
    three = ms_ssim(torch.tensor(a[:44, :44]), torch.tensor(b[:44, :44]), weights=(0.3, 0.3, 0.4))
    assert float(three[0]) == pytest.approx(
        _ms_ssim_reference(a[:44, :44], b[:44, :44], (0.3, 0.3, 0.4)), abs=1e-6
    )


def test_ms_ssim_relu_on_anticorrelated_images() -> None:
    a, _ = _pair_np((176, 176), seed=4)
    got = ms_ssim(torch.tensor(a), torch.tensor(1 - a))
    assert float(got[0]) == 0.0  # negative cs clipped to 0 (torchmetrics' normalize="relu")


# ============================================================================ texture metrics
def test_power_spectrum_known_answers() -> None:
    z = torch.randn(2, 3, 64, 64, generator=gen(1), dtype=torch.float64)
    k, P = power_spectrum(z, window=False)
    assert k.shape == (32,) and P.shape == (2, 3, 32)
    assert float(k[0]) == pytest.approx(1 / 64) and float(k[-1]) == pytest.approx(0.5)
    assert float(P.mean()) == pytest.approx(1.0, rel=0.1)  # white noise: flat at its variance
    yy, xx = torch.meshgrid(torch.arange(64.0), torch.arange(48.0), indexing="ij")
    wave = torch.cos(2 * math.pi * (xx * 6 / 48 + yy * 0 / 64)).double()
    k, P = power_spectrum(wave)
    assert float(k[P[0, 0].argmax()]) == pytest.approx(6 / 48, abs=1 / 48)
    k, P = power_spectrum(z[0, 0], n_bins=5)
    assert k.shape == (5,) and P.shape == (1, 1, 5)


def test_histogram_distance_is_exact_wasserstein() -> None:
    x = torch.rand(2, 2, 20, 15, generator=gen(2), dtype=torch.float64) ** 2
    y = torch.randn(1, 2, 17, 23, generator=gen(3), dtype=torch.float64)
    got = histogram_distance(x, y)
    for b in range(2):
        want = np.mean(
            [
                wasserstein_distance(x[b, c].reshape(-1).numpy(), y[0, c].reshape(-1).numpy())
                / float(y[0, c].std(unbiased=False))
                for c in range(2)
            ]
        )
        assert float(got[b]) == pytest.approx(want, rel=1e-9)


def test_autocorrelation_estimate_is_unbiased_and_normalised() -> None:
    x = torch.randn(1, 1, 30, 41, generator=gen(4), dtype=torch.float64).cumsum(-1)
    rho = _autocorrelation(x, 5)[0, 0]
    z = (x[0, 0] - x.mean()).numpy()
    var = (z * z).mean()
    for dy, dx in ((0, 0), (1, 0), (0, 3), (-2, 4), (5, -5)):
        a = z[max(0, -dy) : z.shape[0] - max(0, dy), max(0, -dx) : z.shape[1] - max(0, dx)]
        b = z[max(0, dy) : z.shape[0] + min(0, dy), max(0, dx) : z.shape[1] + min(0, dx)]
        assert float(rho[5 + dy, 5 + dx]) == pytest.approx((a * b).mean() / var, abs=1e-10)


def test_distances_of_an_image_to_itself_are_zero(brick: torch.Tensor) -> None:
    x = brick[:64, :64]
    assert float(spectrum_distance(x, x)[0]) == pytest.approx(0, abs=1e-12)
    assert float(histogram_distance(x, x)[0]) == pytest.approx(0, abs=1e-12)
    assert float(autocorrelation_distance(x, x)[0]) == pytest.approx(0, abs=1e-12)
    assert float(scattering_distance(x, x, J=3)[0]) == pytest.approx(0, abs=1e-12)


# measured ratios (128 px crops, worst of 3 same-texture crops against the best of 2 others):
# spectrum 2.8/6.8, histogram 6.4/2.2, autocorrelation 3.1/4.2, scattering 2500/5.6 (brick/grass)
@pytest.mark.parametrize(
    ("metric", "factor"),
    [
        (spectrum_distance, 2.0),
        (histogram_distance, 1.5),
        (autocorrelation_distance, 2.0),
        (scattering_distance, 3.0),
    ],
)
def test_same_texture_is_closer_than_another(
    brick: torch.Tensor, grass: torch.Tensor, metric, factor: float
) -> None:
    for tex, other in ((brick, grass), (grass, brick)):
        ref, *same = _crops(tex)
        far = max(float(metric(c, ref)[0]) for c in same)
        near = min(float(metric(c, ref)[0]) for c in _crops(other)[:2])
        assert near > factor * far, (metric.__name__, near, far)


# measured ratios: brick: spectrum 3.4, histogram 4.3, autocorrelation 3.2, scattering 13000;
# grass: spectrum 3.7, scattering 32. (Grass's histogram is nearly Gaussian and its correlation
# length short, so noise of the same mean and std matches its histogram and, at max_lag=16, most
# of its autocorrelation window: those two metrics cannot tell them apart, as expected.)
@pytest.mark.parametrize(
    ("texture", "metric", "factor"),
    [
        ("brick", spectrum_distance, 2.0),
        ("brick", histogram_distance, 2.5),
        ("brick", autocorrelation_distance, 2.0),
        ("brick", scattering_distance, 100.0),
        ("grass", spectrum_distance, 2.0),
        ("grass", scattering_distance, 10.0),
    ],
)
def test_same_texture_is_closer_than_white_noise(
    brick: torch.Tensor, grass: torch.Tensor, texture: str, metric, factor: float
) -> None:
    ref, *same = _crops(brick if texture == "brick" else grass)
    far = max(float(metric(c, ref)[0]) for c in same)
    assert float(metric(_white_like(ref), ref)[0]) > factor * far


def test_batched_texture_distances(brick: torch.Tensor) -> None:
    x = torch.stack([brick[:64, :64], brick[100:164, :64]])[:, None].float()
    y = brick[200:280, 50:130]  # another size, float64: x is promoted
    for metric in (spectrum_distance, histogram_distance, autocorrelation_distance):
        d = metric(x, y)
        assert d.shape == (2,) and d.dtype == torch.float64
        single = metric(x[1], y)
        assert float(d[1]) == pytest.approx(float(single[0]), rel=1e-6)
    d = scattering_distance(x.double(), y)
    assert d.shape == (2,)


def test_copy_score_flags_copies(brick: torch.Tensor, grass: torch.Tensor) -> None:
    for tex in (brick, grass):
        exemplar = tex[:112, :112]
        copied = tex[7:103, 13:109]  # a shifted piece of the exemplar
        fresh = tex[300:396, 300:396]  # a new piece of the same texture
        c = float(copy_score(copied, exemplar)[0])
        f = float(copy_score(fresh, exemplar)[0])
        assert c < 0.01
        assert f > 0.1 and f > 5 * max(c, 0.01)
    # a partial copy: the score is a median over patches, so half copied stays low-ish
    d = copy_score(torch.stack([copied, fresh])[:, None], exemplar)
    assert d.shape == (2,) and float(d[0]) < 0.01 < float(d[1])


def test_copy_score_chunking_seed_and_stride(
    brick: torch.Tensor, monkeypatch: pytest.MonkeyPatch
) -> None:
    exemplar = brick[:80, :80]
    x = brick[200:264, 200:264][None, None].expand(2, 1, 64, 64)
    full = copy_score(x, exemplar, n_patches=40, seed=3)
    assert full.shape == (2,) and full.dtype == torch.float64
    assert torch.equal(full, copy_score(x, exemplar, n_patches=40, seed=3))  # seeded
    monkeypatch.setattr(copying_module, "_COPY_CHUNK_ELEMENTS", 1000)
    chunked = copy_score(x, exemplar, n_patches=40, seed=3)
    assert torch.allclose(full, chunked, atol=1e-9)
    # a strided exemplar grid (large exemplars) cannot find odd shifts exactly, but stays low
    monkeypatch.setattr(copying_module, "_COPY_MAX_POSITIONS", 1000)
    strided = copy_score(brick[5:69, 5:69], exemplar, patch=8)
    assert 0 < float(strided[0]) < 0.3


def test_seam_score(brick: torch.Tensor) -> None:
    periodic = seam_score(_periodic_noise(4, 64))
    assert periodic.shape == (4,)
    assert bool((periodic < 1.3).all()) and bool((periodic > 0.7).all())
    assert float(seam_score(brick[:96, :96])[0]) > 2
    ramp = torch.linspace(0, 1, 64, dtype=torch.float64)[None, :].expand(64, 64)
    ramp = ramp + 0.05 * torch.randn(64, 64, generator=gen(5), dtype=torch.float64)
    assert float(seam_score(ramp)[0]) > 3
    assert float(seam_score(torch.ones(8, 8))[0]) == 1.0


def test_diversity() -> None:
    x = torch.rand(1, 2, 32, 32, generator=gen(6)).expand(4, 2, 32, 32)
    assert diversity(x) == 0.0
    z = torch.randn(6, 1, 64, 64, generator=gen(7), dtype=torch.float64)
    assert isinstance(diversity(z), float)
    assert diversity(z) == pytest.approx(math.sqrt(2), rel=0.1)
    assert diversity(_periodic_noise(5, 64)) == pytest.approx(math.sqrt(2), rel=0.1)


# ============================================================================ bad inputs
@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: ssim(torch.rand(1, 3, 16, 16), torch.rand(1, 1, 16, 16)), "channels"),
        (lambda: ssim(torch.rand(16, 16), torch.rand(16, 17)), "same size"),
        (lambda: ssim(torch.rand(6, 6), torch.rand(6, 6)), "at least 7x7"),
        (lambda: ssim(torch.rand(16, 16), torch.rand(16, 16), win_size=4), "odd"),
        (lambda: psnr(torch.rand(2, 1, 8, 8), torch.rand(3, 1, 8, 8)), "batch size"),
        (lambda: psnr(torch.rand(8, 8), torch.rand(8, 8), data_range=0), "data_range"),
        (lambda: psnr(torch.rand(8, 8) + 2, torch.full((8, 8), 3.0)), "data_range"),
        (lambda: ms_ssim(torch.rand(100, 200), torch.rand(100, 200)), "at least 176x176"),
        (lambda: ms_ssim(torch.rand(64, 64), torch.rand(64, 64), weights=()), "weights"),
        (lambda: ssim(np.zeros((8, 8)), torch.rand(8, 8)), "torch.Tensor"),
        (lambda: psnr(torch.rand(1, 1, 1, 8, 8), torch.rand(8, 8)), "shape"),
        (lambda: spectrum_distance(torch.rand(1, 2, 16, 16), torch.rand(16, 16)), "channels"),
        (lambda: power_spectrum(torch.rand(16, 16), n_bins=9), "n_bins"),
        (lambda: power_spectrum(torch.rand(3, 16)), "too small"),
        (lambda: histogram_distance(torch.rand(8, 8), torch.ones(8, 8)), "constant"),
        (lambda: autocorrelation_distance(torch.rand(31, 40), torch.rand(40, 40)), "at least 32"),
        (lambda: scattering_distance(torch.rand(32, 32), torch.rand(2, 1, 32, 32)), "single"),
        (lambda: scattering_distance(torch.rand(4, 32), torch.rand(32, 32)), "too small"),
        (lambda: copy_score(torch.rand(32, 32), torch.rand(8, 8)), "16x16 patches"),
        (lambda: copy_score(torch.rand(32, 32), torch.rand(32, 32), patch=0), "patch"),
        (lambda: seam_score(torch.rand(2, 2)), "too small"),
        (lambda: diversity(torch.rand(1, 1, 8, 8)), "at least 2 samples"),
        (lambda: histogram_distance(torch.rand(8, 8), torch.tensor([[float("nan")]])), "NaN"),
    ],
)
def test_bad_inputs_raise_one_line_errors(call, match: str) -> None:
    with pytest.raises(TexsynthError, match=match) as info:
        call()
    assert "\n" not in str(info.value)
