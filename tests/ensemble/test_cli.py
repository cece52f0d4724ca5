"""``texsynth ensemble``: images, signals and skies; one-line errors with exit status 2;
a run killed mid-way (``kill -9`` of the command and its workers) resumes where it stopped
and its members equal those of an uninterrupted run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import texsynth
from texsynth.cli import main
from texsynth.ensembles.backends import dask_cluster

from .conftest import SEED, STEPS, sha256

RUN = ["--steps", str(STEPS), "--seed", str(SEED), "--method", "scattering"]


def _err_lines(capsys) -> list[str]:
    return [t for t in capsys.readouterr().err.splitlines() if t.strip()]


def test_image_ensemble_matches_reference(field, reference, tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    argv = ["ensemble", str(field), "-o", str(out / "{i:03d}.npy"), "--n", "4", *RUN]
    code = main([*argv, "--backend", "serial", "--quiet", "--report", str(tmp_path / "e.png")])
    text = capsys.readouterr().out
    assert code == 0, text
    assert "4 of 4 members done" in text and "bias" in text and (tmp_path / "e.png").is_file()
    for k in range(4):
        assert np.array_equal(np.load(out / f"{k:03d}.npy"), reference[k])
    code = main([*argv, "--backend", "serial", "--quiet"])  # the same command: nothing to do
    assert code == 0 and "4 done before (resumed)" in capsys.readouterr().out


def test_signal_and_sky_ensembles(tmp_path, capsys):
    rng = np.random.default_rng(0)
    np.save(tmp_path / "sig.npy", rng.standard_normal(256).cumsum().astype(np.float32))
    out = tmp_path / "s"
    out.mkdir()
    code = main(
        ["ensemble", str(tmp_path / "sig.npy"), "-o", str(out / "{i}.npy"), "--n", "3",
         "--steps", "5", "--seed", "1", "--backend", "serial", "--quiet"]
    )  # fmt: skip
    assert code == 0, capsys.readouterr()
    assert [np.load(out / f"{k}.npy").shape for k in range(3)] == [(256,)] * 3
    pytest.importorskip("healpy")
    np.save(tmp_path / "sky.npy", rng.standard_normal(12 * 8 * 8).astype(np.float32))
    out = tmp_path / "m"
    out.mkdir()
    code = main(
        ["ensemble", str(tmp_path / "sky.npy"), "--healpix", "-o", str(out / "{i}.npy"),
         "--n", "2", "--steps", "5", "--seed", "1", "--backend", "serial", "--quiet"]
    )  # fmt: skip
    assert code == 0, capsys.readouterr()
    assert np.load(out / "1.npy").shape == (12 * 8 * 8,)
    assert "log10 P(f)" in capsys.readouterr().out


def test_sky_ensemble_keeps_a_ring_files_ordering(tmp_path, capsys):
    hp = pytest.importorskip("healpy")
    from astropy.io import fits

    from texsynth.io.healpix_maps import read_healpix_map

    sky = np.random.default_rng(0).standard_normal(12 * 8 * 8)
    hp.write_map(tmp_path / "sky.fits", sky, dtype=np.float64)  # healpy's default: RING
    out = tmp_path / "m"
    out.mkdir()
    code = main(
        ["ensemble", str(tmp_path / "sky.fits"), "-o", str(out / "{i}.fits"), "--n", "1",
         "--steps", "3", "--seed", "1", "--backend", "serial", "--quiet"]
    )  # fmt: skip
    assert code == 0, capsys.readouterr()
    assert fits.getheader(out / "0.fits", 1)["ORDERING"] == "RING"
    assert read_healpix_map(out / "0.fits").file_ordering == "RING"


def test_spin2_ensemble_members_are_synth_spin2_maps(tmp_path, capsys):
    """``ensemble --spin 2`` writes each member as ``synth --spin 2`` writes it (Q and U
    columns by name, bit for bit), and refuses partial skies and trained models in one
    line before any member."""
    hp = pytest.importorskip("healpy")
    from texsynth.io.healpix_maps import read_healpix_map
    from texsynth.seeds import member_seed

    rng = np.random.default_rng(0)
    iqu = rng.standard_normal((3, 12 * 8 * 8))
    names = ["I_STOKES", "Q_STOKES", "U_STOKES"]
    hp.write_map(tmp_path / "iqu.fits", iqu, column_names=names, dtype=np.float64)
    out = tmp_path / "m"
    out.mkdir()
    run = ["--spin", "2", "--steps", "3", "--spectrum", "3", "--amplitude", "0.5", "--seed", "4"]
    run.append("--quiet")
    code = main(
        ["ensemble", str(tmp_path / "iqu.fits"), "-o", str(out / "{i}.fits"), "--n", "2",
         "--backend", "serial", *run]
    )  # fmt: skip
    assert code == 0, capsys.readouterr()
    assert "HEALPix Q/U maps" in capsys.readouterr().out
    head = json.loads((out / "ensemble.jsonl").read_text().splitlines()[0])
    options = head["ensemble"]["job"]["synth"]["options"]
    assert options["spin"] == 2 and options["spectrum"] == 3.0 and options["amplitude"] == 0.5
    member = read_healpix_map(out / "1.fits")
    assert member.column_names == ("Q_STOKES", "U_STOKES") and member.file_ordering == "RING"
    alone = tmp_path / "alone.fits"
    synth = ["synth", str(tmp_path / "iqu.fits"), "-o", str(alone), *run]
    synth[synth.index("4")] = str(member_seed(4, 1))
    assert main(synth) == 0
    np.testing.assert_array_equal(read_healpix_map(alone).values, member.values)
    iqu[2, :5] = hp.UNSEEN
    hp.write_map(tmp_path / "cut.fits", iqu, column_names=names, dtype=np.float64)
    bad = {
        "cut.fits": "5 pixels without a value; --spin 2 synthesises from full skies only",
        "iqu.fits": "--spin: synthesis option, not used by a trained generator",
    }
    for name, message in bad.items():
        extra = ["--model", str(tmp_path / "iqu.fits")] if name == "iqu.fits" else []
        code = main(
            ["ensemble", str(tmp_path / name), "-o", str(tmp_path / "x{i}.fits"), "--n", "2",
             "--spin", "2", *extra]
        )  # fmt: skip
        lines = _err_lines(capsys)
        assert code == 2 and len(lines) == 1 and message in lines[0], lines
    assert not list(tmp_path.glob("x*"))
    np.save(tmp_path / "img.npy", rng.random((16, 16)))
    for flag in ("--spectrum", "--amplitude"):
        code = main(
            ["ensemble", str(tmp_path / "img.npy"), "-o", str(tmp_path / "x{i}.npy"), "--n", "2",
             flag, "1"]
        )  # fmt: skip
        lines = _err_lines(capsys)
        assert code == 2 and len(lines) == 1, lines
        assert f"{flag} weighs a term of HEALPix map synthesis" in lines[0]


def test_bad_input_is_one_line_and_status_2(field, tmp_path, capsys, monkeypatch):
    pytest.importorskip("distributed")
    monkeypatch.setattr(dask_cluster, "CONNECT_TIMEOUT", 1)
    base = ["ensemble", str(field), "--n", "3", "--quiet"]
    cases = {
        "unknown backend": (["-o", str(tmp_path / "{i}.npy"), "--backend", "pbs"], "--backend"),
        "unreachable scheduler": (
            ["-o", str(tmp_path / "{i}.npy"), "--backend", "dask", "--scheduler",
             "tcp://127.0.0.1:9"],
            "cannot reach the Dask scheduler",
        ),
        "missing output folder": (["-o", str(tmp_path / "no" / "{i}.npy")], "does not exist"),
        "output folder not writable": (["-o", "/proc/{i}.npy"], "cannot write in folder"),
        "template without {i}": (["-o", str(tmp_path / "x.npy")], "has no '{i}'"),
        "--model with a synthesis option": (
            ["-o", str(tmp_path / "{i}.png"), "--model", str(field), "--steps", "3"],
            "not used by a trained generator",
        ),
    }  # fmt: skip
    for name, (args, message) in cases.items():
        with pytest.raises(SystemExit) if name == "unknown backend" else _no_raise() as exc:
            code = main([*base, *args])
        if name == "unknown backend":
            code = exc.value.code
        lines = _err_lines(capsys)
        assert code == 2, name
        assert len(lines) == 1 and lines[0].startswith("texsynth: error:"), (name, lines)
        assert message in lines[0], (name, lines)
    assert not list(tmp_path.glob("*.jsonl"))


class _no_raise:
    value = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def _command(field: Path, out: Path, n: int) -> list[str]:
    return [
        sys.executable, "-c", "import sys, texsynth.cli as c; sys.exit(c.main(sys.argv[1:]))",
        "ensemble", str(field), "-o", str(out / "{i:03d}.npy"), "--n", str(n), *RUN,
        "--workers", "1", "--per-task", "1", "--quiet",
    ]  # fmt: skip


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX process groups")
def test_resume_after_kill(field, reference, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    n = 24
    env = {
        **os.environ,
        "PYTHONPATH": str(Path(texsynth.__file__).parents[1]),
        "OMP_NUM_THREADS": "1",
    }
    manifest = out / "ensemble.jsonl"
    proc = subprocess.Popen(
        _command(field, out, n),
        env=env,
        start_new_session=True,  # its own group: the kill takes its workers too
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        if manifest.exists() and len(manifest.read_text().splitlines()) >= 3:
            break
        time.sleep(0.02)
    assert proc.poll() is None, proc.stderr.read().decode()[-2000:]  # type: ignore[union-attr]
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    proc.stderr.close()  # type: ignore[union-attr]
    done_before = [json.loads(t)["i"] for t in manifest.read_text().splitlines()[1:] if t]
    assert 2 <= len(done_before) < n

    code = subprocess.run(_command(field, out, n), env=env, capture_output=True, timeout=300)
    assert code.returncode == 0, code.stderr.decode()[-2000:]
    assert f"{len(set(done_before))} done before (resumed)" in code.stdout.decode()
    lines = [json.loads(t) for t in manifest.read_text().splitlines()[1:]]
    recorded = {d["i"]: d["sha256"] for d in lines}
    assert sorted(recorded) == list(range(n))
    for k in range(n):
        assert sha256(out / f"{k:03d}.npy") == recorded[k]
    for k in range(4):  # member k does not depend on n, nor on the kill
        assert np.array_equal(np.load(out / f"{k:03d}.npy"), reference[k])
    assert not [p for p in os.listdir(out) if p.startswith(".")]  # no temporaries left


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX process groups")
def test_ctrl_c_stops_cleanly(field, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    env = {**os.environ, "PYTHONPATH": str(Path(texsynth.__file__).parents[1])}
    manifest = out / "ensemble.jsonl"
    proc = subprocess.Popen(
        _command(field, out, 60),
        env=env,
        start_new_session=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        if manifest.exists() and len(manifest.read_text().splitlines()) >= 3:
            break
        time.sleep(0.02)
    os.killpg(proc.pid, signal.SIGINT)  # what a terminal's Ctrl-C sends: the whole group
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr.decode()[-2000:]
    assert "rerun the same command to resume" in stdout.decode()
    assert "Traceback" not in stderr.decode()
    lines = [json.loads(t) for t in manifest.read_text().splitlines()[1:]]
    assert 2 <= len(lines) < 60
    for d in lines:
        assert sha256(out / d["file"]) == d["sha256"]
    assert not [p for p in os.listdir(out) if p.startswith(".")]  # no temporaries left
    members = sorted(p for p in os.listdir(out) if p.endswith(".npy"))
    assert len(members) == len(lines)  # nothing written that is not recorded
