"""Issue 18's goals on the sphere: statistics speed and memory against foscat, a dust-like
synthesis at nside 128, and the largest nside within a memory limit.

Part ``stats``: forward + backward of the scattering covariance of one ``[1, npix]`` float32
white-noise map (the sum of S0 ... S4, moduli of the complex ones, as in
``bench_healpix.py``), ``J = log2(nside)``, ``L = 4`` for both libraries:
``HealpixScatteringCovariance(J=J, bank=B)`` (``--banks``: ``faces``, the default, and
``stencil``, the reference) and foscat's ``funct(NORIENT=4, KERNELSZ=3).eval(x, Jmax=J)``.
The libraries alternate call by call in one process (load from other processes hits all of
them), after one warm-up call each; the table gives medians and the ratio foscat / texsynth.
Peak memory: a fresh process per library and ``nside`` builds the operator and runs two
forward + backward calls; ``ru_maxrss`` of that process (the interpreter and imports
included; their share is given as "idle").

Part ``synth``: the lognormal ("dust-like") sky of ``bench_healpix.py`` at ``--synth-nside``
(``exp(g)``, ``g`` a unit-variance Gaussian field of ``C_ell ∝ ell^-2.5``, seed 0),
``synthesize_healpix(sky, n=1, seed=0, steps=--steps)``, timed (wall, ``--threads``
threads) and graded by ``evaluate_healpix`` against the exemplar; a second realisation of
the process (seed 1) is graded the same way: the realisation should score as close to 1
(as real sky) as it does.

Part ``memory``: peak RSS of forward + backward at ``--memory-nsides`` (default 256 and
512) for ``--memory-libs`` (default ``texsynth-faces``), each in a fresh process; with
``BENCH_SPHERE_LIMIT_GB`` set, each process's address space is capped there (a library that
needs more fails instead of swapping a shared machine).

Part ``search``: ``synthesize_healpix`` of the lognormal sky with each named option set of
``SEARCH_CONFIGS`` (``--configs``; more orientations, scales, weights, ``to_gaussian``,
levels, a Gaussian start), one map per ``--seeds`` seed, timed and graded as in ``synth``
(issue 18's peaks / V2 gap).

Part ``foscat``: the same sky, texsynth (``--configs``, default its defaults) against
foscat's ``synthesis`` at each ``--foscat-epochs`` ``NUM_EPOCHS``, one map per seed, timed
on one process and graded; ``BENCH_SPHERE_LIMIT_GB`` caps the process's address space.

Run from the repository root (foscat and healpy installed)::

    PYTHONPATH=src python benchmarks/bench_sphere.py --part stats --nsides 64 128 256
    PYTHONPATH=src python benchmarks/bench_sphere.py --part synth --steps 100
    PYTHONPATH=src python benchmarks/bench_sphere.py --part memory --memory-nsides 256 512
    PYTHONPATH=src python benchmarks/bench_sphere.py --part search --synth-nside 64
    PYTHONPATH=src python benchmarks/bench_sphere.py --part foscat --synth-nside 32
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from bench_healpix import L, lognormal_sky, make_op, quiet, timed_call, white_map

ROOT = Path(__file__).resolve().parent.parent
CHILD = "--child"  # internal: one peak-memory measurement in this fresh process


def texsynth_op(nside: int, bank: str) -> Callable[[torch.Tensor], object]:
    """``x [1, npix] -> statistics`` with ``J = log2(nside)`` and the given bank."""
    from texsynth import HealpixScatteringCovariance

    op = HealpixScatteringCovariance(J=int(math.log2(nside)), L=L, bank=bank)
    return lambda x: op(x[:, None, :])


def library_op(lib: str, nside: int, template: str) -> Callable[[torch.Tensor], object]:
    """``lib`` is ``foscat`` or ``texsynth-<bank>``."""
    if lib == "foscat":
        return make_op("foscat", nside, template)
    return texsynth_op(nside, lib.split("-", 1)[1])


def high_water_mb() -> float:
    """This process's peak resident memory (MB): ``VmHWM`` of ``/proc/self/status`` (the
    memory of this executable image only; ``ru_maxrss`` would include the parent's
    footprint when the process was forked from a large one), else ``ru_maxrss``."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return float(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def peak_rss_child(lib: str, nside: int, template: str) -> dict[str, float]:
    """In this process: build ``lib``'s operator, run forward + backward twice; seconds and
    peak resident memory (MB), and the peak before building (imports)."""
    with quiet():
        __import__("foscat.scat_cov" if lib == "foscat" else "texsynth")
    idle = high_water_mb()
    x = white_map(nside)
    t0 = time.perf_counter()
    op = library_op(lib, nside, template)
    built = time.perf_counter() - t0
    times = [timed_call(op, x, "fb") for _ in range(2)]
    peak = high_water_mb()
    return {"idle_mb": idle, "peak_mb": peak, "build_s": built, "fb_s": min(times)}


