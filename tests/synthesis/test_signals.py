"""Synthesis of 1-D signals: known processes keep their spectra and increment statistics,
and every option (masks, batches, lengths, Gaussianisation, cross-synthesis) works."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch

from processes1d import fbm, phase_surrogate
from processes1d import multifractal_walk as mrw
from texsynth import TexsynthError, synthesize_1d
from texsynth.synthesis import looks_like_random_walk

# ----------------------------------------------------------------------------- processes


# ----------------------------------------------------------------------------- measures
# (independent of texsynth: numpy only)


def spectral_slope(x: np.ndarray) -> float:
    """Slope of the log power spectrum (Hann periodogram, 12 log-spaced bins between 8
    cycles per record and 1/4 cycle per sample)."""
    n = len(x)
    w = np.hanning(n)
    p = np.abs(np.fft.rfft((x - (x * w).sum() / w.sum()) * w)) ** 2
    f = np.fft.rfftfreq(n)
    sel = (f >= 8 / n) & (f <= 0.25)
    lf, lp = np.log(f[sel]), p[sel]
    idx = np.digitize(lf, np.linspace(lf.min(), lf.max() + 1e-9, 13))
    bins = np.unique(idx)
    bx = [lf[idx == i].mean() for i in bins]
    by = [np.log(lp[idx == i].mean()) for i in bins]
    return float(np.polyfit(bx, by, 1)[0])


def hurst_from_increments(x: np.ndarray) -> float:
    """Half the slope of log Var(x(t + l) - x(t)) against log l, l = 1 ... 64."""
    lags = np.array([1, 2, 4, 8, 16, 32, 64])
    v = [np.var(x[lag:] - x[:-lag]) for lag in lags]
    return float(np.polyfit(np.log(lags), np.log(v), 1)[0] / 2)


def increment_w1(x: np.ndarray, ref: np.ndarray, lag: int) -> float:
    """Wasserstein-1 distance between the standardised increment distributions at ``lag``."""
    a, b = x[lag:] - x[:-lag], ref[lag:] - ref[:-lag]
    a, b = (a - a.mean()) / a.std(), (b - b.mean()) / b.std()
    q = (np.arange(400) + 0.5) / 400
    return float(np.abs(np.quantile(a, q) - np.quantile(b, q)).mean())


def kurtosis(d: np.ndarray) -> float:
    d = d - d.mean()
    return float((d**4).mean() / (d**2).mean() ** 2)


def log_volatility_std(x: np.ndarray, window: int = 32) -> float:
    """Standard deviation of the log of the increments' standard deviation in windows."""
    d = np.diff(x)
    v = [d[i : i + window].std() for i in range(0, len(d) - window, window)]
    return float(np.std(np.log(v)))


def _synth(x: np.ndarray, **kw: Any) -> np.ndarray:
    out = synthesize_1d(torch.tensor(x, dtype=torch.float32), progress=False, **kw)
    return out[:, 0].double().numpy()


# ----------------------------------------------------------------------------- known processes


@pytest.mark.parametrize("hurst", [0.3, 0.7])
def test_fbm_keeps_its_spectral_slope_and_hurst_exponent(hurst: float) -> None:
    """Synthesised fBm is as close to the exemplar as other realisations of the process are:
    within 3 standard deviations of their spread of spectral slope and Hurst exponent."""
    n = 2048
    ex = fbm(n, hurst, seed=0)
    others = [fbm(n, hurst, seed=s) for s in range(1, 17)]
    slope_tol = 3 * np.std([spectral_slope(o) for o in others])
    hurst_tol = 3 * np.std([hurst_from_increments(o) for o in others])
    # the tolerances separate the two processes (the test can fail)
    wrong = fbm(n, 1.0 - hurst, seed=1)
    assert abs(spectral_slope(wrong) - spectral_slope(ex)) > 2 * slope_tol
    assert abs(hurst_from_increments(wrong) - hurst_from_increments(ex)) > 2 * hurst_tol

    out = _synth(ex, n=2, seed=0)
    assert out.shape == (2, n)
    for o in out:
        assert abs(spectral_slope(o) - spectral_slope(ex)) < slope_tol
        assert abs(hurst_from_increments(o) - hurst_from_increments(ex)) < hurst_tol
        assert np.abs(o - ex).max() > 0.5 * ex.std()  # not a copy


