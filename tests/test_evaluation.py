"""``evaluate``, the reports and ``texsynth eval``: known answers on real textures."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from texsynth import TexsynthError, evaluate, write_report
from texsynth.cli import main

skdata = pytest.importorskip("skimage.data")


def _grey(name: str) -> torch.Tensor:
    img = getattr(skdata, name)()
    if img.ndim == 3:
        img = img.mean(-1)
    return torch.tensor(img / 255.0, dtype=torch.float32)[None]


@pytest.fixture(scope="module")
def brick() -> torch.Tensor:
    return _grey("brick")


def _periodic_texture(n: int = 128, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    k = torch.fft.fftfreq(n)
    spec = torch.exp(-(k[:, None] ** 2 + k[None, :] ** 2) / 0.004)
    x = torch.fft.ifft2(torch.fft.fft2(torch.randn(n, n, generator=g)) * spec).real
    return ((x - x.min()) / (x.max() - x.min()))[None]


def test_real_crop_scores_about_one_and_noise_far_worse(brick: torch.Tensor) -> None:
    ex = brick[:, :128, :128]
    real = brick[:, 256:384, 256:384][None]
    noise = (
        torch.randn(1, 1, 128, 128, generator=torch.Generator().manual_seed(0)) * ex.std()
        + ex.mean()
    )
    other = _grey("grass")[:, :128, :128][None]
    good = evaluate(ex, real, features="random")
    bad = evaluate(ex, noise, features="random")
    wrong = evaluate(ex, other, features="random")
    # a far-away crop of the photo scores 1-6 (the photo drifts in lighting and layout);
    # noise and another texture score several times worse, scattering by orders of magnitude
    for name in ("spectrum", "histogram", "scattering", "gram (RandomFeatures)"):
        rel = good.metric(name).relative
        assert rel is not None and 0.1 < rel < 6, (name, rel)
    for name in (
        "spectrum",
        "scattering",
        "gram (RandomFeatures)",
        "swd (RandomFeatures)",
        "sifid (RandomFeatures)",
    ):
        assert bad.metric(name).relative > 2 * good.metric(name).relative, name
        assert wrong.metric(name).relative > 2 * good.metric(name).relative, name
    assert bad.metric("scattering").relative > 100 * good.metric("scattering").relative


def test_shifted_crop_of_exemplar_is_flagged_as_copy(brick: torch.Tensor) -> None:
    ex = brick[:, :128, :128]
    copy = brick[:, 10:74, 7:71][None]  # lies inside the exemplar
    fresh = brick[:, 300:364, 300:364][None]
    a = evaluate(ex, copy, features="none").metric("copy")
    b = evaluate(ex, fresh, features="none").metric("copy")
    assert a.mean < 0.01 and a.relative < 0.05
    assert b.relative > 0.5


def test_seam_score_separates_periodic_from_non_periodic(brick: torch.Tensor) -> None:
    periodic = _periodic_texture()
    r = evaluate(periodic, torch.roll(periodic, (30, 50), (-2, -1))[None], features="none")
    assert abs(r.metric("seam").mean - 1) < 0.3
    s = evaluate(brick[:, :128, :128], brick[:, 200:328, 100:228][None], features="none")
    assert s.metric("seam").mean > 1.5


def test_diversity_reference_and_report_files(brick: torch.Tensor, tmp_path: Path) -> None:
    ex = brick[:, :128, :128]
    samples = torch.stack([brick[:, 200:264, 200:264], brick[:, 300:364, 100:164]])
    rep = evaluate(ex, samples, reference=samples[0], features="random")
    names = [m.name for m in rep.metrics]
    assert "diversity" in names and "ssim" in names and "psnr" in names
    assert rep.metric("ssim").values[0] == pytest.approx(1.0)
    assert rep.metric("ssim").values[1] < 0.9
    assert "relative" in rep.table()
    html = write_report(rep, tmp_path / "r.html", ex, samples)
    text = html.read_text()
    assert "<svg" in text and "data:image/png;base64" in text and "real crop" in text
    png = write_report(rep, tmp_path / "r.png", ex, samples)
    with Image.open(png) as im:
        assert im.width > 500 and im.height > 300
    with pytest.raises(TexsynthError, match=".html or .png"):
        write_report(rep, tmp_path / "r.pdf", ex, samples)


def test_bad_inputs(brick: torch.Tensor) -> None:
    with pytest.raises(TexsynthError, match="channels"):
        evaluate(brick[:, :128, :128], torch.rand(1, 3, 64, 64))
    with pytest.raises(TexsynthError, match="at least 32x32"):
        evaluate(brick[:, :40, :40], torch.rand(1, 1, 40, 40))


def test_eval_command(brick: torch.Tensor, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    def save(t: torch.Tensor, name: str) -> Path:
        p = tmp_path / name
        Image.fromarray((t[0].numpy() * 255).astype(np.uint8)).save(p)
        return p

    ex = save(brick[:, :128, :128], "ex.png")
    s1 = save(brick[:, 256:320, 256:320], "s1.png")
    s2 = save(brick[:, 320:384, 100:164], "s2.png")
    js, rp = tmp_path / "e.json", tmp_path / "e.html"
    assert (
        main(
            [
                "eval",
                str(ex),
                str(s1),
                str(s2),
                "--features",
                "random",
                "--json",
                str(js),
                "--report",
                str(rp),
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "spectrum" in out and "real crop" in out
    doc = json.loads(js.read_text())
    assert doc["samples"] == [str(s1), str(s2)]
    assert {m["name"] for m in doc["metrics"]} >= {"spectrum", "copy", "seam", "diversity"}
    assert rp.exists()
    odd = save(brick[:, :50, :60], "odd.png")
    assert main(["eval", str(ex), str(s1), str(odd)]) == 2
    assert "different shapes" in capsys.readouterr().err


def test_evaluate_with_a_user_inception_file(brick: torch.Tensor, tmp_path: Path) -> None:
    """``features="inception"`` loads the user's torchvision-format file (random weights here)."""
    from texsynth.features import InceptionV3Features

    torch.manual_seed(0)
    path = tmp_path / "inception_v3.pth"
    torch.save(InceptionV3Features().state_dict(), path)
    ex = brick[:, :96, :96]
    rep = evaluate(ex, brick[:, 200:248, 200:248][None], features="inception", weights=str(path))
    names = [m.name for m in rep.metrics]
    assert "sifid (InceptionV3Features)" in names and "kid (InceptionV3Features)" in names
    with pytest.raises(TexsynthError, match="inception_v3 state-dict"):
        evaluate(ex, brick[:, 200:248, 200:248][None], features="inception")