def peak_rss(lib: str, nside: int, template: str, timeout: float) -> dict[str, float] | None:
    """:func:`peak_rss_child` in a fresh interpreter (``None`` past ``timeout`` or on a
    failure such as running out of memory)."""
    cmd = [sys.executable, __file__, CHILD, lib, str(nside), template]
    cmd.append(str(torch.get_num_threads()))
    env = dict(
        os.environ, PYTHONPATH=os.pathsep.join([str(ROOT / "src"), str(ROOT / "benchmarks")])
    )
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)
    except subprocess.TimeoutExpired:
        return None
    if done.returncode:
        print(done.stderr[-2000:], file=sys.stderr)
        return None
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def header(threads: int) -> list[str]:
    """Date, commit, machine, load."""
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT
    ).stdout.strip()
    status = subprocess.run(
        ["git", "status", "--porcelain"], capture_output=True, text=True, cwd=ROOT
    ).stdout.strip()
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return [
        f"- date: {now}; commit {commit or '?'}{' + working changes' if status else ''}",
        f"- torch {torch.__version__}, {threads} threads, {os.cpu_count()} CPUs",
        f"- load average at start: {' '.join(f'{v:.2f}' for v in os.getloadavg())}",
    ]


def bench_stats(nsides: list[int], banks: list[str], repeat: int, budget: float) -> list[str]:
    """The alternating timing table and the peak-memory table."""
    libs = [f"texsynth-{b}" for b in banks] + ["foscat"]
    lines = [
        "",
        "| nside | J | "
        + " | ".join(f"{lib} fwd+bwd (s)" for lib in libs)
        + " | "
        + " | ".join(f"foscat / {lib}" for lib in libs[:-1])
        + " | load |",
        "|---:|---:|" + "---:|" * (2 * len(libs)),
    ]
    mem = ["", "| nside | " + " | ".join(f"{lib} peak RSS (MB)" for lib in libs) + " |"]
    mem.append("|---:|" + "---:|" * len(libs))
    for nside in nsides:
        template = tempfile.mkdtemp(prefix=f"foscat_kernels_{nside}_")
        cells = []
        for lib in libs:
            print(f"nside {nside}: peak memory of {lib} ...", file=sys.stderr, flush=True)
            r = peak_rss(lib, nside, template, 4 * budget)
            cells.append("—" if r is None else f"{r['peak_mb']:.0f} (idle {r['idle_mb']:.0f})")
        mem.append(f"| {nside} | " + " | ".join(cells) + " |")
        print(mem[-1], file=sys.stderr, flush=True)
        x = white_map(nside)
        ops = {lib: library_op(lib, nside, template) for lib in libs}
        for lib in libs:
            timed_call(ops[lib], x, "fb")  # warm-up
        times: dict[str, list[float]] = {lib: [] for lib in libs}
        load = []
        for k in range(repeat):
            order = libs if k % 2 == 0 else libs[::-1]
            for lib in order:
                if sum(times[lib]) < budget:
                    times[lib].append(timed_call(ops[lib], x, "fb"))
            load.append(os.getloadavg()[0])
        med = {lib: statistics.median(v) for lib, v in times.items()}
        lines.append(
            f"| {nside} | {int(math.log2(nside))} | "
            + " | ".join(f"{med[lib]:.3f} (n={len(times[lib])})" for lib in libs)
            + " | "
            + " | ".join(f"**{med['foscat'] / med[lib]:.1f}×**" for lib in libs[:-1])
            + f" | {min(load):.1f}–{max(load):.1f} |"
        )
        print(lines[-1], file=sys.stderr, flush=True)
        del ops
    return lines + mem


