"""Fast checks of benchmarks/bench_quality.py: exemplar splitting and score normalisation."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("plenoptic")
pytest.importorskip("scipy")

BENCH = Path(__file__).resolve().parent.parent / "benchmarks"
sys.path.insert(0, str(BENCH))

import bench_quality as bq  # noqa: E402
import quality_exemplars as qe  # noqa: E402
import quality_metrics as qm  # noqa: E402


def _overlaps(src: np.ndarray, a: np.ndarray, b: np.ndarray) -> bool:
    """Whether two crops of ``src`` share a pixel position (found by exact matching)."""
    size = a.shape[-1]
    pos = []
    for crop in (a, b):
        for i in range(0, src.shape[1] - size + 1):
            for j in range(0, src.shape[2] - size + 1):
                if np.array_equal(src[:, i : i + size, j : j + size], crop):
                    pos.append((i, j))
                    break
            else:
                continue
            break
    (ia, ja), (ib, jb) = pos
    return abs(ia - ib) < size and abs(ja - jb) < size


def test_split_gives_disjoint_crops() -> None:
    rng = np.random.default_rng(0)
    src = rng.uniform(size=(1, 48, 48))
    target, held, extra = qe.split_crops(qe.grid_crops(src, 16))
    assert len(held) >= 3 and extra is not None
    for c in [*held, extra]:
        assert c.shape == target.shape
        assert not _overlaps(src, target, c)
    with pytest.raises(ValueError):
        qe.split_crops(qe.grid_crops(src[:, :32, :16], 16))  # only 2 crops


@pytest.mark.parametrize("name", ["voronoi", "lognormal"])
def test_procedural_exemplar(name: str) -> None:
    ex = qe.load(name, 32)
    assert ex.target.shape[-2:] == (32, 32)
    assert len(ex.held) >= 3 and ex.extra is not None
    for c in [ex.target, *ex.held, ex.extra]:
        assert c.min() >= 0 and c.max() <= 1
        assert not np.array_equal(c, ex.target) or c is ex.target


def test_at_least_24_exemplars_in_three_groups() -> None:
    assert len(qe.EXEMPLARS) >= 24
    for g in qe.GROUPS:
        assert sum(v == g for v in qe.EXEMPLARS.values()) >= 7


def test_spreads_floor_and_zdistance() -> None:
    real = {"a": np.array([[0.0, 1.0, 5.0], [2.0, 1.0, 5.0], [4.0, 1.0, 5.0]])}
    sd = qm.spreads(real)
    assert sd["a"][0] == pytest.approx(2.0)
    assert sd["a"][1] > 0 and sd["a"][1] == sd["a"][2]  # constant statistics: floored
    x = {"a": np.array([[2.0, 1.0, 5.0]])}
    assert qm.zdistance(x, real, sd, 0, 0) == pytest.approx(np.sqrt(1 / 3))


def test_family_score_is_one_for_a_typical_real_crop() -> None:
    """Spectrum family on i.i.d. crops: a fresh crop scores about 1, a scaled one more."""
    rng = np.random.default_rng(1)
    crops = [rng.standard_normal((1, 32, 32)) * 0.1 + 0.5 for _ in range(12)]
    fam = qm.make_family("spectrum")
    fam.fit(crops[0], crops[1:8])
    fresh = fam.score(crops[8:])
    assert 0.6 < float(np.mean(fresh)) < 1.6
    bad = fam.score([(crops[9] - 0.5) * 4 + 0.5])[0]
    assert bad > 3 * float(np.mean(fresh))
    assert fam.score([crops[0]])[0] == 0


def test_optimised_families_and_headline() -> None:
    assert bq.optimised("scattering") == {"c", "d", "e"}
    assert bq.optimised("gram+spectrum") == {"b", "c", "d"}
    assert bq.optimised("0.5*swd+scattering") == {"b", "c", "d", "e"}
    assert bq.optimised("patch") == set()
    scores = {"ps": 1.2, "gram": 9.0, "spectrum": 3.0, "histogram": 0.1, "copy": 0.01}
    assert qm.headline(scores, bq.optimised("gram")) == (1.2, "ps")
    assert qm.headline(scores, set()) == (9.0, "gram")