def test_a_negative_kid_is_never_read_as_a_ratio() -> None:
    """An unbiased KID estimate can fall below zero; a ratio to it would be meaningless."""
    from texsynth.evaluation_report import MetricResult
    from texsynth.report import _verdict

    both = MetricResult("kid (inception)", "", [-0.001, -0.002], -0.0005, "lower")
    assert both.relative is None
    assert "indistinguishable" in _verdict(both)[0]
    real_zero = MetricResult("kid (inception)", "", [0.05], -0.001, "lower")
    assert real_zero.relative is None
    assert "no ratio" in _verdict(real_zero)[0]
    sample_below = MetricResult("kid (inception)", "", [-0.01], 0.02, "lower")
    assert sample_below.relative is not None and sample_below.relative < 0
    assert "indistinguishable" in _verdict(sample_below)[0]
    far = MetricResult("gram", "", [9.0], 1.0, "lower")
    assert _verdict(far)[0] == "far from exemplar"


def test_report_charts_label_their_axes_with_values() -> None:
    from texsynth.charts import Chart, Series

    chart = Chart("power", [Series([1.0, 2.0, 4.0], [10.0, 100.0, 1000.0], "a", "#000")],
                   "scale", "S2", logy=True)  # fmt: skip
    xt, yt = chart.ticks()
    assert [label for _, label in xt] == ["1", "2.5", "4"]
    assert [label for _, label in yt] == ["10", "100", "1e+03"]
    svg = chart.svg()
    for label in ("2.5", "100", "1e+03"):
        assert f">{label}</text>" in svg


def test_unlabelled_series_are_drawn_but_not_in_the_legend() -> None:
    from PIL import Image

    from texsynth.charts import Chart, Series

    band = [
        Series([0.0, 1.0], [0.0, 1.0], "band", "#00f"),
        Series([0.0, 1.0], [1.0, 2.0], "", "#00f"),
    ]
    chart = Chart("t", [*band, Series([0.0, 1.0], [0.5, 1.5], "x", "#f00")], "a", "b")
    assert [s.label for s in chart.legend()] == ["band", "x"]
    svg = chart.svg()
    assert svg.count("<polyline") == 3 and svg.count('stroke-width="2"/>') == 2  # 2 legend rows
    img = Image.new("RGB", (360, 240), "white")
    chart.draw(img, (0, 0, 360, 240))
    # the legend's third row (where an unlabelled entry would go) stays empty
    row = [img.getpixel((x, 18 + 4 + 12 * 2 + 5)) for x in range(360 - 6 - 90, 360 - 6 - 74)]
    assert all(p == (255, 255, 255) for p in row), row
