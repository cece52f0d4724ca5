"""Scattering-covariance statistics of 1-D signals (time series), periodic and fast.

The definitions are those of the 2-D :class:`~texsynth.stats.ScatteringCovariance` with one
orientation (``L = 1``) and the analytic wavelets of :mod:`texsynth.wavelets1d`. For a
signal ``x`` with wavelet coefficients ``c_j = x * psi_j``:

* ``S0 = (mean(x), std(x))``
* ``S1[j] = <|c_j|>``, ``S2[j] = <|c_j|^2>``
* ``S3[j2, j3] = <c_{j3} . conj(|c_{j2}| * psi_{j3})>`` for ``j2 <= j3``
* ``S4[j1, j2, j3] = <(|c_{j1}| * psi_{j3}) . conj(|c_{j2}| * psi_{j3})>`` for
  ``j1 <= j2 <= j3``

where ``<.>`` is a (weighted) mean over samples. Results are a :class:`ScatCov` with
``L = 1`` (orientation axes of size one), so :meth:`ScatCov.distance`, ``iso_mean``,
``flatten`` and the losses work unchanged. Scale ``j`` is computed on a grid decimated by
``2**max(j-1, 0)`` (exact: the spectra are cropped, not aliased).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from .._checks import real_finite, require_tensor
from ..errors import TexsynthError
from ..wavelets1d import WaveletBank1D, check_J_1d, crop_spectrum_1d, max_J_1d
from .scatcov import ScatCov, s3_index, s4_index
from .scattering import _apply_norm, _fast_len, _signed_sqrt, _window_sum
from .scattering import _split_gram as _split_gram_2d

__all__ = ["ScatteringCovariance1D", "as_signal_batch", "check_signal_mask"]

log = logging.getLogger(__name__)

_NORMS = (None, "auto", "self")


# ---------------------------------------------------------------------------- input checks
def as_signal_batch(x: torch.Tensor, name: str = "signal") -> torch.Tensor:
    """Return ``x`` as a floating ``[B, C, N]`` tensor, accepting ``[N]`` and ``[C, N]``.

    Raises
    ------
    TexsynthError
        If ``x`` is not a real tensor of 1 to 3 dimensions, is empty or holds NaN/Inf.
    """
    require_tensor(x, name)
    if x.dim() == 1:
        x = x[None, None]
    elif x.dim() == 2:
        x = x[None]
    elif x.dim() != 3:
        raise TexsynthError(
            f"{name} must have shape [N], [C, N] or [B, C, N] (1-D signals), got "
            f"{tuple(x.shape)}; for images use ScatteringCovariance / synthesize"
        )
    return real_finite(x, name, "signal", hint="mask=... / in_mask=...")


def check_signal_mask(mask: torch.Tensor, shape: torch.Size, name: str = "mask") -> torch.Tensor:
    """Return ``mask`` as ``[B|1, C|1, N]`` weights in [0, 1] that broadcast to ``shape``.

    Raises
    ------
    TexsynthError
        If the mask does not fit, holds values outside [0, 1] or NaN, or is all zero.
    """
    if not isinstance(mask, torch.Tensor):
        mask = torch.as_tensor(mask)
    if not mask.is_floating_point():
        mask = mask.to(torch.get_default_dtype())
    if mask.dim() == 1:
        mask = mask[None, None]
    elif mask.dim() == 2:
        mask = mask[None]
    B, C, N = shape
    if (
        mask.dim() != 3
        or mask.shape[-1] != N
        or mask.shape[0] not in (1, B)
        or mask.shape[1] not in (1, C)
    ):
        raise TexsynthError(
            f"{name} of shape {tuple(mask.shape)} does not fit signals of shape {tuple(shape)}; "
            f"give [N] = [{N}] or [B|1, C|1, {N}]"
        )
    if not bool(torch.isfinite(mask).all()):
        raise TexsynthError(f"{name} holds NaN or Inf values; give weights in [0, 1]")
    if bool((mask < 0).any()) or bool((mask > 1).any()):
        raise TexsynthError(f"{name} values must lie in [0, 1] (1 = valid sample, 0 = excluded)")
    if not bool((mask > 0).any()):
        raise TexsynthError(f"{name} excludes every sample; at least some samples must be 1")
    return mask


# ---------------------------------------------------------------------------- first layer
@dataclass
class _Layer:
    """First-layer results of one signal batch at every scale."""

    spectrum: torch.Tensor  # fft of the signal, [B, C, N]
    coef: list[torch.Tensor]  # c_j  [B, C, n_j] complex
    modulus: list[torch.Tensor]  # |c_j|
    mod_spectra: list[torch.Tensor]  # fft(|c_j|) on grid j


def _first_layer(x: torch.Tensor, bank: WaveletBank1D) -> _Layer:
    X = torch.fft.fft(x)
    coef, modulus, spectra = [], [], []
    for j in range(bank.J):
        psi = bank.as_complex(f"first{j}", bank.first_layer_filter(j), 1.0, x.dtype)
        c = torch.fft.ifft(crop_spectrum_1d(X, bank.grids[j]) * psi)
        m = c.abs()
        coef.append(c)
        modulus.append(m)
        spectra.append(torch.fft.fft(m))
    return _Layer(X, coef, modulus, spectra)


def _rows_spatial(layer: _Layer, bank: WaveletBank1D, j3: int) -> torch.Tensor:
    """Gram rows on grid ``j3``, ``[B, C, A, n3]``: ``c_{j3}``, then ``|c_{j2}| * psi_{j3}``
    for ``j2 = 0..j3`` (``A = j3 + 2``)."""
    n3 = bank.grids[j3]
    dtype = layer.modulus[0].dtype
    rows = [layer.coef[j3]]
    for j2 in range(j3 + 1):
        n2 = bank.grids[j2]
        psi3 = bank.as_complex(f"filter{j3}", bank.filter(j3), n3 / n2, dtype)
        rows.append(torch.fft.ifft(crop_spectrum_1d(layer.mod_spectra[j2], n3) * psi3))
    return torch.stack(rows, 2)


def _rows_fourier(layer: _Layer, bank: WaveletBank1D, j3: int) -> torch.Tensor:
    """Gram rows in the Fourier domain on the support of ``psi_{j3}``, ``[B, C, A, K]``,
    scaled so that ``sum_k a_k conj(b_k)`` is the mean of the product of the fields."""
    N = layer.spectrum.shape[-1]
    _, psi = bank.support(j3)
    dtype = layer.modulus[0].dtype
    X = layer.spectrum[..., bank.support_in(j3, N)]
    rows = [X * bank.as_complex(f"support{j3}", psi, 1 / N, dtype)]
    for j2 in range(j3 + 1):
        n2 = bank.grids[j2]
        M = layer.mod_spectra[j2][..., bank.support_in(j3, n2)]
        rows.append(M * bank.as_complex(f"support{j3}", psi, 1 / n2, dtype))
    return torch.stack(rows, 2)


def _split_gram(G: torch.Tensor, j3: int) -> tuple[torch.Tensor, ...]:
    """S3 ``[B, C, j3+1, 1, 1]``, its transposed column and S4 ``[B, C, npairs, 1, 1, 1]``
    of one Gram matrix ``[B, C, A, A]``: the 2-D split with one orientation."""
    return _split_gram_2d(G[:, :, None], j3, 1)


# ---------------------------------------------------------------------------- weights
def _wmean(t: torch.Tensor, w: torch.Tensor | None) -> torch.Tensor:
    """Mean over the last axis, weighted by ``w`` ([B|1, C|1, n], normalised)."""
    if w is None:
        return t.mean(-1)
    extra = t.dim() - w.dim()
    wt = w.reshape(*w.shape[:2], *([1] * extra), w.shape[-1])
    return (t * wt).sum(-1)


def _erode(valid: torch.Tensor, radius: int) -> torch.Tensor:
    """Samples whose (periodic) neighbourhood of ``radius`` is all valid (0/1)."""
    n = valid.shape[-1]
    invalid = 1.0 - valid
    if radius <= 0 or not bool(invalid.any()):
        return valid
    if radius >= n:
        return torch.zeros_like(valid)
    return (_window_sum(invalid, radius, -1) < 0.5).to(valid.dtype)


def _sample_grid(t: torch.Tensor, n: int) -> torch.Tensor:
    """Sample a full-resolution map at the positions of a coarser grid's samples."""
    N = t.shape[-1]
    if n == N:
        return t
    return t[..., torch.arange(n, device=t.device) * N // n]


def _fill_masked(x: torch.Tensor, m: torch.Tensor) -> torch.Tensor:
    """Replace samples of weight 0 by the weighted mean of the valid ones."""
    mean = (x * m).sum(-1, keepdim=True) / m.sum(-1, keepdim=True)
    return torch.where(m > 0, x, mean)


# ---------------------------------------------------------------------------- module
class ScatteringCovariance1D(torch.nn.Module):
    """Scattering-covariance statistics of ``[B, C, N]`` signals (seed 001's ``eval``, 1-D).

    Parameters
    ----------
    J
        Number of dyadic scales; ``None`` uses the most the length allows
        (``floor(log2(N)) - 2``: the coarsest wavelet fits about 4 times).
    L
        Number of orientations; 1-D signals have one (kept for symmetry with 2-D).

    Notes
    -----
    Filters are built once per length and kept as non-persistent buffers, so the module
    follows ``.to(device)``. Boundaries are periodic unless ``edge=True``. Statistics are
    computed per channel; every operation is differentiable.

    Examples
    --------
    >>> import torch
    >>> from texsynth import ScatteringCovariance1D
    >>> stats = ScatteringCovariance1D(J=5)(torch.randn(2, 1, 256))
    >>> tuple(stats.S1.shape), tuple(stats.S4.shape)
    ((2, 1, 5, 1), (2, 1, 35, 1, 1, 1))
    """

    def __init__(self, J: int | None = None, L: int = 1) -> None:
        super().__init__()
        if J is not None and (not isinstance(J, int) or isinstance(J, bool) or J < 1):
            raise TexsynthError(f"J (number of scales) must be a positive integer, got {J!r}")
        if L != 1 or isinstance(L, bool):
            raise TexsynthError(
                f"1-D signals have one orientation: L must be 1, got {L!r} (for images with "
                "several orientations use ScatteringCovariance)"
            )
        self.J = J
        self.L = 1
        self.banks = torch.nn.ModuleDict()
        self.reset_norm()

    def reset_norm(self) -> None:
        """Forget the reference S2 cached by ``norm="auto"``."""
        self._ref_p1: torch.Tensor | None = None
        self._ref_p2: torch.Tensor | None = None

    def bank(self, N: int, J: int, device: torch.device) -> WaveletBank1D:
        """The wavelet bank for signals of ``N`` samples and ``J`` scales, built on first use."""
        key = f"{N}x{J}"
        if key not in self.banks:
            self.banks[key] = WaveletBank1D(N, J).to(device)
        bank = self.banks[key]
        if bank.psi0.device != device:
            bank.to(device)
        return bank

    def resolve_J(self, N: int, Jmax: int | None = None) -> int:
        """Number of scales used for a signal of ``N`` samples (``Jmax`` overrides ``J``)."""
        if Jmax is not None:
            return Jmax
        return self.J if self.J is not None else max(max_J_1d(N), 1)

    def _weights(
        self, bank: WaveletBank1D, m: torch.Tensor | None
    ) -> tuple[list[torch.Tensor | None], list[torch.Tensor | None], torch.Tensor | None]:
        """Normalised averaging weights per scale (``None`` = uniform), the weights that
        estimate the spread of each scale's values for ``calc_var``, and the full-length
        weights.

        The means use weights eroded by each wavelet's radius (unbiased by the fill of
        masked samples); the spread behind the standard errors is estimated over every
        valid sample, because an eroded region of a few correlated samples at a coarse
        scale would report a spread of nearly zero (and a chi-square that explodes).
        """
        if m is None:
            return [None] * bank.J, [None] * bank.J, None
        valid = (m > 0).to(m.dtype)
        out: list[torch.Tensor | None] = []
        spread: list[torch.Tensor | None] = []
        for j in range(bank.J):
            # erosion by the wavelet's 99%-energy radius keeps the fill of masked samples
            # from biasing the statistics; where too little is left, the radius is halved
            radius = bank.radii[j]
            while True:
                wj = _sample_grid(m * _erode(valid, radius), bank.grids[j])
                total = wj.sum(-1, keepdim=True)
                if bool((total > 0).all()) or radius == 0:
                    break
                radius //= 2
            if radius < bank.radii[j]:
                log.debug("scale %d: erosion reduced to %d samples", j, radius)
            out.append(wj / total)
            vj = _sample_grid(m, bank.grids[j])
            spread.append(vj / vj.sum(-1, keepdim=True))
        return out, spread, m / m.sum(-1, keepdim=True)

    def forward(
        self,
        signal1: torch.Tensor,
        signal2: torch.Tensor | None = None,
        *,
        mask: torch.Tensor | None = None,
        norm: str | None = None,
        calc_var: bool = False,
        Jmax: int | None = None,
        edge: bool = False,
    ) -> ScatCov | tuple[ScatCov, ScatCov]:
        """Compute the statistics of ``signal1`` (or cross statistics with ``signal2``).

        Parameters
        ----------
        signal1
            ``[B, C, N]`` (also ``[N]`` or ``[C, N]``) real signals.
        signal2
            Optional second batch of the same shape: cross statistics (adds ``S3P``).
        mask
            Weights in [0, 1], ``[N]`` or broadcastable ``[B|1, C|1, N]``; samples with
            weight 0 never influence any statistic (they are replaced before filtering and
            coefficients within a wavelet's radius of them are excluded).
        norm
            ``None`` (raw), ``"auto"`` (divide by the reference S2 cached on the first call;
            see :meth:`reset_norm`) or ``"self"`` (this signal's own S2), as in 2-D.
        calc_var
            Also return per-coefficient standard errors (usable as ``sigma`` in
            :meth:`ScatCov.distance`).
        Jmax
            Number of scales for this call (overrides ``J``).
        edge
            Non-periodic signal: reflect-padded (no wrap-around jump) and only coefficients
            far enough from the ends enter the means.

        Returns
        -------
        ScatCov or (ScatCov, ScatCov)
            The statistics (``L = 1``), and with ``calc_var`` their standard errors.
        """
        if norm not in _NORMS:
            raise TexsynthError(f"norm must be None, 'auto' or 'self', got {norm!r}")
        x = as_signal_batch(signal1, "signal1")
        y = None
        if signal2 is not None:
            y = as_signal_batch(signal2, "signal2").to(device=x.device, dtype=x.dtype)
            if y.shape != x.shape:
                raise TexsynthError(
                    f"signal2 has shape {tuple(y.shape)} but signal1 has {tuple(x.shape)}; "
                    "cross statistics need signals of the same shape"
                )
        N = x.shape[-1]
        J = self.resolve_J(N, Jmax)
        check_J_1d(N, J)
        m = None
        if mask is not None:
            m = check_signal_mask(mask, x.shape).to(device=x.device, dtype=x.dtype)
            x = _fill_masked(x, m)
            y = _fill_masked(y, m) if y is not None else None
        if edge:
            x, y, m = self._pad_for_edge(x, y, m, J)
        bank = self.bank(x.shape[-1], J, x.device)
        weights, vweights, w0 = self._weights(bank, m)

        lx = _first_layer(x, bank)
        ly = _first_layer(y, bank) if y is not None else lx
        stats, var = _statistics(x, y, lx, ly, bank, weights, vweights, w0, J, calc_var)
        p1 = stats.pop("P1")
        p2 = stats.pop("P2")
        scale = self._norm_factors(norm, p1, p2)
        out = ScatCov(**stats, J=J, L=1)
        if scale is not None:
            out = _apply_norm(out, scale)
        if not calc_var:
            return out
        sigma = ScatCov(**var, J=J, L=1)
        if scale is not None:
            sigma = _apply_norm(sigma, scale)
        return out, sigma

    def _pad_for_edge(
        self, x: torch.Tensor, y: torch.Tensor | None, m: torch.Tensor | None, J: int
    ) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor]:
        """Reflect-pad non-periodic signals and mask out the padding."""
        N = x.shape[-1]
        probe = self.bank(N, J, x.device)
        p = min(probe.radii[J - 1], N - 1)
        extra = _fast_len(N + 2 * p) - N - 2 * p

        def pad(t: torch.Tensor) -> torch.Tensor:
            # then reflect again up to an FFT-friendly length (extra < the padded length)
            t = F.pad(t, (p, p), mode="reflect")
            return F.pad(t, (0, extra), mode="reflect") if extra else t

        x = pad(x)
        y = pad(y) if y is not None else None
        if m is None:
            m = torch.ones(1, 1, N, dtype=x.dtype, device=x.device)
        m = F.pad(m, (p, p + extra), mode="constant", value=0.0)
        return x, y, m

    def _norm_factors(
        self, norm: str | None, p1: torch.Tensor, p2: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor] | None:
        """Reference S2 of both signals (``[B|1, C, J, 1]``) for the chosen normalisation."""
        if norm is None:
            return None
        if norm == "self":
            return p1, p2
        if self._ref_p1 is None:
            self._ref_p1 = p1.detach().mean(0, keepdim=True)
            self._ref_p2 = p2.detach().mean(0, keepdim=True)
        ref1, ref2 = self._ref_p1, self._ref_p2
        assert ref2 is not None
        if ref1.shape[1:] != p1.shape[1:]:
            raise TexsynthError(
                f"norm='auto' reference was computed for (C, J) = {tuple(ref1.shape[1:3])}, "
                f"this call has {tuple(p1.shape[1:3])}; call reset_norm() first"
            )
        return ref1.to(p1), ref2.to(p1)


