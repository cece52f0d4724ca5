"""Scattering-covariance statistics (seed 001, ``eval``), periodic and fast.

For an image ``x`` with wavelet coefficients ``c_{j,l} = x * psi_{j,l}``:

* ``S0 = (mean(x), std(x))``
* ``S1[j, l] = <|c_{j,l}|>``, ``S2[j, l] = <|c_{j,l}|^2>``
* ``S3[j2, j3, l2, l3] = <c_{j3,l3} . conj(|c_{j2,l2}| * psi_{j3,l3})>`` for ``j2 <= j3``
* ``S4[j1, j2, j3, l1, l2, l3] = <(|c_{j1,l1}| * psi_{j3,l3}) . conj(|c_{j2,l2}| * psi_{j3,l3})>``
  for ``j1 <= j2 <= j3``

where ``<.>`` is a (weighted) spatial mean. Scale ``j`` is computed on a grid downsampled by
``2**max(j-1, 0)`` by cropping spectra (exact, anti-aliased, periodic). S3 and S4 at scale
``j3`` are entries of one complex Gram matrix between the coefficients of ``x`` and the
second-layer fields, computed as a single batched matrix product.
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from .._checks import as_image_batch, check_mask
from ..errors import TexsynthError
from ..wavelets import WaveletBank, check_J, crop_spectrum, default_J
from .scatcov import ScatCov, s3_index, s4_index

__all__ = ["ScatteringCovariance"]

log = logging.getLogger(__name__)

_NORMS = (None, "auto", "self")


@dataclass
class _Layer:
    """First-layer results of one image at every scale."""

    spectrum: torch.Tensor  # fft2 of the image, full size [B, C, H, W]
    coef: list[torch.Tensor]  # c_j  [B, C, L, h_j, w_j] complex
    modulus: list[torch.Tensor]  # |c_j| real
    mod_spectra: list[torch.Tensor]  # fft2(|c_j|) on grid j


def _first_layer(x: torch.Tensor, bank: WaveletBank) -> _Layer:
    """Wavelet coefficients, their moduli and the moduli's spectra on each scale's grid."""
    X = torch.fft.fft2(x)
    coef, modulus, spectra = [], [], []
    for j in range(bank.J):
        psi = bank.as_complex(f"first{j}", bank.first_layer_filter(j), 1.0, x.dtype)
        c = torch.fft.ifft2(crop_spectrum(X, bank.grids[j])[:, :, None] * psi)  # [B,C,L,h,w]
        m = c.abs()
        coef.append(c)
        modulus.append(m)
        spectra.append(torch.fft.fft2(m))
    return _Layer(X, coef, modulus, spectra)


def _rows_spatial(layer: _Layer, bank: WaveletBank, j3: int) -> torch.Tensor:
    """Gram rows on grid ``j3``, ``[B, C, L3, A, P]``: ``c_{j3}``, then
    ``|c_{j2}| * psi_{j3}`` for ``j2 = 0..j3`` (``A = 1 + (j3 + 1) L``)."""
    h, w = bank.grids[j3]
    dtype = layer.modulus[0].dtype
    rows = [layer.coef[j3][:, :, :, None]]  # [B, C, L3, 1, h, w]
    for j2 in range(j3 + 1):
        h2, w2 = bank.grids[j2]
        psi3 = bank.as_complex(f"filter{j3}", bank.filter(j3), h * w / (h2 * w2), dtype)
        M = crop_spectrum(layer.mod_spectra[j2], (h, w))[:, :, None] * psi3[:, None]
        rows.append(torch.fft.ifft2(M))  # [B, C, L3, L2, h, w]
    R = torch.cat(rows, 3)
    return R.reshape(*R.shape[:4], h * w)


def _rows_fourier(layer: _Layer, bank: WaveletBank, j3: int) -> torch.Tensor:
    """Gram rows in the Fourier domain, restricted to each wavelet's support.

    ``[B, C, L3, A, K]``, scaled so that ``sum_k a_k conj(b_k)`` is the spatial mean of the
    product of the corresponding fields (Parseval).
    """
    H, W = layer.spectrum.shape[-2:]
    h, w = bank.grids[j3]
    idx, psi = bank.support(j3)  # [L3, K]
    dtype = layer.modulus[0].dtype
    L3, K = idx.shape
    flat = bank.support_in(j3, (H, W)).flatten()
    X = _gather(layer.spectrum.flatten(-2), flat).unflatten(-1, (L3, K))  # [B, C, L3, K]
    rows = [(X * bank.as_complex(f"support{j3}", psi, 1 / (H * W), dtype))[:, :, :, None]]
    for j2 in range(j3 + 1):
        h2, w2 = bank.grids[j2]
        flat2 = bank.support_in(j3, (h2, w2)).flatten()
        M = _gather(layer.mod_spectra[j2].flatten(-2), flat2)  # [B, C, L2, L3*K]
        M = M.unflatten(-1, (L3, K))  # [B, C, L2, L3, K]
        psi2 = bank.as_complex(f"support{j3}", psi, 1 / (h2 * w2), dtype)
        rows.append((M * psi2).transpose(2, 3))  # [B, C, L3, L2, K]
    return torch.cat(rows, 3)


def _gather(t: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
    """``t[..., idx]``: on complex CPU tensors, advanced indexing is about 10x faster than
    ``index_select`` (its backward is as fast)."""
    return t[..., idx]


@functools.cache
def _s4_pairs(j3: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Indices (j1, j2) with ``j1 <= j2 <= j3``, in storage order (j2 outer, j1 inner)."""
    pairs = [(j1, j2) for j2 in range(j3 + 1) for j1 in range(j2 + 1)]
    return torch.tensor([p[0] for p in pairs]), torch.tensor([p[1] for p in pairs])


