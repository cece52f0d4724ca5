"""evaluate_healpix: HEALPix syntheses graded against real sky (faces or whole maps)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from texsynth.errors import TexsynthError

hp = pytest.importorskip("healpy")

from texsynth.domains.healpix import neighbour_table  # noqa: E402
from texsynth.evaluation_healpix import (  # noqa: E402
    NU,
    base_faces,
    evaluate_healpix,
    face_order,
    write_healpix_report,
)
from texsynth.metrics.minkowski import gaussian_v0, minkowski_functionals  # noqa: E402

NSIDE = 32
LMAX = 3 * NSIDE - 1
ELL = np.arange(LMAX + 1)
#: a spectrum with a correlation length of a few pixels (faces nearly independent)
CL = np.where(ELL >= 2, np.exp(-((ELL / 40.0) ** 2)) / (ELL + 5.0), 0.0)


def gaussian_maps(n: int, seed: int, cl: np.ndarray = CL, nside: int = NSIDE) -> torch.Tensor:
    """``[n, 1, npix]`` Gaussian random fields of spectrum ``cl`` (NESTED)."""
    rng = np.random.default_rng(seed)
    lmax = len(cl) - 1
    ell, m = hp.Alm.getlm(lmax)
    maps = []
    for _ in range(n):
        re, im = rng.standard_normal(ell.size), rng.standard_normal(ell.size)
        alm = np.where(m == 0, re + 0j, (re + 1j * im) / math.sqrt(2)) * np.sqrt(cl[ell])
        maps.append(hp.reorder(hp.alm2map(alm, nside, lmax=lmax), r2n=True))
    return torch.as_tensor(np.stack(maps))[:, None]


@pytest.fixture(scope="module")
def skies() -> torch.Tensor:
    return gaussian_maps(5, seed=1)


def test_faces_are_pixel_grids() -> None:
    nside = 16
    order = face_order(nside).reshape(nside, nside)
    nb = neighbour_table(nside)
    for f in (0, 5, 9):
        img = order + f * nside * nside
        for y, x in ((1, 1), (7, 9), (14, 3)):
            grid = {int(img[y + dy, x + dx]) for dy in (-1, 0, 1) for dx in (-1, 0, 1) if dy or dx}
            assert grid == set(nb[int(img[y, x])].tolist())
    x = torch.arange(12 * nside**2, dtype=torch.float64)[None, None]
    faces = base_faces(x)
    assert faces.shape == (1, 12, 1, nside, nside)
    assert sorted(faces.flatten().tolist()) == x.flatten().tolist()


def test_v0_matches_the_gaussian_formula_and_v1_v2_their_shapes(skies: torch.Tensor) -> None:
    z = (skies - skies.mean(-1, keepdim=True)) / skies.std(-1, keepdim=True)
    v = minkowski_functionals(base_faces(z), NU).mean((0, 1, 2))  # [3, T]
    assert torch.allclose(v[0], gaussian_v0(NU), atol=0.015)
    g = torch.exp(-(NU**2) / 2)
    assert float(torch.corrcoef(torch.stack([v[1], g]))[0, 1]) > 0.99
    # Gaussian kinematic formula in a window (a base face): area term nu g, plus edge (g)
    # and corner (V0) terms from excursions cut by the face's edges
    basis = torch.stack([NU * g, g, gaussian_v0(NU)], 1)
    fit = torch.linalg.lstsq(basis, v[2][:, None]).solution[:, 0]
    resid = v[2] - basis @ fit
    assert float(1 - resid.var() / v[2].var()) > 0.99
    assert float(fit[0]) > 2 * abs(float(fit[1])) and float(fit[0]) > 0
    # a square of 2x2 pixels above threshold: area 4, 8 crossing edges, one component
    sq = torch.zeros(6, 6, dtype=torch.float64)
    sq[2:4, 2:4] = 1.0
    v = minkowski_functionals(sq, torch.tensor([0.5]))[..., 0] * 36
    assert torch.allclose(v, torch.tensor([4.0, 8 * math.pi / 16, 1.0], dtype=torch.float64))
    ring = torch.ones(5, 5, dtype=torch.float64)
    ring[2, 2] = 0.0  # one component with one hole
    assert float(minkowski_functionals(ring, torch.tensor([0.5]))[2, 0]) == 0.0


def test_another_realisation_scores_about_one(skies: torch.Tensor) -> None:
    report = evaluate_healpix(skies[0, 0], skies[1:4])
    assert report.crop_shape == (NSIDE**2,)
    assert report.plots["compared_on"] == "the 12 HEALPix base faces"
    for name in ("spectrum", "minkowski V0", "minkowski V1", "minkowski V2", "peaks", "copy"):
        rel = report.metric(name).relative
        assert rel is not None and 0.75 < rel < 1.3, (name, rel)
    assert report.metric("diversity").relative == pytest.approx(1.0, abs=0.1)
    doc = json.loads(json.dumps(report.to_dict()))
    assert {m["name"] for m in doc["metrics"]} >= {"values (optimised)", "minkowski V2"}
    assert "values (optimised)" in report.table()


def test_white_noise_and_oversmoothed_maps_score_far(skies: torch.Tensor) -> None:
    white = torch.as_tensor(np.random.default_rng(3).standard_normal((2, 1, 12 * NSIDE**2)))
    report = evaluate_healpix(skies[0], white)
    for name in ("spectrum", "minkowski V1", "minkowski V2", "peaks"):
        assert report.metric(name).relative > 2.0, name
    smooth = gaussian_maps(2, seed=4, cl=CL * np.exp(-((ELL / 12.0) ** 2)))
    report = evaluate_healpix(skies[0], smooth)
    for name, least in (("spectrum", 3.0), ("minkowski V1", 2.0), ("minkowski V2", 1.5)):
        assert report.metric(name).relative > least, name
    assert report.metric("peaks").relative > 1.4


def test_copies_are_flagged(skies: torch.Tensor) -> None:
    npix = 12 * NSIDE**2
    theta, phi = hp.pix2ang(NSIDE, np.arange(npix), nest=True)
    turned = hp.ang2pix(NSIDE, np.pi - theta, phi + np.pi / 2, nest=True)  # a sky symmetry
    rotated = torch.empty_like(skies[0])
    rotated[..., turned] = skies[0]
    samples = torch.stack([skies[0], rotated, skies[1]])
    copy = evaluate_healpix(skies[0], samples).metric("copy")
    assert copy.values[0] < 1e-6 and copy.values[1] < 1e-6
    assert copy.values[2] / copy.baseline > 0.75


def test_several_exemplar_maps_are_compared_whole(skies: torch.Tensor) -> None:
    report = evaluate_healpix(skies[:3], skies[3:])
    assert report.exemplar_shape == (3, 1, 12 * NSIDE**2)
    assert report.plots["compared_on"] == "whole maps"
    for name in ("spectrum", "minkowski V1", "minkowski V2", "scattering (optimised)"):
        rel = report.metric(name).relative
        assert rel is not None and 0.5 < rel < 2.0, (name, rel)
    white = torch.as_tensor(np.random.default_rng(5).standard_normal((1, 1, 12 * NSIDE**2)))
    far = evaluate_healpix(skies[:3], white, scattering=False)
    assert far.metric("spectrum").relative > 3.0
    with pytest.raises(KeyError):
        far.metric("scattering (optimised)")


def test_report_picture(skies: torch.Tensor, tmp_path) -> None:
    report = evaluate_healpix(skies[0], skies[1:3])
    path = write_healpix_report(report, tmp_path / "eval.png", skies[0], skies[1:3])
    from PIL import Image

    with Image.open(path) as im:
        assert im.width >= 1100 and im.height > 600
    with pytest.raises(TexsynthError, match="png"):
        write_healpix_report(report, tmp_path / "eval.jpg", skies[0], skies[1:3])


def test_errors_are_one_line(skies: torch.Tensor) -> None:
    coarse = gaussian_maps(1, seed=2, cl=CL[: 3 * 16], nside=16)
    cases = [
        (torch.randn(1000), skies[1:2], "1000 pixels"),
        (skies[0], skies[1, 0, :10], "10 pixels"),
        (skies[0], coarse, "nside 16 but the exemplar nside 32"),
        (torch.randn(2, 12 * NSIDE**2), skies[1:3], "channels"),
        (torch.randn(12 * 8**2), torch.randn(1, 1, 12 * 8**2), "nside >= 16"),
        (skies[0], skies[1], r"\[S, C, npix\]"),
    ]
    for ex, xs, words in cases:
        with pytest.raises(TexsynthError, match=words) as err:
            evaluate_healpix(ex, xs)
        assert "\n" not in str(err.value)
    nan = skies[1:2].clone()
    nan[0, 0, 3] = math.nan
    with pytest.raises(TexsynthError, match="NaN"):
        evaluate_healpix(skies[0], nan)
