"""Summary statistics of an ensemble's members, and how their mean compares with the exemplar.

Each member is summarised inside its task by a few numbers per channel
(:func:`member_stats`), in four groups:

* ``log10 P(f)``: the log power spectrum, averaged in octave rings of the frequency (cycles
  per pixel or sample; multipoles ``ell`` in half-octave bins for HEALPix maps, from healpy's
  ``anafast``); octave rings from ``1 / (smallest side)`` are never empty;
* ``quantiles``: the values at the 1, 5, 25, 50, 75, 95 and 99 % levels;
* ``log10 S2``: the power per wavelet scale ``j`` of the scattering covariance (Morel et al.,
  "Scale dependencies and self-similar models with wavelet scattering spectra", 2023),
  averaged over orientations;
* ``S1/sqrt(S2)``: its normalised first-order coefficients per scale (about 0.89 for
  Gaussian fields, lower for sparse ones).

:class:`SummaryAccumulator` gathers them one member at a time (memory flat in the number of
members) and :meth:`SummaryAccumulator.result` gives the ensemble's mean and spread next to
the exemplar's values, and per group the bias of the mean in units of its standard error,
``(mean - exemplar) / (std / sqrt(N))``, and in units of the spread, ``(mean - exemplar) /
std``. The exemplar is one realisation: its own values scatter around the process's mean by
about one spread, so the second number is the one expected to stay near or below 1.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

__all__ = [
    "GROUPS",
    "EnsembleSummary",
    "GroupBias",
    "SummaryAccumulator",
    "SummaryConfig",
    "member_stats",
    "rounded",
    "summary_config",
]

#: the groups of statistics, in the order of a member's vector
GROUPS = ("log10 P(f)", "quantiles", "log10 S2", "S1/sqrt(S2)")

#: the value levels of the ``quantiles`` group
LEVELS = (0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99)


@dataclass(frozen=True)
class SummaryConfig:
    """What a member's summary holds (picklable; sent with every task).

    Attributes
    ----------
    domain
        ``"image"``, ``"signal"`` or ``"sky"``.
    channels
        Channels of the exemplar and the members.
    edges
        Frequency ring edges (cycles per pixel or sample); for skies, the multipole bin
        edges.
    J, L
        Scales and orientations of the scattering statistics.
    """

    domain: str
    channels: int
    edges: tuple[float, ...]
    J: int
    L: int

    @property
    def bins(self) -> int:
        """Number of power-spectrum bins."""
        return len(self.edges) - 1

    def layout(self) -> list[tuple[str, list[float]]]:
        """``(group, x values)`` per group, each repeated once per channel in the vector."""
        pairs = zip(self.edges[:-1], self.edges[1:], strict=True)
        if self.domain == "sky":  # multipoles [lo, hi)
            spec_x = [math.sqrt(a * (b - 1)) for a, b in pairs]
        else:
            spec_x = [math.sqrt(a * b) for a, b in pairs]
        scales = [float(j) for j in range(self.J)]
        return [
            (GROUPS[0], spec_x),
            (GROUPS[1], [float(q) for q in LEVELS]),
            (GROUPS[2], scales),
            (GROUPS[3], scales),
        ]

    @property
    def size(self) -> int:
        """Length of a member's vector."""
        return self.channels * sum(len(x) for _, x in self.layout())

    def slices(self) -> dict[str, tuple[slice, list[float]]]:
        """Where each group lies in the vector (channels one after the other)."""
        out, start = {}, 0
        for name, xs in self.layout():
            width = self.channels * len(xs)
            out[name] = (slice(start, start + width), xs)
            start += width
        return out

    def to_json(self) -> dict[str, Any]:
        """The configuration as JSON."""
        return {
            "domain": self.domain,
            "channels": self.channels,
            "edges": list(self.edges),
            "J": self.J,
            "L": self.L,
        }


def _full_ell_bins(lmax: int) -> list[tuple[int, int]]:
    """Multipole bins ``[lo, hi)`` from 2, half an octave each, as
    :func:`texsynth.evaluation_healpix.anafast_binned` makes them, without a last bin cut
    short by ``lmax`` (so that maps of two resolutions share them)."""
    out: list[tuple[int, int]] = []
    lo = 2
    while True:
        hi = max(lo + 1, math.ceil(lo * math.sqrt(2)))
        if hi > lmax + 1:
            return out
        out.append((lo, hi))
        lo = hi


