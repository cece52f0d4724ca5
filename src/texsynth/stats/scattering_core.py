"""One scattering-covariance core for every domain (signals, images; the sphere next).

For data ``x`` with wavelet coefficients ``c_{j,l} = x * psi_{j,l}`` (scale ``j``,
orientation ``l``; one orientation on 1-D signals):

* ``S0 = (mean(x), std(x))``
* ``S1[j, l] = <|c_{j,l}|>``, ``S2[j, l] = <|c_{j,l}|^2>``
* ``S3[j2, j3, l2, l3] = <c_{j3,l3} . conj(|c_{j2,l2}| * psi_{j3,l3})>`` for ``j2 <= j3``
* ``S4[j1, j2, j3, l1, l2, l3] = <(|c_{j1,l1}| * psi_{j3,l3}) . conj(|c_{j2,l2}| * psi_{j3,l3})>``
  for ``j1 <= j2 <= j3``

where ``<.>`` is a (weighted) spatial mean: the scattering covariance of Cheng, Morel,
Allys, Menard and Mallat ("Scattering spectra models for physics", PNAS Nexus 2024), as
the ``foscat`` package computes it. S3 and S4 at scale ``j3`` are entries of one complex
Gram matrix between the coefficients of ``x`` and the second-layer fields, computed as a
single batched matrix product, in the Fourier domain on each wavelet's support when no
spatial weights are needed (Parseval), else on the grid of ``j3``.

The core knows nothing of the geometry: it asks a *domain* (:mod:`texsynth.domains`) for
transforms, Fourier cropping, means, erosion, sampling and padding, and a *wavelet bank*
(:class:`~texsynth.wavelets.FourierWaveletBank`) for the first layer at scale ``j`` and the
filter of scale ``j3`` on its grid. :class:`~texsynth.stats.ScatteringCovariance` (images)
and :class:`~texsynth.stats.ScatteringCovariance1D` (signals) are thin fronts over
:class:`ScatteringCore`.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Mapping
from typing import cast

import torch

from .._checks import as_batch, check_weight_mask
from ..arrays import from_user
from ..domains.protocol import Domain, WaveletBank
from ..errors import TexsynthError
from ..wavelets import WaveletLayer, check_number_of_scales
from .scatcov import ScatCov, s3_index, s4_index
from .scattering_norm import NORMS, apply_norm

__all__ = ["ScatteringCore", "signed_sqrt"]

log = logging.getLogger(__name__)

Shape = tuple[int, ...]


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


# ---------------------------------------------------------------------------- small helpers
def signed_sqrt(r: torch.Tensor) -> torch.Tensor:
    """``sign(r) * sqrt(|r|)`` with a finite gradient at 0."""
    tiny = torch.finfo(r.dtype).tiny ** 0.5
    return r / torch.sqrt(r.abs() + tiny)


def _scatcov(stats: Mapping[str, torch.Tensor], J: int, L: int) -> ScatCov:
    """A :class:`ScatCov` of the named statistics (``S3P`` only for cross statistics)."""
    return ScatCov(
        S0=stats["S0"],
        S1=stats["S1"],
        S2=stats["S2"],
        S3=stats["S3"],
        S4=stats["S4"],
        S3P=stats.get("S3P"),
        J=J,
        L=L,
    )


def _trailing(t: torch.Tensor, n: int) -> torch.Tensor:
    """``t`` with ``n`` singleton axes appended."""
    return t.reshape(*t.shape, *([1] * n))


def _neff(neff: float, w: torch.Tensor | None, grid: Domain, P: int) -> torch.Tensor:
    """Independent samples of a scale's spatial mean: the band's ``neff`` times the
    effective fraction ``(sum w)^2 / (P sum w^2)`` of the grid the weights keep."""
    if w is None:
        return torch.tensor(neff)
    return neff / (P * (w**2).sum(grid.dims))


def _stderr(
    f: torch.Tensor,
    w: torch.Tensor | None,
    vw: torch.Tensor | None,
    neff_band: float,
    grid: Domain,
) -> torch.Tensor:
    """Standard error of the ``w``-weighted spatial mean of ``f``: the spread of ``f``
    (over the samples of weights ``vw``; complex: ``E|f - mean|^2``) divided by the
    independent samples that ``w`` keeps."""
    d = f - _trailing(grid.mean(f, vw), grid.ndim)
    v = grid.mean(d.abs() ** 2 if d.is_complex() else d**2, vw)
    neff = _neff(neff_band, w, grid, grid.size(grid.shape(f))).to(v)
    if neff.dim() == 2:
        neff = _trailing(neff, v.dim() - 2)
    return (v / neff).sqrt()


# ---------------------------------------------------------------------------- the core
class ScatteringCore(torch.nn.Module):
    """Scattering-covariance statistics over a domain and a wavelet bank.

    Subclasses (the fronts) parse their inputs into ``[B, C, *shape]`` tensors and a mask,
    build banks (:meth:`make_bank`) and call :meth:`statistics`.

    Parameters
    ----------
    grid
        The domain of the data.
    J
        Number of dyadic scales (``None``: the most the size allows).
    L
        Number of orientations.
    """

    def __init__(self, grid: Domain, J: int | None, L: int) -> None:
        super().__init__()
        if J is not None:
            check_number_of_scales(J)
        self.domain = grid
        self.J = J
        self.L = L
        self.banks = torch.nn.ModuleDict()
        self.reset_norm()

    # ------------------------------------------------------------------ what fronts give
    def make_bank(self, shape: Shape, J: int) -> WaveletBank:
        """A new wavelet bank for data of ``shape`` and ``J`` scales."""
        raise NotImplementedError

    def check_scales(self, shape: Shape, J: int) -> None:
        """Raise a one-line error when ``J`` scales do not fit data of ``shape``."""
        raise NotImplementedError

    # ------------------------------------------------------------------ shared state
    def reset_norm(self) -> None:
        """Forget the reference S2 cached by ``norm="auto"`` (foscat's ``clean_norm``)."""
        self._ref_p1: torch.Tensor | None = None
        self._ref_p2: torch.Tensor | None = None

    def bank_for(self, shape: Shape, J: int, device: torch.device) -> WaveletBank:
        """The wavelet bank for data of ``shape`` and ``J`` scales, built on first use."""
        key = "x".join(str(n) for n in (*shape, J))
        if key not in self.banks:
            new = self.make_bank(shape, J)
            if not isinstance(new, torch.nn.Module):
                raise TypeError(f"{type(self).__name__}.make_bank must return a torch Module")
            self.banks[key] = new.to(device)
        module = self.banks[key]
        # the ModuleDict gives back a Module; make_bank put a WaveletBank there
        bank = cast(WaveletBank, module)
        if bank.device != device:
            module.to(device)
        return bank

    def scales_for(self, shape: Shape, J: int | None = None) -> int:
        """Number of scales used for data of ``shape`` (``J`` of one call overrides
        ``self.J``)."""
        if J is not None:
            return J
        return self.J if self.J is not None else max(self.domain.max_scales(shape), 1)

    # ------------------------------------------------------------------ the statistics
    def parse_inputs(
        self,
        first: torch.Tensor,
        second: torch.Tensor | None,
        mask: torch.Tensor | None,
        names: tuple[str, str],
        hint: str = "mask=...",
    ) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor | None]:
        """The fronts' inputs checked: data as ``[B, C, *shape]``, the optional second
        input of cross statistics (same shape) and the mask as weights in [0, 1]. NumPy
        arrays and Pillow images are accepted too (:func:`texsynth.arrays.from_user`:
        ``H x W x C`` arrays have their channels last)."""
        nd = self.domain.ndim
        first = from_user(first, names[0], ndim=nd)[0]
        second = from_user(second, names[1], ndim=nd)[0]
        mask = from_user(mask, "mask", ndim=nd)[0]
        x = as_batch(first, nd, names[0], hint)
        y = None
        if second is not None:
            y = as_batch(second, nd, names[1], hint).to(device=x.device, dtype=x.dtype)
            if y.shape != x.shape:
                what = "signals" if nd == 1 else "images"
                raise TexsynthError(
                    f"{names[1]} has shape {tuple(y.shape)} but {names[0]} has "
                    f"{tuple(x.shape)}; cross statistics need {what} of the same shape"
                )
        m = None
        if mask is not None:
            m = check_weight_mask(mask, x.shape, nd).to(device=x.device, dtype=x.dtype)
        return x, y, m

    def statistics(
        self,
        x: torch.Tensor,
        y: torch.Tensor | None,
        m: torch.Tensor | None,
        *,
        norm: str | None,
        calc_var: bool,
        J: int | None,
        edge: bool,
    ) -> ScatCov | tuple[ScatCov, ScatCov]:
        """The statistics of checked ``[B, C, *shape]`` data ``x`` (cross with ``y``),
        with an optional checked weight map ``m`` in [0, 1]; see the fronts' ``forward``."""
        if norm not in NORMS:
            raise TexsynthError(f"norm must be None, 'auto' or 'self', got {norm!r}")
        grid = self.domain
        shape = grid.shape(x)
        J = self.scales_for(shape, J)
        self.check_scales(shape, J)
        if m is not None:
            x = grid.fill_masked(x, m)
            y = grid.fill_masked(y, m) if y is not None else None
        if edge:
            radius = self.bank_for(shape, J, x.device).radii[J - 1]
            x, y, m = grid.pad_reflect(x, y, m, radius)
        bank = self.bank_for(grid.shape(x), J, x.device)
        weights, spread, w0 = self._weights(bank, m, "border" if edge else "mask")
        lx = bank.first_layer(x)
        ly = bank.first_layer(y) if y is not None else lx
        stats, var = self._raw(x, y, lx, ly, bank, weights, spread, w0, calc_var)
        p1 = stats.pop("P1")
        p2 = stats.pop("P2")
        scale = self._norm_factors(norm, p1, p2)
        out = _scatcov(stats, J, bank.L)
        if scale is not None:
            out = apply_norm(out, scale)
        if not calc_var:
            return out
        sigma = _scatcov(var, J, bank.L)
        if scale is not None:
            sigma = apply_norm(sigma, scale)
        return out, sigma

    def _weights(
        self, bank: WaveletBank, m: torch.Tensor | None, where: str
    ) -> tuple[list[torch.Tensor | None], list[torch.Tensor | None], torch.Tensor | None]:
        """Normalised averaging weights per scale (``None`` = uniform), the weights over
        which the spread behind each standard error is estimated, and the full-size
        weights.

        The means use weights eroded by each wavelet's radius: masked values cannot leak
        (they are replaced before filtering), and the erosion keeps the fill from biasing
        the statistics; where too little is left, the radius is halved until samples
        remain (more bias, but the statistics still exist). The spread behind the
        standard errors is estimated over every valid sample, because an eroded region of
        a few correlated samples at a coarse scale would report a spread of nearly zero
        (and a chi-square that explodes).
        """
        grid = self.domain
        if m is None:
            return [None] * bank.J, [None] * bank.J, None
        valid = (m > 0).to(m.dtype)
        out: list[torch.Tensor | None] = []
        spread: list[torch.Tensor | None] = []
        for j in range(bank.J):
            radius = bank.radii[j]
            while True:
                wj = grid.sample(m * grid.erode(valid, radius), bank.grids[j])
                total = wj.sum(grid.dims, keepdim=True)
                if bool((total > 0).all()) or radius == 0:
                    break
                radius //= 2
            if radius < bank.radii[j]:
                log.debug("scale %d: erosion reduced to %d samples near the %s", j, radius, where)
            out.append(wj / total)
            spread.append(grid.normalise(grid.sample(m, bank.grids[j])))
        return out, spread, grid.normalise(m)

    def _norm_factors(
        self, norm: str | None, p1: torch.Tensor, p2: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor] | None:
        """Reference S2 of both inputs (``[B|1, C, J, L]``) for the chosen normalisation."""
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

    def _raw(
        self,
        x: torch.Tensor,
        y: torch.Tensor | None,
        lx: WaveletLayer,
        ly: WaveletLayer,
        bank: WaveletBank,
        weights: list[torch.Tensor | None],
        spread: list[torch.Tensor | None],
        w0: torch.Tensor | None,
        calc_var: bool,
    ) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
        """Raw statistics (and standard errors) from the two first layers."""
        grid = self.domain
        nd = grid.ndim
        J, L = bank.J, bank.L
        cross = y is not None
        stats: dict[str, torch.Tensor] = {}
        var: dict[str, torch.Tensor] = {}

        # S0
        m1 = grid.mean(x, w0)
        d1 = x - _trailing(m1, nd)
        if y is not None:
            m2 = grid.mean(y, w0)
            cov = grid.mean(d1 * (y - _trailing(m2, nd)), w0)
            stats["S0"] = torch.stack([(m1 + m2) / 2, signed_sqrt(cov)], -1)
        else:
            v1 = grid.mean(d1**2, w0)
            stats["S0"] = torch.stack([m1, v1.clamp_min(0).sqrt()], -1)

        # S1, S2 and the per-input power used for normalisation
        s1, s2, p1, p2, e1, e2 = [], [], [], [], [], []
        for j in range(J):
            w = weights[j]
            a, b = lx.coef[j], ly.coef[j]
            pa = grid.mean(lx.modulus[j] ** 2, w)
            pb = grid.mean(ly.modulus[j] ** 2, w) if cross else pa
            p1.append(pa)
            p2.append(pb)
            if cross:
                r = (a * b.conj()).real
                f1, f2 = signed_sqrt(r), r
            else:
                f1 = lx.modulus[j]
                f2 = f1**2
            s1.append(grid.mean(f1, w))
            s2.append(grid.mean(f2, w))
            if calc_var:
                e1.append(_stderr(f1, w, spread[j], bank.neff[j], grid))
                e2.append(_stderr(f2, w, spread[j], bank.neff[j], grid))
        stats["S1"] = torch.stack(s1, 2)
        stats["S2"] = torch.stack(s2, 2)
        stats["P1"] = torch.stack(p1, 2)
        stats["P2"] = torch.stack(p2, 2)
        if calc_var:
            # standard errors of (mean, std): std/sqrt(N) and std/sqrt(2N)
            std = stats["S0"][..., 1].abs()
            P = grid.size(grid.shape(x))
            n = _neff(float(P), w0, grid, P).to(std)
            var["S0"] = torch.stack([std / n.sqrt(), std / (2 * n).sqrt()], -1)
            var["S1"] = torch.stack(e1, 2)
            var["S2"] = torch.stack(e2, 2)

        # S3, S3P, S4 from one Gram matrix per j3
        s3, s3p, s4, e3, e3p, e4 = [], [], [], [], [], []
        # (a bank that is not Fourier-based has its rows in sample space only)
        spatial = calc_var or any(w is not None for w in weights) or not bank.fourier_rows
        for j3 in range(J):
            w = weights[j3]
            if spatial:
                Rx = bank.rows(lx, j3)  # [B, C, L3, A, P]
                Ry = bank.rows(ly, j3) if cross else Rx
                P = Rx.shape[-1]
                wr = None if w is None else grid.flatten(w)[:, :, None, None].to(Rx.real.dtype)
                G = (Rx if wr is None else Rx * wr) @ Ry.conj().transpose(-1, -2)
                if wr is None:
                    G = G / P
            else:
                Rx = bank.fourier_rows_of(lx, j3)  # [B, C, L3, A, K]
                Ry = bank.fourier_rows_of(ly, j3) if cross else Rx
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
                vw = spread[j3]
                if vw is None:
                    V = Ax @ Ay.transpose(-1, -2) / P  # <|Rx_a|^2 |Ry_b|^2>
                    Gv = G
                else:
                    vr = grid.flatten(vw)[:, :, None, None].to(Rx.real.dtype)
                    V = (Ax * vr) @ Ay.transpose(-1, -2)
                    Gv = (Rx * vr) @ Ry.conj().transpose(-1, -2)
                neff = _neff(bank.neff[j3], w, grid, P).to(V)
                E = ((V - Gv.abs() ** 2).clamp_min(0) / _trailing(neff, 3)).sqrt()
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
        assert stats["S3"].shape[2] == len(s3_index(J))
        assert stats["S4"].shape[2] == len(s4_index(J))
        return stats, var
