"""The periodic-grid domain and the scattering core shared by signals and images."""

from __future__ import annotations

import pytest
import torch

from tests.helpers import randn
from texsynth import ScatteringCovariance, ScatteringCovariance1D
from texsynth.domains import PeriodicGrid, fast_length, max_scales


@pytest.mark.parametrize("ndim", [1, 2])
def test_fourier_crop_is_exact_for_band_limited_data(ndim: int) -> None:
    grid = PeriodicGrid(ndim)
    full, small = (64,) * ndim, (16,) * ndim
    low = grid.ifft(grid.crop(grid.fft(randn(2, 1, *small)), small))  # any small field
    # zero-pad its spectrum to the full grid: a band-limited field; cropping it back is exact
    X = torch.zeros(2, 1, *full, dtype=torch.complex128)
    idx = grid.flat_frequencies(small, full)
    grid.flatten(X)[..., idx] = grid.flatten(grid.fft(low.real))
    back = grid.crop(X, small)
    torch.testing.assert_close(back, grid.fft(low.real))
    assert grid.scale_shape(full, 0) == full and grid.scale_shape(full, 3) == (16,) * ndim


def test_flat_frequencies_match_crop() -> None:
    grid = PeriodicGrid(2)
    X = grid.fft(randn(1, 1, 12, 10))
    for small in [(12, 10), (7, 4), (1, 3)]:
        flat = grid.flatten(X)[..., grid.flat_frequencies(small, (12, 10))]
        torch.testing.assert_close(flat, grid.flatten(grid.crop(X, small)))


def test_erode_mean_sample_and_fill() -> None:
    grid = PeriodicGrid(2)
    valid = torch.ones(1, 1, 16, 16)
    valid[..., 5, 7] = 0
    eroded = grid.erode(valid, 2)
    assert int((eroded == 0).sum()) == 25  # the 5x5 square around the hole
    assert grid.erode(valid, 0) is valid and bool((grid.erode(valid, 16) == 0).all())
    w = grid.normalise(valid)
    x = torch.arange(256.0).reshape(1, 1, 16, 16)
    assert float(grid.mean(x, w)) == pytest.approx(float((x * valid).sum() / 255))
    assert tuple(grid.sample(x, (8, 4)).shape) == (1, 1, 8, 4)
    assert float(grid.sample(x, (8, 4))[0, 0, 1, 1]) == float(x[0, 0, 2, 4])
    filled = grid.fill_masked(x, valid)
    assert float(filled[0, 0, 5, 7]) == pytest.approx(float((x * valid).sum() / 255))
    line = PeriodicGrid(1)
    v = torch.ones(1, 1, 20)
    v[..., 0] = 0
    assert line.erode(v, 3)[0, 0].tolist() == [0] * 4 + [1] * 13 + [0] * 3


@pytest.mark.parametrize("ndim", [1, 2])
def test_reflect_padding_reaches_fast_lengths_and_masks_the_padding(ndim: int) -> None:
    grid = PeriodicGrid(ndim)
    x = randn(1, 1, *((37,) * ndim))
    px, py, m = grid.pad_reflect(x, None, None, 10)
    assert py is None
    for n in grid.shape(px):
        assert n == fast_length(57) == 60
    assert float(m.sum()) == 37**ndim
    inner = px[..., 10:47] if ndim == 1 else px[..., 10:47, 10:47]
    torch.testing.assert_close(inner, x)


def test_max_scales_and_fast_length() -> None:
    assert max_scales((7,)) == 0 and max_scales((8,)) == 1 and max_scales((256, 64)) == 4
    assert [fast_length(n) for n in (1, 7, 11, 97, 128)] == [1, 8, 12, 100, 128]


def test_signals_are_images_of_one_row_to_the_core() -> None:
    """One core: the 1-D statistics of a signal and the 2-D statistics of an image that
    repeats that signal along its columns (orientation 0 only sees horizontal variation)
    agree for S1 and S2, with and without a mask."""
    s = randn(1, 1, 128, seed=3)
    img = s[:, :, None, :].expand(1, 1, 128, 128)
    one = ScatteringCovariance1D(J=4)(s)
    two = ScatteringCovariance(J=4, L=1)(img)
    torch.testing.assert_close(two.S2[..., 0], one.S2[..., 0], rtol=1e-6, atol=1e-12)


@pytest.mark.parametrize("ndim", [1, 2])
def test_masked_standard_errors_follow_the_kept_fraction(ndim: int) -> None:
    """One standard-error rule for every domain: the spread is estimated over every valid
    sample and divided by the independent samples the eroded weights keep, so halving the
    data raises the errors by about sqrt(2), and none collapses to zero."""
    n = 4096 if ndim == 1 else 64
    shape = (n,) * ndim
    x = randn(1, 1, *shape, seed=5)
    sc = ScatteringCovariance1D(J=4) if ndim == 1 else ScatteringCovariance(J=3, L=2)
    _, full = sc(x, calc_var=True)
    mask = torch.ones(shape, dtype=torch.float64)
    mask[..., : n // 2] = 0
    _, half = sc(x, mask=mask, calc_var=True)
    for name, t in half.fields():
        assert bool(torch.isfinite(t).all()) and float(t.min()) > 0, name
    ratio = float((half.S2 / full.S2).median())
    assert 1.2 < ratio < 2.2, ratio
