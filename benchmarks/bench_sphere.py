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
levels, a Gaussian start, the finest level's budget), one map per ``--seeds`` seed, timed
(wall and CPU seconds) and graded as in ``synth`` (issue 18's peaks / V2 gap).

Part ``skies`` (issue 18's other test skies): a Gaussian CMB-like sky
(:func:`cmb_like_cl`), a filamentary one (:func:`filament_sky`) and the dust-like one at
``--synth-nside``, ``--sky-runs`` syntheses per ``--seeds`` seed, Gaussian surrogates of the
exemplar's ``C_ell`` and other realisations of each process, graded by ``evaluate_healpix``,
skewness, kurtosis, the scattering chi-square and the fraction of multipoles within one and
two cosmic-variance sigmas; ``--images DIR`` draws one contact sheet per sky.

Part ``synth-memory``: peak RSS of ``synthesize_healpix`` (``--steps``; a few suffice: the
peak is one evaluation's) of the lognormal sky at each ``--memory-nsides``, each in a fresh
process (``BENCH_SPHERE_LIMIT_GB`` caps its address space).

Part ``foscat``: the same sky, texsynth (``--configs``, default its defaults) against
foscat's ``synthesis`` at each ``--foscat-epochs`` ``NUM_EPOCHS``, one map per seed, timed
on one process and graded; ``BENCH_SPHERE_LIMIT_GB`` caps the process's address space.

Run from the repository root (foscat and healpy installed)::

    PYTHONPATH=src python benchmarks/bench_sphere.py --part stats --nsides 64 128 256
    PYTHONPATH=src python benchmarks/bench_sphere.py --part synth --steps 100
    PYTHONPATH=src python benchmarks/bench_sphere.py --part memory --memory-nsides 256 512
    PYTHONPATH=src python benchmarks/bench_sphere.py --part search --synth-nside 64
    PYTHONPATH=src python benchmarks/bench_sphere.py --part foscat --synth-nside 32
    PYTHONPATH=src python benchmarks/bench_sphere.py --part skies --images docs/images
    BENCH_SPHERE_LIMIT_GB=24 PYTHONPATH=src python benchmarks/bench_sphere.py \
        --part synth-memory --memory-nsides 512 --steps 10 --threads 1
"""

from __future__ import annotations

import argparse
import contextlib
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
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

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
    # issue 18's V2 decision (to_gaussian is the default from here on): cheaper than levels=2?
    "finest 10 (decay 3)": {"schedule": "decay3"},
    "finest 20": {"schedule": (20,)},
    "finest 33": {"schedule": (33,)},
    "below finest 33": {"schedule": (10, 33)},
    "finest 20, below 33": {"schedule": (20, 33)},
    "finest 33, tol=1e-3": {"schedule": (33,), "tol": 1e-3},
    "decay 2": {"schedule": "decay2"},
    "L=8 at finest": {"fine_L": 8},
    "histogram=3": {"histogram": 3.0},
    "histogram=0.3": {"histogram": 0.3},
    "spectrum=3": {"spectrum": 3.0},
    "spectrum=0.3": {"spectrum": 0.3},
    "levels=2 (default options)": {"levels": 2},
}
"""Named ``synthesize_healpix`` options tried by ``--part search`` (``J`` below 0 counts
from ``log2(nside)``; ``init="gaussian"`` is a Gaussian field of the exemplar's C_ell).
Two keys are not ``synthesize_healpix`` options but experiments :func:`experiment` patches
in: ``schedule``, the loss evaluations of the finest levels (finest first; the coarser
levels keep their default), ``"decay2"`` (``steps // 2**k`` at level ``k``, at least
10) or ``"decay3"`` (``steps // 3**k``, the default, forced);
``fine_L``, the orientations at the finest level only (``L`` below it)."""

EXPERIMENTS = ("schedule", "fine_L")


@contextlib.contextmanager
def experiment(options: dict[str, object]) -> Iterator[None]:
    """Patch :mod:`texsynth.synthesis.sphere` for the experimental keys of ``options``
    (:data:`EXPERIMENTS`) while the block runs: the per-level budget (``schedule``) and the
    finest level's ``L`` (``fine_L``). Nothing is patched without them."""
    from texsynth.synthesis import sphere

    schedule = options.get("schedule")
    fine_L = options.get("fine_L")
    if schedule is None and fine_L is None:
        yield
        return
    original_levels = sphere.optimise_levels
    original_loss = sphere.HealpixScatteringLoss
    finest = {"npix": -1}

    def loss(ex_k: torch.Tensor, **kw: Any) -> object:
        if fine_L is not None and ex_k.shape[-1] == finest["npix"]:
            kw["L"] = fine_L
        return original_loss(ex_k, **kw)

    def levels(*args: Any, **kw: Any) -> torch.Tensor:
        n_levels = kw["levels"][0]
        finest["npix"] = kw["canvas"][0]
        default = kw["budget"]

        def budget(k: int) -> int:
            below = n_levels - 1 - k  # 0 = finest
            if schedule == "decay2":
                return max(default(0) // 2**k, min(default(0), 10))
            if schedule == "decay3":  # the default decay (also with fine_steps)
                return max(default(0) // 3**k, min(default(0), 10))
            if isinstance(schedule, tuple) and below < len(schedule):
                return int(schedule[below])
            return int(default(k))

        kw["budget"] = budget
        return original_levels(*args, **kw)

    sphere.optimise_levels = levels  # type: ignore[assignment]
    sphere.HealpixScatteringLoss = loss  # type: ignore[assignment,misc]
    try:
        yield
    finally:
        sphere.optimise_levels = original_levels  # type: ignore[assignment]
        sphere.HealpixScatteringLoss = original_loss  # type: ignore[misc]


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
    kw = {k: v for k, v in SEARCH_CONFIGS[name].items() if k not in EXPERIMENTS}
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
        "| options | seed | wall (s) | CPU (s) | evaluations per level | "
        + " | ".join(metrics)
        + " |",
        "|:---|---:|---:|---:|:---|" + "---:|" * len(metrics),
    ]
    for name in names:
        for seed in seeds:
            kw = search_options(name, sky, seed)
            t0, c0 = time.perf_counter(), time.process_time()
            with experiment(SEARCH_CONFIGS[name]):
                out, rep = synthesize_healpix(
                    sky, n=1, seed=seed, steps=steps, progress=False, report=True, **kw
                )
            seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
            rel = {m.name: m.relative for m in evaluate_healpix(sky, out.double()).metrics}
            cells = ["—" if rel.get(k) is None else f"{rel[k]:.2f}" for k in metrics]
            evals = ", ".join(str(i) for i in rep.iterations)
            lines.append(
                f"| {name} | {seed} | {seconds:.1f} | {cpu:.1f} | {evals} | "
                + " | ".join(cells)
                + " |"
            )
            print(lines[-1], file=sys.stderr, flush=True)
    cells = ["—" if m.relative is None else f"{m.relative:.2f}" for m in base.metrics]
    lines.append("| *second realisation* | — | — | — | — | " + " | ".join(cells) + " |")
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
            with experiment(SEARCH_CONFIGS[name]):
                out = synthesize_healpix(sky, n=1, seed=seed, steps=steps, progress=False, **kw)
            row(f"texsynth {name}, `steps={steps}`", seed, time.perf_counter() - t0, out)
        for e in epochs:
            fs, seconds = run_foscat(sky_np, e, [seed])
            row(f"foscat `NUM_EPOCHS={e}`", seed, seconds, torch.from_numpy(fs))
    cells = ["—" if m.relative is None else f"{m.relative:.2f}" for m in base.metrics]
    lines.append("| *second realisation* | — | — | " + " | ".join(cells) + " |")
    return lines


# ------------------------------------------------------------------ the other test skies
CMB_FWHM_ARCMIN = 40.0
FILAMENT_ELL = 60.0
FILAMENT_WIDTH = 0.1


def cmb_like_cl(lmax: int) -> np.ndarray:
    """A CMB-like ``C_ell`` (``ell >= 2``): the Sachs-Wolfe plateau ``1 / (ell (ell + 1))``
    with a first acoustic bump at ``ell ≈ 220``, seen through a Gaussian beam of
    ``CMB_FWHM_ARCMIN`` (no ΛCDM solver: ``camb`` is not installed)."""
    ell = np.arange(lmax + 1, dtype=np.float64)
    sigma = math.radians(CMB_FWHM_ARCMIN / 60.0) / math.sqrt(8.0 * math.log(2.0))
    cl = np.zeros(lmax + 1)
    e = ell[2:]
    cl[2:] = (1.0 + 3.0 * np.exp(-(((e - 220.0) / 80.0) ** 2))) / (e * (e + 1.0))
    return cl * np.exp(-ell * (ell + 1.0) * sigma**2)


def gaussian_sky(nside: int, cl: np.ndarray, seed: int) -> np.ndarray:
    """A Gaussian field of spectrum ``cl`` (alms from ``numpy.random.default_rng(seed)``,
    as ``bench_healpix.lognormal_sky`` draws them), NESTED, float64, unstandardised."""
    import healpy as hp

    lmax = cl.size - 1
    ell, m = hp.Alm.getlm(lmax)
    rng = np.random.default_rng(seed)
    alm = (rng.standard_normal(ell.size) + 1j * rng.standard_normal(ell.size)) * np.sqrt(
        cl[ell] / 2
    )
    alm[m == 0] = rng.standard_normal(int((m == 0).sum())) * np.sqrt(cl[ell[m == 0]])
    return np.asarray(hp.reorder(hp.alm2map(alm, nside, lmax=lmax), r2n=True))


def filament_sky(nside: int, seed: int) -> np.ndarray:
    """Filaments: ``exp(-g² / (2 w²))``, the zero contours of a smooth unit-variance
    Gaussian field ``g`` (``C_ell ∝ exp(-(ell / FILAMENT_ELL)²) / ell``) drawn as ridges of
    width ``w = FILAMENT_WIDTH``: a network of thin curved lines on a flat background, not
    a monotone transform of a Gaussian field (Gaussianising its values leaves it
    non-Gaussian)."""
    lmax = 3 * nside - 1
    ell = np.arange(lmax + 1, dtype=np.float64)
    cl = np.zeros(lmax + 1)
    cl[2:] = np.exp(-((ell[2:] / FILAMENT_ELL) ** 2)) / ell[2:]
    g = gaussian_sky(nside, cl, seed)
    g = (g - g.mean()) / g.std()
    return np.exp(-0.5 * (g / FILAMENT_WIDTH) ** 2)


def make_sky(kind: str, nside: int, seed: int) -> np.ndarray:
    """``kind``: ``cmb`` (Gaussian, :func:`cmb_like_cl`), ``dust`` (the lognormal sky of
    ``bench_healpix``) or ``filaments`` (:func:`filament_sky`); seed 0 is the exemplar,
    seed 1 the second realisation."""
    if kind == "cmb":
        return gaussian_sky(nside, cmb_like_cl(3 * nside - 1), seed)
    if kind == "dust":
        return lognormal_sky(nside, seed=seed)
    return filament_sky(nside, seed)


def variance_fractions(cl_hat: np.ndarray, cl_ref: np.ndarray, lmax: int) -> tuple[float, float]:
    """Fractions of ``2 <= ell <= lmax`` with ``|cl_hat / cl_ref - 1|`` within one and two
    cosmic-variance sigmas ``sqrt(2 / (2 ell + 1))``."""
    ell = np.arange(2, lmax + 1)
    dev = np.abs(cl_hat[ell] / cl_ref[ell] - 1.0) / np.sqrt(2.0 / (2.0 * ell + 1.0))
    return float(np.mean(dev <= 1.0)), float(np.mean(dev <= 2.0))


def scattering_chi2(sky: torch.Tensor, maps: torch.Tensor) -> list[float]:
    """Scattering chi-square of each map against ``sky`` (``HealpixScatteringLoss``, the
    exemplar's standard errors, both standardised by the exemplar's mean and σ): about 1
    is as close as the exemplar's own sampling noise."""
    from texsynth.losses.healpix import HealpixScatteringLoss

    mean, std = sky.mean(), sky.std()
    loss = HealpixScatteringLoss(((sky - mean) / std).float()[None, None])
    with torch.no_grad():
        return [float(loss(((m - mean) / std).float()[None, None])) for m in maps]


SKY_RUNS = ("default", "to_gaussian=False", "levels=2")


def bench_skies(
    nside: int, steps: int, kinds: list[str], seeds: list[int], runs: list[str]
) -> tuple[list[str], dict[str, dict[str, np.ndarray]]]:
    """Each sky of ``kinds``: syntheses (``runs`` of :data:`SKY_RUNS`, one map per seed), a
    Gaussian surrogate with the exemplar's ``C_ell`` (:func:`gaussian_like`) and a second
    realisation of the process, graded by ``evaluate_healpix`` ratios, skewness, excess
    kurtosis, the scattering chi-square and the C_ell's cosmic-variance fractions (against
    the input ``C_ell`` for the Gaussian sky, the exemplar's ``anafast`` otherwise). Returns
    the table lines and the maps (for the pictures)."""
    import healpy as hp

    from texsynth import evaluate_healpix, synthesize_healpix

    lines: list[str] = []
    maps: dict[str, dict[str, np.ndarray]] = {}
    lmax_fit = 2 * nside
    for kind in kinds:
        ex = make_sky(kind, nside, 0)
        sky = torch.from_numpy(ex)
        rows: list[tuple[str, str, np.ndarray]] = []
        for run in runs:
            kw: dict[str, object] = {
                "default": {},
                "to_gaussian=False": {"to_gaussian": False},
                "levels=2": {"levels": 2},
            }[run]
            for seed in seeds:
                t0 = time.perf_counter()
                out = synthesize_healpix(sky, n=1, seed=seed, steps=steps, progress=False, **kw)
                seconds = time.perf_counter() - t0
                print(f"{kind} {run} seed {seed}: {seconds:.1f} s", file=sys.stderr, flush=True)
                rows.append(
                    (f"synthesis, {run}, seed {seed}", f"{seconds:.1f}", out[0, 0].double().numpy())
                )
        for seed in seeds:
            rows.append(
                (f"Gaussian surrogate (same C_ell), seed {seed}", "—", gaussian_like(ex, seed))
            )
        for seed in seeds:
            rows.append(
                (f"*another realisation*, seed {seed + 1}", "—", make_sky(kind, nside, seed + 1))
            )
        maps[kind] = {"exemplar": ex, **{name: m for name, _, m in rows}}
        cl_ex = hp.anafast(hp.reorder(ex - ex.mean(), n2r=True), lmax=3 * nside - 1)
        truth = cmb_like_cl(3 * nside - 1) if kind == "cmb" else None
        z = (ex - ex.mean()) / ex.std()
        chi = scattering_chi2(sky, torch.from_numpy(np.stack([m for _, _, m in rows])))
        metrics: list[str] = []
        body: list[str] = []
        for (name, seconds, m), chi2 in zip(rows, chi, strict=True):
            rep = evaluate_healpix(sky, torch.from_numpy(m)[None, None])
            rel = {r.name: r.relative for r in rep.metrics}
            metrics = metrics or list(rel)
            zm = (m - m.mean()) / m.std()
            cl = hp.anafast(hp.reorder(m - m.mean(), n2r=True), lmax=3 * nside - 1)
            f1, f2 = variance_fractions(cl, cl_ex, lmax_fit)
            cells = ["—" if rel[k] is None else f"{rel[k]:.2f}" for k in metrics]
            cells += [f"{float(np.mean(zm**3)):.2f}", f"{float(np.mean(zm**4)) - 3:.2f}"]
            cells += [f"{chi2:.2f}", f"{f1:.2f} / {f2:.2f}"]
            if truth is not None:
                t1, t2 = variance_fractions(cl, truth, lmax_fit)
                cells.append(f"{t1:.2f} / {t2:.2f}")
            body.append(f"| {name} | {seconds} | " + " | ".join(cells) + " |")
            print(body[-1], file=sys.stderr, flush=True)
        if truth is not None:
            t1, t2 = variance_fractions(cl_ex, truth, lmax_fit)
            extra = f"; the exemplar's own C_ell against the input: {t1:.2f} / {t2:.2f}"
        else:
            extra = ""
        head = metrics + ["skewness", "excess kurtosis", "scattering χ²", "C_ell vs exemplar"]
        head += ["C_ell vs input"] if truth is not None else []
        lines += [
            "",
            f"**{kind}** sky, nside {nside}: exemplar skewness {float(np.mean(z**3)):.2f}, "
            f"excess kurtosis {float(np.mean(z**4)) - 3:.2f}; `steps={steps}`; C_ell columns: "
            f"fraction of 2 ≤ ell ≤ {lmax_fit} within 1 / 2 cosmic-variance sigmas{extra}",
            "",
            "| map | time (s) | " + " | ".join(head) + " |",
            "|:---|---:|" + "---:|" * len(head),
            *body,
        ]
    return lines, maps


def draw_skies(maps: dict[str, dict[str, np.ndarray]], images: Path) -> list[str]:
    """One contact sheet per sky: the exemplar, the first synthesis and the Gaussian
    surrogate (Mollweide, a gnomonic zoom, their C_ell), as a 256-colour PNG."""
    from PIL import Image

    from texsynth.healpix_views import healpix_contact_sheet

    lines = []
    images.mkdir(parents=True, exist_ok=True)
    for kind, by_name in maps.items():
        synth = next(k for k in by_name if k.startswith("synthesis"))
        path = images / f"healpix_skies_{kind}.png"
        surrogate = next(k for k in by_name if k.startswith("Gaussian surrogate"))
        sheet = np.stack([by_name[synth], by_name[surrogate]])
        nside = int(math.sqrt(by_name["exemplar"].size // 12))
        healpix_contact_sheet(
            by_name["exemplar"],
            sheet[:, None],
            path,
            gnomonic_centre=(30.0, 20.0),
            title=f"{kind} sky, nside {nside}: the exemplar, a synthesis with texsynth's "
            "defaults, and a Gaussian field of the exemplar's C_ell",
            labels=["synthesis", "Gaussian surrogate"],
        )
        with Image.open(path) as im:
            small = im.convert("RGB").quantize(256)
        small.save(path, optimize=True)
        shown = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path
        lines.append(f"- `{shown}` ({path.stat().st_size // 1024} kB)")
    return lines


# -------------------------------------------------------------------- synthesis memory
SYNTH_CHILD = "--synth-child"  # internal: one synthesis's peak memory in this process


def synth_memory_child(nside: int, steps: int) -> dict[str, float]:
    """In this process: the lognormal sky at ``nside``, then ``synthesize_healpix(sky, n=1,
    seed=0, steps=steps)`` with its default levels; seconds and peak resident memory (MB)
    before (imports and the exemplar) and after."""
    from texsynth import synthesize_healpix

    sky = torch.from_numpy(lognormal_sky(nside, seed=0))
    idle = high_water_mb()
    t0 = time.perf_counter()
    synthesize_healpix(sky, n=1, seed=0, steps=steps, progress=False)
    return {"idle_mb": idle, "peak_mb": high_water_mb(), "seconds": time.perf_counter() - t0}


def synth_memory(nside: int, steps: int, timeout: float) -> dict[str, float] | None:
    """:func:`synth_memory_child` in a fresh interpreter (``None`` on a failure or past
    ``timeout``); ``BENCH_SPHERE_LIMIT_GB`` caps its address space."""
    cmd = [sys.executable, __file__, SYNTH_CHILD, str(nside), str(steps)]
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--part",
        choices=("stats", "synth", "memory", "search", "foscat", "skies", "synth-memory"),
        default="stats",
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
    parser.add_argument("--skies", nargs="+", default=["cmb", "filaments", "dust"])
    parser.add_argument("--sky-runs", nargs="+", default=["default"], choices=SKY_RUNS)
    parser.add_argument(
        "--images", type=Path, default=None, help="--part skies: draw contact sheets here"
    )
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
    elif args.part == "skies":
        table, maps = bench_skies(
            args.synth_nside, args.steps, args.skies, args.seeds, args.sky_runs
        )
        lines += table
        if args.images is not None:
            lines += ["", *draw_skies(maps, args.images)]
    elif args.part == "synth-memory":
        limit = os.environ.get("BENCH_SPHERE_LIMIT_GB", "")
        lines += [
            "",
            f"`synthesize_healpix(sky, n=1, seed=0, steps={args.steps})` of the lognormal sky,"
            f" default levels, each nside in a fresh process"
            + (f" (address space capped at {limit} GB)" if limit else "")
            + ":",
            "",
            "| nside | time (s) | peak RSS (MB) | idle (MB) |",
            "|---:|---:|---:|---:|",
        ]
        for nside in args.memory_nsides:
            r = synth_memory(nside, args.steps, 20 * args.budget)
            if r is None:
                lines.append(f"| {nside} | failed | | |")
            else:
                lines.append(
                    f"| {nside} | {r['seconds']:.1f} | {r['peak_mb']:.0f} | {r['idle_mb']:.0f} |"
                )
            print(lines[-1], file=sys.stderr, flush=True)
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
    if len(sys.argv) == 5 and sys.argv[1] == SYNTH_CHILD:
        limit = os.environ.get("BENCH_SPHERE_LIMIT_GB")
        if limit:
            cap = int(float(limit) * 2**30)
            resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
        torch.set_num_threads(int(sys.argv[4]))
        print(json.dumps(synth_memory_child(int(sys.argv[2]), int(sys.argv[3]))))
    elif len(sys.argv) == 6 and sys.argv[1] == CHILD:
        limit = os.environ.get("BENCH_SPHERE_LIMIT_GB")  # address-space cap of the child
        if limit:
            cap = int(float(limit) * 2**30)
            resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
        torch.set_num_threads(int(sys.argv[5]))
        print(json.dumps(peak_rss_child(sys.argv[2], int(sys.argv[3]), sys.argv[4])))
    else:
        main()
