"""``texsynth synth`` with the method chosen by ``auto`` and the ``--quality`` presets
(issue 15 on the command line), on tiny files."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from texsynth.cli import main


@pytest.fixture
def files(tmp_path: Path) -> Path:
    rng = np.random.default_rng(0)
    Image.fromarray((rng.random((24, 24, 3)) * 255).astype(np.uint8)).save(tmp_path / "p.png")
    np.save(tmp_path / "f.npy", rng.standard_normal((24, 24)).astype(np.float32))
    return tmp_path


def _run(argv: list[str]) -> int:
    try:
        return main(argv)
    except SystemExit as exc:  # argparse
        return int(exc.code or 0)


def test_auto_picks_patch_for_a_photo_and_records_why(
    files: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = files / "o.png"
    assert main(["synth", str(files / "p.png"), "-o", str(out), "--quiet", "--seed", "1"]) == 0
    first = capsys.readouterr().out.splitlines()[0]
    assert first.startswith("texsynth: patch (a photo") and "quality default" in first
    assert "about" in first and "24x24" in first
    doc = json.loads((files / "o.json").read_text())
    assert doc["method"] == "patch" and "photo" in doc["method_reason"]
    assert doc["quality"] == "default" and doc["settings"]["method_option"] == "auto"


@pytest.mark.parametrize("quality", ["fast", "best"])
def test_auto_picks_scattering_for_a_float_field(
    quality: str, files: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = files / "o.npy"
    argv = ["synth", str(files / "f.npy"), "-o", str(out), "--quiet", "--quality", quality]
    assert main([*argv, "--steps", "2", "--levels", "1"]) == 0
    assert capsys.readouterr().out.startswith("texsynth: scattering (a field")
    doc = json.loads((files / "o.json").read_text())
    assert doc["method"] == "scattering" and "field" in doc["method_reason"]
    assert doc["quality"] == quality and doc["settings"]["steps"] == 2


@pytest.mark.parametrize(
    ("extra", "match"),
    [
        (["--quality", "ultra"], "invalid choice: 'ultra'"),
        (["--method", "patch", "--steps", "5"], "--steps: option of the optimisation"),
        (["--method", "patch", "--J", "2", "--layers", "pool1"], "--J, --layers"),
    ],
)
def test_refused_in_one_line(
    extra: list[str], match: str, files: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _run(["synth", str(files / "p.png"), "-o", str(files / "o.png"), *extra]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and match in err, err
    assert not (files / "o.png").exists()


def test_auto_with_an_optimisation_option_runs_scattering(
    files: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["synth", str(files / "p.png"), "-o", str(files / "o.png"), "--quiet"]
    assert main([*argv, "--steps", "2", "--levels", "1", "--quality", "fast"]) == 0
    assert capsys.readouterr().out.startswith("texsynth: scattering (--steps, --levels given")
    doc = json.loads((files / "o.json").read_text())
    assert doc["method"] == "scattering" and "--steps" in doc["method_reason"]


def test_patch_and_methods_listing(files: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = files / "q.png"
    assert (
        main(["synth", str(files / "p.png"), "-o", str(out), "--method", "patch", "--quiet"]) == 0
    )
    assert json.loads((files / "q.json").read_text())["method_reason"] == "given with --method"
    capsys.readouterr()
    assert main(["methods"]) == 0
    text = capsys.readouterr().out
    names = [line.split()[0] for line in text.splitlines() if line and not line[0].isspace()]
    assert names[:2] == ["auto", "patch"] and "scattering" in names
    assert "auto is the default" in text and "gram+spectrum" in text