def bench_synth(nside: int, steps: int, bank: str) -> list[str]:
    """One synthesis of the lognormal sky, graded against the exemplar, with a second
    realisation of the process as the yardstick."""
    import numpy as np

    from texsynth import evaluate_healpix, synthesize_healpix

    sky = torch.from_numpy(lognormal_sky(nside, seed=0))
    other = torch.from_numpy(lognormal_sky(nside, seed=1))
    t0 = time.perf_counter()
    out = synthesize_healpix(sky, n=1, seed=0, steps=steps, progress=False, bank=bank)
    print(f"synthesis: {time.perf_counter() - t0:.1f} s", file=sys.stderr, flush=True)
    seconds = time.perf_counter() - t0
    peak = high_water_mb()
    rep_synth = evaluate_healpix(sky, out.double())
    rep_other = evaluate_healpix(sky, other[None, None])
    a = {m.name: m.relative for m in rep_synth.metrics}
    b = {m.name: m.relative for m in rep_other.metrics}
    z = ((sky - sky.mean()) / sky.std()).numpy()
    lines = [
        "",
        f"Lognormal sky, nside {nside}, skewness {float(np.mean(z**3)):.1f}: "
        f"`synthesize_healpix(sky, n=1, seed=0, steps={steps}, bank={bank!r})` took "
        f"**{seconds:.1f} s** "
        f"(peak RSS of the process {peak:.0f} MB).",
        "",
        "| metric (1 = as close as the exemplar's own faces) | synthesis | second realisation |",
        "|:---|---:|---:|",
    ]
    for name in a:
        va, vb = a[name], b.get(name)
        fa = "—" if va is None else f"{va:.2f}"
        fb = "—" if vb is None else f"{vb:.2f}"
        lines.append(f"| {name} | {fa} | {fb} |")
    return lines


SEARCH_CONFIGS: dict[str, dict[str, object]] = {
    "default": {},
    "to_gaussian=False": {"to_gaussian": False},
    "L=8": {"L": 8},
    "J=log2(nside)-2": {"J": -2},
    "histogram=5": {"histogram": 5.0},
    "histogram=0": {"histogram": 0.0},
    "spectrum=0": {"spectrum": 0.0},
    "spectrum=5": {"spectrum": 5.0},
    "to_gaussian": {"to_gaussian": True},
    "levels=1": {"levels": 1},
    "levels=2": {"levels": 2},
    "iso_ang": {"iso_ang": True},
    "use_variance=False": {"use_variance": False},
    "Gaussian init": {"init": "gaussian"},
    "to_gaussian + Gaussian init": {"to_gaussian": True, "init": "gaussian"},
    "to_gaussian + levels=2": {"to_gaussian": True, "levels": 2},
    "to_gaussian + levels=1": {"to_gaussian": True, "levels": 1},
    "to_gaussian + levels=3": {"to_gaussian": True, "levels": 3},
    "to_gaussian + L=8": {"to_gaussian": True, "L": 8},
}
"""Named ``synthesize_healpix`` options tried by ``--part search`` (``J`` below 0 counts
from ``log2(nside)``; ``init="gaussian"`` is a Gaussian field of the exemplar's C_ell)."""


def gaussian_like(sky: np.ndarray, seed: int) -> np.ndarray:
    """A Gaussian field (nested) with the exemplar's ``C_ell`` (healpy ``anafast`` then
    ``synfast``), its mean and standard deviation."""
    import healpy as hp

    nside = hp.npix2nside(sky.size)
    ring = hp.reorder(sky, n2r=True)
    cl = hp.anafast(ring - ring.mean(), lmax=3 * nside - 1)
    np.random.seed(seed)  # noqa: NPY002 (healpy.synfast draws from the global state)
    g = hp.reorder(hp.synfast(cl, nside, lmax=3 * nside - 1), r2n=True)
    return (g - g.mean()) / g.std() * sky.std() + sky.mean()


