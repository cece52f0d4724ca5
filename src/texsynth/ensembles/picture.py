"""The ensemble report as one PNG picture, drawn with Pillow (as :mod:`texsynth.report`):
per group of statistics, the exemplar's values against the ensemble's mean and its spread
(mean +- one standard deviation), then the table of biases."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from ..atomic import atomic_write
from ..charts import Chart as _Chart
from ..charts import Series as _Series
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


def _charts(summary: EnsembleSummary) -> list[_Chart]:
    charts = []
    for name, (sl, xs) in summary.config.slices().items():
        k = len(xs)  # channel 0: the first k values of the group
        ex, mean, std = (a[sl][:k].tolist() for a in (summary.exemplar, summary.mean, summary.std))
        hi = (np.asarray(mean) + np.asarray(std)).tolist()
        lo = (np.asarray(mean) - np.asarray(std)).tolist()
        xlabel, logx = _AXES.get(name, ("", False))
        if summary.config.domain == "sky" and name == "log10 P(f)":
            xlabel = "multipole ell"
        elif summary.config.domain == "signal" and name == "log10 P(f)":
            xlabel = "frequency (cycles/sample)"
        channel = " (channel 0)" if summary.config.channels > 1 else ""
        charts.append(
            _Chart(
                title=f"{name}{channel}",
                series=[
                    _Series(xs, hi, "mean + std", _SPREAD),
                    _Series(xs, lo, "mean - std", _SPREAD),
                    _Series(xs, mean, "ensemble mean", _MEAN),
                    _Series(xs, ex, "exemplar", _EXEMPLAR),
                ],
                xlabel=xlabel,
                ylabel=name,
                logx=logx,
            )
        )
    return charts


def render(summary: EnsembleSummary, title: str) -> Image.Image:
    """The report as a Pillow image."""
    charts = _charts(summary)
    width = 300 * len(charts)
    table = 18 * (len(summary.groups) + 3)
    img = Image.new("RGB", (width, 30 + 240 + table + 10), "white")
    d = ImageDraw.Draw(img)
    d.text((8, 8), title, fill="black")
    for i, c in enumerate(charts):
        c.draw(img, (i * 300, 30, (i + 1) * 300 - 6, 266))
    y = 280
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