def _scattering(domain: str, L: int) -> Any:
    from ..stats import ScatteringCovariance
    from ..stats.healpix import HealpixScatteringCovariance
    from ..stats.scattering1d import ScatteringCovariance1D

    if domain == "sky":
        return HealpixScatteringCovariance(J=None, L=L)
    if domain == "signal":
        return ScatteringCovariance1D()
    return ScatteringCovariance(L=L)


def summary_config(
    domain: str, exemplar_shape: tuple[int, ...], output_shape: tuple[int, ...], L: int = 4
) -> SummaryConfig:
    """The summary of an ensemble whose exemplar is ``[C, ...exemplar_shape]`` and whose
    members are ``[C, ...output_shape]`` (spatial shapes)."""
    C = int(exemplar_shape[0])
    ex, out = tuple(exemplar_shape[1:]), tuple(output_shape)
    sc = _scattering(domain, 1 if domain == "signal" else L)
    J = max(1, min(sc.scales_for(ex, None), sc.scales_for(out, None)))
    if domain == "sky":
        from ..domains.healpix import nside_of

        nside = min(nside_of(ex[-1]), nside_of(out[-1]))
        bins = _full_ell_bins(3 * nside - 1)
        edges = tuple(float(v) for v in [bins[0][0], *(hi for _, hi in bins)])
    else:
        side = min(min(ex), min(out))
        edges_list = [1.0 / side]
        while edges_list[-1] * 2 < 0.5 - 1e-12:
            edges_list.append(edges_list[-1] * 2)
        edges_list.append(0.5)
        edges = tuple(edges_list)
    return SummaryConfig(domain, C, edges, J, 1 if domain == "signal" else L)


def rounded(values: list[float]) -> list[float]:
    """``values`` to 7 significant digits: what the manifest keeps, and what the exemplar's
    values are rounded to, so that a resumed summary equals a fresh one."""
    return [float(f"{v:.7g}") for v in values]


_MODULES: dict[tuple[str, int], Any] = {}


def member_stats(x: torch.Tensor, config: SummaryConfig) -> list[float]:
    """The summary vector of one member (or of the exemplar) ``x [C, ...]``."""
    x = x.detach().cpu().double()
    parts = [_log_power(x, config), _quantiles(x), *_scattering_stats(x, config)]
    return rounded([float(v) for v in torch.cat([p.flatten() for p in parts])])


def _log_power(x: torch.Tensor, config: SummaryConfig) -> torch.Tensor:
    """``[C, bins]`` log10 power in the configured rings."""
    if config.domain == "sky":
        from ..evaluation_healpix import anafast_binned

        _, logc = anafast_binned(x[None])
        return logc[0, :, : config.bins] / math.log(10)
    dims = tuple(range(1, x.dim()))
    xc = x - x.mean(dims, keepdim=True)
    p = torch.fft.fftn(xc, dim=dims).abs().pow(2) / xc[0].numel()
    freqs = [torch.fft.fftfreq(n, dtype=torch.float64) for n in x.shape[1:]]
    grids = torch.meshgrid(*freqs, indexing="ij")
    r = torch.sqrt(sum(g**2 for g in grids))  # type: ignore[arg-type]
    edges = config.edges
    tiny = torch.finfo(torch.float64).tiny
    out = []
    for i, (lo, hi) in enumerate(zip(edges[:-1], edges[1:], strict=True)):
        last = i == len(edges) - 2
        sel = (r >= lo * (1 - 1e-9)) & ((r <= hi) if last else (r < hi * (1 - 1e-9)))
        out.append(p[:, sel].mean(-1).clamp_min(tiny).log10())
    return torch.stack(out, -1)


def _quantiles(x: torch.Tensor) -> torch.Tensor:
    """``[C, levels]`` value quantiles per channel."""
    flat = x.reshape(x.shape[0], -1).numpy()
    return torch.from_numpy(np.quantile(flat, LEVELS, axis=1).T.copy())


def _scattering_stats(x: torch.Tensor, config: SummaryConfig) -> list[torch.Tensor]:
    """``[C, J]`` log10 S2 and S1/sqrt(S2) per scale, averaged over orientations."""
    key = (config.domain, config.L)
    sc = _MODULES.get(key)
    if sc is None:
        sc = _MODULES[key] = _scattering(config.domain, config.L)
    with torch.no_grad():
        stats = sc(x[None], J=config.J)
    s1, s2 = stats.S1[0].double(), stats.S2[0].double()  # [C, J, L]
    tiny = torch.finfo(torch.float64).tiny
    ratio = (s1 / s2.clamp_min(tiny).sqrt()).mean(-1)
    return [s2.mean(-1).clamp_min(tiny).log10(), ratio]


