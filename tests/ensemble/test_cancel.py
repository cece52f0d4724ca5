"""Whole-run cancellation (``cancel=``) on every backend, and the ``--sbatch`` options
(parsed and checked without a cluster)."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import numpy as np
import pytest

import texsynth
from texsynth.cli import main
from texsynth.ensembles.backends import make_backend
from texsynth.ensembles.backends.slurm_options import SbatchOptions, parse_sbatch
from texsynth.errors import TexsynthError

from .conftest import job, sha256

N = 6


def _lines(manifest: Path) -> int:
    return len(manifest.read_text().splitlines()) - 1 if manifest.exists() else 0


@pytest.mark.parametrize(
    "kw",
    [
        dict(backend="serial", per_task=1),
        dict(backend="local", workers=2, per_task=1),
        dict(backend="dask", workers=2, per_task=1),
    ],
    ids=["serial", "local", "dask"],
)
def test_cancel_stops_the_run_and_it_resumes(field, reference, tmp_path, kw):
    if kw["backend"] == "dask":
        pytest.importorskip("distributed")
    out = tmp_path / "out"
    out.mkdir()
    manifest = out / "m.ensemble.jsonl"
    res = texsynth.ensemble(
        job(field), N, out=out / "m{i:02d}.npy", progress=False,
        cancel=lambda: _lines(manifest) >= 1, **kw,
    )  # fmt: skip
    assert res.cancelled and 1 <= res.done < N and not res.failed, res
    assert _lines(manifest) == res.done  # every member recorded, no failure lines
    assert not [p for p in os.listdir(out) if p.startswith(".")]  # no temporaries
    again = texsynth.ensemble(job(field), N, out=out / "m{i:02d}.npy", progress=False, **kw)
    assert not again.cancelled and again.done == N and again.resumed == res.done
    for k in range(4):
        assert np.array_equal(np.load(out / f"m{k:02d}.npy"), reference[k])
    shas = [sha256(out / f"m{k:02d}.npy") for k in range(N)]
    assert len(set(shas)) == N


def test_an_event_set_before_the_run_makes_nothing(field, tmp_path):
    stop = threading.Event()
    stop.set()
    res = texsynth.ensemble(
        job(field), 3, out=tmp_path / "m{i}.npy", backend="serial", cancel=stop, progress=False
    )
    assert res.cancelled and res.done == 0 and not res.failed
    assert sorted(os.listdir(tmp_path)) == ["m.ensemble.jsonl"]


def test_sbatch_options_parse_and_check():
    o = parse_sbatch(["cores=2,mem=4G", "time=01:00:00", "queue=short", "max-running=10"])
    assert o == SbatchOptions(cores=2, mem="4G", time="01:00:00", partition="short", max_running=10)
    assert o.arguments(1) == [
        "--cpus-per-task=2",
        "--mem=4G",
        "--time=01:00:00",
        "--partition=short",
    ]
    assert SbatchOptions().arguments(3) == ["--cpus-per-task=3"]
    assert SbatchOptions.of({"queue": "q", "max-running": 3}).partition == "q"
    for bad, message in [
        (["mem=lots"], "not a SLURM memory size"),
        (["time=soon"], "not a SLURM time"),
        (["cores=0"], "positive integer"),
        (["nodes=3"], "unknown key 'nodes'"),
        (["cores"], "write key=value"),
        (["partition=a b"], "not a SLURM name"),
    ]:
        with pytest.raises(TexsynthError, match=message):
            parse_sbatch(bad)
    with pytest.raises(TexsynthError, match="unknown sbatch option 'nodes'"):
        SbatchOptions.of({"nodes": 2})
    with pytest.raises(TexsynthError, match="for the slurm backend"):
        make_backend("local", sbatch={"cores": 2})


def test_slurm_without_sbatch_is_one_line(field, tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # no SLURM commands on it
    with pytest.raises(TexsynthError, match="the slurm backend needs SLURM: SLURM's sbatch"):
        texsynth.ensemble(job(field), 2, out=tmp_path / "m{i}.npy", backend="slurm")
    assert not (tmp_path / "m.ensemble.jsonl").exists()


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--sbatch", "cores=2"], "--sbatch sets SLURM job options; add --backend slurm"),
        (["--backend", "slurm", "--sbatch", "mem=huge"], "not a SLURM memory size"),
    ],
)
def test_cli_sbatch_errors(field, tmp_path, capsys, extra, message):
    code = main(["ensemble", str(field), "-o", str(tmp_path / "{i}.npy"), "--n", "2", *extra])
    err = [t for t in capsys.readouterr().err.splitlines() if t.strip()]
    assert code == 2 and len(err) == 1 and message in err[0], err


ORPHAN_SCRIPT = """
import os, sys, time
from texsynth.ensembles.backends.local import LocalBackend

def pid(_):
    return os.getpid()

if __name__ == "__main__":
    engine = LocalBackend(1, 1)
    print(engine.submit(pid, None).result(), flush=True)
    time.sleep(120)
"""


def _running(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@pytest.mark.skipif(not os.path.isdir("/proc"), reason="reads /proc")
def test_local_workers_end_when_their_parent_is_killed(tmp_path):
    import signal
    import subprocess
    import sys
    import time

    script = tmp_path / "orphan.py"
    script.write_text(ORPHAN_SCRIPT)
    env = {**os.environ, "PYTHONPATH": str(Path(texsynth.__file__).parents[1])}
    with subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, env=env) as proc:
        try:
            worker = int(proc.stdout.readline())
            assert _running(worker)
        finally:
            proc.send_signal(signal.SIGKILL)  # no clean-up: the pool is not shut down
            proc.wait()
    deadline = time.monotonic() + 20
    while _running(worker) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not _running(worker)
