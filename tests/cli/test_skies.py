"""``texsynth synth|stats|eval`` on HEALPix maps (FITS in the HEALPix layout, or .npy with
--healpix), run in-process on small skies."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

hp = pytest.importorskip("healpy")

from texsynth import read_healpix_map, write_healpix_map  # noqa: E402
from texsynth.cli import main  # noqa: E402
from texsynth.io.runs import read_record  # noqa: E402
from texsynth.synthesis.jobs import rerun  # noqa: E402

from ..synthesis.test_sphere import _sky  # noqa: E402


@pytest.fixture
def sky_fits(tmp_path: Path) -> Path:
    p = tmp_path / "sky.fits"
    write_healpix_map(p, _sky(16))
    return p


def _error(args: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    assert main(args) != 0
    err = capsys.readouterr().err.strip()
    assert err.startswith("texsynth: error:") and "\n" not in err, err
    return err


def test_synth_writes_maps_and_a_record_that_reruns(
    sky_fits: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out.fits"
    args = ["synth", str(sky_fits), "-o", str(out), "--n", "2", "--seed", "4", "--steps", "8"]
    assert main([*args, "--quiet"]) == 0
    assert "nside 16" in capsys.readouterr().out
    maps = [read_healpix_map(tmp_path / f"out_{i}.fits") for i in range(2)]
    assert all(m.nside == 16 and m.cell_ids is None for m in maps)
    assert not np.allclose(maps[0].values, maps[1].values)
    # healpy reads our files as nested full skies
    np.testing.assert_allclose(
        hp.read_map(tmp_path / "out_0.fits", nest=True), maps[0].values[0], rtol=1e-6
    )
    record = read_record(tmp_path / "out.json")
    assert record.spec.domain == "sky" and record.settings["nside"] == 16
    assert record.levels[0]["nside"] == 16
    again, _ = rerun(record, progress=False)
    np.testing.assert_array_equal(again[0, 0].numpy(), maps[0].values[0])


def test_synth_leaves_unseen_pixels_out_and_takes_npy_with_healpix(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sky = _sky(16)
    holes = sky.copy()
    holes[:500] = np.nan
    write_healpix_map(tmp_path / "holes.fits", holes)
    assert main(["synth", str(tmp_path / "holes.fits"), "-o", str(tmp_path / "a.fits"),
                 "--seed", "0", "--steps", "5", "--quiet"]) == 0  # fmt: skip
    assert "500 pixels without a value" in capsys.readouterr().out
    assert np.isfinite(read_healpix_map(tmp_path / "a.fits").values).all()
    np.save(tmp_path / "sky.npy", sky)
    assert main(["synth", str(tmp_path / "sky.npy"), "--healpix", "-o", str(tmp_path / "b.npy"),
                 "--seed", "0", "--steps", "5", "--nside", "32", "--quiet"]) == 0  # fmt: skip
    assert np.load(tmp_path / "b.npy").shape[-1] == 12 * 32**2


def test_stats_and_eval(sky_fits: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    js = tmp_path / "stats.json"
    assert main(["stats", str(sky_fits), "--json", str(js)]) == 0
    text = capsys.readouterr().out
    assert "HEALPix nside 16" in text and "S1/sqrt(S2)" in text
    doc = json.loads(js.read_text())
    assert doc["nside"] == 16 and len(doc["coefficients"]) > 10
    assert main(["stats", str(sky_fits), "--iso"]) == 0
    out = tmp_path / "s.fits"
    main(["synth", str(sky_fits), "-o", str(out), "--n", "2", "--seed", "1", "--steps", "8",
          "--quiet"])  # fmt: skip
    rep = tmp_path / "rep.png"
    samples = [str(tmp_path / "s_0.fits"), str(tmp_path / "s_1.fits")]
    assert main(["eval", str(sky_fits), *samples, "--report", str(rep)]) == 0
    text = capsys.readouterr().out
    assert "minkowski V1" in text and "base faces" in text and rep.stat().st_size > 1000


def test_sky_errors_are_one_line(
    sky_fits: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    o = str(tmp_path / "o.fits")
    assert "--size" in _error(["synth", str(sky_fits), "-o", o, "--size", "64"], capsys)
    assert ".png" in _error(["synth", str(sky_fits), "-o", str(tmp_path / "o.png")], capsys)
    assert "power of two" in _error(["synth", str(sky_fits), "-o", o, "--nside", "24"], capsys)
    assert "--nside is for HEALPix" in _error(
        ["synth", str(tmp_path / "x.png"), "-o", str(tmp_path / "y.png"), "--nside", "32"], capsys
    )
    np.save(tmp_path / "sig.npy", np.random.default_rng(0).standard_normal(3072))
    err = _error(["eval", str(sky_fits), str(tmp_path / "sig.npy")], capsys)
    assert "HEALPix map but" in err
    assert not (tmp_path / "o.fits").exists()


def test_synth_takes_the_spectrum_weight_for_skies_only(
    sky_fits: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out.fits"
    args = ["synth", str(sky_fits), "-o", str(out), "--steps", "4", "--spectrum", "0", "--quiet"]
    assert main(args) == 0
    record = read_record(tmp_path / "out.json")
    assert record.spec.options["spectrum"] == 0.0 and record.settings["spectrum"] == 0.0
    again, _ = rerun(record, progress=False)  # the weight is part of the run
    np.testing.assert_array_equal(again[0, 0].numpy(), read_healpix_map(out).values[0])
    capsys.readouterr()
    assert "--power-spectrum" in _error(
        ["synth", str(tmp_path / "x.png"), "-o", str(tmp_path / "y.png"), "--spectrum", "2"],
        capsys,
    )
    with pytest.raises(SystemExit):  # (argparse's own one-line error)
        main(["synth", str(sky_fits), "-o", str(out), "--spectrum", "-1"])
    assert "must be a finite number" in capsys.readouterr().err


def test_skies_are_gaussianised_unless_told(
    sky_fits: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out.fits"
    assert main(["synth", str(sky_fits), "-o", str(out), "--steps", "2", "--quiet"]) == 0
    record = read_record(tmp_path / "out.json")
    assert record.spec.options["to_gaussian"] is True and record.settings["to_gaussian"] is True
    off = tmp_path / "off.fits"
    args = ["synth", str(sky_fits), "-o", str(off), "--steps", "2", "--quiet", "--no-to-gaussian"]
    assert main(args) == 0
    assert read_record(tmp_path / "off.json").settings["to_gaussian"] is False
    assert not np.array_equal(read_healpix_map(out).values, read_healpix_map(off).values)
    both = ["synth", str(sky_fits), "-o", str(tmp_path / "b.fits"), "--to-gaussian"]
    assert "not both" in _error([*both, "--no-to-gaussian"], capsys)
    img = ["synth", str(tmp_path / "x.png"), "-o", str(tmp_path / "y.png"), "--no-to-gaussian"]
    assert "--no-to-gaussian is for HEALPix" in _error(img, capsys)
    assert not (tmp_path / "b.fits").exists()


def test_synth_writes_the_input_ordering(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sky = _sky(16)
    ring = tmp_path / "ring.fits"
    hp.write_map(ring, hp.reorder(sky, n2r=True), dtype=np.float64)  # healpy's default: RING
    out = tmp_path / "out.fits"
    assert main(["synth", str(ring), "-o", str(out), "--steps", "2", "--seed", "0", "--quiet"]) == 0
    assert "RING" in capsys.readouterr().out
    header = dict(hp.read_map(out, h=True)[1])
    assert header["ORDERING"] == "RING"
    nested = read_healpix_map(out).values[0]  # the same map as healpy's RING reading
    np.testing.assert_array_equal(hp.reorder(hp.read_map(out), r2n=True), nested)
    npy = tmp_path / "out.npy"  # no header: written NESTED, as --healpix reads it
    assert main(["synth", str(ring), "-o", str(npy), "--steps", "2", "--seed", "0", "--quiet"]) == 0
    np.testing.assert_array_equal(np.load(npy), nested)


def test_stats_names_ring_files_and_notes_q_u_columns(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sky = _sky(16)
    ring = tmp_path / "ring.fits"
    hp.write_map(ring, hp.reorder(sky, n2r=True), dtype=np.float64)
    assert main(["stats", str(ring), "--J", "2"]) == 0
    text = capsys.readouterr().out
    assert "RING file, computed in nested order" in text and "note:" not in text
    qu = tmp_path / "qu.fits"
    write_healpix_map(qu, np.stack([sky, sky[::-1].copy()]))  # Q_POLARISATION, U_POLARISATION
    assert main(["stats", str(qu), "--J", "2"]) == 0
    assert "Q and U columns are treated as scalar maps" in capsys.readouterr().out


def test_synth_refuses_a_mask_of_another_nside_in_one_line(
    sky_fits: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    mask = tmp_path / "mask.fits"
    write_healpix_map(mask, np.ones(12 * 32**2))
    out = tmp_path / "o.fits"
    err = _error(["synth", str(sky_fits), "-o", str(out), "--mask", str(mask)], capsys)
    assert "has nside 32, the input nside 16" in err
    assert not out.exists() and not (tmp_path / "o.json").exists()


def test_a_closed_output_pipe_ends_quietly(sky_fits: Path) -> None:
    import os
    import subprocess
    import sys

    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2] / "src")}
    with subprocess.Popen(
        [sys.executable, "-m", "texsynth", "stats", str(sky_fits), "--J", "2"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    ) as proc:
        assert proc.stdout is not None and proc.stderr is not None
        proc.stdout.close()  # the reader goes away before anything is printed (| head)
        err = proc.stderr.read().decode()
        assert proc.wait(timeout=120) == 1
    assert "Traceback" not in err and "BrokenPipe" not in err, err