def test_multifractal_walk_keeps_its_increment_distributions() -> None:
    """A multifractal random walk: the standardised increments at lags 1, 4, 16 are as
    close to the exemplar's as other realisations' are (and far closer than those of a
    Gaussian signal with the same spectrum), their kurtosis lies within the spread of
    other realisations', and the volatility clusters (more than a Gaussian signal's)."""
    n = 4096
    lags = (1, 4, 16)
    ex = mrw(n, seed=0)
    others = [mrw(n, seed=s) for s in range(1, 13)]
    real = np.array([[increment_w1(o, ex, lag) for lag in lags] for o in others])
    kurt = np.array([[kurtosis(o[lag:] - o[:-lag]) for lag in lags] for o in others])
    surrogates = [phase_surrogate(ex, s) for s in (1, 2)]
    gauss = np.array([[increment_w1(g, ex, lag) for lag in lags] for g in surrogates])
    assert gauss.mean() > 2 * real.mean()  # the measure tells intermittent from Gaussian
    # Gaussian increments have kurtosis 3, below every realisation's at lags 1 and 4
    assert kurt[:, :2].min() > 4
    out, rep = synthesize_1d(
        torch.tensor(ex, dtype=torch.float32), n=2, seed=0, progress=False, report=True
    )
    assert rep.increments
    out = out[:, 0].double().numpy()
    dist = np.array([[increment_w1(o, ex, lag) for lag in lags] for o in out])
    # as close as another realisation, lag by lag (the direct synthesis, increments=False,
    # is 1.7 times further at lag 1: 0.073 against 0.043)
    assert np.all(dist.mean(0) < 1.25 * real.mean(0)) and np.all(dist < real.max(0))
    # the spread of the 13 realisations, the exemplar's included (lag 1: 5.7 to 12.8)
    own = [kurtosis(ex[lag:] - ex[:-lag]) for lag in lags]
    lo, hi = np.minimum(kurt.min(0), own), np.maximum(kurt.max(0), own)
    vol_gauss = max(log_volatility_std(g) for g in surrogates)  # about 0.13
    for o in out:
        k = [kurtosis(o[lag:] - o[:-lag]) for lag in lags]
        assert np.all((0.95 * lo <= k) & (k <= 1.05 * hi)), (k, lo, hi)
        assert abs(spectral_slope(o) - spectral_slope(ex)) < 0.3
        assert log_volatility_std(o) > 1.5 * vol_gauss


# ----------------------------------------------------------------------------- options


def _stationary(n: int = 512, seed: int = 0) -> np.ndarray:
    """A stationary, positive, skewed signal (log-normal process)."""
    rng = np.random.default_rng(seed)
    f = np.fft.rfftfreq(n)
    g = np.fft.irfft(np.fft.rfft(rng.standard_normal(n)) / np.sqrt(1 + (f / 0.02) ** 2), n)
    return np.exp(g / g.std())


def test_random_walks_are_detected() -> None:
    for seed in range(3):
        assert looks_like_random_walk(torch.tensor(fbm(2048, 0.5, seed)))
        assert looks_like_random_walk(torch.tensor(mrw(2048, seed)))
        assert not looks_like_random_walk(torch.tensor(_stationary(2048, seed)))
        assert not looks_like_random_walk(torch.randn(2048))
    walk = torch.tensor(fbm(1024, 0.5, 0), dtype=torch.float32)
    # a walk: its increments are synthesised (with their histogram term), then cumulated
    _, rep = synthesize_1d(walk, steps=5, levels=1, seed=0, progress=False, report=True)
    assert not rep.stationary and rep.increments and rep.histogram == 0.0 and rep.remap
    # synthesised directly: no histogram term (its values belong to the realisation)
    _, rep = synthesize_1d(
        walk, steps=5, levels=1, seed=0, increments=False, progress=False, report=True
    )
    assert not rep.stationary and not rep.increments and rep.histogram == 0.0
    assert not rep.remap
    _, rep = synthesize_1d(
        walk, steps=5, levels=1, seed=0, histogram=0.5, progress=False, report=True
    )
    assert rep.histogram == 0.5
    x = torch.tensor(_stationary(1024), dtype=torch.float32)
    _, rep = synthesize_1d(x, steps=5, levels=1, seed=0, progress=False, report=True)
    assert rep.stationary and not rep.increments and rep.histogram == 1.0 and rep.remap


