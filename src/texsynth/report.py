"""Reports a person can read: a self-contained HTML page or one PNG image.

Both show the exemplar and the samples, the metric table (each value next to the
real-crop baseline and their ratio), and four plots: radially averaged power spectra, pixel
histograms, S2 (power per wavelet scale) and S2 per orientation (anisotropy). No plotting
library is needed: the charts are drawn as inline SVG (HTML) or with Pillow (PNG).
"""

from __future__ import annotations

import base64
import html
import io
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw

from .errors import TexsynthError
from .evaluation_report import EvaluationReport, MetricResult

__all__ = ["write_report"]

_EX_COLOUR = "#1f77b4"
_SAMPLE_COLOUR = "#d62728"


@dataclass
class _Series:
    x: list[float]
    y: list[float]
    label: str
    colour: str


@dataclass
class _Chart:
    """A line chart with optional log axes, drawable as SVG or into a Pillow image."""

    title: str
    series: list[_Series]
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
        for i, s in enumerate(self.series):
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
        for i, s in enumerate(self.series):
            y = pt + 4 + 12 * i
            d.line((pr - 90, y + 5, pr - 74, y + 5), fill=s.colour, width=2)
            d.text((pr - 70, y), s.label, fill="black")


def _charts(report: EvaluationReport) -> list[_Chart]:
    p = report.plots
    sp, hi, s2, so = p["spectrum"], p["histogram"], p["s2"], p["s2_orientation"]
    centres = [(a + b) / 2 for a, b in zip(hi["edges"][:-1], hi["edges"][1:], strict=True)]
    return [
        _Chart(
            "power spectrum",
            [
                _Series(sp["k"], sp["exemplar"], "exemplar", _EX_COLOUR),
                _Series(sp["k_samples"], sp["samples"], "samples", _SAMPLE_COLOUR),
            ],
            "frequency (cycles/px)",
            "power",
            logx=True,
            logy=True,
        ),
        _Chart(
            "pixel histogram",
            [
                _Series(centres, hi["exemplar"], "exemplar", _EX_COLOUR),
                _Series(centres, hi["samples"], "samples", _SAMPLE_COLOUR),
            ],
            "value",
            "fraction",
        ),
        _Chart(
            "S2: power per wavelet scale",
            [
                _Series([float(j) for j in s2["j"]], s2["exemplar"], "exemplar", _EX_COLOUR),
                _Series([float(j) for j in s2["j"]], s2["samples"], "samples", _SAMPLE_COLOUR),
            ],
            "scale j (period 2.7 * 2^j px)",
            "S2",
            logy=True,
        ),
        _Chart(
            "S2 per orientation (1 = isotropic)",
            [
                _Series(so["angle"], so["exemplar"], "exemplar", _EX_COLOUR),
                _Series(so["angle"], so["samples"], "samples", _SAMPLE_COLOUR),
            ],
            "wave-vector angle (degrees)",
            "relative S2",
        ),
    ]


def _display(x: torch.Tensor, lo: float, hi: float) -> Image.Image:
    """``[C, H, W]`` to an 8-bit image, mapping ``[lo, hi]`` to ``[0, 255]``."""
    a = ((x.detach().double().cpu() - lo) / (hi - lo if hi > lo else 1.0)).clamp(0, 1).numpy()
    a = np.repeat(a, 3, 0) if a.shape[0] == 1 else a[:3]
    return Image.fromarray((np.moveaxis(a, 0, -1) * 255 + 0.5).astype(np.uint8))


def _verdict(m: MetricResult) -> tuple[str, str]:
    """A short verdict and a colour for the table."""
    rel = m.relative
    if m.name == "seam":
        ok = abs(m.mean - 1) < 0.3
        return ("tiles seamlessly", "#2e7d32") if ok else ("visible seam", "#c62828")
    if m.better == "lower" and m.baseline is not None and math.isfinite(m.baseline):
        if m.mean <= 0 and m.baseline <= 0:
            # unbiased estimators (KID) scatter around 0 when the two sets agree
            return "both at zero: indistinguishable from real", "#2e7d32"
        if m.baseline <= 0:
            return "real crop at zero: no ratio, compare the values", "#ef6c00"
    if rel is None:
        return "", "#000000"
    if m.better == "lower" and rel < 0:
        return "below zero: indistinguishable from real", "#2e7d32"
    if m.better == "higher":
        if rel >= 0.7:
            return "as real", "#2e7d32"
        return ("possible copying", "#c62828") if m.name == "copy" else ("low", "#ef6c00")
    if rel <= 1.5:
        return "as close as real", "#2e7d32"
    if rel <= 3:
        return "somewhat further", "#ef6c00"
    return "far from exemplar", "#c62828"


def _png_b64(img: Image.Image) -> str:
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return base64.b64encode(buf.getvalue()).decode("ascii")


