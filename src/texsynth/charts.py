"""Line charts without a plotting library: inline SVG for HTML pages, or drawn with Pillow
into an image. The evaluation reports (:mod:`texsynth.report`), the HEALPix views
(:mod:`texsynth.healpix_views`, :mod:`texsynth.healpix_report`) and the ensemble picture
draw their curves with :class:`Chart`."""

from __future__ import annotations

import html
import math
from dataclasses import dataclass

from PIL import Image, ImageDraw

__all__ = ["EXEMPLAR_COLOUR", "NAMED_COLOURS", "SAMPLE_COLOUR", "Chart", "Series"]

#: The colour of the exemplar's curves.
EXEMPLAR_COLOUR = "#1f77b4"
#: The colour of the samples' curves.
SAMPLE_COLOUR = "#d62728"
#: Distinct colours for curves named one by one (matplotlib's "tab10" after the exemplar's
#: blue), cycled.
NAMED_COLOURS = ("#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2")


@dataclass
class Series:
    """One curve of a :class:`Chart`: points ``(x, y)``, a legend label and a colour."""

    x: list[float]
    y: list[float]
    label: str
    colour: str


@dataclass
class Chart:
    """A line chart with optional log axes, drawable as SVG or into a Pillow image."""

    title: str
    series: list[Series]
    xlabel: str
    ylabel: str
    logx: bool = False
    logy: bool = False

    def _points(self) -> tuple[list[list[tuple[float, float]]], tuple[float, float, float, float]]:
        tx = (lambda v: math.log10(v)) if self.logx else (lambda v: v)
        ty = (lambda v: math.log10(v)) if self.logy else (lambda v: v)
        curves = []
        for s in self.series:
            pts = [
                (tx(a), ty(b))
                for a, b in zip(s.x, s.y, strict=False)
                if (a > 0 or not self.logx)
                and (b > 0 or not self.logy)
                and math.isfinite(a)
                and math.isfinite(b)
            ]
            curves.append(pts)
        allp = [p for c in curves for p in c] or [(0.0, 0.0), (1.0, 1.0)]
        x0, x1 = min(p[0] for p in allp), max(p[0] for p in allp)
        y0, y1 = min(p[1] for p in allp), max(p[1] for p in allp)
        if x1 == x0:
            x1 = x0 + 1
        if y1 == y0:
            y1 = y0 + 1
        return curves, (x0, x1, y0, y1)

    def ticks(self) -> tuple[list[tuple[float, str]], list[tuple[float, str]]]:
        """Three labelled ticks per axis (ends and middle), in plotted coordinates."""
        _, (x0, x1, y0, y1) = self._points()

        def axis(a: float, b: float, log: bool) -> list[tuple[float, str]]:
            out = []
            for v in (a, (a + b) / 2, b):
                value = 10.0**v if log else v
                out.append((v, f"{value:.3g}"))
            return out

        return axis(x0, x1, self.logx), axis(y0, y1, self.logy)

    def legend(self) -> list[Series]:
        """The series the legend lists: those with a label (an unlabelled one, such as the
        second edge of a band, is drawn but not listed)."""
        return [s for s in self.series if s.label]

    def svg(self, width: int = 360, height: int = 240) -> str:
        """The chart as an inline ``<svg>`` element."""
        m, ml = 40, 70  # bottom and left margins (the left one holds the y values)
        curves, (x0, x1, y0, y1) = self._points()

        def sx(v: float) -> float:
            return ml + (v - x0) / (x1 - x0) * (width - ml - 10)

        def sy(v: float) -> float:
            return height - m - (v - y0) / (y1 - y0) * (height - m - 24)

        parts = [
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
            'font-family="sans-serif" font-size="11">',
            f'<text x="{width / 2}" y="14" text-anchor="middle" font-weight="bold">'
            f"{html.escape(self.title)}</text>",
            f'<rect x="{ml}" y="24" width="{width - ml - 10}" height="{height - m - 24}" '
            'fill="none" stroke="#999"/>',
            f'<text x="{width / 2}" y="{height - 6}" text-anchor="middle">'
            f"{html.escape(self.xlabel)}</text>",
            f'<text x="12" y="{height / 2}" transform="rotate(-90 12 {height / 2})" '
            f'text-anchor="middle">{html.escape(self.ylabel)}</text>',
        ]
        xt, yt = self.ticks()
        for v, label in xt:
            parts.append(
                f'<text x="{sx(v):.1f}" y="{height - m + 12}" text-anchor="middle" '
                f'fill="#555">{html.escape(label)}</text>'
            )
        for v, label in yt:
            parts.append(
                f'<text x="{ml - 3}" y="{sy(v) + 4:.1f}" text-anchor="end" '
                f'fill="#555">{html.escape(label)}</text>'
            )
        for s, pts in zip(self.series, curves, strict=True):
            if pts:
                path = " ".join(f"{sx(a):.1f},{sy(b):.1f}" for a, b in pts)
                parts.append(
                    f'<polyline points="{path}" fill="none" stroke="{s.colour}" '
                    'stroke-width="1.6"/>'
                )
        for i, s in enumerate(self.legend()):
            y = 38 + 14 * i
            parts.append(
                f'<line x1="{width - 120}" y1="{y - 4}" x2="{width - 100}" '
                f'y2="{y - 4}" stroke="{s.colour}" stroke-width="2"/>'
            )
            parts.append(f'<text x="{width - 96}" y="{y}">{html.escape(s.label)}</text>')
        parts.append("</svg>")
        return "".join(parts)

    def draw(self, img: Image.Image, box: tuple[int, int, int, int]) -> None:
        """Draw the chart into ``img`` inside ``box = (left, top, right, bottom)``."""
        d = ImageDraw.Draw(img)
        left, top, right, bottom = box
        curves, (x0, x1, y0, y1) = self._points()
        pl, pt, pr, pb = left + 54, top + 18, right - 6, bottom - 30
        d.text((left + 4, top + 2), self.title, fill="black")
        d.rectangle((pl, pt, pr, pb), outline="#999999")
        d.text((pl, pb + 16), self.xlabel, fill="#444444")

        def px(v: float, w: float) -> tuple[float, float]:
            return (pl + (v - x0) / (x1 - x0) * (pr - pl), pb - (w - y0) / (y1 - y0) * (pb - pt))

        xt, yt = self.ticks()
        for v, label in xt:
            x, _ = px(v, y0)
            d.text((max(left, x - 3 * len(label)), pb + 3), label, fill="#555555")
        for v, label in yt:
            _, y = px(x0, v)
            d.text((left + 1, y - 5), label, fill="#555555")
        for s, pts in zip(self.series, curves, strict=True):
            if len(pts) > 1:
                d.line([px(a, b) for a, b in pts], fill=s.colour, width=2)
        for i, s in enumerate(self.legend()):
            y = pt + 4 + 12 * i
            d.line((pr - 90, y + 5, pr - 74, y + 5), fill=s.colour, width=2)
            d.text((pr - 70, y), s.label, fill="black")
