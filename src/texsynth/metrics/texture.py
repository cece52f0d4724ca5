"""Distributional texture comparisons: no pixel alignment needed, any image sizes.

The pairwise metrics take ``x`` (samples, e.g. synthesised textures) and ``y`` (the exemplar
or reference) as ``[B, C, H, W]`` tensors (``[H, W]`` and ``[C, H, W]`` are accepted too).
``x`` and ``y`` may differ in size; their channels must match. They return one value per
image of ``x``, a tensor of shape ``[B]`` in the floating dtype of the inputs. For the
distances, 0 means identical statistics and lower is better; values are normalised so that
they do not depend on the units of the field. Copies of the exemplar are flagged by
:mod:`~texsynth.metrics.copying`.
"""

from __future__ import annotations

import math

import torch

from .._checks import as_image_batch, size_text
from ..domains.grid import fast_length
from ..errors import TexsynthError
from ..stats import ScatteringCovariance
from ..wavelets import max_J
from .checks import check_integer, check_min_side, check_spread
from .image import image_pair

__all__ = [
    "autocorrelation_distance",
    "diversity",
    "histogram_distance",
    "power_spectrum",
    "scattering_distance",
    "seam_score",
    "spectrum_distance",
]


# ---------------------------------------------------------------------------- helpers
def _interp(xq: torch.Tensor, xp: torch.Tensor, fp: torch.Tensor) -> torch.Tensor:
    """Linear interpolation of ``fp [..., n]`` (at increasing ``xp [n]``) at ``xq [m]``."""
    i = torch.searchsorted(xp, xq).clamp(1, xp.numel() - 1)
    x0, x1 = xp[i - 1], xp[i]
    t = ((xq - x0) / (x1 - x0)).clamp(0, 1)
    return fp[..., i - 1] * (1 - t) + fp[..., i] * t


