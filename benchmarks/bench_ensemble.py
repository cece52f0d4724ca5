"""Throughput of ``texsynth.ensemble`` (issue 20) against the members made back to back.

N members of a 128x128 grey field (a smoothed random field) with the ``fast`` preset:

* ``back to back``: one process, ``texsynth.synthesize(n=1, seed=member_seed(S, k))`` and
  one ``.npy`` file per member, with 1 torch thread and with one thread per core;
* ``local``: :func:`texsynth.ensemble` on the process pool, 1 worker and one per core
  (1 torch thread each);
* ``dask``: a Dask ``LocalCluster`` of one worker per core.

Each run starts from an empty folder (so pool and cluster start-up are counted). The
per-member overhead of an engine is ``wall * workers / N - mean compute per member``, the
compute per member being what the manifest records (its task's time, shared among its
members). Files are compared across runs (SHA-256)::

    python benchmarks/bench_ensemble.py --n 40 [--one-thread] [--no-dask]
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
import time
from pathlib import Path

import numpy as np
import torch

import texsynth
from texsynth.ensembles.backends.local import cores
from texsynth.io.runs import JobSpec
from texsynth.seeds import member_seed

SEED = 2026


def field(path: Path, size: int = 128) -> None:
    rng = np.random.default_rng(0)
    f = np.fft.fftfreq(size)
    k = np.sqrt(f[:, None] ** 2 + f[None, :] ** 2)
    amp = np.where(k > 0, k, np.inf) ** -1.5
    x = np.fft.ifft2(amp * np.fft.fft2(rng.standard_normal((size, size)))).real
    np.save(path, ((x - x.mean()) / x.std()).astype(np.float32))


def shas(folder: Path, n: int) -> list[str]:
    return [hashlib.sha256((folder / f"{k:05d}.npy").read_bytes()).hexdigest() for k in range(n)]


def back_to_back(ex: Path, out: Path, n: int, threads: int) -> float:
    torch.set_num_threads(threads)
    x = torch.from_numpy(np.load(ex))[None]
    start = time.perf_counter()
    for k in range(n):
        y = texsynth.synthesize(x, n=1, seed=member_seed(SEED, k), quality="fast", progress=False)
        texsynth.write_image(out / f"{k:05d}.npy", y[0])
    return time.perf_counter() - start


def engine(ex: Path, out: Path, n: int, backend: str, workers: int) -> tuple[float, float]:
    spec = JobSpec("synth", "image", {"input": str(ex)}, {"quality": "fast"}, SEED)
    start = time.perf_counter()
    texsynth.ensemble(
        spec, n, out=out / "{i:05d}.npy", backend=backend, workers=workers, progress=False
    )
    wall = time.perf_counter() - start
    lines = (out / "ensemble.jsonl").read_text().splitlines()[1:]
    compute = statistics.mean(json.loads(t)["seconds"] for t in lines)
    return wall, compute


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=40)
    p.add_argument("--no-dask", action="store_true")
    p.add_argument(
        "--one-thread",
        action="store_true",
        help="skip the back-to-back run with one thread per core (on a loaded 2-core VM, "
        "torch with 2 threads is several times slower than with 1)",
    )
    args = p.parse_args()
    n, c = args.n, cores()
    print(
        f"# {platform.processor() or platform.machine()}, {c} cores, Python "
        f"{platform.python_version()}, torch {torch.__version__}, N={n}, load "
        f"{os.getloadavg()[0]:.2f}"
    )
    root = Path(tempfile.mkdtemp(prefix="bench_ensemble_"))
    try:
        ex = root / "ex.npy"
        field(ex)
        rows, files = [], {}
        for threads in [1] if args.one_thread else sorted({1, c}):
            d = root / f"b2b{threads}"
            d.mkdir()
            wall = back_to_back(ex, d, n, threads)
            rows.append((f"back to back, 1 process, {threads} thread(s)", wall, None))
            files[f"b2b{threads}"] = shas(d, n)
        base = rows[0][1]
        runs = [("local", w) for w in sorted({1, c})]
        if not args.no_dask:
            runs.append(("dask", c))
        for backend, workers in runs:
            d = root / f"{backend}{workers}"
            d.mkdir()
            wall, compute = engine(ex, d, n, backend, workers)
            overhead = wall * workers / n - compute
            rows.append((f"{backend}, {workers} worker(s) x 1 thread", wall, overhead))
            files[f"{backend}{workers}"] = shas(d, n)
        print(f"{'run':<44} {'wall s':>8} {'members/s':>10} {'vs b2b 1 thread':>16} "
              f"{'overhead/member':>16}")  # fmt: skip
        for name, wall, overhead in rows:
            extra = f"{overhead * 1000:>13.0f} ms" if overhead is not None else f"{'':>16}"
            print(f"{name:<44} {wall:>8.1f} {n / wall:>10.3f} {base / wall:>15.2f}x {extra}")
        one = files["b2b1"]
        same = {k: v == one for k, v in files.items()}
        print(f"files identical to back to back with 1 thread: {same}")
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