# ---------------------------------------------------------------------------- statistics
def _statistics(
    x: torch.Tensor,
    y: torch.Tensor | None,
    lx: _Layer,
    ly: _Layer,
    bank: WaveletBank1D,
    weights: list[torch.Tensor | None],
    vweights: list[torch.Tensor | None],
    w0: torch.Tensor | None,
    J: int,
    calc_var: bool,
) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    """Raw statistics (and standard errors) from the two first layers."""
    cross = y is not None
    stats: dict[str, torch.Tensor] = {}
    var: dict[str, torch.Tensor] = {}

    m1, v1 = _moments(x, w0)
    if cross:
        m2, _ = _moments(y, w0)
        cov = _wmean((x - m1[..., None]) * (y - m2[..., None]), w0)
        stats["S0"] = torch.stack([(m1 + m2) / 2, _signed_sqrt(cov)], -1)
    else:
        stats["S0"] = torch.stack([m1, v1.clamp_min(0).sqrt()], -1)

    s1, s2, p1, p2, e1, e2 = [], [], [], [], [], []
    for j in range(J):
        w = weights[j]
        a, b = lx.coef[j], ly.coef[j]
        pa = _wmean(lx.modulus[j] ** 2, w)
        pb = _wmean(ly.modulus[j] ** 2, w) if cross else pa
        p1.append(pa)
        p2.append(pb)
        if cross:
            r = (a * b.conj()).real
            f1, f2 = _signed_sqrt(r), r
        else:
            f1 = lx.modulus[j]
            f2 = f1**2
        s1.append(_wmean(f1, w))
        s2.append(_wmean(f2, w))
        if calc_var:
            e1.append(_stderr(f1, w, vweights[j], bank.neff[j]))
            e2.append(_stderr(f2, w, vweights[j], bank.neff[j]))
    stats["S1"] = torch.stack(s1, 2)[..., None]
    stats["S2"] = torch.stack(s2, 2)[..., None]
    stats["P1"] = torch.stack(p1, 2)[..., None]
    stats["P2"] = torch.stack(p2, 2)[..., None]
    if calc_var:
        var["S0"] = _s0_stderr(stats["S0"], x, w0)
        var["S1"] = torch.stack(e1, 2)[..., None]
        var["S2"] = torch.stack(e2, 2)[..., None]

    s3, s3p, s4, e3, e3p, e4 = [], [], [], [], [], []
    spatial = calc_var or any(w is not None for w in weights)
    for j3 in range(J):
        w = weights[j3]
        wr = None
        if spatial:
            Rx = _rows_spatial(lx, bank, j3)  # [B, C, A, P]
            Ry = _rows_spatial(ly, bank, j3) if cross else Rx
            P = Rx.shape[-1]
            wr = None if w is None else w[..., None, :].to(Rx.real.dtype)
            G = (Rx if wr is None else Rx * wr) @ Ry.conj().transpose(-1, -2)
            if wr is None:
                G = G / P
        else:
            Rx = _rows_fourier(lx, bank, j3)  # [B, C, A, K]
            Ry = _rows_fourier(ly, bank, j3) if cross else Rx
            G = Rx @ Ry.conj().transpose(-1, -2)  # G[a, b] = <Rx_a conj(Ry_b)>
        a3, a3t, a4 = _split_gram(G, j3)
        s3.append(a3)
        s4.append(a4)
        if cross:
            s3p.append(a3t.conj())
        if calc_var:
            Ax = Rx.abs() ** 2
            Ay = Ry.abs() ** 2 if cross else Ax
            vw = vweights[j3]
            if vw is None:
                V = Ax @ Ay.transpose(-1, -2) / P  # <|Rx_a|^2 |Ry_b|^2>
                Gv = G
            else:
                vr = vw[..., None, :].to(Rx.real.dtype)
                V = (Ax * vr) @ Ay.transpose(-1, -2)
                Gv = (Rx * vr) @ Ry.conj().transpose(-1, -2)
            neff = _neff(bank.neff[j3], w, P).to(V)
            E = ((V - Gv.abs() ** 2).clamp_min(0) / neff[..., None, None]).sqrt()
            v3, v3t, v4 = _split_gram(E, j3)
            e3.append(v3)
            e4.append(v4)
            e3p.append(v3t)
    stats["S3"] = torch.cat(s3, 2)
    stats["S4"] = torch.cat(s4, 2)
    if cross:
        stats["S3P"] = torch.cat(s3p, 2)
    if calc_var:
        var["S3"] = torch.cat(e3, 2)
        var["S4"] = torch.cat(e4, 2)
        if cross:
            var["S3P"] = torch.cat(e3p, 2)
    assert stats["S3"].shape[2] == len(s3_index(J)) and stats["S4"].shape[2] == len(s4_index(J))
    return stats, var


