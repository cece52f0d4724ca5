"""The throughput goal of issue 20 at full size: 1000 members of a 128x128 field, ``fast``.

``texsynth.ensemble`` on ``--backend`` (``local`` or ``dask``, one worker per core, one
torch thread each) against the members made back to back in one process with one thread
(timed on the first ``--b2b`` members: the rate per member is what matters). Efficiency =
ensemble throughput / (workers x back-to-back throughput): 1 means the engine costs nothing.
While the ensemble runs, the resident memory of this process and of all its descendants
(pool workers, Dask nannies and workers) is sampled every 5 s, so that "memory flat" is a
series, not a guess. The files of the first ``--b2b`` members are compared (SHA-256) with
the back-to-back ones::

    OMP_NUM_THREADS=1 PYTHONPATH=src python benchmarks/bench_ensemble_goal.py \
        --n 1000 --b2b 60 --backend local
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import shutil
import statistics
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import torch

import texsynth
from bench_ensemble import field  # the same exemplar field
from texsynth.ensembles.backends.local import cores
from texsynth.io.runs import JobSpec
from texsynth.seeds import member_seed

SEED = 2026


def tree_rss_mb() -> float:
    """Resident memory of this process and all its descendants, in MB (Linux /proc)."""
    parent: dict[int, int] = {}
    rss: dict[int, int] = {}
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            stat = (d / "stat").read_text()
            fields = stat[stat.rindex(")") + 2 :].split()
            parent[int(d.name)] = int(fields[1])
            rss[int(d.name)] = int(fields[21]) * os.sysconf("SC_PAGE_SIZE")
        except (OSError, ValueError, IndexError):
            continue
    mine, grew = {os.getpid()}, True
    while grew:
        new = {p for p, pp in parent.items() if pp in mine} - mine
        grew = bool(new)
        mine |= new
    return sum(rss.get(p, 0) for p in mine) / 2**20


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=1000)
    p.add_argument("--b2b", type=int, default=60, help="members timed back to back")
    p.add_argument("--backend", default="local", choices=["local", "dask"])
    args = p.parse_args()
    workers = cores()
    print(
        f"# {platform.machine()}, {workers} cores, Python {platform.python_version()}, torch "
        f"{torch.__version__}, N={args.n}, backend {args.backend}, load at start "
        f"{os.getloadavg()[0]:.2f}",
        flush=True,
    )
    root = Path(tempfile.mkdtemp(prefix="bench_ensemble_goal_"))
    try:
        ex = root / "ex.npy"
        field(ex)
        b2b = root / "b2b"
        b2b.mkdir()
        torch.set_num_threads(1)
        x = torch.from_numpy(np.load(ex))[None]
        t0 = time.perf_counter()
        for k in range(args.b2b):
            y = texsynth.synthesize(
                x, n=1, seed=member_seed(SEED, k), quality="fast", progress=False
            )
            texsynth.write_image(b2b / f"{k:05d}.npy", y[0])
        per_member = (time.perf_counter() - t0) / args.b2b
        print(f"back to back, 1 process, 1 thread: {per_member:.3f} s per member", flush=True)

        out = root / "ens"
        out.mkdir()
        samples: list[tuple[float, float, int]] = []
        stop = threading.Event()
        manifest = out / "ensemble.jsonl"

        def sample() -> None:
            while not stop.wait(5.0):
                lines = manifest.read_text().splitlines() if manifest.exists() else []
                done = max(0, len(lines) - 1)
                samples.append((time.perf_counter() - start, tree_rss_mb(), done))

        spec = JobSpec("synth", "image", {"input": str(ex)}, {"quality": "fast"}, SEED)
        start = time.perf_counter()
        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        res = texsynth.ensemble(
            spec, args.n, out=out / "{i:05d}.npy", backend=args.backend, workers=workers,
            progress=False,
        )  # fmt: skip
        wall = time.perf_counter() - start
        stop.set()
        sampler.join()
        lines = manifest.read_text().splitlines()[1:]
        compute = statistics.mean(json.loads(t)["seconds"] for t in lines)
        rate = args.n / wall
        ideal = workers / per_member
        print(
            f"{args.backend}, {workers} workers x 1 thread: {res.done} done, {len(res.failed)} "
            f"failed, wall {wall:.1f} s, {rate:.3f} members/s; back to back x {workers}: "
            f"{ideal:.3f} members/s; efficiency {rate / ideal:.3f}; compute per member in the "
            f"workers {compute:.3f} s; overhead per member "
            f"{(wall * workers / args.n - compute) * 1000:.0f} ms",
            flush=True,
        )
        same = all(sha(out / f"{k:05d}.npy") == sha(b2b / f"{k:05d}.npy") for k in range(args.b2b))
        print(f"first {args.b2b} members identical to back to back: {same}")
        if samples:
            q = [samples[int(i * (len(samples) - 1) / 4)] for i in range(5)]
            print(
                "memory of the process tree (t s, MB, members done): "
                + ", ".join(f"({t:.0f}, {m:.0f}, {d})" for t, m, d in q)
                + f"; min {min(s[1] for s in samples):.0f} MB, max "
                f"{max(s[1] for s in samples):.0f} MB over {len(samples)} samples"
            )
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
