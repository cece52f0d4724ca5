"""``texsynth synth|stats|eval MAP.fits --spin 2``: Stokes Q/U polarisation maps on the
command line, run in-process on nside-16 skies."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

hp = pytest.importorskip("healpy")

from texsynth import read_healpix_map  # noqa: E402
from texsynth.cli import main  # noqa: E402
from texsynth.io.healpix_map import HealpixMap  # noqa: E402
from texsynth.io.healpix_stokes import qu_columns, select_qu  # noqa: E402
from texsynth.io.runs import read_record  # noqa: E402
from texsynth.stats.healpix import HealpixScatteringCovariance  # noqa: E402
from texsynth.synthesis.jobs import rerun  # noqa: E402

NSIDE = 16
COLUMNS = ["I_STOKES", "Q_STOKES", "U_STOKES"]


def _iqu(nside: int = NSIDE, seed: int = 3) -> np.ndarray:
    """``[3, npix]`` RING (I, Q, U) of CMB-like TT/EE/BB/TE spectra (healpy.synfast)."""
    ell = np.arange(3 * nside)
    cl = np.zeros(3 * nside)
    cl[2:] = ell[2:] ** -2.0
    np.random.seed(seed)  # noqa: NPY002 (healpy.synfast draws from the global generator)
    return np.asarray(hp.synfast([10 * cl, cl, 0.1 * cl, 0.5 * cl], nside, new=True, pol=True))


@pytest.fixture
def iqu_fits(tmp_path: Path) -> Path:
    p = tmp_path / "iqu.fits"
    hp.write_map(p, _iqu(), column_names=COLUMNS, column_units="K_CMB", dtype=np.float64)
    return p


def _error(args: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    """The one-line error of a failing command (argparse's exit included)."""
    try:
        code = main(args)
    except SystemExit as exc:
        code = exc.code  # type: ignore[assignment]
    assert code not in (0, None)
    err = capsys.readouterr().err.strip()
    assert err.startswith("texsynth: error:") and "\n" not in err, err
    return err


def test_synth_spin2_writes_q_u_in_the_input_layout_and_reruns(
    iqu_fits: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out.fits"
    args = ["synth", str(iqu_fits), "-o", str(out), "--spin", "2", "--n", "2", "--seed", "5"]
    assert main([*args, "--steps", "8", "--quiet"]) == 0
    text = capsys.readouterr().out
    assert "Q, U as one spin-2 field" in text and "RING" in text
    assert "I_STOKES left out" in text and "treated as scalar maps" not in text
    maps = [read_healpix_map(tmp_path / f"out_{i}.fits") for i in range(2)]
    for m in maps:  # Q and U only, their names and units, the input's ordering
        assert m.column_names == ("Q_STOKES", "U_STOKES") and m.units == ("K_CMB", "K_CMB")
        assert m.file_ordering == "RING" and m.nside == NSIDE and m.values.shape == (2, 3072)
        assert np.isfinite(m.values).all()
    assert not np.allclose(maps[0].values, maps[1].values)
    q, u = hp.read_map(tmp_path / "out_0.fits", field=(0, 1))  # healpy reads RING Q, U
    np.testing.assert_allclose(hp.reorder(q, r2n=True), maps[0].values[0], rtol=1e-12)
    np.testing.assert_allclose(hp.reorder(u, r2n=True), maps[0].values[1], rtol=1e-12)
    # the polarised amplitude keeps the exemplar's scale (the spin-2 loop's one factor)
    ex = select_qu(read_healpix_map(iqu_fits), "iqu")[0].values
    rms = [np.sqrt((v**2).sum(0).mean()) for v in (ex, maps[0].values)]
    assert 0.5 < rms[1] / rms[0] < 2
    record = read_record(tmp_path / "out.json")
    assert record.spec.options["spin"] == 2 and record.settings["spin"] == 2
    assert record.settings["to_gaussian"] is False and record.settings["histogram"] is None
    assert record.settings["spectrum"] == 10.0  # (the E/B spectrum term's spin-2 default)
    assert record.settings["amplitude"] == 1.0  # (the |Q + iU| term's default)
    again, _ = rerun(record, progress=False)  # a rerun reads Q, U by name again
    assert tuple(again.shape) == (2, 2, 3072)
    np.testing.assert_array_equal(again[0].numpy(), maps[0].values)


@pytest.mark.parametrize("flag", ["--spectrum", "--amplitude"])
def test_synth_spin2_takes_the_weights_of_its_terms(
    iqu_fits: Path, tmp_path: Path, flag: str
) -> None:
    out = tmp_path / "o.fits"
    args = ["synth", str(iqu_fits), "-o", str(out), "--spin", "2", "--seed", "1", "--quiet"]
    key = flag.removeprefix("--")
    assert main([*args, "--steps", "4", flag, "0"]) == 0
    off = read_healpix_map(out).values
    assert read_record(tmp_path / "o.json").settings[key] == 0.0
    assert main([*args, "--steps", "4", flag, "30"]) == 0
    assert read_record(tmp_path / "o.json").settings[key] == 30.0
    assert not np.allclose(read_healpix_map(out).values, off)  # the term acts


def test_amplitude_is_refused_without_spin2(
    iqu_fits: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "o.fits"
    err = _error(["synth", str(iqu_fits), "-o", str(out), "--amplitude", "2"], capsys)
    assert "add --spin 2 or drop --amplitude" in err
    np.save(tmp_path / "img.npy", np.random.default_rng(0).random((32, 32)))
    err = _error(["synth", str(tmp_path / "img.npy"), "-o", str(out), "--amplitude", "2"], capsys)
    assert "drop it for images and signals" in err
    assert not out.exists()


def test_stats_spin2_prints_and_writes_the_spin2_statistics(
    iqu_fits: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    js = tmp_path / "st.json"
    assert main(["stats", str(iqu_fits), "--spin", "2", "--J", "3", "--json", str(js)]) == 0
    text = capsys.readouterr().out
    assert "spin 2: Q = Q_STOKES, U = U_STOKES" in text and "I_STOKES left out" in text
    assert "amplitude |Q + iU|" in text and "field 1" not in text
    doc = json.loads(js.read_text())
    assert doc["spin"] == 2 and doc["columns"] == ["Q_STOKES", "U_STOKES"] and doc["fields"] == 1
    qu = torch.from_numpy(read_healpix_map(iqu_fits, field=["Q_STOKES", "U_STOKES"]).values)
    want = HealpixScatteringCovariance(L=4, spin=2)(qu[None], J=3)
    values, _ = want.flatten()
    got = [c["value"] for c in doc["coefficients"]]
    assert len(got) == values.shape[1]
    np.testing.assert_allclose(
        np.array(got, dtype=float), values[0].numpy().astype(float), rtol=1e-9
    )
    # the scalar reading of the same columns gives other statistics (and says so)
    assert main(["stats", str(iqu_fits), "--J", "3"]) == 0
    assert "for spin-2 statistics and synthesis of (Q, U) use --spin 2" in capsys.readouterr().out


def test_spin2_takes_a_two_row_npy_with_healpix(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    iqu = _iqu()
    np.save(tmp_path / "qu.npy", np.stack([hp.reorder(m, r2n=True) for m in iqu[1:]]))
    out = tmp_path / "o.npy"
    cmd = ["synth", str(tmp_path / "qu.npy"), "--healpix", "--spin", "2", "-o", str(out)]
    assert main([*cmd, "--steps", "4", "--seed", "0", "--quiet"]) == 0
    assert np.load(out).shape == (2, 3072) and "NESTED" in capsys.readouterr().out
    fits = tmp_path / "o.fits"  # Q, U of a .npy written as FITS get Stokes names
    cmd[-1] = str(fits)
    assert main([*cmd, "--steps", "2", "--seed", "0", "--quiet"]) == 0
    assert read_healpix_map(fits).column_names == ("Q_POLARISATION", "U_POLARISATION")
    np.save(tmp_path / "iqu.npy", iqu)  # three rows: which are Q and U is not known
    bad = ["stats", str(tmp_path / "iqu.npy"), "--healpix", "--spin", "2"]
    assert "has no Stokes Q and U columns" in _error(bad, capsys)


@pytest.mark.parametrize(
    ("extra", "words"),
    [
        (["--spin", "1"], "must be 0 (scalar maps) or 2"),
        (["--spin", "3"], "must be 0 (scalar maps) or 2"),
        (["--spin", "2", "--histogram", "2", "--to-gaussian"], "--to-gaussian, --histogram: not"),
        (["--spin", "2", "--spectrum", "-1"], "spectrum"),
        (["--spin", "2", "--no-cross-channels"], "--no-cross-channels: not available"),
        (["--spin", "2", "--max-memory", "1M"], "texsynth synth needs about"),
    ],
)
def test_synth_spin_refusals_are_one_line_and_write_nothing(
    iqu_fits: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    extra: list[str],
    words: str,
) -> None:
    out = tmp_path / "o.fits"
    assert words in _error(["synth", str(iqu_fits), "-o", str(out), *extra], capsys)
    assert not out.exists() and not (tmp_path / "o.json").exists()


def test_spin2_refuses_other_inputs_in_one_line(
    iqu_fits: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    iqu = _iqu()
    hp.write_map(tmp_path / "t.fits", iqu[0], dtype=np.float64)  # temperature only
    spin = ["--spin", "2"]
    out = tmp_path / "o.fits"
    err = _error(["synth", str(tmp_path / "t.fits"), "-o", str(out), *spin], capsys)
    assert "has no Stokes Q and U columns (its columns: T" in err
    assert "has no Stokes Q and U" in _error(["stats", str(tmp_path / "t.fits"), *spin], capsys)
    iqu[1, :40] = hp.UNSEEN  # a partial sky: statistics take it, synthesis does not
    holes = tmp_path / "holes.fits"
    hp.write_map(holes, iqu, column_names=COLUMNS, dtype=np.float64)
    err = _error(["synth", str(holes), "-o", str(out), *spin], capsys)
    assert "40 pixels without a value; --spin 2 synthesises from full skies only" in err
    assert main(["stats", str(holes), *spin, "--J", "2"]) == 0
    assert "40 pixels without a value" in capsys.readouterr().out
    for command in (["synth", "-o", str(out)], ["stats"], ["eval", str(iqu_fits)]):
        err = _error([command[0], str(tmp_path / "missing.fits"), *command[1:], *spin], capsys)
        assert "file not found: " in err and "check the path" in err
    np.save(tmp_path / "img.npy", np.random.default_rng(0).random((32, 32)))
    err = _error(["synth", str(tmp_path / "img.npy"), "-o", str(tmp_path / "i.npy"), *spin], capsys)
    assert "is not a HEALPix map" in err
    np.savetxt(tmp_path / "sig.csv", np.random.default_rng(0).standard_normal(256))
    assert "is not a HEALPix map" in _error(["stats", str(tmp_path / "sig.csv"), *spin], capsys)
    err = _error(["stats", str(iqu_fits), *spin, "--max-memory", "1M"], capsys)
    assert "texsynth stats needs about" in err
    js = tmp_path / "e.json"
    err = _error(["eval", str(iqu_fits), str(iqu_fits), *spin, "--json", str(js)], capsys)
    assert "no spin-2 grading" in err and "texsynth stats MAP --spin 2 --json" in err
    assert not out.exists() and not js.exists()


def test_qu_columns_are_found_by_name() -> None:
    assert qu_columns(("TEMPERATURE", "Q_POLARISATION", "U_POLARISATION")) == (1, 2)
    assert qu_columns(("u_stokes", " q_stokes ")) == (1, 0)
    assert qu_columns(("I", "Q")) is None and qu_columns(None) is None
    values = np.arange(3 * 48, dtype=np.float64).reshape(3, 48)
    m = HealpixMap(values, 2, None, ("I", "Q", "U"), ("K", "mK", "mK"), "RING")
    pair, left = select_qu(m, "m")
    assert left == ("I",) and pair.column_names == ("Q", "U") and pair.units == ("mK", "mK")
    np.testing.assert_array_equal(pair.values, values[1:])
    assert pair.file_ordering == "RING"