def test_stationary_signal_keeps_its_histogram_exactly() -> None:
    x = _stationary()
    out, rep = synthesize_1d(
        torch.tensor(x), n=2, seed=1, steps=40, progress=False, report=True, dtype=torch.float64
    )
    assert rep.stationary and rep.histogram == 1.0
    assert out.shape == (2, 1, 512) and out.dtype == torch.float64
    for o in out[:, 0].numpy():
        np.testing.assert_allclose(np.sort(o), np.sort(x), rtol=1e-6)  # exact remapping
        assert not np.allclose(o, x)
    assert not torch.allclose(out[0], out[1])  # the batch holds different signals


def test_same_seed_same_result_and_shapes() -> None:
    x = torch.tensor(_stationary(256), dtype=torch.float32)
    a = synthesize_1d(x, seed=3, steps=10, progress=False)
    b = synthesize_1d(x[None], seed=3, steps=10, progress=False)  # [C, N] input
    c = synthesize_1d(x, seed=4, steps=10, progress=False)
    assert a.shape == (1, 1, 256) and a.dtype == torch.float32
    assert torch.equal(a, b) and not torch.equal(a, c)
    with torch.no_grad():  # works under no_grad too
        assert synthesize_1d(x, seed=3, steps=10, progress=False).shape == a.shape


def test_longer_outputs_n_up_size_and_no_tile() -> None:
    x = torch.tensor(fbm(512, 0.5, 0), dtype=torch.float32)
    out, rep = synthesize_1d(x, n_up=1, seed=0, steps=20, progress=False, report=True)
    assert out.shape == (1, 1, 1024) and rep.levels[-1] == (1024,)
    assert rep.scales[-1] == 7  # the exemplar's scales (512 samples)
    out = synthesize_1d(x, size=700, tile=False, seed=0, steps=10, progress=False)
    assert out.shape == (1, 1, 700)
    d = np.diff(out[0, 0].numpy())  # non-periodic crop: still a random walk of that size
    assert np.abs(d).max() < 8 * d.std()