def _split_gram(G: torch.Tensor, j3: int, L: int) -> tuple[torch.Tensor, ...]:
    """S3, S3P-conjugate and S4 blocks of one Gram matrix ``[B, C, L3, A, A]``.

    Returns ``S3 [B, C, j3+1, L2, L3]`` (``G[l3, 0, (j2, l2)]``), the transposed column
    ``[B, C, j3+1, L2, L3]`` (``G[l3, (j2, l2), 0]``) and ``S4 [B, C, npairs, L1, L2, L3]``
    (``G[l3, (j1, l1), (j2, l2)]``).
    """
    B, C = G.shape[:2]
    n = j3 + 1
    s3 = G[:, :, :, 0, 1:].reshape(B, C, L, n, L).permute(0, 1, 3, 4, 2)
    s3t = G[:, :, :, 1:, 0].reshape(B, C, L, n, L).permute(0, 1, 3, 4, 2)
    blocks = G[:, :, :, 1:, 1:].reshape(B, C, L, n, L, n, L)
    j1, j2 = _s4_pairs(j3)
    s4 = blocks[:, :, :, j1, :, j2, :]  # advanced indices first: [npairs, B, C, L3, L1, L2]
    return s3, s3t, s4.permute(1, 2, 0, 4, 5, 3)


def _wmean(t: torch.Tensor, w: torch.Tensor | None) -> torch.Tensor:
    """Mean over the last two axes, weighted by ``w`` ([B|1, C|1, h, w], normalised)."""
    if w is None:
        return t.mean((-2, -1))
    extra = t.dim() - w.dim()
    wt = w.reshape(*w.shape[:2], *([1] * extra), *w.shape[2:])
    return (t * wt).sum((-2, -1))


def _erode(valid: torch.Tensor, radius: int) -> torch.Tensor:
    """Pixels whose (periodic) square neighbourhood of ``radius`` is all valid (0/1)."""
    H, W = valid.shape[-2:]
    invalid = 1.0 - valid
    if radius <= 0 or not bool(invalid.any()):
        return valid
    if radius >= H or radius >= W:
        return torch.zeros_like(valid)
    count = _window_sum(_window_sum(invalid, radius, -2), radius, -1)
    return (count < 0.5).to(valid.dtype)


def _window_sum(t: torch.Tensor, r: int, dim: int) -> torch.Tensor:
    """Periodic sum over a window of ``2r + 1`` along ``dim`` (cumulative sums: O(N))."""
    n = t.shape[dim]
    padded = torch.cat([t.narrow(dim, n - r, r), t, t.narrow(dim, 0, r)], dim)
    c = torch.cumsum(padded.double(), dim)
    zero = torch.zeros_like(c.narrow(dim, 0, 1))
    c = torch.cat([zero, c], dim)
    return (c.narrow(dim, 2 * r + 1, n) - c.narrow(dim, 0, n)).to(t.dtype)


