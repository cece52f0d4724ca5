"""The ``texsynth`` command, run as a user would (in-process, on tiny files)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import tifffile
from PIL import Image

from texsynth.cli import main


def _texture(n: int = 48, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((n, n))
    k = np.fft.fftfreq(n)
    spec = np.exp(-((k[None, :] - 0.15) ** 2 + k[:, None] ** 2) / 0.003)
    y = np.fft.ifft2(np.fft.fft2(z) * (spec + np.exp(-(k[None] ** 2 + k[:, None] ** 2) / 0.003)))
    y = np.maximum(y.real / y.real.std() - 0.3, 0)
    return y / y.max()


def _pixels(path: Path) -> np.ndarray:
    with Image.open(path) as im:
        return np.asarray(im)


@pytest.fixture
def grey_png(tmp_path: Path) -> Path:
    p = tmp_path / "ex.png"
    Image.fromarray((_texture() * 255).astype(np.uint8)).save(p)
    return p


def test_synth_writes_image_and_sidecar(grey_png: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.png"
    assert (
        main(
            [
                "synth",
                str(grey_png),
                "-o",
                str(out),
                "--seed",
                "3",
                "--method",
                "scattering",
                "--steps",
                "15",
                "--quiet",
            ]
        )
        == 0
    )
    with Image.open(out) as img:
        assert img.size == (48, 48) and img.mode == "L"
    meta = json.loads((tmp_path / "out.json").read_text())
    assert meta["seed"] == 3 and meta["outputs"] == [str(out)]
    assert meta["settings"]["tile"] is True and meta["levels"][-1]["size_hw"] == [48, 48]


def test_synth_random_seed_is_recorded_and_reproduces(grey_png: Path, tmp_path: Path) -> None:
    a = tmp_path / "a.png"
    assert (
        main(
            [
                "synth",
                str(grey_png),
                "-o",
                str(a),
                "--method",
                "scattering",
                "--steps",
                "10",
                "--quiet",
            ]
        )
        == 0
    )
    seed = json.loads((tmp_path / "a.json").read_text())["seed"]
    b = tmp_path / "b.png"
    assert (
        main(
            [
                "synth",
                str(grey_png),
                "-o",
                str(b),
                "--method",
                "scattering",
                "--steps",
                "10",
                "--quiet",
                "--seed",
                str(seed),
            ]
        )
        == 0
    )
    assert np.array_equal(_pixels(a), _pixels(b))


def test_synth_many_outputs_and_size(grey_png: Path, tmp_path: Path) -> None:
    pattern = tmp_path / "t_{i}.png"
    assert (
        main(
            [
                "synth",
                str(grey_png),
                "-o",
                str(pattern),
                "--n",
                "2",
                "--size",
                "64x40",
                "--seed",
                "0",
                "--method",
                "scattering",
                "--steps",
                "10",
                "--quiet",
            ]
        )
        == 0
    )
    for i in range(2):
        assert _pixels(tmp_path / f"t_{i}.png").shape == (40, 64)
    plain = tmp_path / "u.png"
    assert (
        main(
            [
                "synth",
                str(grey_png),
                "-o",
                str(plain),
                "--n",
                "2",
                "--seed",
                "0",
                "--method",
                "scattering",
                "--steps",
                "10",
                "--quiet",
            ]
        )
        == 0
    )
    assert (tmp_path / "u_0.png").exists() and (tmp_path / "u_1.png").exists()


def test_synth_float_field_and_16bit(tmp_path: Path) -> None:
    field = (_texture() * 40 - 7).astype(np.float32)
    src = tmp_path / "f.npy"
    np.save(src, field)
    out = tmp_path / "g.npy"
    assert (
        main(
            [
                "synth",
                str(src),
                "-o",
                str(out),
                "--seed",
                "0",
                "--method",
                "scattering",
                "--steps",
                "10",
                "--quiet",
            ]
        )
        == 0
    )
    arr = np.load(out)
    assert arr.dtype == np.float32 and arr.shape == (48, 48)
    assert abs(arr.mean() - field.mean()) < 0.2 * field.std()
    tif = tmp_path / "h.tif"
    tifffile.imwrite(tif, (_texture() * 60000).astype(np.uint16))
    out16 = tmp_path / "h_out.tif"
    assert (
        main(
            [
                "synth",
                str(tif),
                "-o",
                str(out16),
                "--seed",
                "0",
                "--method",
                "scattering",
                "--steps",
                "10",
                "--quiet",
            ]
        )
        == 0
    )
    assert tifffile.imread(out16).dtype == np.uint16
    jpg = tmp_path / "h_out.jpg"  # JPEG cannot hold 16 bits: written as 8-bit, no error
    assert (
        main(
            [
                "synth",
                str(tif),
                "-o",
                str(jpg),
                "--seed",
                "0",
                "--method",
                "scattering",
                "--steps",
                "10",
                "--quiet",
            ]
        )
        == 0
    )
    with Image.open(jpg) as im:
        assert im.mode == "L"
    png = tmp_path / "f.png"
    assert (
        main(
            [
                "synth",
                str(src),
                "-o",
                str(png),
                "--seed",
                "0",
                "--method",
                "scattering",
                "--steps",
                "10",
                "--quiet",
            ]
        )
        == 0
    )
    with Image.open(png) as im:
        assert im.mode == "L"


def test_synth_inpainting_with_mask(grey_png: Path, tmp_path: Path) -> None:
    mask = np.zeros((48, 48), np.uint8)
    mask[16:32, 16:32] = 255
    mpath = tmp_path / "m.png"
    Image.fromarray(mask).save(mpath)
    out = tmp_path / "filled.png"
    assert (
        main(
            [
                "synth",
                str(grey_png),
                "-o",
                str(out),
                "--mask",
                str(mpath),
                "--seed",
                "0",
                "--method",
                "scattering",
                "--steps",
                "10",
                "--quiet",
            ]
        )
        == 0
    )
    a, b = _pixels(grey_png), _pixels(out)
    assert np.array_equal(a[mask == 0], b[mask == 0])


@pytest.mark.parametrize(
    ("args", "match"),
    [
        (["synth", "missing.png", "-o", "x.png"], "file not found"),
        (["synth", "{png}", "-o", "{tmp}/no/dir/x.png"], "does not exist"),
        (["synth", "{png}", "-o", "{tmp}/x.png", "--device", "cuda:0"], "cuda"),
        (["stats", "{png}", "--J", "9"], "too small for J=9"),
    ],
)
def test_errors_are_one_line(
    args: list[str], match: str, grey_png: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    args = [a.replace("{png}", str(grey_png)).replace("{tmp}", str(tmp_path)) for a in args]
    if "cuda" in match:
        import torch

        if torch.cuda.is_available():
            pytest.skip("a GPU is present")
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("texsynth: error:") and match in err and "\n" not in err
    assert not (tmp_path / "x.png").exists()


def test_stats_prints_and_writes_json(grey_png: Path, tmp_path: Path, capsys) -> None:  # noqa: ANN001
    js = tmp_path / "s.json"
    assert main(["stats", str(grey_png), "--json", str(js)]) == 0
    text = capsys.readouterr().out
    assert "S2" in text and "period px" in text
    doc = json.loads(js.read_text())
    assert doc["J"] == 3 and doc["L"] == 4
    stats = {c["stat"] for c in doc["coefficients"]}
    assert stats == {"S0", "S1", "S2", "S3", "S4"}
    assert main(["stats", str(grey_png), "--iso"]) == 0