def test_walks_are_synthesised_through_their_increments() -> None:
    """A random walk's increments are synthesised (their values are exactly the
    exemplar's), then cumulated from the exemplar's first value (or init's)."""
    x = fbm(1024, 0.5, 0)
    xt = torch.tensor(x)
    out, rep = synthesize_1d(
        xt, n=2, seed=0, steps=20, progress=False, report=True, dtype=torch.float64
    )
    assert rep.increments and rep.remap and out.shape == (2, 1, 1024)
    steps = np.sort(np.diff(x))
    for o in out[:, 0].numpy():
        assert o[0] == x[0]
        d = np.diff(o)  # every step is one of the exemplar's steps (rank remapping)
        near = np.abs(steps[np.searchsorted(steps, d).clip(0, len(steps) - 1)] - d)
        near = np.minimum(near, np.abs(steps[(np.searchsorted(steps, d) - 1).clip(0)] - d))
        assert near.max() < 1e-9 * np.abs(x).max()
        assert np.abs(o - x).max() > 0.5 * x.std()  # not a copy
    direct = synthesize_1d(xt, increments=False, seed=0, steps=20, progress=False)
    assert not np.isin(np.diff(direct[0, 0].numpy()), steps).any()

    # tile=False, size, init (the start and the warm start), a batch of exemplars
    out = synthesize_1d(xt, size=700, tile=False, seed=0, steps=10, progress=False)
    assert out.shape == (1, 1, 700) and float(out[0, 0, 0]) == pytest.approx(x[0])
    start = torch.tensor(fbm(512, 0.5, 7))
    out = synthesize_1d(xt, init=start, seed=0, steps=10, progress=False)
    assert out.shape == (1, 1, 512) and float(out[0, 0, 0]) == pytest.approx(float(start[0]))
    many = torch.tensor(np.stack([fbm(512, 0.5, s) for s in range(3)]))[:, None]
    out = synthesize_1d(many, n=2, seed=0, steps=10, progress=False)
    assert out.shape == (2, 1, 512)
    assert float(out[0, 0, 0]) == pytest.approx(float(many[:, 0, 0].mean()))

    # in_mask: a glitch's steps do not enter the output; the walk starts at a valid sample
    glitch = x.copy()
    glitch[:40] = 1000.0
    valid = torch.ones(1024)
    valid[:40] = 0
    out = synthesize_1d(torch.tensor(glitch), in_mask=valid, seed=0, steps=10, progress=False)
    assert float(out[0, 0, 0]) == pytest.approx(x[40])
    assert float(out.diff().abs().max()) <= np.abs(np.diff(x[40:])).max() * (1 + 1e-5)

    # inpainting keeps the direct synthesis (cumulated increments cannot keep samples)
    mask = torch.zeros(1024)
    mask[400:500] = 1
    _, rep = synthesize_1d(xt, mask=mask, seed=0, steps=5, progress=False, report=True)
    assert not rep.increments and not rep.stationary
    with pytest.raises(TexsynthError, match="increments=True cannot keep"):
        synthesize_1d(xt, mask=mask, increments=True, steps=2, progress=False)


def test_inpainting_keeps_unmasked_samples_exactly() -> None:
    x = torch.tensor(fbm(1024, 0.5, 0), dtype=torch.float32)
    mask = torch.zeros(1024)
    mask[400:560] = 1
    out = synthesize_1d(x, mask=mask, seed=0, steps=30, progress=False)
    keep = mask == 0
    assert torch.equal(out[0, 0, keep], x[keep])  # bit-exact
    hole = out[0, 0, 400:560]
    assert float((hole - x[400:560]).abs().max()) > 0.1 * float(x.std())  # new content
    d = torch.diff(out[0, 0])
    step = float(torch.diff(x).std())
    # the fill joins its frame: no jump at the hole's edges beyond the walk's own steps
    assert float(d[398:401].abs().max()) < 4 * step and float(d[558:561].abs().max()) < 4 * step
    assert float(d[400:560].std()) == pytest.approx(step, rel=0.3)


def test_in_mask_excludes_invalid_exemplar_samples() -> None:
    x = _stationary(1024)
    x[300:340] = 1000.0  # a glitch: a stuck sensor far above the signal
    xt = torch.tensor(x, dtype=torch.float32)
    valid = torch.ones(1024)
    valid[300:340] = 0
    clean = synthesize_1d(xt, in_mask=valid, seed=0, steps=30, progress=False)
    dirty = synthesize_1d(xt, seed=0, steps=30, progress=False)
    top = float(np.delete(x, np.s_[300:340]).max())
    assert float(clean.max()) <= top + 1e-4  # the values come from the valid samples only
    assert float(dirty.max()) == pytest.approx(1000.0)


def test_to_gaussian_restores_a_skewed_distribution() -> None:
    x = _stationary(512)
    xt = torch.tensor(x, dtype=torch.float32)
    out = synthesize_1d(xt, to_gaussian=True, histogram=0, seed=0, steps=30, progress=False)
    # the inverse rank transform maps back into the exemplar's values
    assert float(out.min()) >= x.min() - 1e-5 and float(out.max()) <= x.max() + 1e-5
    plain = synthesize_1d(xt, histogram=0, seed=0, steps=30, progress=False)
    assert float(plain.min()) < x.min()  # without it, a positive signal goes negative
    q = np.linspace(0.05, 0.95, 19)
    gap = np.abs(np.quantile(out.numpy(), q) - np.quantile(x, q)).max()
    assert gap < 0.15 * x.std()


