"""``evaluate_1d``, ``texsynth stats`` and ``texsynth eval`` on 1-D signals: another
realisation of a process scores about 1, another process clearly more."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from processes1d import fbm, phase_surrogate
from processes1d import multifractal_walk as mrw
from texsynth import EvaluationReport, ScatteringCovariance1D, TexsynthError, evaluate_1d
from texsynth.cli import main


def _batch(xs: list[np.ndarray]) -> torch.Tensor:
    return torch.tensor(np.stack(xs))[:, None]


def _rel(report: EvaluationReport, name: str) -> float:
    rel = report.metric(name).relative
    assert rel is not None, name
    return float(rel)


SHAPE = ("spectrum", "spectral slope", "hurst", "scattering")


@pytest.mark.parametrize(("hurst", "other"), [(0.3, 0.7), (0.7, 0.3)])
def test_fbm_same_process_about_one_other_hurst_far(hurst: float, other: float) -> None:
    ex = torch.tensor(fbm(8192, hurst, 0))
    same = evaluate_1d(ex, _batch([fbm(1024, hurst, s) for s in range(1, 5)]))
    wrong = evaluate_1d(ex, _batch([fbm(1024, other, s) for s in range(1, 5)]))
    assert same.crop_shape == (1024,) and same.sample_shape == (1, 1024)
    for m in same.metrics:
        if m.relative is not None:
            assert 0.3 < m.relative < 2.5, (m.name, m.relative)
    for name in ("spectrum", "scattering"):
        assert _rel(wrong, name) > 2.0, (name, _rel(wrong, name))
    for name in ("spectral slope", "hurst"):
        assert _rel(wrong, name) > 4.0, (name, _rel(wrong, name))
    for name in SHAPE:
        assert _rel(wrong, name) > 2 * _rel(same, name), name


def test_multifractal_walk_against_its_gaussian_surrogate() -> None:
    ex = torch.tensor(mrw(8192, 2))
    same = [mrw(8192, 100 + s)[:1024] for s in range(6)]
    gauss = [phase_surrogate(x, s) for s, x in enumerate(same)]
    a, b = evaluate_1d(ex, _batch(same)), evaluate_1d(ex, _batch(gauss))
    # same spectrum, so the spectrum does not separate them; the intermittency does
    assert _rel(b, "spectrum") < 1.5
    assert _rel(a, "increments lag 1") < 1.2 < 1.4 < _rel(b, "increments lag 1")
    assert _rel(a, "log-volatility") < 1.3 < 1.5 < _rel(b, "log-volatility")
    # a piece's amplitude belongs to the realisation: the chi-square of standardised
    # increments scores another realisation about 1 (unstandardised: 0.4 to 3.2)
    assert 0.5 < _rel(a, "scattering") < 2


def test_copy_of_the_exemplar_is_flagged_and_diversity_measured() -> None:
    x = fbm(4096, 0.5, 0)
    ex = torch.tensor(x)
    copies = _batch([x[100:1124], x[2500:3524]])
    fresh = _batch([fbm(1024, 0.5, s) for s in (1, 2)])
    c, f = evaluate_1d(ex, copies), evaluate_1d(ex, fresh)
    assert c.metric("copy").mean < 1e-9 and _rel(c, "copy") < 0.05
    assert 0.7 < _rel(f, "copy") < 1.4
    # independent increments give about sqrt(2); one sample repeated gives 0
    assert abs(f.metric("diversity").mean - 2**0.5) < 0.1
    twice = evaluate_1d(ex, _batch([x[100:1124], x[100:1124]]))
    assert twice.metric("diversity").mean < 1e-9


def test_stationary_multichannel_signal_and_shapes() -> None:
    g = torch.Generator().manual_seed(0)
    kernel = torch.ones(1, 1, 16) / 4

    def lognormal(b: int, n: int) -> torch.Tensor:
        z = torch.randn(b * 2, 1, n + 15, generator=g, dtype=torch.float64)
        return torch.nn.functional.conv1d(z, kernel.double()).exp().reshape(b, 2, n)

    ex = lognormal(1, 4096)[0]
    same = evaluate_1d(ex, lognormal(3, 512))
    gauss = evaluate_1d(ex, lognormal(3, 512).log())
    assert same.crop_shape == (512,) and same.exemplar_shape == (2, 4096)
    assert len(same.metric("values").values) == 3
    assert "scattering" in {m.name for m in same.metrics}
    assert "increments'" not in same.metric("scattering").description  # stationary
    assert 0.5 < _rel(same, "values") < 2 and _rel(gauss, "values") > 3
    assert _rel(gauss, "increments lag 1") > 2 * _rel(same, "increments lag 1")
    # short pieces: no Hurst/log-volatility; [n] sample: no diversity
    short = evaluate_1d(torch.tensor(fbm(256, 0.5, 0)), torch.tensor(fbm(128, 0.5, 1)))
    names = {m.name for m in short.metrics}
    assert "hurst" not in names and "diversity" not in names and "copy" in names
    assert set(short.to_dict()) >= {"crop_shape", "metrics"}
    assert "spectrum" in short.plots and len(short.plots["s2"]["samples"]) == 4


def test_errors() -> None:
    ex = torch.tensor(fbm(1024, 0.5, 0))
    with pytest.raises(TexsynthError, match=r"samples\[:, None\]"):
        evaluate_1d(ex, torch.zeros(2, 512, dtype=torch.float64))
    with pytest.raises(TexsynthError, match="2 channels but the exemplar has 1"):
        evaluate_1d(ex, torch.zeros(1, 2, 512, dtype=torch.float64))
    with pytest.raises(TexsynthError, match="at least 64"):
        evaluate_1d(ex[:100], torch.zeros(1, 1, 512, dtype=torch.float64))
    with pytest.raises(TexsynthError, match=r"\[C, N\] or \[N\]"):
        evaluate_1d(torch.zeros(1, 1, 1, 1024), torch.zeros(1, 1, 512))
    with pytest.raises(TexsynthError, match="non-finite"):
        evaluate_1d(ex, torch.full((1, 1, 512), float("nan")))
    for bad in (0, -3, 2.5, True):
        with pytest.raises(TexsynthError, match="max_pieces must be a whole number >= 1"):
            evaluate_1d(ex, torch.zeros(1, 1, 512, dtype=torch.float64), max_pieces=bad)


# ----------------------------------------------------------------------------- command line
@pytest.fixture
def walks(tmp_path: Path) -> Path:
    np.save(tmp_path / "walk.npy", fbm(2048, 0.5, 0))
    np.save(tmp_path / "a.npy", fbm(1024, 0.5, 1))
    np.save(tmp_path / "b.npy", fbm(1024, 0.5, 2))
    return tmp_path


def test_cli_stats_prints_scales_and_writes_labelled_json(
    walks: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = walks / "s.json"
    assert main(["stats", str(walks / "walk.npy"), "--J", "6", "--json", str(out)]) == 0
    text = capsys.readouterr().out
    assert "2048 samples, 1 channel" in text and "J=6 scales" in text
    assert "random walk" in text and "orientation" not in text
    assert text.count("\n     5 ") == 1  # one row per scale j = 0 ... 5
    doc = json.loads(out.read_text())
    stats = ScatteringCovariance1D(J=6)(torch.tensor(fbm(2048, 0.5, 0))[None])
    values, labels = stats.flatten()
    assert doc["J"] == 6 and doc["shape_cn"] == [1, 2048]
    assert len(doc["coefficients"]) == len(labels)
    s2 = [c for c in doc["coefficients"] if c["stat"] == "S2"]
    assert [c["j"] for c in s2] == [[j] for j in range(6)]
    assert all(set(c) == {"stat", "part", "channel", "j", "value"} for c in s2)
    np.testing.assert_allclose(
        [c["value"] for c in doc["coefficients"]], values[0].numpy(), rtol=1e-9
    )
    # --norm self and --edge run; image options are refused
    assert main(["stats", str(walks / "a.npy"), "--norm", "self", "--edge"]) == 0
    capsys.readouterr()
    assert main(["stats", str(walks / "a.npy"), "--L", "8"]) == 2
    err = capsys.readouterr().err
    assert "--L" in err and err.count("\n") == 1


def test_cli_stats_signal_flag_reads_2d_array_as_channels(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    np.save(tmp_path / "pair.npy", np.random.default_rng(0).standard_normal((2, 512)))
    assert main(["stats", str(tmp_path / "pair.npy"), "--signal"]) == 0
    text = capsys.readouterr().out
    assert "512 samples, 2 channels" in text and "channel 1:" in text


def test_cli_eval_signals_table_and_json(walks: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = walks / "e.json"
    files = [str(walks / n) for n in ("walk.npy", "a.npy", "b.npy")]
    assert main(["eval", *files, "--json", str(out)]) == 0
    text = capsys.readouterr().out
    assert "vs 2 samples" in text and "pieces of 1024 samples" in text
    for name in ("increments lag 16", "scattering", "diversity", "relative"):
        assert name in text
    doc = json.loads(out.read_text())
    assert doc["signal"] is True and doc["crop_shape"] == [1024]
    rel = {m["name"]: m["relative"] for m in doc["metrics"]}
    assert 0.2 < rel["increments lag 1"] < 5 and 0.2 < rel["scattering"] < 5


def test_cli_eval_refuses_mixed_kinds_channels_and_image_options(
    walks: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    png = tmp_path / "img.png"
    Image.fromarray(np.zeros((64, 64), np.uint8)).save(png)
    np.save(tmp_path / "two.npy", np.zeros((2, 1024)))
    walk, a = str(walks / "walk.npy"), str(walks / "a.npy")
    cases = [
        (["eval", walk, a, str(png)], "is a 1-D signal but"),
        (["eval", str(png), a], "is a 1-D signal but"),
        (["eval", walk, str(tmp_path / "two.npy"), "--signal"], "2 channel(s) but"),
        (["eval", walk, a, "--report", str(tmp_path / "r.html")], "--report"),
        (["eval", walk, a, "--reference", a], "--reference"),
    ]
    for argv, message in cases:
        assert main(argv) == 2, argv
        err = capsys.readouterr().err
        assert message in err and err.count("\n") == 1, (argv, err)


def test_write_report_refuses_a_signal_report(tmp_path: Path) -> None:
    from texsynth import write_report

    walk = torch.randn(1, 4096).cumsum(-1)
    samples = torch.randn(2, 1, 1024).cumsum(-1)
    report = evaluate_1d(walk, samples)
    with pytest.raises(TexsynthError, match="1-D signals"):
        write_report(report, tmp_path / "r.html", walk, samples)
    assert not (tmp_path / "r.html").exists()
