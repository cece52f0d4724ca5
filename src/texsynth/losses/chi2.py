"""One chi-square for every scattering loss, and its microcanonical (batch) form.

The chi-square of statistics ``s`` against a target ``t`` with standard errors ``sigma`` is
``mean over statistic groups (S0, S1, ...) of mean_k |s_k - t_k|^2 / (sigma_k^2 + floor^2)``,
so that every group counts equally however many coefficients it has, and about 1 means
"as close as the exemplar's own sampling noise allows". The microcanonical form matches a
batch's *mean* statistics, each difference divided by the batch spread (the loss of the
``SynthHalfUNet2D`` generator of the ``foscat`` package, made numerically safe).
"""

from __future__ import annotations

import torch

from ..stats import ScatCov

__all__ = ["chi2_weights", "microcanonical_distance", "weighted_chi2"]

_SIGMA_FLOOR = 1e-3


def chi2_weights(
    target: ScatCov, sigma: ScatCov | None
) -> list[tuple[str, torch.Tensor, torch.Tensor | None]]:
    """``(field, target, 1 / sigma^2)`` of every statistic of ``target``, computed once.

    The sigma floor keeps a coefficient from weighing more than one measured to 1e-3 of its
    statistic's typical size (exactly-zero standard errors would otherwise blow up); this is
    :meth:`ScatCov.distance` with ``sigma_floor=1e-3``, without recomputing the weights at
    every evaluation.
    """
    out = []
    for name, t in target.fields():
        w = None
        if sigma is not None:
            s = getattr(sigma, name).to(t.real.dtype)
            floor = _SIGMA_FLOOR * t.abs().pow(2).mean().sqrt()
            w = 1.0 / (s**2 + floor**2).clamp_min(torch.finfo(s.dtype).tiny)
        out.append((name, t, w))
    return out


def weighted_chi2(
    stats: ScatCov, weights: list[tuple[str, torch.Tensor, torch.Tensor | None]]
) -> torch.Tensor:
    """Mean over statistic groups of the mean weighted squared difference: ``[B]``."""
    total = 0.0
    for name, t, w in weights:
        a = getattr(stats, name)
        d = (a - t.to(a)).abs() ** 2
        if w is not None:
            d = d * w.to(d)
        total = total + d.reshape(d.shape[0], -1).mean(1)
    return total / len(weights)  # type: ignore[return-value]


def microcanonical_distance(
    stats: ScatCov, target: ScatCov, sigma: ScatCov | None, sigma_synth: bool, eps: float
) -> torch.Tensor:
    """Microcanonical distance of a batch's mean statistics to ``target`` (a scalar); see
    :meth:`ScatteringLoss.batch_loss`."""
    total, groups = 0.0, 0
    for name, a in stats.fields():
        t = getattr(target, name)
        if t is None:
            continue
        t = t.to(a)
        mu = a.mean(0, keepdim=True)
        var = (a - mu).abs().pow(2).mean(0, keepdim=True)
        rms2 = t.abs().pow(2).mean()
        spread = (var + eps**2 * rms2).sqrt()
        d = (mu - t).abs().pow(2)
        if sigma_synth:
            s = getattr(sigma, name).to(d) if sigma is not None else t.abs()
            s = (s.pow(2) + 1e-6 * rms2).sqrt()  # the 1e-3 rms floor of forward()
            d = d / (spread * s).clamp_min(torch.finfo(d.dtype).tiny)
        else:
            d = d / spread.pow(2).clamp_min(torch.finfo(d.dtype).tiny)
        total = total + d.mean()
        groups += 1
    return total / max(groups, 1)  # type: ignore[return-value]
