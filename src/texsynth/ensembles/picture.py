"""The ensemble report as one PNG picture, drawn with Pillow (as :mod:`texsynth.report`):
per group of statistics (columns) and per channel (rows: every channel of a
multi-channel member), the exemplar's values against the ensemble's mean and its spread
(mean +- one standard deviation), then the table of biases."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from ..atomic import atomic_write
from ..charts import Chart, Series
from .summary import EnsembleSummary

__all__ = ["write_picture"]

_EXEMPLAR = "#1f77b4"
_MEAN = "#d62728"
_SPREAD = "#f4a3a3"

#: x axis label and whether it is logarithmic, per group
_AXES = {
    "log10 P(f)": ("frequency (cycles/pixel)", True),
    "quantiles": ("level", False),
    "log10 S2": ("scale j", False),
    "S1/sqrt(S2)": ("scale j", False),
}


#: pixels of one chart
_W, _H = 300, 240


def _charts(summary: EnsembleSummary) -> list[list[Chart]]:
    """One row of charts per channel, one chart per group of statistics."""
    channels = summary.config.channels
    rows: list[list[Chart]] = [[] for _ in range(channels)]
    for name, (sl, xs) in summary.config.slices().items():
        k = len(xs)  # channel c: values c*k to (c+1)*k of the group
        xlabel, logx = _AXES.get(name, ("", False))
        if summary.config.domain == "sky" and name == "log10 P(f)":
            xlabel = "multipole ell"
        elif summary.config.domain == "signal" and name == "log10 P(f)":
            xlabel = "frequency (cycles/sample)"
        for c in range(channels):
            part = slice(c * k, (c + 1) * k)
            ex, mean, std = (
                np.asarray(a[sl][part], dtype=float)
                for a in (summary.exemplar, summary.mean, summary.std)
            )
            channel = f" (channel {c})" if channels > 1 else ""
            rows[c].append(
                Chart(
                    title=f"{name}{channel}",
                    series=[
                        Series(xs, (mean + std).tolist(), "mean + std", _SPREAD),
                        Series(xs, (mean - std).tolist(), "mean - std", _SPREAD),
                        Series(xs, mean.tolist(), "ensemble mean", _MEAN),
                        Series(xs, ex.tolist(), "exemplar", _EXEMPLAR),
                    ],
                    xlabel=xlabel,
                    ylabel=name,
                    logx=logx,
                )
            )
    return rows


def render(summary: EnsembleSummary, title: str) -> Image.Image:
    """The report as a Pillow image."""
    rows = _charts(summary)
    width = max(_W * len(rows[0]), 760)
    table = 18 * (len(summary.groups) + 3)
    top = 30 + _H * len(rows)
    img = Image.new("RGB", (width, top + 14 + table + 10), "white")
    d = ImageDraw.Draw(img)
    d.text((8, 8), title, fill="black")
    for r, charts in enumerate(rows):
        y0 = 30 + r * _H
        for i, c in enumerate(charts):
            c.draw(img, (i * _W, y0, (i + 1) * _W - 6, y0 + _H - 4))
    y = top + 14
    d.text((8, y), "statistic / rms bias in s.e. / max / rms bias in std", fill="black")
    for g in summary.groups:
        y += 18
        colour = "#2ca02c" if g.rms_spread <= 1.0 else "#d62728"
        d.text((8, y), g.name, fill="black")
        d.text((180, y), f"{g.rms_se:.2f}", fill="black")
        d.text((280, y), f"{g.max_se:.2f}", fill="black")
        d.text((380, y), f"{g.rms_spread:.2f}", fill=colour)
    d.text(
        (8, y + 18),
        "bias = ensemble mean - exemplar; s.e. = std / sqrt(N); the exemplar is one "
        "realisation, so bias/std <= 1 is what an unbiased ensemble gives",
        fill="#444444",
    )
    return img


def write_picture(summary: EnsembleSummary, path: Path, title: str) -> None:
    """Write the report to ``path`` (PNG, atomically)."""
    img = render(summary, title)
    atomic_write(path, lambda f: img.save(f, format="PNG"))
