"""Engine overhead and a 1000-member run of ``texsynth.ensemble`` (issue 20).

Two measurements, each run starting from an empty folder (pool, cluster or array start-up
included):

* ``overhead``: N members of a trivially small synthesis (a 16x16 field, scattering, 2
  L-BFGS steps, one level), ``--per-task 1`` and ``--per-task 8``, on ``local`` (2
  workers), ``dask`` (a LocalCluster of 2 workers) and ``slurm`` (2 array tasks at once,
  when ``sbatch`` is here). The engine is started and warmed first (a 2-member run:
  workers import torch), its start-up reported apart; then overhead per member =
  ``wall * workers / N - compute per member`` (the compute is what the manifest records:
  the task's synthesis time shared among its members, plus writing and summarising each
  one). SLURM has no warm workers: every array task starts Python and torch, which is
  part of its overhead.
* ``thousand``: 1000 members of the same small synthesis (``--preset``: a 16x16 field
  with ``quality="fast"``) on ``local`` and ``dask`` (2 workers each): wall time, members
  per second, peak RSS of this process, and the resume cost (the same call again, every
  member found done and its checksum verified).

``--probe`` times one member's compute in this process, in a ``local`` worker and in a
Dask worker, with torch's thread count and the thread environment each sees (what makes
Dask's compute slower, if it is)::

    OMP_NUM_THREADS=1 PYTHONPATH=src python benchmarks/bench_ensemble_scale.py \
        [--overhead N] [--thousand N] [--probe]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

import texsynth
from bench_ensemble import field  # the same exemplar field
from texsynth.ensembles.backends.local import cores
from texsynth.ensembles.backends.slurm import sbatch_available
from texsynth.io.runs import JobSpec

SEED = 2026


def tiny(ex: Path) -> JobSpec:
    opts = {"method": "scattering", "steps": 2, "levels": 1}
    return JobSpec("synth", "image", {"input": str(ex)}, opts, SEED)


def fast(ex: Path) -> JobSpec:
    """The ``fast`` preset (auto method: scattering for a field)."""
    return JobSpec("synth", "image", {"input": str(ex)}, {"quality": "fast"}, SEED)


def run(spec: JobSpec, n: int, out: Path, **kw: Any) -> tuple[float, float, Any]:
    """Wall time, mean compute per member (from the manifest), the result."""
    start = time.perf_counter()
    res = texsynth.ensemble(spec, n, out=out / "{i:05d}.npy", progress=False, **kw)
    wall = time.perf_counter() - start
    lines = (out / "ensemble.jsonl").read_text().splitlines()[1:]
    secs = [json.loads(t).get("seconds") for t in lines]
    compute = statistics.mean(s for s in secs if s is not None) if secs else float("nan")
    assert res.done == n and not res.failed, res.failed
    return wall, compute, res


def overhead(root: Path, n: int) -> None:
    from texsynth.ensembles.backends import make_backend

    ex = root / "tiny.npy"
    field(ex, 16)
    engines = ["local", "dask"] + (["slurm"] if sbatch_available() is None else [])
    print(f"\n## overhead: {n} members of a 16x16 field, scattering, 2 steps, 1 level")
    print(f"{'engine':<8} {'start s':>8} {'per task':>8} {'wall s':>8} {'members/s':>10} "
          f"{'compute ms':>11} {'overhead ms':>12}")  # fmt: skip
    for name in engines:
        for per in (1, 8):
            t0 = time.perf_counter()  # start the engine and warm it (imports in workers)
            engine = make_backend(name, workers=2, threads=1, folder=root)
            warm = root / f"warm-{name}-{per}"
            warm.mkdir()
            texsynth.ensemble(
                tiny(ex), 2, out=warm / "{i}.npy", backend=engine, per_task=1, progress=False
            )
            start = time.perf_counter() - t0
            out = root / f"ov-{name}-{per}"
            out.mkdir()
            try:
                wall, compute, _ = run(tiny(ex), n, out, backend=engine, per_task=per)
            finally:
                engine.close()
            over = wall * 2 / n - compute
            print(f"{name:<8} {start:>8.1f} {per:>8} {wall:>8.1f} {n / wall:>10.2f} "
                  f"{compute * 1e3:>11.0f} {over * 1e3:>12.0f}", flush=True)  # fmt: skip


def thousand(root: Path, n: int, preset: bool) -> None:
    ex = root / "k.npy"
    field(ex, 16)
    spec = fast(ex) if preset else tiny(ex)
    what = "quality fast" if preset else "scattering, 2 steps, 1 level"
    print(f"\n## {n} members of a 16x16 field, {what}, 2 workers")
    print(f"{'engine':<8} {'wall s':>8} {'members/s':>10} {'compute s':>10} "
          f"{'resume s':>9} {'peak RSS MiB':>13}")  # fmt: skip
    shas: dict[str, list[str]] = {}
    for name in ("local", "dask"):
        out = root / f"k-{name}"
        out.mkdir()
        wall, compute, res = run(spec, n, out, backend=name, workers=2)
        t0 = time.perf_counter()
        again = texsynth.ensemble(
            spec, n, out=out / "{i:05d}.npy", backend=name, workers=2, progress=False
        )
        resume = time.perf_counter() - t0
        assert again.resumed == n and again.tasks == 0
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"{name:<8} {wall:>8.1f} {n / wall:>10.2f} {compute:>10.3f} {resume:>9.2f} "
              f"{rss:>13.0f}", flush=True)  # fmt: skip
        lines = (out / "ensemble.jsonl").read_text().splitlines()[1:]
        shas[name] = [d["sha256"] for d in sorted(map(json.loads, lines), key=lambda d: d["i"])]
    print(f"member files identical across local and dask: {shas['local'] == shas['dask']}")


def _probe_task(ex: str) -> dict[str, Any]:
    """One member's compute where this runs, and what torch sees there."""
    import threading

    x = torch.from_numpy(np.load(ex))[None]
    torch.set_num_threads(1)
    start = time.perf_counter()
    for k in range(3):
        texsynth.synthesize(x, n=1, seed=k, quality="fast", progress=False)
    return {
        "seconds per member": round((time.perf_counter() - start) / 3, 3),
        "torch threads": torch.get_num_threads(),
        "interop threads": torch.get_num_interop_threads(),
        "main thread": threading.current_thread() is threading.main_thread(),
        "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS"),
        "MKL_NUM_THREADS": os.environ.get("MKL_NUM_THREADS"),
    }


