"""Random walks and their increments, for :func:`~texsynth.synthesis.signals.
synthesize_1d`: telling a walk from a stationary signal, differencing and cumulating, and
noise with a signal's spectrum to start from."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from ..stats.scattering1d import as_signal_batch, check_signal_mask
from .levels import member_noise

__all__ = [
    "cumulate",
    "first_valid_value",
    "walk_increments",
    "looks_like_random_walk",
    "spectrum_shaped_noise",
]


def looks_like_random_walk(
    signal: torch.Tensor, mask: torch.Tensor | None = None, segments: int = 8
) -> bool:
    """Whether a signal's level wanders like a random walk rather than being stationary.

    The signal is cut into ``segments`` pieces; if the pieces' mean variance is below 70%
    of the whole's (averaged over exemplars and channels), much of the variance is slow
    drift between the pieces and the value distribution is not reproducible (True).
    Measured over 200 realisations of 2048 samples (mean, 5-95% range): fractional
    Brownian motions give 0.36 (0.13-0.63) at H = 0.3 and 0.11 (0.02-0.28) at H = 0.7, a
    multifractal random walk 0.20; stationary signals 0.78-1.00 (1/f noise 0.78
    (0.61-0.93), fractional Gaussian noise with H = 0.9 0.86, a log-normal process 0.92,
    white noise 1.00). Samples with ``mask`` 0 are ignored.
    """
    x = as_signal_batch(signal, "signal").double()
    if mask is None:
        w = torch.ones_like(x)
    else:
        w = (check_signal_mask(mask, x.shape).to(x) > 0).to(x).expand_as(x)
    total, _ = _variance_and_count(x, w)
    inner = count = torch.zeros_like(total)
    for t, m in zip(x.tensor_split(segments, -1), w.tensor_split(segments, -1), strict=True):
        v, n = _variance_and_count(t, m)
        inner, count = inner + v * n, count + n
    ratio = inner / count.clamp_min(1) / total.clamp_min(torch.finfo(x.dtype).tiny)
    return bool(ratio.mean() < 0.7)


def _variance_and_count(t: torch.Tensor, m: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Variance of ``t`` over samples with weight ``m`` (0/1), and their number."""
    n = m.sum(-1)
    mean = (t * m).sum(-1) / n.clamp_min(1)
    return ((t - mean[..., None]) ** 2 * m).sum(-1) / n.clamp_min(1), n


def walk_increments(x: torch.Tensor, valid: bool = False) -> torch.Tensor:
    """Increments of ``x [B, C, N]`` (N >= 3) as ``N`` samples: ``x[t+1] - x[t]``, then the
    next-to-last increment again, where a reflect padding would put it, so that the
    increments support the signal's number of scales; ``valid``: ``x`` is a 0/1 mask and an
    increment is valid where both its samples are."""
    if x.shape[-1] < 3:
        return x  # (too short: the synthesis refuses it with its own message)
    d = torch.minimum(x[..., 1:], x[..., :-1]) if valid else x[..., 1:] - x[..., :-1]
    return torch.cat([d, d[..., -2:-1]], -1)


def first_valid_value(x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    """``[1, C, 1]``: the first sample of ``x [B, C, N]`` whose ``mask`` is on (the first
    sample without a mask), averaged over the batch."""
    if mask is None:
        return x[..., :1].mean(0, keepdim=True)
    first = (mask.expand_as(x) > 0).to(torch.int8).argmax(-1, keepdim=True)
    return x.gather(-1, first).mean(0, keepdim=True)


def cumulate(inc: torch.Tensor, start: torch.Tensor) -> torch.Tensor:
    """A walk of ``N`` samples from ``N`` periodic increments ``inc [n, C, N]``: ``start``,
    then ``start`` plus the running sum of all increments but the last (the step that
    wraps the walk round to its next period), summed in float64."""
    run = torch.cumsum(inc[..., :-1].double(), -1)
    walk = torch.cat([torch.zeros_like(run[..., :1]), run], -1) + start.double()
    return walk.to(inc.dtype).expand(inc.shape[0], -1, -1).contiguous()


def spectrum_shaped_noise(
    ex: torch.Tensor, length: int, generators: Sequence[torch.Generator]
) -> torch.Tensor:
    """``[n, C, length]`` Gaussian noise with the power spectrum of ``ex [B, C, N]``, member
    ``k`` drawn from ``generators[k]``.

    White noise is a poor start for signals with steep spectra (random walks): the energy
    it puts near Nyquist, where the wavelets are tapered off, is barely constrained and
    would reappear, wrongly, at the next level's finer scales. Random phases on the
    exemplar's (mirror-extended, so jump-free) periodogram start close to the target.
    """
    centred = ex - ex.mean(-1, keepdim=True)
    sym = torch.cat([centred, centred.flip(-1)], -1)  # (a mirror extension: no jump)
    ns = sym.shape[-1]
    power = (torch.fft.rfft(sym).abs() ** 2 / ns).mean(0)  # [C, ns//2 + 1]
    f_ex = torch.fft.rfftfreq(ns, dtype=torch.float64)
    f_out = torch.fft.rfftfreq(length, dtype=torch.float64)
    # linear interpolation of the periodogram at the output's frequencies
    i = torch.searchsorted(f_ex, f_out).clamp(1, f_ex.numel() - 1)
    t = ((f_out - f_ex[i - 1]) / (f_ex[i] - f_ex[i - 1])).clamp(0, 1).to(power)
    p = power[:, i - 1] * (1 - t) + power[:, i] * t  # [C, length//2 + 1]
    p[:, 0] = 0.0
    white = member_noise(generators, (ex.shape[1], length), ex.dtype).to(ex.device)
    out = torch.fft.irfft(torch.fft.rfft(white) * p.sqrt(), length)
    return out + ex.mean((0, 2))[None, :, None]