def _fast_len(n: int) -> int:
    """Smallest ``2^a 3^b 5^c >= n`` (sizes the FFT handles fast)."""
    best = 2 * n
    p2 = 1
    while p2 < best:
        p3 = p2
        while p3 < best:
            p5 = p3
            while p5 < best:
                if p5 >= n:
                    best = p5
                p5 *= 5
            p3 *= 3
        p2 *= 2
    return best


def _sample_grid(t: torch.Tensor, shape: tuple[int, int]) -> torch.Tensor:
    """Sample a full-resolution map at the positions of a coarser grid's pixels."""
    H, W = t.shape[-2:]
    h, w = shape
    if (h, w) == (H, W):
        return t
    rows = torch.arange(h, device=t.device) * H // h
    cols = torch.arange(w, device=t.device) * W // w
    return t[..., rows[:, None], cols[None, :]]


class ScatteringCovariance(torch.nn.Module):
    """Scattering-covariance statistics of ``[B, C, H, W]`` images (seed 001's ``eval``).

    Parameters
    ----------
    J
        Number of dyadic scales; ``None`` uses the most the image size allows
        (``floor(log2(min(H, W))) - 2``).
    L
        Number of orientations over ``[0, pi)``.

    Notes
    -----
    Filters are built once per image size and kept as non-persistent buffers, so the module
    follows ``.to(device)``. Boundaries are periodic unless ``edge=True``. Statistics are
    computed per channel; every operation is differentiable.

    Examples
    --------
    >>> import torch
    >>> from texsynth import ScatteringCovariance
    >>> sc = ScatteringCovariance(J=3, L=4)
    >>> stats = sc(torch.randn(2, 1, 32, 32))
    >>> tuple(stats.S4.shape)
    (2, 1, 10, 4, 4, 4)
    """

    def __init__(self, J: int | None = None, L: int = 4) -> None:
        super().__init__()
        if J is not None and (not isinstance(J, int) or isinstance(J, bool) or J < 1):
            raise TexsynthError(f"J (number of scales) must be a positive integer, got {J!r}")
        if not isinstance(L, int) or isinstance(L, bool) or L < 1:
            raise TexsynthError(f"L (number of orientations) must be a positive integer, got {L!r}")
        self.J = J
        self.L = L
        self.banks = torch.nn.ModuleDict()
        self.reset_norm()

    # ------------------------------------------------------------------ normalisation cache
    def reset_norm(self) -> None:
        """Forget the reference S2 cached by ``norm="auto"`` (foscat's ``clean_norm``)."""
        self._ref_p1: torch.Tensor | None = None
        self._ref_p2: torch.Tensor | None = None

    def bank(self, H: int, W: int, J: int, device: torch.device) -> WaveletBank:
        """The wavelet bank for ``H x W`` images and ``J`` scales, built on first use."""
        key = f"{H}x{W}x{J}"
        if key not in self.banks:
            self.banks[key] = WaveletBank(H, W, J, self.L).to(device)
        bank = self.banks[key]
        if bank.psi0.device != device:
            bank.to(device)
        return bank

    def resolve_J(self, H: int, W: int, Jmax: int | None = None) -> int:
        """Number of scales used for an ``H x W`` image (``Jmax`` overrides ``self.J``)."""
        if Jmax is not None:
            return Jmax
        return self.J if self.J is not None else max(default_J(H, W), 1)

    # ------------------------------------------------------------------ weights
    def _weights(
        self, bank: WaveletBank, m: torch.Tensor | None, where: str
    ) -> tuple[list[torch.Tensor | None], torch.Tensor | None]:
        """Normalised averaging weights per scale (``None`` = uniform) and at full size.

        ``m`` is a ``[B|1, C|1, H, W]`` weight map in [0, 1] (already checked).
        """
        if m is None:
            return [None] * bank.J, None
        valid = (m > 0).to(m.dtype)
        out: list[torch.Tensor | None] = []
        for j in range(bank.J):
            # masked values cannot leak (they are replaced before filtering); erosion by the
            # wavelet's 99%-energy radius keeps the fill from biasing the statistics. Where
            # the valid region is too small for that, the radius is halved until pixels
            # remain (more bias, but the statistics still exist).
            radius = bank.radii[j]
            while True:
                wj = _sample_grid(m * _erode(valid, radius), bank.grids[j])
                total = wj.sum((-2, -1), keepdim=True)
                if bool((total > 0).all()) or radius == 0:
                    break
                radius //= 2
            if radius < bank.radii[j]:
                log.debug("scale %d: erosion reduced to %d px near the %s", j, radius, where)
            out.append(wj / total)
        return out, m / m.sum((-2, -1), keepdim=True)

    # ------------------------------------------------------------------ forward
    def forward(
        self,
        image1: torch.Tensor,
        image2: torch.Tensor | None = None,
        *,
        mask: torch.Tensor | None = None,
        norm: str | None = None,
        calc_var: bool = False,
        Jmax: int | None = None,
        edge: bool = False,
    ) -> ScatCov | tuple[ScatCov, ScatCov]:
        """Compute the statistics of ``image1`` (or cross statistics with ``image2``).

        Parameters
        ----------
        image1
            ``[B, C, H, W]`` (also ``[H, W]`` or ``[C, H, W]``) real images.
        image2
            Optional second batch of the same shape: cross statistics (adds ``S3P``).
        mask
            Weights in [0, 1], ``[H, W]`` or broadcastable ``[B|1, C|1, H, W]``; pixels with
            weight 0 never influence any statistic (their values are replaced before
            filtering and coefficients near them are excluded).
        norm
            ``None`` (raw), ``"auto"`` (divide by the reference S2 cached on the first call;
            see :meth:`reset_norm`) or ``"self"`` (divide by this image's own S2). S1 is
            divided by ``sqrt(S2)``, S2 by S2, S3 by ``sqrt(S2_j2 S2_j3)``, S4 by
            ``sqrt(S2_j1 S2_j2)``.
        calc_var
            Also return per-coefficient standard deviations (standard errors of each spatial
            mean), usable as ``sigma`` in :meth:`ScatCov.distance`.
        Jmax
            Number of scales for this call (overrides ``J``).
        edge
            Treat the image as non-periodic: it is reflect-padded (no wrap-around step) and
            only coefficients far enough from the border enter the means.

        Returns
        -------
        ScatCov or (ScatCov, ScatCov)
            The statistics, and with ``calc_var`` their standard deviations.
        """
        if norm not in _NORMS:
            raise TexsynthError(f"norm must be None, 'auto' or 'self', got {norm!r}")
        x = as_image_batch(image1, "image1")
        y = None
        if image2 is not None:
            y = as_image_batch(image2, "image2").to(device=x.device, dtype=x.dtype)
            if y.shape != x.shape:
                raise TexsynthError(
                    f"image2 has shape {tuple(y.shape)} but image1 has {tuple(x.shape)}; "
                    "cross statistics need images of the same shape"
                )
        B, C, H, W = x.shape
        J = self.resolve_J(H, W, Jmax)
        check_J(H, W, J)
        m = None
        if mask is not None:
            m = check_mask(mask, x.shape).to(device=x.device, dtype=x.dtype)
            x = _fill_masked(x, m)
            y = _fill_masked(y, m) if y is not None else None
        if edge:
            x, y, m = self._pad_for_edge(x, y, m, J)
        bank = self.bank(x.shape[-2], x.shape[-1], J, x.device)
        weights, w0 = self._weights(bank, m, "border" if edge else "mask")

        lx = _first_layer(x, bank)
        ly = _first_layer(y, bank) if y is not None else lx
        stats, var = _statistics(x, y, lx, ly, bank, weights, w0, J, self.L, calc_var)
        p1 = stats.pop("P1")
        p2 = stats.pop("P2")
        scale = self._norm_factors(norm, p1, p2, y is not None, J)
        out = ScatCov(**stats, J=J, L=self.L)
        if scale is not None:
            out = _apply_norm(out, scale)
        if not calc_var:
            return out
        sigma = ScatCov(**var, J=J, L=self.L)
        if scale is not None:
            sigma = _apply_norm(sigma, scale)
        return out, sigma

    def _pad_for_edge(
        self, x: torch.Tensor, y: torch.Tensor | None, m: torch.Tensor | None, J: int
    ) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor]:
        """Reflect-pad non-periodic images (no wrap-around step) and mask out the padding."""
        H, W = x.shape[-2:]
        probe = self.bank(H, W, J, x.device)
        pad = probe.radii[J - 1]
        ph = min(pad, H - 1)
        pw = min(pad, W - 1)
        # then grow to FFT-friendly sizes (the extra, < the padded size, goes after)
        eh = _fast_len(H + 2 * ph) - H - 2 * ph
        ew = _fast_len(W + 2 * pw) - W - 2 * pw

        def pad(t: torch.Tensor) -> torch.Tensor:
            t = F.pad(t, (pw, pw, ph, ph), mode="reflect")
            return F.pad(t, (0, ew, 0, eh), mode="reflect")

        x = pad(x)
        y = pad(y) if y is not None else None
        if m is None:
            m = torch.ones(1, 1, H, W, dtype=x.dtype, device=x.device)
        m = F.pad(m, (pw, pw + ew, ph, ph + eh), mode="constant", value=0.0)
        return x, y, m

    def _norm_factors(
        self,
        norm: str | None,
        p1: torch.Tensor,
        p2: torch.Tensor,
        cross: bool,
        J: int,
    ) -> tuple[torch.Tensor, torch.Tensor] | None:
        """Reference S2 of both images (``[B|1, C, J, L]``) for the chosen normalisation."""
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
                f"norm='auto' reference was computed for (C, J, L) = {tuple(ref1.shape[1:])}, "
                f"this call has {tuple(p1.shape[1:])}; call reset_norm() first"
            )
        return ref1.to(p1), ref2.to(p1)


