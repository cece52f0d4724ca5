"""Reports a person can read: a self-contained HTML page or one PNG image.

Both show the exemplar and the samples, the metric table (each value next to the
real-crop baseline and their ratio), and four plots: radially averaged power spectra, pixel
histograms, S2 (power per wavelet scale) and S2 per orientation (anisotropy). No plotting
library is needed: the charts (:mod:`texsynth.charts`) are drawn as inline SVG (HTML) or with
Pillow (PNG).
"""

from __future__ import annotations

import base64
import html
import io
import math
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw

from .charts import EXEMPLAR_COLOUR, SAMPLE_COLOUR, Chart, Series
from .errors import TexsynthError
from .evaluation_report import EvaluationReport, MetricResult

__all__ = ["write_report"]


def _charts(report: EvaluationReport) -> list[Chart]:
    p = report.plots
    sp, hi, s2, so = p["spectrum"], p["histogram"], p["s2"], p["s2_orientation"]
    centres = [(a + b) / 2 for a, b in zip(hi["edges"][:-1], hi["edges"][1:], strict=True)]
    return [
        Chart(
            "power spectrum",
            [
                Series(sp["k"], sp["exemplar"], "exemplar", EXEMPLAR_COLOUR),
                Series(sp["k_samples"], sp["samples"], "samples", SAMPLE_COLOUR),
            ],
            "frequency (cycles/px)",
            "power",
            logx=True,
            logy=True,
        ),
        Chart(
            "pixel histogram",
            [
                Series(centres, hi["exemplar"], "exemplar", EXEMPLAR_COLOUR),
                Series(centres, hi["samples"], "samples", SAMPLE_COLOUR),
            ],
            "value",
            "fraction",
        ),
        Chart(
            "S2: power per wavelet scale",
            [
                Series([float(j) for j in s2["j"]], s2["exemplar"], "exemplar", EXEMPLAR_COLOUR),
                Series([float(j) for j in s2["j"]], s2["samples"], "samples", SAMPLE_COLOUR),
            ],
            "scale j (period 2.7 * 2^j px)",
            "S2",
            logy=True,
        ),
        Chart(
            "S2 per orientation (1 = isotropic)",
            [
                Series(so["angle"], so["exemplar"], "exemplar", EXEMPLAR_COLOUR),
                Series(so["angle"], so["samples"], "samples", SAMPLE_COLOUR),
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
    charts: list[Chart],
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
    charts: list[Chart],
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
