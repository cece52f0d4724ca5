"""The ``slurm`` backend against a real SLURM (``.ci/start_slurm.sh`` starts a single-node
one in CI): member k equals the reference, a dead array task's task is sent again, a
cancelled run is resumable, bad job options are one line before any work. Skipped, with
the reason, where SLURM is absent or not running."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest

import texsynth
from texsynth.ensembles.backends.slurm import SlurmBackend, SlurmTaskLost, sbatch_available
from texsynth.ensembles.backends.slurm_options import SbatchOptions
from texsynth.errors import TexsynthError

from .conftest import job, sha256


def _why_no_slurm() -> str | None:
    why = sbatch_available()
    if why is not None:
        return f"{why} (install slurm-wlm and munge, then run .ci/start_slurm.sh as root)"
    p = subprocess.run(["sinfo", "-h", "-o", "%T"], capture_output=True, text=True, check=False)
    states = p.stdout.split()
    up = ("idle", "mixed", "allocated")
    if p.returncode != 0 or not any(s.rstrip("*~#") in up for s in states):
        return (
            "SLURM is installed but no node is up (sinfo: "
            f"{(p.stderr or p.stdout).strip()!r:.120}); start it with .ci/start_slurm.sh"
        )
    return None


WHY = _why_no_slurm()
pytestmark = pytest.mark.skipif(WHY is not None, reason=f"no SLURM here: {WHY}")

N = 4


def _our_jobs(folder: Path) -> list[str]:
    """Array elements still pending or running whose staging folder is under ``folder``."""
    p = subprocess.run(
        ["squeue", "-h", "--me", "-n", "texsynth-ensemble", "-t", "PD,R", "-o", "%i|%Z"],
        capture_output=True,
        text=True,
        check=False,
    )
    pairs = [line.split("|", 1) for line in p.stdout.splitlines() if "|" in line]
    return [j for j, where in pairs if where.startswith(str(folder))]


def _queue_empties(folder: Path, seconds: float = 30) -> bool:
    """Whether our array elements leave the queue within ``seconds`` (a task whose result
    is in may still be exiting: its interpreter shutting down)."""
    deadline = time.monotonic() + seconds
    while _our_jobs(folder):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.5)
    return True


def test_slurm_members_equal_the_reference(field, reference, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    res = texsynth.ensemble(
        job(field), N, out=out / "m{i:02d}.npy", backend="slurm", per_task=2, progress=False,
        sbatch={"cores": 1, "mem": "1G", "time": "00:10:00"},
    )  # fmt: skip
    assert res.done == N and not res.failed and res.tasks == 2 and res.backend == "slurm"
    for k in range(N):
        assert np.array_equal(np.load(out / f"m{k:02d}.npy"), reference[k])
    lines = [json.loads(t) for t in res.manifest.read_text().splitlines()[1:]]
    assert {d["i"]: d["sha256"] for d in lines} == {
        k: sha256(out / f"m{k:02d}.npy") for k in range(N)
    }
    assert sorted(os.listdir(out)) == ["m.ensemble.jsonl"] + [f"m{k:02d}.npy" for k in range(N)]
    assert _queue_empties(tmp_path)


def die_once(marker: str) -> str:
    """Killed by SIGKILL the first time (as the OOM killer does), fine the second."""
    if not os.path.exists(marker):
        Path(marker).write_text("died")
        os.kill(os.getpid(), signal.SIGKILL)
    return f"ran on {os.environ.get('SLURM_ARRAY_JOB_ID')}"


def test_a_dead_array_task_is_lost_and_runs_again(tmp_path):
    engine = SlurmBackend(tmp_path, SbatchOptions(max_running=2), lost_after=1.0)
    try:
        marker = str(tmp_path / "marker")
        first = engine.submit(die_once, marker)
        fine = engine.submit(abs, -5)
        got = {f: f for f in engine.as_completed([first, fine])}
        assert fine.result() == 5
        with pytest.raises(SlurmTaskLost, match="ended without a result") as exc:
            got[first].result()
        assert engine.lost(exc.value)
        again = engine.submit(die_once, marker)
        assert list(engine.as_completed([again])) == [again]
        assert again.result().startswith("ran on ") and engine.arrays == 2
        failing = engine.submit(int, "x")  # an error of the function is not a loss
        list(engine.as_completed([failing]))
        with pytest.raises(ValueError) as err:
            failing.result()
        assert not engine.lost(err.value)
    finally:
        engine.close()
    assert not (tmp_path / ".texsynth-slurm").exists()


def test_cancel_stops_the_arrays_and_the_run_resumes(field, reference, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    manifest = out / "m.ensemble.jsonl"

    def one_done() -> bool:
        return manifest.exists() and len(manifest.read_text().splitlines()) >= 2

    kw = dict(out=out / "m{i:02d}.npy", backend="slurm", per_task=1, workers=1, progress=False)
    res = texsynth.ensemble(job(field), N, cancel=one_done, **kw)
    assert res.cancelled and 1 <= res.done < N and not res.failed
    assert _queue_empties(tmp_path)  # nothing left in the queue
    assert not [p for p in os.listdir(out) if p.startswith(".")]  # staging folder gone
    again = texsynth.ensemble(job(field), N, **kw)
    assert not again.cancelled and again.done == N and again.resumed == res.done
    for k in range(N):
        assert np.array_equal(np.load(out / f"m{k:02d}.npy"), reference[k])


@pytest.mark.slow
def test_a_task_stopped_by_the_scheduler_is_sent_again(field, tmp_path):
    """scancel of a running array element (what a walltime or a node failure does): its
    members run again."""
    out = tmp_path / "out"
    out.mkdir()
    spec = job(field)
    spec.options["steps"] = 400
    engine = SlurmBackend(out, SbatchOptions(max_running=2), lost_after=2.0)
    killed: list[str] = []

    def kill_first_running() -> bool:  # polled by the runner's cancellation watcher
        if killed:
            return False
        p = subprocess.run(
            ["squeue", "-h", "--me", "-n", "texsynth-ensemble", "-t", "R", "-o", "%i %M %Z"],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        for line in p.stdout.splitlines():
            jid, _, where = line.split(maxsplit=2)
            if not where.startswith(str(out)):
                continue  # another run's
            # at once: SIGTERM while Python starts kills it (no result: lost), while the
            # synthesis runs stops it (members cancelled); both are sent again
            subprocess.run(["scancel", jid], check=False)
            killed.append(jid)
        return False

    try:
        res = texsynth.ensemble(
            spec, 2, out=out / "m{i}.npy", backend=engine, per_task=2, progress=False,
            cancel=kill_first_running,
        )  # fmt: skip
    finally:
        engine.close()
    assert killed and res.done == 2 and not res.failed and engine.arrays == 2


def test_bad_job_options_are_one_line_before_any_work(field, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(TexsynthError, match="SLURM refuses the job options.*partition"):
        texsynth.ensemble(
            job(field), N, out=out / "m{i}.npy", backend="slurm", progress=False,
            sbatch={"partition": "nosuchqueue"},
        )  # fmt: skip
    assert os.listdir(out) == []


def test_cli_slurm(field, tmp_path, capsys):
    from texsynth.cli import main

    out = tmp_path / "out"
    out.mkdir()
    code = main(
        ["ensemble", str(field), "-o", str(out / "{i}.npy"), "--n", "2", "--steps", "5",
         "--method", "scattering", "--seed", "3", "--backend", "slurm",
         "--sbatch", "cores=1,mem=1G", "--sbatch", "time=5:00", "--quiet"]
    )  # fmt: skip
    text = capsys.readouterr().out
    assert code == 0, text
    assert "2 of 2 members done" in text and "on slurm" in text
    assert shutil.which("sbatch")