def _fill_masked(x: torch.Tensor, m: torch.Tensor) -> torch.Tensor:
    """Replace pixels of weight 0 by the weighted mean of the valid ones."""
    mean = (x * m).sum((-2, -1), keepdim=True) / m.sum((-2, -1), keepdim=True)
    return torch.where(m > 0, x, mean)


def _statistics(
    x: torch.Tensor,
    y: torch.Tensor | None,
    lx: _Layer,
    ly: _Layer,
    bank: WaveletBank,
    weights: list[torch.Tensor | None],
    w0: torch.Tensor | None,
    J: int,
    L: int,
    calc_var: bool,
) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    """Raw statistics (and standard errors) from the two layers."""
    cross = y is not None
    stats: dict[str, torch.Tensor] = {}
    var: dict[str, torch.Tensor] = {}

    # S0
    m1, v1 = _moments(x, w0)
    if cross:
        m2, v2 = _moments(y, w0)
        cov = _wmean((x - m1[..., None, None]) * (y - m2[..., None, None]), w0)
        stats["S0"] = torch.stack([(m1 + m2) / 2, _signed_sqrt(cov)], -1)
    else:
        stats["S0"] = torch.stack([m1, v1.clamp_min(0).sqrt()], -1)

    # S1, S2 and the per-image power used for normalisation
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
            f1 = _signed_sqrt(r)
            f2 = r
        else:
            f1 = lx.modulus[j]
            f2 = f1**2
        s1.append(_wmean(f1, w))
        s2.append(_wmean(f2, w))
        if calc_var:
            e1.append(_stderr(f1, s1[-1], w, bank.neff[j]))
            e2.append(_stderr(f2, s2[-1], w, bank.neff[j]))
    stats["S1"] = torch.stack(s1, 2)
    stats["S2"] = torch.stack(s2, 2)
    stats["P1"] = torch.stack(p1, 2)
    stats["P2"] = torch.stack(p2, 2)
    if calc_var:
        var["S0"] = _s0_stderr(stats["S0"], x, w0)
        var["S1"] = torch.stack(e1, 2)
        var["S2"] = torch.stack(e2, 2)

    # S3, S3P, S4 from one Gram matrix per j3
    s3, s3p, s4, e3, e3p, e4 = [], [], [], [], [], []
    spatial = calc_var or any(w is not None for w in weights)
    for j3 in range(J):
        w = weights[j3]
        if spatial:
            Rx = _rows_spatial(lx, bank, j3)  # [B, C, L3, A, P]
            Ry = _rows_spatial(ly, bank, j3) if cross else Rx
            P = Rx.shape[-1]
            wr = None if w is None else w.reshape(*w.shape[:2], 1, 1, P).to(Rx.real.dtype)
            G = (Rx if wr is None else Rx * wr) @ Ry.conj().transpose(-1, -2)
            if wr is None:
                G = G / P
        else:
            Rx = _rows_fourier(lx, bank, j3)  # [B, C, L3, A, K]
            Ry = _rows_fourier(ly, bank, j3) if cross else Rx
            G = Rx @ Ry.conj().transpose(-1, -2)  # G[a, b] = <Rx_a conj(Ry_b)>
        a3, a3t, a4 = _split_gram(G, j3, L)
        s3.append(a3)
        s4.append(a4)
        if cross:
            # S3P[l2, l3] = <c2_{j3,l3} conj(|c1_{j2,l2}| * psi)> = conj(G[l3, (j2, l2), 0])
            s3p.append(a3t.conj())
        if calc_var:
            Ax = Rx.abs() ** 2
            Ay = Ry.abs() ** 2 if cross else Ax
            V = (Ax if wr is None else Ax * wr) @ Ay.transpose(-1, -2)  # <|Rx_a|^2 |Ry_b|^2>
            if wr is None:
                V = V / P
            neff = _neff(bank.neff[j3], w, P).to(V)
            E = ((V - G.abs() ** 2).clamp_min(0) / neff[..., None, None, None]).sqrt()
            v3, v3t, v4 = _split_gram(E, j3, L)
            e3.append(v3)
            e4.append(v4)
            e3p.append(v3t)
    # storage order: j3 outer, then j2, then j1
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
    """Weighted mean and variance over pixels, ``[B, C]`` each."""
    m = _wmean(x, w0)
    v = _wmean((x - m[..., None, None]) ** 2, w0)
    return m, v


