"""Evaluate 1-D syntheses (time series) against their exemplar, relative to real signal.

The 1-D counterpart of :func:`texsynth.evaluate`. The exemplar is cut into pieces of a
common length ``L = min(N // 2, n)`` (``N`` the exemplar's length, ``n`` the samples'):
piece A is its start, every other piece is "another real piece" of the same process.
Each distance is computed between each sample (its centre ``L`` samples) and A, and
between the other pieces and A; the baseline is the mean over those pieces. The ratio
sample / baseline reads as in 2-D: 1.0 means "as close to the exemplar as another real
piece of it", above 1 further. A long exemplar (many pieces) gives a steadier baseline.

Random walks (fractional Brownian motion, prices; detected with
:func:`texsynth.synthesis.looks_like_random_walk`) are compared on their increments for
the scattering chi-square, the diversity and the copy score, whose values would otherwise
be dominated by the walk's level, which belongs to the realisation, not to the process.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch

from .arrays import accepts_arrays
from .errors import TexsynthError
from .evaluation_report import ComparedPieces, EvaluationReport, MetricResult, check_channels
from .stats.scattering1d import ScatteringCovariance1D, as_signal_batch
from .wavelets1d import max_J_1d

__all__ = ["evaluate_1d"]

LAGS = (1, 4, 16)
MIN_LENGTH = 64
_Metric = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


# ---------------------------------------------------------------------------- measures
def _bins(L: int) -> list[tuple[int, int]]:
    """Frequency-index ranges ``[lo, hi)`` of the rFFT (1 ... L // 2): a quarter octave
    each, widened to hold at least 4 frequencies."""
    top = L // 2 + 1
    out, lo = [], 1
    while lo < top:
        hi = min(top, max(lo + 4, math.ceil(lo * 2**0.25)))
        if top - hi < 2:  # no sliver at the top
            hi = top
        out.append((lo, hi))
        lo = hi
    return out


def log_spectrum(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Log power of ``x [B, C, L]`` in quarter-octave bins (Hann-windowed periodogram).

    Returns
    -------
    f, logp
        Bin centre frequencies (cycles/sample, geometric mean) ``[K]`` and ``[B, C, K]``.
    """
    L = x.shape[-1]
    w = torch.hann_window(L, periodic=False, dtype=x.dtype, device=x.device)
    xc = x - (x * w).sum(-1, keepdim=True) / w.sum()
    p = torch.fft.rfft(xc * w).abs() ** 2
    bins = _bins(L)
    tiny = torch.finfo(x.dtype).tiny
    logp = torch.stack([p[..., lo:hi].mean(-1) for lo, hi in bins], -1).clamp_min(tiny).log()
    f = torch.tensor([math.sqrt(lo * (hi - 1)) / L for lo, hi in bins], dtype=x.dtype)
    return f, logp


def _spectrum(x: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
    _, a = log_spectrum(x)
    _, b = log_spectrum(ref)
    return (a - b).abs().mean((1, 2))


def _slope_of(x: torch.Tensor) -> torch.Tensor:
    """Slope of log power against log frequency over 8 cycles per record ... 1/4 cycle per
    sample, ``[B, C]``."""
    f, logp = log_spectrum(x)
    sel = (f >= 8 / x.shape[-1]) & (f <= 0.25)
    if int(sel.sum()) < 3:
        sel = torch.ones_like(sel)
    lf = f[sel].log().to(x)
    y = logp[..., sel]
    lc = lf - lf.mean()
    return ((y - y.mean(-1, keepdim=True)) * lc).sum(-1) / (lc**2).sum()


def _slope(x: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
    return (_slope_of(x) - _slope_of(ref)).abs().mean(1)


def _standardise(t: torch.Tensor) -> torch.Tensor:
    sd = t.std(-1, unbiased=False, keepdim=True).clamp_min(torch.finfo(t.dtype).tiny)
    return (t - t.mean(-1, keepdim=True)) / sd


def _w1_sorted(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Wasserstein-1 between the rows of ``a [B, C, n]`` and ``b [1, C, n]``, per channel."""
    return (a.sort(-1).values - b.sort(-1).values).abs().mean(-1)


def _values(x: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
    sd = ref.std(-1, unbiased=False).clamp_min(torch.finfo(x.dtype).tiny)
    return (_w1_sorted(x, ref) / sd).mean(1)


def _diff(x: torch.Tensor, lag: int = 1) -> torch.Tensor:
    return x[..., lag:] - x[..., :-lag]


def _increments(lag: int) -> _Metric:
    def fn(x: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
        return _w1_sorted(_standardise(_diff(x, lag)), _standardise(_diff(ref, lag))).mean(1)

    return fn


def _kurt(d: torch.Tensor) -> torch.Tensor:
    d = d - d.mean(-1, keepdim=True)
    return (d**4).mean(-1) / (d**2).mean(-1).pow(2).clamp_min(torch.finfo(d.dtype).tiny)


def _kurtosis(x: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
    diffs = [(_kurt(_diff(x, g)) - _kurt(_diff(ref, g))).abs() for g in LAGS]
    return torch.stack(diffs).mean((0, 2))


def _hurst_of(x: torch.Tensor) -> torch.Tensor:
    """Half the slope of log Var(x(t + l) - x(t)) against log l, l = 1 ... 64, ``[B, C]``."""
    lags = [1, 2, 4, 8, 16, 32, 64]
    tiny = torch.finfo(x.dtype).tiny
    v = torch.stack([_diff(x, g).var(-1).clamp_min(tiny).log() for g in lags], -1)
    ll = torch.tensor([math.log(g) for g in lags], dtype=x.dtype)
    lc = ll - ll.mean()
    return ((v - v.mean(-1, keepdim=True)) * lc).sum(-1) / (lc**2).sum() / 2


def _hurst(x: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
    return (_hurst_of(x) - _hurst_of(ref)).abs().mean(1)


def _logvol_of(x: torch.Tensor, window: int = 32) -> torch.Tensor:
    """Standard deviation of the log of the increments' std in windows of 32, ``[B, C]``."""
    d = _diff(x)
    n = d.shape[-1] // window
    sd = d[..., : n * window].unflatten(-1, (n, window)).std(-1)
    return sd.clamp_min(torch.finfo(x.dtype).tiny).log().std(-1)


def _logvol(x: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
    return (_logvol_of(x) - _logvol_of(ref)).abs().mean(1)


def _scattering(walk: bool) -> _Metric:
    def fn(x: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
        if walk:
            x, ref = _diff(x), _diff(ref)
        # standardised: a piece's level and amplitude belong to the realisation (they
        # dominated the chi-square of multifractal and log-normal signals); "values" sees them
        x, ref = _standardise(x), _standardise(ref)
        sc = ScatteringCovariance1D(J=max_J_1d(x.shape[-1]))
        sy, sigma = sc(ref, norm="auto", calc_var=True, edge=True)
        sx = sc(x, norm="auto", edge=True)
        return sx.distance(sy, sigma)

    return fn


def _diversity(x: torch.Tensor) -> float:
    """Mean pairwise RMS difference over the mean variance (about sqrt(2) if independent)."""
    v = x.var(-1, unbiased=False).mean().clamp_min(torch.finfo(x.dtype).tiny)
    B = x.shape[0]
    d = [((x[i] - x[j]) ** 2).mean() / v for i in range(B) for j in range(i + 1, B)]
    return float(torch.stack(d).sqrt().mean())


def _patches(x: torch.Tensor, size: int) -> torch.Tensor:
    """All ``size``-sample windows of ``x [1, C, N]`` as rows ``[N - size + 1, C * size]``."""
    return x[0].unfold(-1, size, 1).permute(1, 0, 2).flatten(1)


def _copy(
    x: torch.Tensor, refs: list[torch.Tensor], scale: float, size: int, n: int, seed: int
) -> torch.Tensor:
    """Median distance of ``n`` random windows of each ``x`` to their nearest window of
    ``refs`` (RMS difference / ``scale``); ~0 for a copy."""
    pool = torch.cat([_patches(r, size) for r in refs if r.shape[-1] >= size])
    g = torch.Generator().manual_seed(seed)
    out = []
    for xi in x:
        cand = _patches(xi[None], size)
        pick = cand[torch.randperm(cand.shape[0], generator=g)[:n]]
        d = torch.cdist(pick, pool).min(1).values / math.sqrt(pick.shape[1])
        out.append(d.median() / scale)
    return torch.stack(out)


# ---------------------------------------------------------------------------- entry point
@accepts_arrays("exemplar", "samples", like="exemplar", ndim=1, batches=("samples",))
def evaluate_1d(
    exemplar: torch.Tensor,
    samples: torch.Tensor,
    *,
    seed: int = 0,
    max_pieces: int = 16,
    progress: Callable[[str], None] | None = None,
) -> EvaluationReport:
    """Measure how well 1-D ``samples`` reproduce the process of ``exemplar``.

    Parameters
    ----------
    exemplar
        ``[C, N]`` or ``[N]`` signal.
    samples
        ``[S, C, n]`` syntheses (``[n]`` for one single-channel sample).
    seed
        Seed of the windows drawn for the copy score.
    max_pieces
        At most this many exemplar pieces form the real baseline.
    progress
        Called with the name of each metric before it is computed.

    Returns
    -------
    EvaluationReport
        ``crop_shape`` is ``(L,)``, the compared length; ``plots`` holds the binned log
        spectra and S2 per scale.

    Raises
    ------
    TexsynthError
        On wrong shapes, mismatched channels, or pieces shorter than 64 samples.
    """
    if not isinstance(exemplar, torch.Tensor) or exemplar.dim() not in (1, 2):
        shape = tuple(exemplar.shape) if isinstance(exemplar, torch.Tensor) else "not a tensor"
        raise TexsynthError(f"exemplar must be a [C, N] or [N] signal, got {shape}")
    if not isinstance(samples, torch.Tensor) or samples.dim() not in (1, 3):
        shape = tuple(samples.shape) if isinstance(samples, torch.Tensor) else "not a tensor"
        raise TexsynthError(
            f"samples must be [S, C, n] (or [n] for one sample), got {shape}; "
            "for S single-channel samples [S, n] use samples[:, None]"
        )
    if isinstance(max_pieces, bool) or not isinstance(max_pieces, int) or max_pieces < 1:
        raise TexsynthError(
            f"max_pieces must be a whole number >= 1 (the real baseline needs at least one "
            f"exemplar piece besides the reference), got {max_pieces!r}"
        )
    ex = as_signal_batch(exemplar, "exemplar").double()
    xs = as_signal_batch(samples, "samples").double().to(ex.device)
    check_channels(ex, xs)
    N, n = ex.shape[-1], xs.shape[-1]
    L = min(N // 2, n)
    if L < MIN_LENGTH:
        raise TexsynthError(
            f"exemplar halves and samples must hold at least {MIN_LENGTH} samples for the "
            f"comparison, got {L}; use a longer exemplar or longer samples"
        )
    from .synthesis import looks_like_random_walk

    walk = looks_like_random_walk(ex)
    pieces = [ex[..., i * L : (i + 1) * L] for i in range(min(N // L, max_pieces + 1))]
    A, others = pieces[0], pieces[1:]
    start = (n - L) // 2
    S = xs[..., start : start + L]
    report = EvaluationReport(tuple(ex.shape[1:]), tuple(xs.shape[1:]), (L,))
    compared = ComparedPieces(S, A, others)

    def add(name: str, description: str, fn: _Metric, better: str = "lower") -> None:
        report.measure(name, description, better, fn, compared, progress)

    add("spectrum", "mean |log P - log P_ex| over quarter-octave bins (Hann)", _spectrum)
    add("spectral slope", "|slope - slope_ex| of log P against log f", _slope)
    add("values", "Wasserstein-1 of values / exemplar std", _values)
    for g in LAGS:
        add(
            f"increments lag {g}",
            f"Wasserstein-1 of standardised lag-{g} increments",
            _increments(g),
        )
    add("kurtosis", "|kurtosis - kurtosis_ex| of increments, mean over lags 1, 4, 16", _kurtosis)
    if L >= 256:
        add("hurst", "|H - H_ex|, H from the increments' variance at lags 1 to 64", _hurst)
        add("log-volatility", "|std log vol - ex's|, vol = increments' std per 32", _logvol)
    what = "increments'" if walk else "signal's"
    add(
        "scattering",
        f"chi-square of the {what} scattering covariance (exemplar's standard errors)",
        _scattering(walk),
    )

    rep = _diff if walk else (lambda t: t)
    if progress is not None:
        progress("copy")
    size = 32
    scale = float(rep(ex).std().clamp_min(torch.finfo(ex.dtype).tiny))
    copy_vals = _copy(rep(xs), [rep(ex)], scale, size, 256, seed)
    copy_base = []
    for i in range(len(pieces)):
        rest = [rep(ex[..., : i * L]), rep(ex[..., (i + 1) * L :])]
        copy_base.append(float(_copy(rep(pieces[i]), rest, scale, size, 256, seed)[0]))
    report.metrics.append(
        MetricResult(
            "copy",
            f"distance of {size}-sample windows to their nearest exemplar window (low = copied)",
            [float(v) for v in copy_vals],
            sum(copy_base) / len(copy_base),
            "higher",
        )
    )
    report.measure_diversity(
        _diversity,
        rep(S),
        rep(torch.cat(pieces)),
        "mean pairwise normalised distance between samples" + (" (increments)" if walk else ""),
        progress,
    )
    report.plots = _plot_data(A, S, walk)
    return report


def _plot_data(A: torch.Tensor, S: torch.Tensor, walk: bool) -> dict[str, Any]:
    """Binned log spectra and S2 per scale (of the increments for a walk)."""
    f, pa = log_spectrum(A)
    _, ps = log_spectrum(S)
    a, s = (_diff(A), _diff(S)) if walk else (A, S)
    sc = ScatteringCovariance1D(J=max_J_1d(a.shape[-1]))
    with torch.no_grad():
        s2a = sc(a, edge=True).S2.mean((0, 1, 3))
        s2s = sc(s, edge=True).S2.mean((0, 1, 3))
    return {
        "spectrum": {
            "f": f.tolist(),
            "exemplar": pa.mean((0, 1)).tolist(),
            "samples": ps.mean((0, 1)).tolist(),
        },
        "s2": {
            "j": list(range(len(s2a))),
            "exemplar": s2a.tolist(),
            "samples": s2s.tolist(),
            "increments": walk,
        },
    }