def test_reference_cross_synthesis_ties_the_output_to_the_reference() -> None:
    rng = np.random.default_rng(0)
    n = 1024
    ref = np.convolve(rng.standard_normal(n + 64), np.hanning(16), "same")[32 : 32 + n]
    noise = np.convolve(rng.standard_normal(n + 64), np.hanning(8), "same")[32 : 32 + n]
    y = 0.8 * ref / ref.std() + 0.6 * noise
    corr_ex = np.corrcoef(y, ref)[0, 1]
    yt, rt = torch.tensor(y, dtype=torch.float32), torch.tensor(ref, dtype=torch.float32)
    out = synthesize_1d(yt, reference=rt, n=2, seed=0, progress=False)
    free = synthesize_1d(yt, n=2, seed=0, progress=False)
    for o, f in zip(out[:, 0].numpy(), free[:, 0].numpy(), strict=True):
        assert abs(np.corrcoef(o, ref)[0, 1] - corr_ex) < 0.1
        assert abs(np.corrcoef(f, ref)[0, 1]) < 0.3


def test_channels_batches_of_exemplars_init_and_callback() -> None:
    x = torch.tensor(np.stack([_stationary(256, s) for s in range(2)]), dtype=torch.float32)
    out = synthesize_1d(x, n=2, seed=0, steps=10, progress=False)
    assert out.shape == (2, 2, 256)
    many = torch.tensor(np.stack([_stationary(256, s) for s in range(3)]), dtype=torch.float32)
    out = synthesize_1d(many[:, None], seed=0, steps=10, progress=False)  # [B, C, N]
    assert out.shape == (1, 1, 256)
    seen: list[tuple[int, int, tuple[int, ...]]] = []

    def callback(level: int, it: int, loss: float, sig: torch.Tensor) -> bool:
        seen.append((level, it, tuple(sig.shape)))
        return it >= 2

    start = torch.tensor(_stationary(256, 5), dtype=torch.float32)
    synthesize_1d(x[0], init=start, levels=2, seed=0, progress=False, callback=callback)
    assert seen[0] == (0, 0, (1, 1, 128)) and seen[-1][:2] == (1, 2)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (dict(n=0), "n must be a positive integer"),
        (dict(steps=0), "steps must be a positive integer"),
        (dict(size=4), "at least 8 samples"),
        (dict(size=(8, 8)), "size must be an int"),
        (dict(J=9), "supports at most J=6"),
        (dict(levels=7), "levels=7"),
        (dict(n_up=-1), "n_up must be"),
        (dict(mask=torch.ones(100)), "does not fit"),
        (dict(in_mask=torch.zeros(256)), "excludes every sample"),
        (dict(init=torch.zeros(2, 256)), "init has 2 channels"),
        (dict(reference=torch.zeros(300)), "same length"),
        (dict(histogram=-1.0), "histogram weight"),
    ],
)
def test_bad_arguments(kwargs: dict[str, Any], match: str) -> None:
    x = torch.tensor(_stationary(256), dtype=torch.float32)
    with pytest.raises(TexsynthError, match=match) as info:
        synthesize_1d(x, progress=False, **{"steps": 2, **kwargs})
    assert "\n" not in str(info.value)


def test_bad_signals_are_refused() -> None:
    with pytest.raises(TexsynthError, match="non-finite"):
        synthesize_1d(torch.tensor([1.0, float("nan")] * 64), progress=False)
    with pytest.raises(TexsynthError, match="constant"):
        synthesize_1d(torch.ones(128), progress=False)
    with pytest.raises(TexsynthError, match=r"\[N\], \[C, N\] or \[B, C, N\]"):
        synthesize_1d(torch.zeros(1, 1, 8, 8), progress=False)