def _hann(n: int, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    return torch.hann_window(n, periodic=False, dtype=dtype, device=device)


# ---------------------------------------------------------------------------- spectra
def power_spectrum(
    x: torch.Tensor, *, n_bins: int | None = None, window: bool = True
) -> tuple[torch.Tensor, torch.Tensor]:
    """Radially averaged power spectrum of each image and channel.

    The mean is removed, the image is multiplied by a 2-D Hann window (``window=True``; this
    stops the jump between opposite borders of a non-periodic photo from leaking power to all
    frequencies; periodic images do not need it), and ``|FFT|^2`` is averaged over rings of
    radial frequency. The power is scaled so that its average over all frequencies is the
    (windowed) pixel variance.

    Parameters
    ----------
    x
        ``[B, C, H, W]`` images, at least 4 pixels per side.
    n_bins
        Number of radial bins, between 1 and ``min(H, W) // 2`` (the default, one bin per
        frequency step ``1 / min(H, W)``).
    window
        Apply the Hann window.

    Returns
    -------
    k : torch.Tensor
        ``[n_bins]`` bin centres in cycles per pixel: equal-width bins covering
        ``1 / min(H, W)`` to 0.5 (Nyquist). By default the centres are ``1/N, 2/N, ..., 0.5``.
    P : torch.Tensor
        ``[B, C, n_bins]`` mean power in each bin.
    """
    x = as_image_batch(x, "x")
    B, C, H, W = x.shape
    check_min_side(x, 4, "x", "a power spectrum")
    N = min(H, W)
    top = N // 2
    if n_bins is None:
        n_bins = top
    if isinstance(n_bins, bool) or not isinstance(n_bins, int) or not 1 <= n_bins <= top:
        raise TexsynthError(
            f"n_bins must be an integer from 1 to min(H, W) // 2 = {top} for {size_text(H, W)} "
            f"images, got {n_bins!r}"
        )
    dtype, device = x.dtype, x.device
    z = x - x.mean((-2, -1), keepdim=True)
    if window:
        w = _hann(H, dtype, device)[:, None] * _hann(W, dtype, device)[None, :]
        z = z * w
        norm = w.pow(2).sum()
    else:
        norm = torch.tensor(float(H * W), dtype=dtype, device=device)
    power = torch.fft.fft2(z).abs().pow(2) / norm
    ky = torch.fft.fftfreq(H, dtype=dtype, device=device)
    kx = torch.fft.fftfreq(W, dtype=dtype, device=device)
    kr = torch.sqrt(ky[:, None] ** 2 + kx[None, :] ** 2).reshape(-1)
    edges = torch.linspace(0.5 / N, 0.5 + 0.5 / N, n_bins + 1, dtype=dtype, device=device)
    centres = 0.5 * (edges[1:] + edges[:-1])
    idx = torch.bucketize(kr, edges, right=True) - 1  # bin i holds edges[i] <= k < edges[i+1]
    keep = (idx >= 0) & (idx < n_bins)
    idx, flat = idx[keep], power.reshape(B, C, -1)[..., keep]
    total = torch.zeros(B, C, n_bins, dtype=dtype, device=device)
    total.scatter_add_(-1, idx.expand(B, C, -1), flat)
    count = torch.zeros(n_bins, dtype=dtype, device=device)
    count.scatter_add_(0, idx, torch.ones_like(idx, dtype=dtype))
    return centres, total / count.clamp_min(1)


def spectrum_distance(x: torch.Tensor, y: torch.Tensor, *, window: bool = True) -> torch.Tensor:
    """Mean absolute log-ratio of radial power spectra; 0 = identical spectra, lower is better.

    ``mean |log P_x(k) - log P_y(k)|`` over the radial bins of :func:`power_spectrum` for
    ``x`` that lie in the frequency range both images resolve, and over channels; ``P_y`` is
    interpolated (linearly in ``log P``) onto ``x``'s bins when the sizes differ. A value of
    ``d`` means the spectra differ by a typical factor ``exp(d)``; scaling ``x`` by ``a``
    alone gives ``2 |log a|``.

    Parameters
    ----------
    x, y
        Samples ``[B, C, H, W]`` and reference ``[1 or B, C, H', W']``, >= 4 pixels per side.
    window
        Hann-window both images (see :func:`power_spectrum`).

    Returns
    -------
    torch.Tensor
        ``[B]`` distances.
    """
    a, b = image_pair(x, y)
    kx, px = power_spectrum(a, window=window)
    ky, py = power_spectrum(b, window=window)
    floor = 1e-12 * py.mean(-1, keepdim=True) + torch.finfo(py.dtype).tiny
    lx = torch.log(px.clamp_min(floor))
    ly = torch.log(py.clamp_min(floor))
    lo = max(float(kx[0]), float(ky[0]))
    hi = min(float(kx[-1]), float(ky[-1]))
    inside = (kx >= lo - 1e-12) & (kx <= hi + 1e-12)
    ly_on_x = _interp(kx[inside], ky, ly)
    return (lx[..., inside] - ly_on_x).abs().mean((1, 2))


# ---------------------------------------------------------------------------- histograms
def histogram_distance(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Wasserstein-1 distance between pixel-value distributions; 0 = same histogram.

    For each channel, the exact 1-D Wasserstein-1 distance between the empirical
    distributions of ``x``'s and ``y``'s pixel values (the area between their quantile
    functions; the images may have different sizes), divided by ``y``'s standard deviation in
    that channel, then averaged over channels. Lower is better: 0.1 means the values are off
    by a tenth of the reference's spread on average, quantile by quantile.

    Parameters
    ----------
    x, y
        Samples ``[B, C, H, W]`` and reference ``[1 or B, C, H', W']``.

    Returns
    -------
    torch.Tensor
        ``[B]`` distances.
    """
    a, b = image_pair(x, y)
    std = check_spread(b, "y", "histogram_distance")
    B, C = a.shape[:2]
    xs = a.reshape(B, C, -1).sort(-1).values
    ys = b.reshape(B, C, -1).sort(-1).values
    n, m = xs.shape[-1], ys.shape[-1]
    dtype, device = a.dtype, a.device
    # breakpoints of both quantile functions; on each interval both are constant
    t = (
        torch.cat(
            [
                torch.arange(1, n + 1, dtype=torch.float64) / n,
                torch.arange(1, m + 1, dtype=torch.float64) / m,
            ]
        )
        .sort()
        .values
    )
    prev = torch.cat([t.new_zeros(1), t[:-1]])
    width = (t - prev).to(dtype=dtype, device=device)
    mid = 0.5 * (t + prev)
    ix = (mid * n).floor().long().clamp(0, n - 1).to(device)
    iy = (mid * m).floor().long().clamp(0, m - 1).to(device)
    w1 = ((xs[..., ix] - ys[..., iy]).abs() * width).sum(-1)
    return (w1 / std).mean(1)


# ---------------------------------------------------------------------------- autocorrelation
def _autocorrelation(t: torch.Tensor, max_lag: int) -> torch.Tensor:
    """Normalised unbiased autocorrelation ``[B, C, 2L+1, 2L+1]`` for lags in ``[-L, L]^2``."""
    B, C, H, W = t.shape
    z = t - t.mean((-2, -1), keepdim=True)
    sh, sw = fast_length(H + max_lag), fast_length(W + max_lag)
    Z = torch.fft.rfft2(z, s=(sh, sw))
    raw = torch.fft.irfft2(Z.abs().pow(2), s=(sh, sw))
    raw = torch.roll(raw, shifts=(max_lag, max_lag), dims=(-2, -1))
    raw = raw[..., : 2 * max_lag + 1, : 2 * max_lag + 1]
    lags = torch.arange(-max_lag, max_lag + 1, dtype=t.dtype, device=t.device)
    count = (H - lags.abs())[:, None] * (W - lags.abs())[None, :]
    acf = raw / count
    return acf / acf[..., max_lag : max_lag + 1, max_lag : max_lag + 1]


def autocorrelation_distance(
    x: torch.Tensor, y: torch.Tensor, *, max_lag: int = 16
) -> torch.Tensor:
    """Mean absolute difference of normalised autocorrelations; 0 = same, lower is better.

    For each image and channel the autocorrelation of the mean-removed image is estimated for
    every lag ``(dy, dx)`` in ``[-max_lag, max_lag]^2`` without assuming periodicity (FFT with
    zero padding, each lag divided by its number of overlapping pixel pairs: the unbiased
    estimate) and divided by its value at lag 0 (so ``rho(0, 0) = 1``; a constant channel
    counts as uncorrelated). The distance is the mean of ``|rho_x - rho_y|`` over the
    ``(2 max_lag + 1)^2`` lags and the channels. It weighs all lags equally, so for textures
    whose correlations die out within a few pixels most of the window is estimation noise:
    use a smaller ``max_lag`` for those.

    Parameters
    ----------
    x, y
        Samples ``[B, C, H, W]`` and reference ``[1 or B, C, H', W']``, each at least
        ``2 * max_lag`` pixels per side (so that every lag is estimated from at least half
        of the rows/columns).
    max_lag
        Largest lag in pixels along each axis.

    Returns
    -------
    torch.Tensor
        ``[B]`` distances.
    """
    a, b = image_pair(x, y)
    max_lag = check_integer(max_lag, "max_lag", 1)
    what = f"autocorrelation lags up to max_lag={max_lag} (or lower max_lag)"
    check_min_side(a, 2 * max_lag, "x", what)
    check_min_side(b, 2 * max_lag, "y", what)
    check_spread(b, "y", "autocorrelation_distance")
    std_x = a.std((-2, -1), unbiased=False)
    rx = _autocorrelation(a, max_lag)
    # a constant channel has no autocorrelation structure: count it as uncorrelated
    white = torch.zeros_like(rx[:1, :1])
    white[..., max_lag, max_lag] = 1.0
    rx = torch.where((std_x > 0)[..., None, None], rx.nan_to_num(0.0), white)
    ry = _autocorrelation(b, max_lag)
    return (rx - ry).abs().mean((1, 2, 3))


# ---------------------------------------------------------------------------- scattering
def scattering_distance(
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    J: int | None = None,
    L: int = 4,
    edge: bool = True,
) -> torch.Tensor:
    """Chi-square-like distance between scattering-covariance statistics; lower is better.

    ``mean_k |s_x,k - s_y,k|^2 / sigma_k^2`` over every coefficient ``k`` (S0 to S4) of
    :class:`~texsynth.ScatteringCovariance`, where both are normalised by ``y``'s S2
    (``norm="auto"`` with ``y`` as reference) and ``sigma_k`` is the standard error of ``y``'s
    coefficient (``calc_var=True``), so 0 means identical statistics. Two independent
    realisations of one stationary texture give a few units (about 3 to 4 for Gaussian
    fields; 4 to 9 for 128 px crops of one photographed texture), different textures tens to
    ``10^5``. Values are comparable only between images of similar sizes: standard errors
    shrink as the exemplar grows, so the same difference scores higher.

    Parameters
    ----------
    x, y
        Samples ``[B, C, H, W]`` and the exemplar ``[1, C, H', W']`` (a single image), each at
        least 8 pixels per side.
    J
        Number of scales; ``None`` uses the most that both sizes allow.
    L
        Number of orientations.
    edge
        Treat the images as non-periodic (reflect padding, border coefficients excluded); see
        :class:`~texsynth.ScatteringCovariance`.

    Returns
    -------
    torch.Tensor
        ``[B]`` distances.
    """
    xa = as_image_batch(x, "x")
    yb = as_image_batch(y, "y")
    if yb.shape[0] != 1:
        raise TexsynthError(
            f"y must be a single exemplar image (batch size 1), got batch size {yb.shape[0]}; "
            "compare against one exemplar at a time"
        )
    a, b = image_pair(xa, yb)
    b = b[:1]
    jx = max_J(*a.shape[-2:])
    jy = max_J(*b.shape[-2:])
    if min(jx, jy) < 1:
        small = ("x", a) if jx < 1 else ("y", b)
        check_min_side(small[1], 8, small[0], "scattering statistics")
    if J is None:
        J = min(jx, jy)
    sc = ScatteringCovariance(J=J, L=L).to(a.device)
    sc.reset_norm()
    sy, sigma = sc(b, norm="auto", calc_var=True, edge=edge)
    sx = sc(a, norm="auto", edge=edge)
    return sx.distance(sy, sigma)


# ---------------------------------------------------------------------------- tiling, diversity
def seam_score(x: torch.Tensor) -> torch.Tensor:
    """Tileability: the step across the wrap-around edges relative to interior steps.

    ``(mean|x[-1, :] - x[0, :]| + mean|x[:, -1] - x[:, 0]|)`` divided by ``(mean|x[i+1, :] -
    x[i, :]| + mean|x[:, j+1] - x[:, j]|)`` over interior neighbours, all channels pooled.
    About 1 for a periodic texture (tiling it shows no seam); clearly above 1 when opposite
    borders do not match (a photo crop). Closer to 1 is better. A constant image scores 1.

    Parameters
    ----------
    x
        ``[B, C, H, W]`` images, at least 3 pixels per side.

    Returns
    -------
    torch.Tensor
        ``[B]`` seam ratios.
    """
    t = as_image_batch(x, "x")
    check_min_side(t, 3, "x", "seam_score")
    wrap = (t[..., -1, :] - t[..., 0, :]).abs().mean((1, 2)) + (
        t[..., :, -1] - t[..., :, 0]
    ).abs().mean((1, 2))
    inner = t.diff(dim=-2).abs().mean((1, 2, 3)) + t.diff(dim=-1).abs().mean((1, 2, 3))
    ratio = wrap / inner
    return torch.where((wrap == 0) & (inner == 0), torch.ones_like(ratio), ratio)


def diversity(x: torch.Tensor) -> float:
    """Mean pairwise normalised distance between the samples of a batch; higher = more varied.

    ``mean_{i<j} sqrt(mean((x_i - x_j)^2) / v)``, where ``v`` is the samples' mean per-channel
    pixel variance. 0 means identical samples; independent samples with the same variance and
    mean give about ``sqrt(2) = 1.41``. A low value next to a low
    :func:`~texsynth.metrics.copying.copy_score` suggests the samples reproduce the same
    piece of the exemplar.

    Parameters
    ----------
    x
        ``[B, C, H, W]`` samples of the same size, ``B >= 2``.

    Returns
    -------
    float
        The mean pairwise distance.
    """
    t = as_image_batch(x, "x")
    B = t.shape[0]
    if B < 2:
        raise TexsynthError(
            f"diversity needs a batch of at least 2 samples to compare, got {B}; "
            "synthesise several samples (e.g. [B, C, H, W] with B >= 2)"
        )
    v = t.var((-2, -1), unbiased=False).mean()
    flat = t.reshape(B, -1)
    d2 = torch.cat([(flat[i + 1 :] - flat[i]).pow(2).mean(1) for i in range(B - 1)])
    if float(v) == 0:
        return 0.0 if float(d2.max()) == 0 else math.inf
    return float((d2 / v).sqrt().mean())