def _signed_sqrt(r: torch.Tensor) -> torch.Tensor:
    """``sign(r) * sqrt(|r|)`` with a finite gradient at 0."""
    tiny = torch.finfo(r.dtype).tiny ** 0.5
    return r / torch.sqrt(r.abs() + tiny)


def _neff(neff: float, w: torch.Tensor | None, P: int) -> torch.Tensor:
    """Independent samples of a scale's spatial mean: the band's ``neff`` times the
    effective fraction ``(sum w)^2 / (P sum w^2)`` of the grid the weights keep."""
    if w is None:
        return torch.tensor(neff)
    return neff / (P * (w**2).sum((-2, -1)))


def _stderr(
    f: torch.Tensor, mean: torch.Tensor, w: torch.Tensor | None, neff_band: float
) -> torch.Tensor:
    """Standard error of the weighted spatial mean of ``f`` (complex: ``E|f - mean|^2``)."""
    d = f - mean[..., None, None]
    v = _wmean(d.abs() ** 2 if d.is_complex() else d**2, w)
    P = f.shape[-2] * f.shape[-1]
    neff = _neff(neff_band, w, P).to(v)
    if neff.dim() == 2:
        neff = neff.reshape(*neff.shape, *([1] * (v.dim() - 2)))
    return (v / neff).sqrt()