def search_options(name: str, sky: torch.Tensor, seed: int) -> dict[str, object]:
    """The keyword arguments of :data:`SEARCH_CONFIGS`'s ``name`` for ``sky`` and ``seed``."""
    kw = dict(SEARCH_CONFIGS[name])
    if kw.get("init") == "gaussian":
        kw["init"] = torch.from_numpy(gaussian_like(sky.numpy(), seed))
    if isinstance(kw.get("J"), int) and int(kw["J"]) < 0:  # type: ignore[call-overload]
        kw["J"] = int(math.log2(int(sky.numel()) // 12) / 2) + int(kw["J"])  # type: ignore[call-overload]
    return kw


def bench_search(nside: int, steps: int, names: list[str], seeds: list[int]) -> list[str]:
    """Each named option set of :data:`SEARCH_CONFIGS` on the lognormal sky: wall time and
    ``evaluate_healpix`` ratios, one row per (option set, seed); the second realisation of
    the process as the last row."""
    from texsynth import evaluate_healpix, synthesize_healpix

    sky = torch.from_numpy(lognormal_sky(nside, seed=0))
    other = torch.from_numpy(lognormal_sky(nside, seed=1))
    base = evaluate_healpix(sky, other[None, None])
    metrics = [m.name for m in base.metrics]
    lines = [
        "",
        f"Lognormal sky, nside {nside}, `steps={steps}`; `evaluate_healpix` ratios:",
        "",
        "| options | seed | time (s) | " + " | ".join(metrics) + " |",
        "|:---|---:|---:|" + "---:|" * len(metrics),
    ]
    for name in names:
        for seed in seeds:
            kw = search_options(name, sky, seed)
            t0 = time.perf_counter()
            out = synthesize_healpix(sky, n=1, seed=seed, steps=steps, progress=False, **kw)
            seconds = time.perf_counter() - t0
            rel = {m.name: m.relative for m in evaluate_healpix(sky, out.double()).metrics}
            cells = ["—" if rel.get(k) is None else f"{rel[k]:.2f}" for k in metrics]
            lines.append(f"| {name} | {seed} | {seconds:.1f} | " + " | ".join(cells) + " |")
            print(lines[-1], file=sys.stderr, flush=True)
    cells = ["—" if m.relative is None else f"{m.relative:.2f}" for m in base.metrics]
    lines.append("| *second realisation* | — | — | " + " | ".join(cells) + " |")
    return lines


def bench_foscat(
    nside: int, steps: int, epochs: list[int], seeds: list[int], configs: list[str]
) -> list[str]:
    """foscat's ``synthesis`` at each ``NUM_EPOCHS`` of ``epochs`` against texsynth's
    ``synthesize_healpix`` (``steps`` and each option set of ``configs``, names of
    :data:`SEARCH_CONFIGS`), one map per seed each, on the
    lognormal sky at ``nside``: wall time per map and ``evaluate_healpix`` ratios (the
    second realisation of the process as the yardstick). foscat runs on the standardised
    sky (``bench_healpix.run_foscat``) with its defaults otherwise (``nstep=4`` levels,
    ``KERNELSZ=3``, ``NORIENT=4``)."""
    from bench_healpix import run_foscat
    from texsynth import evaluate_healpix, synthesize_healpix

    sky_np = lognormal_sky(nside, seed=0)
    sky = torch.from_numpy(sky_np)
    other = torch.from_numpy(lognormal_sky(nside, seed=1))
    base = evaluate_healpix(sky, other[None, None])
    metrics = [m.name for m in base.metrics]
    lines = [
        "",
        f"Lognormal sky, nside {nside}; one map per seed, `evaluate_healpix` ratios:",
        "",
        "| run | seed | time per map (s) | " + " | ".join(metrics) + " |",
        "|:---|---:|---:|" + "---:|" * len(metrics),
    ]

    def row(name: str, seed: int, seconds: float, out: torch.Tensor) -> None:
        rel = {m.name: m.relative for m in evaluate_healpix(sky, out.double()).metrics}
        cells = ["—" if rel.get(k) is None else f"{rel[k]:.2f}" for k in metrics]
        lines.append(f"| {name} | {seed} | {seconds:.1f} | " + " | ".join(cells) + " |")
        print(lines[-1], file=sys.stderr, flush=True)

    for seed in seeds:
        for name in configs:
            kw = search_options(name, sky, seed)
            t0 = time.perf_counter()
            out = synthesize_healpix(sky, n=1, seed=seed, steps=steps, progress=False, **kw)
            row(f"texsynth {name}, `steps={steps}`", seed, time.perf_counter() - t0, out)
        for e in epochs:
            fs, seconds = run_foscat(sky_np, e, [seed])
            row(f"foscat `NUM_EPOCHS={e}`", seed, seconds, torch.from_numpy(fs))
    cells = ["—" if m.relative is None else f"{m.relative:.2f}" for m in base.metrics]
    lines.append("| *second realisation* | — | — | " + " | ".join(cells) + " |")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--part", choices=("stats", "synth", "memory", "search", "foscat"), default="stats"
    )
    parser.add_argument("--nsides", type=int, nargs="+", default=[64, 128, 256])
    parser.add_argument("--banks", nargs="+", default=["faces"], choices=("faces", "stencil"))
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--budget", type=float, default=150.0, help="seconds per library case")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--synth-nside", type=int, default=128)
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--memory-nsides", type=int, nargs="+", default=[256, 512])
    parser.add_argument(
        "--memory-libs", nargs="+", default=["texsynth-faces"], help="also texsynth-stencil, foscat"
    )
    parser.add_argument(
        "--configs",
        nargs="+",
        default=None,
        choices=list(SEARCH_CONFIGS),
        help="option sets (default: all for --part search, default for --part foscat)",
    )
    parser.add_argument("--foscat-epochs", type=int, nargs="+", default=[10, 50])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--out", type=Path, default=None, help="also write the tables here")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    lines = header(args.threads)
    print("\n".join(lines), flush=True)
    if args.part == "stats":
        lines += bench_stats(args.nsides, args.banks, args.repeat, args.budget)
    elif args.part == "search":
        configs = args.configs or list(SEARCH_CONFIGS)
        lines += bench_search(args.synth_nside, args.steps, configs, args.seeds)
    elif args.part == "foscat":
        limit = os.environ.get("BENCH_SPHERE_LIMIT_GB")  # foscat must not swap the machine
        if limit:
            cap = int(float(limit) * 2**30)
            resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
        lines += bench_foscat(
            args.synth_nside,
            args.steps,
            args.foscat_epochs,
            args.seeds,
            args.configs or ["default"],
        )
    elif args.part == "synth":
        lines += bench_synth(args.synth_nside, args.steps, args.banks[0])
    else:
        lines += ["", "| library | nside | build (s) | fwd+bwd (s) | peak RSS (MB) | idle (MB) |"]
        lines.append("|:---|---:|---:|---:|---:|---:|")
        for lib in args.memory_libs:
            for nside in args.memory_nsides:
                template = tempfile.mkdtemp(prefix=f"foscat_kernels_{nside}_")
                r = peak_rss(lib, nside, template, 20 * args.budget)
                if r is None:
                    lines.append(f"| {lib} | {nside} | failed | | | |")
                else:
                    lines.append(
                        f"| {lib} | {nside} | {r['build_s']:.1f} | {r['fb_s']:.2f} | "
                        f"{r['peak_mb']:.0f} | {r['idle_mb']:.0f} |"
                    )
                print(lines[-1], file=sys.stderr, flush=True)
    lines.append(f"- load average at end: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    print("\n".join(lines[3:]), flush=True)
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    if len(sys.argv) == 6 and sys.argv[1] == CHILD:
        limit = os.environ.get("BENCH_SPHERE_LIMIT_GB")  # address-space cap of the child
        if limit:
            cap = int(float(limit) * 2**30)
            resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
        torch.set_num_threads(int(sys.argv[5]))
        print(json.dumps(peak_rss_child(sys.argv[2], int(sys.argv[3]), sys.argv[4])))
    else:
        main()
