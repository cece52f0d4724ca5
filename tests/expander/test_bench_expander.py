"""A small run of benchmarks/bench_expander.py: the protocol graded end to end."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

pytest.importorskip("skimage")
pytest.importorskip("scipy")

BENCH = Path(__file__).resolve().parents[2] / "benchmarks"
sys.path.insert(0, str(BENCH))

import bench_expander as be  # noqa: E402


def test_real_scores_one_and_tiling_is_flagged_as_a_copy(tmp_path: Path) -> None:
    out = tmp_path / "rows.json"
    report = tmp_path / "table.md"
    argv = ["--size", "64", "--exemplars", "brick", "--methods", "real,tiling,mean fill"]
    argv += ["--families", "spectrum,histogram", "--json", str(out), "--report", str(report)]
    assert be.main(argv) == 0
    rows = {r["method"]: r for r in json.loads(out.read_text())}
    real, tiled, flat = rows["real"], rows["tiling"], rows["mean fill"]
    assert real["ssim"] == pytest.approx(1.0) and real["ssim_border"] == pytest.approx(1.0)
    assert 0.3 < real["worst"] < 3.0  # a real crop is about as close as another real crop
    assert tiled["copy"] < 0.1 < 0.3 < real["copy"]  # tiling pastes the input
    assert flat["spectrum"] > 5 * real["spectrum"]  # a flat border is no texture
    assert flat["ssim_border"] < flat["ssim"] < 1.0
    assert "| tiling | 1 |" in report.read_text()


def test_named_expander_models_are_benchmarked(tmp_path: Path) -> None:
    import torch

    from texsynth.expander.model import ExpanderConfig, TransposerExpander, save_expander

    torch.manual_seed(0)
    path = tmp_path / "sel.safetensors"
    save_expander(TransposerExpander(ExpanderConfig(candidates=6)), path)
    out = tmp_path / "rows.json"
    argv = ["--size", "64", "--exemplars", "brick", "--methods", "tiling"]
    argv += ["--families", "spectrum,histogram", "--json", str(out), "--model", f"sel={path}"]
    assert be.main(argv) == 0
    rows = {r["method"]: r for r in json.loads(out.read_text())}
    assert set(rows) == {"tiling", "sel"}
    # pieces of the input, but not one pasted whole: less of a copy than tiling
    assert rows["sel"]["copy"] > rows["tiling"]["copy"]
    assert rows["sel"]["spectrum"] < 3.0