def _s0_stderr(s0: torch.Tensor, x: torch.Tensor, w0: torch.Tensor | None) -> torch.Tensor:
    """Standard errors of (mean, std): ``std/sqrt(N)`` and ``std/sqrt(2N)``."""
    std = s0[..., 1].abs()
    P = x.shape[-2] * x.shape[-1]
    n = _neff(float(P), w0, P).to(std)
    return torch.stack([std / n.sqrt(), std / (2 * n).sqrt()], -1)


@functools.cache
def _scale_indices(J: int) -> tuple[torch.Tensor, torch.Tensor]:
    """:func:`s3_index` and :func:`s4_index` as tensors (built once per ``J``)."""
    return torch.tensor(s3_index(J)), torch.tensor(s4_index(J))


def _apply_norm(s: ScatCov, scale: tuple[torch.Tensor, torch.Tensor]) -> ScatCov:
    """Divide S1..S4 by the normalisation factors built from reference S2 ``(P1, P2)``."""
    p1, p2 = scale  # [B|1, C, J, L]
    J = s.J
    i3, i4 = (t.to(p1.device) for t in _scale_indices(J))  # (j2, j3) and (j1, j2, j3)
    g = (p1 * p2).sqrt()
    S1 = s.S1 / g.sqrt()
    S2 = s.S2 / g
    # S3[l2, l3] = <c1_j3,l3 conj(|c2_j2,l2| * psi)>: sqrt(P2[j2, l2] P1[j3, l3])
    f3 = (p2[:, :, i3[:, 0], :, None] * p1[:, :, i3[:, 1], None, :]).sqrt()
    S3 = s.S3 / f3
    S3P = None
    if s.S3P is not None:
        S3P = s.S3P / (p1[:, :, i3[:, 0], :, None] * p2[:, :, i3[:, 1], None, :]).sqrt()
    # S4[l1, l2, l3]: sqrt(P1[j1, l1] P2[j2, l2])
    f4 = (p1[:, :, i4[:, 0], :, None, None] * p2[:, :, i4[:, 1], None, :, None]).sqrt()
    S4 = s.S4 / f4
    return ScatCov(S0=s.S0, S1=S1, S2=S2, S3=S3, S4=S4, S3P=S3P, J=J, L=s.L)
