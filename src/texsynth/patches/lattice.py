"""Regular lattices of an exemplar (tiles, chequerboards, grids, text lines).

:func:`lattice_periods` reads the periods from the exemplar's autocorrelation;
:class:`Lattice` holds every source offset of the patch search to one phase of the lattice,
so that pieces are only ever placed where the lattice repeats; :func:`warn_lattice_seam`
warns when a tiling output cannot hold a whole number of periods.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import torch

__all__ = ["Lattice", "lattice_periods", "warn_lattice_seam"]

_LATTICE_PEAK = 0.5  # autocorrelation a repeat must reach to count as a lattice period ...
_LATTICE_PROMINENCE = 0.5  # ... above the lowest autocorrelation at shorter lags
_ROWS_PEAK = 0.9  # a row (column) spacing: the row-mean profile repeats this well 3 times


def _peak(profile: list[float], i: int) -> float:
    """Sub-pixel position of the peak at index ``i`` (a parabola through its neighbours)."""
    a, b, c = profile[i - 1], profile[i], profile[i + 1]
    curv = a - 2 * b + c
    return i + (0.5 * (a - c) / curv if curv < 0 else 0.0)


def _axis_period(profile: list[float], search: int) -> float | None:
    """The first lag up to ``search`` at which a normalised autocorrelation profile peaks
    above :data:`_LATTICE_PEAK`, at least :data:`_LATTICE_PROMINENCE` above its lowest value
    at shorter lags; refined on the farthest strong multiple of it in the profile (the
    error of one peak's position divides by the multiple) and rounded to a whole pixel when
    within a quarter of one (drawn and generated lattices). ``None`` if there is none."""
    low = profile[0]
    for i in range(1, min(search, len(profile) - 1)):
        low = min(low, profile[i])
        b = profile[i]
        if (
            b >= profile[i - 1]
            and b >= profile[i + 1]
            and b >= _LATTICE_PEAK
            and b - low >= _LATTICE_PROMINENCE
        ):
            period = _peak(profile, i)
            k = int((len(profile) - 2) // period)
            while k > 1:
                j = round(k * period)
                j = max(range(j - 1, j + 2), key=lambda t: profile[t])
                if 0 < j < len(profile) - 1 and profile[j] >= _LATTICE_PEAK:
                    period = _peak(profile, j) / k
                    break
                k -= 1
            return float(round(period)) if abs(period - round(period)) < 0.25 else period
    return None


def warn_lattice_seam(periods: tuple[float | None, float | None], hw: tuple[int, int]) -> None:
    """Warn when a tiling output cannot hold a whole number of the exemplar's lattice periods
    (its wrap-around then breaks the lattice), naming the nearest size that can."""
    for per, n, axis, way in zip(
        periods, hw, ("height", "width"), ("vertically", "horizontally"), strict=True
    ):
        if per is None:
            continue
        k = max(1, round(n / per))
        if abs(n - k * per) >= 1:
            good = round(k * per) if per == round(per) else f"about {k * per:.0f}"
            warnings.warn(
                f"the exemplar repeats every {per:g} px {way}; "
                f"an output {axis} of {n} px holds no whole number of repeats, so the tiled "
                f"output shows a seam at its edge: give a {axis} of {good} px for a seamless tile",
                UserWarning,
                stacklevel=4,
            )


def _autocorrelation(x: torch.Tensor) -> torch.Tensor:
    """Non-circular autocorrelation of ``x`` (1-D or 2-D, mean removed), normalised by the
    overlap at each lag and by the lag-0 value: 1 at lag 0."""
    x = x - x.mean()
    shape = x.shape
    dims = tuple(range(-len(shape), 0))
    spec = torch.fft.rfftn(x, s=[2 * n for n in shape], dim=dims)
    ac = torch.fft.irfftn(spec.abs() ** 2, s=[2 * n for n in shape], dim=dims)
    ac = ac[tuple(slice(0, n) for n in shape)]
    count = torch.ones((), dtype=ac.dtype, device=ac.device)
    for i, n in enumerate(shape):
        lag = n - torch.arange(n, dtype=ac.dtype, device=ac.device)
        count = count * lag.reshape([-1 if j == i else 1 for j in range(len(shape))])
    ac = ac / count
    return ac / ac.reshape(-1)[0] if float(ac.reshape(-1)[0]) > 0 else torch.zeros_like(ac)


def _row_period(profile: list[float], search: int) -> float | None:
    """A spacing of rows (text lines, courses) from the autocorrelation of the row-mean
    profile: a period whose first three multiples all repeat at least :data:`_ROWS_PEAK`
    (a mean profile is noisy, so one peak is not enough)."""
    period = _axis_period(profile, search)
    if period is None:
        return None
    for k in (1, 2, 3):
        j = round(k * period)
        if j >= len(profile) or max(profile[max(0, j - 1) : j + 2]) < _ROWS_PEAK:
            return None
    return period


def lattice_periods(exemplar: torch.Tensor) -> tuple[float | None, float | None]:
    """Vertical and horizontal lattice periods of a ``[C, h, w]`` exemplar, in pixels.

    A period is a lag at which the exemplar's (non-circular, overlap-normalised)
    autocorrelation of its channel mean repeats strongly (tiles, chequerboards, regular
    grids). An axis without one may still have evenly spaced rows (text lines): then the
    period is the spacing at which the profile of row (column) means repeats at least
    :data:`_ROWS_PEAK` at three multiples. ``None`` on an axis with neither, and for every
    irregular texture. At least two periods must fit in the exemplar.
    """
    lum = exemplar.to(torch.float64).mean(0)
    h, w = lum.shape
    ac = _autocorrelation(lum)
    # periods are found up to half the side (two must fit) and refined up to three quarters
    py = _axis_period(ac[: 3 * h // 4, 0].tolist(), h // 2 + 1)
    px = _axis_period(ac[0, : 3 * w // 4].tolist(), w // 2 + 1)
    if py is None:
        py = _row_period(_autocorrelation(lum.mean(1))[: 3 * h // 4].tolist(), h // 2 + 1)
    if px is None:
        px = _row_period(_autocorrelation(lum.mean(0))[: 3 * w // 4].tolist(), w // 2 + 1)
    return py, px


@dataclass
class Lattice:
    """Lattice periods of the exemplar (full-resolution pixels) and the phase every source
    offset is held to (read from the first search of each pyramid level, a free search
    started from the previous level's in-phase sources, so that the phase sharpens with
    the resolution and an inpainting keeps the phase of the kept pixels)."""

    periods: tuple[float | None, float | None]
    phase: tuple[float, float] | None = None

    def snap(
        self,
        cy: torch.Tensor,
        cx: torch.Tensor,
        gy: torch.Tensor,
        gx: torch.Tensor,
        lvl: int,
        hs: int,
        ws: int,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Move candidate corners ``cy``/``cx`` (any shape broadcasting with the grid
        corners ``gy``/``gx``) to the nearest corner whose offset from the output corner is
        the lattice phase modulo the period, so pieces never break the lattice."""
        assert self.phase is not None
        out = []
        for c, g, per, ph, n in (
            (cy, gy, self.periods[0], self.phase[0], hs),
            (cx, gx, self.periods[1], self.phase[1], ws),
        ):
            if per is None or per / 2**lvl < 2:
                out.append(c)
                continue
            per_l, ph_l = per / 2**lvl, ph / 2**lvl
            d = (g - c).to(torch.float64) - ph_l
            s = c + (d - per_l * torch.round(d / per_l))
            s = torch.where(s < 0, s + per_l, s)
            s = torch.where(s > n - 1, s - per_l, s)
            out.append(torch.round(s).long().clamp(0, n - 1))
        return out[0], out[1]

    def set_phase(
        self, gy: torch.Tensor, gx: torch.Tensor, sy: torch.Tensor, sx: torch.Tensor, lvl: int
    ) -> None:
        """The most common offset modulo each period among the current sources (the mode
        of a one-pixel histogram at this level: robust to the few sources that slipped a
        pixel), stored at full resolution."""
        ph = []
        for g, s, per in ((gy, sy, self.periods[0]), (gx, sx, self.periods[1])):
            if per is None or per / 2**lvl < 2:
                ph.append(0.0)
                continue
            per_l = per / 2**lvl
            r = torch.remainder((g - s).to(torch.float64), per_l).reshape(-1)
            bins = torch.floor(r).long().clamp(0, math.ceil(per_l) - 1)
            mode = int(torch.bincount(bins).argmax())
            ph.append(float(r[bins == mode].mean()) * 2**lvl)
        self.phase = (ph[0], ph[1])