def write_report(
    report: EvaluationReport,
    path: str | Path,
    exemplar: torch.Tensor,
    samples: torch.Tensor,
    *,
    title: str = "texsynth evaluation",
    max_samples: int = 8,
) -> Path:
    """Write ``report`` as ``.html`` (self-contained) or ``.png``, chosen by the suffix.

    ``exemplar`` is ``[C, H, W]`` and ``samples`` ``[N, C, h, w]``, in the same units.
    """
    from .io import atomic_text_write

    if len(report.crop_shape) != 2 or exemplar.dim() != 3:
        raise TexsynthError(
            "write_report draws images; a report of 1-D signals (evaluate_1d) has no "
            "report page yet: print report.table() or save report.to_dict() as JSON"
        )
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".html", ".htm", ".png"):
        raise TexsynthError(f"report must be .html or .png, got {path.name!r}")
    if not path.parent.is_dir():
        raise TexsynthError(f"cannot write {str(path)!r}: its directory does not exist")
    lo = float(exemplar.min())
    hi = float(exemplar.max())
    images = [("exemplar", _display(exemplar, lo, hi))]
    images += [(f"sample {i}", _display(s, lo, hi)) for i, s in enumerate(samples[:max_samples])]
    charts = _charts(report)
    if suffix == ".png":
        img = _png_report(report, images, charts, title)
        buf = io.BytesIO()
        img.save(buf, format="PNG")
        from .atomic import atomic_write

        atomic_write(path, lambda f: f.write(buf.getvalue()))
        return path
    atomic_text_write(path, _html_report(report, images, charts, title))
    return path


def _html_report(
    report: EvaluationReport,
    images: list[tuple[str, Image.Image]],
    charts: list[_Chart],
    title: str,
) -> str:
    rows = []
    for m in report.metrics:
        verdict, colour = _verdict(m)
        rel = "" if m.relative is None else f"{m.relative:.2f}"
        base = "" if m.baseline is None else f"{m.baseline:.4g}"
        rows.append(
            f"<tr><td><b>{html.escape(m.name)}</b><br><small>{html.escape(m.description)}"
            f"</small></td><td>{m.mean:.4g} &plusmn; {m.std:.2g}</td><td>{base}</td>"
            f'<td style="color:{colour}"><b>{rel}</b> {verdict}</td>'
            f"<td>{html.escape(m.better)}</td></tr>"
        )
    thumbs = "".join(
        f'<figure><img src="data:image/png;base64,{_png_b64(im)}" '
        f'style="width:{min(256, im.width)}px;image-rendering:pixelated">'
        f"<figcaption>{html.escape(label)}</figcaption></figure>"
        for label, im in images
    )
    plots = "".join(c.svg() for c in charts)
    h, w = report.crop_shape
    return f"""<!doctype html>
<html><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>body{{font-family:sans-serif;max-width:1100px;margin:24px auto;color:#222}}
figure{{display:inline-block;margin:4px;text-align:center}}
table{{border-collapse:collapse}}td,th{{border-bottom:1px solid #ddd;padding:6px 10px;
vertical-align:top}}small{{color:#666}}</style></head><body>
<h1>{html.escape(title)}</h1>
<p>Each distance compares a sample with one half of the exemplar (crop A), and the
<b>real crop</b> column compares the other half (crop B) with crop A: the distance between two
real pieces of the same texture. <b>relative</b> = samples / real crop, so 1.0 means "as close
to the exemplar as real texture is". All comparisons use {w}x{h} crops.</p>
{thumbs}
<h2>Metrics</h2>
<table><tr><th>metric</th><th>samples</th><th>real crop</th><th>relative</th><th>better</th>
</tr>{"".join(rows)}</table>
<h2>Statistics</h2>{plots}
</body></html>
"""


def _png_report(
    report: EvaluationReport,
    images: list[tuple[str, Image.Image]],
    charts: list[_Chart],
    title: str,
) -> Image.Image:
    thumb = 160
    n = len(images)
    width = max(len(charts) * 300, n * (thumb + 8) + 8)
    table_h = 22 + 15 * (len(report.metrics) + 1)
    height = 30 + thumb + 24 + 240 + table_h + 10
    img = Image.new("RGB", (width, height), "white")
    d = ImageDraw.Draw(img)
    d.text((8, 8), title, fill="black")
    x = 8
    for label, im in images:
        t = im.resize((thumb, round(thumb * im.height / im.width)), Image.Resampling.NEAREST)
        img.paste(t, (x, 30))
        d.text((x, 30 + t.height + 4), label, fill="black")
        x += thumb + 8
    top = 30 + thumb + 24
    for i, c in enumerate(charts):
        c.draw(img, (i * 300, top, (i + 1) * 300 - 6, top + 236))
    y = top + 246
    d.text(
        (8, y),
        "metric / samples (mean) / real crop / relative (1.0 = as close as real)",
        fill="black",
    )
    for m in report.metrics:
        y += 15
        verdict, colour = _verdict(m)
        rel = "" if m.relative is None else f"{m.relative:.2f}"
        base = "" if m.baseline is None else f"{m.baseline:.4g}"
        d.text((8, y), m.name, fill="black")
        d.text((220, y), f"{m.mean:.4g}", fill="black")
        d.text((330, y), base, fill="black")
        d.text((440, y), f"{rel} {verdict}", fill=colour)
    return img