@dataclass
class GroupBias:
    """How far the ensemble's mean is from the exemplar in one group.

    Attributes
    ----------
    name
        The group.
    rms_se, max_se
        Root mean square and largest ``|mean - exemplar| / (std / sqrt(N))``.
    rms_spread
        Root mean square ``|mean - exemplar| / std``.
    """

    name: str
    rms_se: float
    max_se: float
    rms_spread: float


@dataclass
class EnsembleSummary:
    """The ensemble's statistics against the exemplar's (see the module's description).

    Attributes
    ----------
    config
        What the vectors hold.
    count
        Members summarised.
    exemplar, mean, std
        Per coefficient: the exemplar's value, the members' mean and standard deviation.
    groups
        The bias of the mean per group.
    """

    config: SummaryConfig
    count: int
    exemplar: np.ndarray
    mean: np.ndarray
    std: np.ndarray
    groups: list[GroupBias] = field(default_factory=list)

    def lines(self) -> list[str]:
        """The summary as text lines."""
        out = [
            f"ensemble of {self.count} members vs the exemplar: bias of the ensemble mean in "
            "standard errors (std/sqrt(N)) and in spreads (std)"
        ]
        width = max(len(g.name) for g in self.groups) if self.groups else 10
        out.append(
            f"  {'statistic':<{width}}  {'rms bias/s.e.':>13} {'max':>7} {'rms bias/std':>12}"
        )
        for g in self.groups:
            out.append(
                f"  {g.name:<{width}}  {g.rms_se:>13.2f} {g.max_se:>7.2f} {g.rms_spread:>12.2f}"
            )
        out.append(
            "  (the exemplar is one realisation: bias/std near or below 1 means it lies within "
            "the ensemble's spread; bias/s.e. grows with N by the exemplar's own scatter)"
        )
        return out

    def to_json(self) -> dict[str, Any]:
        """The summary as JSON (NaN as null)."""

        def clean(a: np.ndarray) -> list[float | None]:
            return [float(v) if math.isfinite(v) else None for v in a.tolist()]

        return {
            "config": self.config.to_json(),
            "count": self.count,
            "exemplar": clean(self.exemplar),
            "mean": clean(self.mean),
            "std": clean(self.std),
            "groups": [vars(g) for g in self.groups],
        }


class SummaryAccumulator:
    """Running sums of the members' vectors around the exemplar's (memory flat in N)."""

    def __init__(self, config: SummaryConfig, exemplar: list[float]) -> None:
        self.config = config
        self.exemplar = np.asarray(exemplar, dtype=np.float64)
        self.count = np.zeros_like(self.exemplar)
        self.s1 = np.zeros_like(self.exemplar)
        self.s2 = np.zeros_like(self.exemplar)
        self.members = 0

    def add(self, stats: list[float]) -> None:
        """Add one member's vector (ignored if its length does not fit)."""
        v = np.asarray(stats, dtype=np.float64)
        if v.shape != self.exemplar.shape:
            return
        d = v - self.exemplar
        ok = np.isfinite(d)
        self.count += ok
        self.s1 += np.where(ok, d, 0.0)
        self.s2 += np.where(ok, d * d, 0.0)
        self.members += 1

    def result(self) -> EnsembleSummary:
        """Mean, spread and bias per group."""
        n = self.count
        with np.errstate(invalid="ignore", divide="ignore"):
            dmean = np.where(n > 0, self.s1 / np.maximum(n, 1), np.nan)
            var = (self.s2 - n * dmean**2) / np.maximum(n - 1, 1)
            std = np.where(n > 1, np.sqrt(np.maximum(var, 0.0)), np.nan)
            se = std / np.sqrt(np.maximum(n, 1))
            # a coefficient every member matches exactly (a histogram's quantiles): no bias
            z_se = np.where(dmean == 0, 0.0, np.abs(dmean) / se)
            z_sd = np.where(dmean == 0, 0.0, np.abs(dmean) / std)
        groups = []
        for name, (sl, _) in self.config.slices().items():
            a, b = z_se[sl], z_sd[sl]
            a, b = a[np.isfinite(a)], b[np.isfinite(b)]
            groups.append(
                GroupBias(
                    name,
                    float(np.sqrt(np.mean(a**2))) if a.size else math.nan,
                    float(np.max(a)) if a.size else math.nan,
                    float(np.sqrt(np.mean(b**2))) if b.size else math.nan,
                )
            )
        return EnsembleSummary(
            self.config, self.members, self.exemplar, self.exemplar + dmean, std, groups
        )
