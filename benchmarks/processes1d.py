"""Known random processes, to test 1-D synthesis and evaluation against (NumPy only).

Used by the tests and benchmarks (not part of the installed package). Each returns a
float64 array of ``n`` samples, reproducible by ``seed``; from the repository's root::

    import sys; sys.path.insert(0, "benchmarks")
    from processes1d import fbm, multifractal_walk
    x = fbm(4096, hurst=0.7, seed=0)          # fractional Brownian motion
    y = multifractal_walk(4096, seed=0)       # intermittent increments (volatility bursts)
"""

from __future__ import annotations

import numpy as np

__all__ = ["fbm", "lognormal_process", "multifractal_walk", "phase_surrogate"]


def _gaussian_with_covariance(cov: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A stationary Gaussian sequence of autocovariance ``cov[0..n]`` (``n`` samples), by
    circulant embedding (Davies-Harte); negative eigenvalues are clipped to 0."""
    n = len(cov) - 1
    circ = np.concatenate([cov, cov[-2:0:-1]])
    lam = np.clip(np.fft.fft(circ).real, 0, None)
    z = rng.standard_normal(len(circ)) + 1j * rng.standard_normal(len(circ))
    return np.fft.fft(np.sqrt(lam / len(circ)) * z).real[:n]


def fbm(n: int, hurst: float, seed: int) -> np.ndarray:
    """Fractional Brownian motion of Hurst exponent ``hurst`` in (0, 1): cumulated
    fractional Gaussian noise (power spectrum ``f^-(2 hurst + 1)``)."""
    k = np.arange(n + 1)
    h2 = 2 * hurst
    acov = 0.5 * (np.abs(k + 1) ** h2 - 2 * np.abs(k) ** h2 + np.abs(k - 1) ** h2)
    return np.cumsum(_gaussian_with_covariance(acov, np.random.default_rng(seed)))


def multifractal_walk(n: int, seed: int, lam2: float = 0.04) -> np.ndarray:
    """Multifractal random walk (Bacry, Delour and Muzy 2001): cumulated ``eps * exp(omega)``
    with white ``eps`` and a log-correlated Gaussian ``omega`` of intermittency ``lam2``
    (integral scale ``n``): heavy-tailed increments in clustered bursts."""
    rng = np.random.default_rng(seed)
    k = np.arange(n + 1)
    omega = _gaussian_with_covariance(lam2 * np.log(n / (k + 1.0)), rng)
    return np.cumsum(rng.standard_normal(n) * np.exp(omega))


def lognormal_process(n: int, seed: int, corner: float = 0.01) -> np.ndarray:
    """A stationary, positive, skewed process: ``exp`` of a Gaussian process whose spectrum
    falls off above ``corner`` cycles per sample."""
    rng = np.random.default_rng(seed)
    f = np.fft.rfftfreq(n)
    g = np.fft.irfft(np.fft.rfft(rng.standard_normal(n)) / np.sqrt(1 + (f / corner) ** 2), n)
    return np.exp(g / g.std())


def phase_surrogate(x: np.ndarray, seed: int) -> np.ndarray:
    """The increments of the walk ``x`` with random Fourier phases, cumulated: a Gaussian
    signal with the same power spectrum (what a model without higher-order statistics
    gives)."""
    d = np.diff(x)
    D = np.fft.rfft(d)
    phase = np.exp(2j * np.pi * np.random.default_rng(seed).random(len(D)))
    phase[0] = 1
    return np.concatenate([[0.0], np.cumsum(np.fft.irfft(D * phase, len(d)))])