def probe(root: Path) -> None:
    from texsynth.ensembles.backends.dask_cluster import DaskBackend
    from texsynth.ensembles.backends.local import LocalBackend

    ex = root / "fast.npy"
    field(ex, 32)
    print("\n## probe: 3 members of a 32x32 field, quality fast, one after another")
    print("this process:", _probe_task(str(ex)), flush=True)
    for workers in (1, 2):
        for name, engine in (
            ("local", LocalBackend(workers, 1)),
            ("dask", DaskBackend(None, workers)),
        ):
            try:  # warm-up (imports), then one probe per worker at once
                [f.result() for f in [engine.submit(_probe_task, str(ex))] * workers]
                got = [engine.submit(_probe_task, str(ex)) for _ in range(workers)]
                for f in got:
                    print(f"{name}, {workers} worker(s):", f.result(), flush=True)
            finally:
                engine.close()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--overhead", type=int, default=0, metavar="N")
    p.add_argument("--thousand", type=int, default=0, metavar="N")
    p.add_argument("--probe", action="store_true")
    p.add_argument(
        "--preset", action="store_true", help="--thousand with quality fast (default: 2 steps)"
    )
    args = p.parse_args()
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False
    ).stdout.strip()
    print(
        f"# {platform.processor() or platform.machine()}, {cores()} cores, Python "
        f"{platform.python_version()}, torch {torch.__version__}, commit {commit or '?'}, "
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, load "
        f"{os.getloadavg()[0]:.2f}, OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS')}"
    )
    root = Path(tempfile.mkdtemp(prefix="bench_ensemble_scale_"))
    try:
        if args.probe:
            probe(root)
        if args.overhead:
            overhead(root, args.overhead)
        if args.thousand:
            thousand(root, args.thousand, args.preset)
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