def _moments(x: torch.Tensor, w0: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
    m = _wmean(x, w0)
    v = _wmean((x - m[..., None]) ** 2, w0)
    return m, v


def _neff(neff: float, w: torch.Tensor | None, P: int) -> torch.Tensor:
    """Independent samples of a scale's mean: the band's ``neff`` times the effective
    fraction ``(sum w)^2 / (P sum w^2)`` of the grid the weights keep."""
    if w is None:
        return torch.tensor(neff)
    return neff / (P * (w**2).sum(-1))


def _stderr(
    f: torch.Tensor, w: torch.Tensor | None, vw: torch.Tensor | None, neff_band: float
) -> torch.Tensor:
    """Standard error of the ``w``-weighted mean of ``f``: the spread of ``f`` (over the
    samples of weights ``vw``) divided by the independent samples that ``w`` keeps."""
    d = f - _wmean(f, vw)[..., None]
    v = _wmean(d.abs() ** 2 if d.is_complex() else d**2, vw)
    neff = _neff(neff_band, w, f.shape[-1]).to(v)
    return (v / neff).sqrt()


def _s0_stderr(s0: torch.Tensor, x: torch.Tensor, w0: torch.Tensor | None) -> torch.Tensor:
    """Standard errors of (mean, std): ``std/sqrt(N)`` and ``std/sqrt(2N)``."""
    std = s0[..., 1].abs()
    P = x.shape[-1]
    n = _neff(float(P), w0, P).to(std)
    return torch.stack([std / n.sqrt(), std / (2 * n).sqrt()], -1)
