"""The picture of a HEALPix evaluation: :func:`write_healpix_report` draws the report of
:func:`texsynth.evaluation_healpix.evaluate_healpix` as one PNG (the contact sheet of
:mod:`texsynth.healpix_views` and the Minkowski functionals as :mod:`texsynth.charts`)."""

from __future__ import annotations

import io
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .errors import TexsynthError
from .evaluation_report import EvaluationReport

__all__ = ["write_healpix_report"]


def write_healpix_report(
    report: EvaluationReport,
    path: str | os.PathLike[str],
    exemplar: Any,
    samples: Any,
) -> Path:
    """Write one PNG: the contact sheet of
    :func:`~texsynth.healpix_views.healpix_contact_sheet` (Mollweide views, gnomonic zooms,
    ``C_ell``) with, below it, the three Minkowski functionals against ``nu``: the range of
    the exemplar's pieces (faces or maps, two thin curves), their mean and the samples'
    mean. Replaces an existing file, atomically."""
    from PIL import Image

    from .atomic import atomic_write
    from .charts import EXEMPLAR_COLOUR, SAMPLE_COLOUR, Chart, Series
    from .healpix_views import healpix_contact_sheet
    from .paths import as_path, check_target, quote_path

    p = as_path(path, "path")
    if p.suffix.lower() != ".png":
        raise TexsynthError(f"the report is a .png image, got {quote_path(p)}")
    check_target(p)
    mink = report.plots.get("minkowski")
    if mink is None:
        raise TexsynthError("the report has no Minkowski curves; give a report of evaluate_healpix")
    ex = exemplar.detach().cpu().numpy() if isinstance(exemplar, torch.Tensor) else exemplar
    ex = np.asarray(ex)
    if ex.ndim == 3:
        ex = ex[0]  # several exemplar maps: the first is drawn
    with tempfile.TemporaryDirectory() as tmp:
        sheet_path = healpix_contact_sheet(
            ex, samples, Path(tmp) / "sheet.png", title="texsynth: HEALPix evaluation"
        )
        with Image.open(sheet_path) as im:
            sheet = im.convert("RGB")
    chart_w, chart_h, gap = 360, 240, 8
    width = max(sheet.width, gap + 3 * (chart_w + gap))
    out = Image.new("RGB", (width, sheet.height + chart_h + 3 * gap), "white")
    out.paste(sheet, (0, 0))
    band = "#9ecae1"
    nu = [float(v) for v in mink["nu"]]
    names = ("V0 area fraction", "V1 boundary length / 4", "V2 Euler characteristic")
    for k, title in enumerate(names):
        d = mink[f"V{k}"]
        series = [
            Series(nu, d["exemplar_low"], "ex. pieces", band),
            Series(nu, d["exemplar_high"], "", band),
            Series(nu, d["exemplar"], "exemplar", EXEMPLAR_COLOUR),
            Series(nu, d["samples"], "samples", SAMPLE_COLOUR),
        ]
        chart = Chart(title, series, "threshold nu (sigma)", "per pixel")
        left, top = gap + k * (chart_w + gap), sheet.height + gap
        chart.draw(out, (left, top, left + chart_w, top + chart_h))
    buf = io.BytesIO()
    out.save(buf, format="PNG", optimize=True)
    atomic_write(p, lambda f: f.write(buf.getvalue()))
    return p
