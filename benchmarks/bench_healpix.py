"""HEALPix spheres: texsynth vs foscat, statistics speed and synthesis quality.

Part ``stats``: the scattering covariance of one ``nside`` map (batch 1, float32, CPU), with
the same number of scales ``J = log2(nside)`` (down to nside 2) and ``L = 4`` for both:

* texsynth: ``HealpixScatteringCovariance(J=J)(x)``, ``x`` of shape ``[1, 1, npix]``;
* foscat: ``foscat.scat_cov.funct(NORIENT=4, KERNELSZ=3).eval(x, Jmax=J)``, ``x`` ``[1, npix]``.

The *first call* (operator construction included) runs in a fresh process per library and
``nside``; foscat's is measured twice, with an empty kernel cache folder (``TEMPLATE_PATH``)
and again with the files the first run wrote there. *Steady state* is the median of up to
``--repeat`` calls after one warm-up, forward alone (``no_grad``) and forward + backward (a
scalar loss: the sum of S0 ... S4, moduli of the complex ones), the two libraries alternating
call by call so that load from other processes hits both. A case stops repeating once it has
used ``--budget`` seconds, and an ``nside`` whose first call takes longer than that is
skipped, with every larger one, for that library.

Part ``synth``: a lognormal sky ``exp(g)``, ``g`` a unit-variance Gaussian field of
``C_ell ∝ ell^-2.5`` (``ell >= 2``; alms drawn with numpy's ``default_rng``, map by
``healpy.alm2map``, NESTED ordering), synthesised twice:

* texsynth: ``synthesize_healpix(sky, n=2, seed=0, steps=--steps)`` (default 100 steps);
* foscat: ``synthesis(xnorm, seed=s, NUM_EPOCHS=E)`` for ``s = 0, 1`` (its documented way to
  draw independent realisations; default ``nstep=4`` schedule), on the standardised sky,
  then scaled back. ``E`` (``--foscat-epochs``) defaults to the value whose predicted time,
  from a measured one-epoch run, matches texsynth's run.

Both are graded by :func:`texsynth.evaluation_healpix.evaluate_healpix` (1 = as close to
the exemplar as its own other faces are) and by the ratio of their ``anafast`` C_ell to the
exemplar's in half-octave bins, and drawn with
:func:`texsynth.healpix_views.healpix_contact_sheet`.

Run from the repository root, with foscat and healpy installed::

    PYTHONPATH=src python benchmarks/bench_healpix.py --out benchmarks/results/healpix.md
    PYTHONPATH=src python benchmarks/bench_healpix.py --part stats --nsides 16 32
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import math
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from bench_stats import machine_info

ROOT = Path(__file__).resolve().parent.parent
FIRST_FLAG = "--first-call"  # internal: time one first call in this fresh process
LIBRARIES = ("texsynth", "foscat")
L = 4
FOSCAT_KERNELSZ = 3  # foscat's HEALPix default


# ------------------------------------------------------------------------------- helpers
def quiet() -> contextlib.ExitStack:
    """Silence foscat's progress prints and the warnings of its sparse tensors."""
    stack = contextlib.ExitStack()
    stack.enter_context(contextlib.redirect_stdout(io.StringIO()))
    stack.enter_context(warnings.catch_warnings())
    warnings.simplefilter("ignore")
    return stack


def scalar_loss(stats: object) -> torch.Tensor:
    """Sum of S0 ... S4 (moduli of complex coefficients); missing fields are skipped."""
    total = torch.zeros(())
    for name in ("S0", "S1", "S2", "S3", "S4"):
        t = getattr(stats, name, None)
        if isinstance(t, torch.Tensor):
            total = total + (t.abs() if t.is_complex() else t).sum()
    return total


def white_map(nside: int) -> torch.Tensor:
    """A fixed ``[1, 12 nside**2]`` float32 white-noise map."""
    rng = np.random.default_rng(nside)
    return torch.from_numpy(rng.standard_normal((1, 12 * nside**2)).astype(np.float32))


def make_op(lib: str, nside: int, template: str) -> Callable[[torch.Tensor], object]:
    """A function ``x [1, npix] -> statistics`` of ``lib`` with ``J = log2(nside)`` scales
    (the operator is built here; foscat's kernel files go to ``template``)."""
    J = int(math.log2(nside))
    if lib == "texsynth":
        from texsynth import HealpixScatteringCovariance

        op = HealpixScatteringCovariance(J=J, L=L)
        return lambda x: op(x[:, None, :])
    import foscat.scat_cov as sc

    with quiet():
        fop = sc.funct(NORIENT=L, KERNELSZ=FOSCAT_KERNELSZ, TEMPLATE_PATH=template)

    def run(x: torch.Tensor) -> object:
        with quiet():
            return fop.eval(x, Jmax=J)

    return run


def first_call(lib: str, nside: int, template: str) -> dict[str, float]:
    """Seconds of building ``lib``'s operator plus its first call (in this process)."""
    x = white_map(nside)
    with quiet():  # imports are not part of the first call
        __import__("texsynth" if lib == "texsynth" else "foscat.scat_cov")
    t0 = time.perf_counter()
    stats = make_op(lib, nside, template)(x)
    seconds = time.perf_counter() - t0
    return {"seconds": seconds, "J": int(stats.S1.shape[-2])}  # type: ignore[attr-defined]


def first_call_subprocess(lib: str, nside: int, template: str, timeout: float) -> float | None:
    """:func:`first_call` in a fresh interpreter; ``None`` past ``timeout`` seconds."""
    cmd = [
        sys.executable,
        __file__,
        FIRST_FLAG,
        lib,
        str(nside),
        template,
        str(torch.get_num_threads()),
    ]
    env = dict(
        os.environ,
        PYTHONPATH=os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")]),
    )
    try:
        done = subprocess.run(
            cmd, capture_output=True, text=True, timeout=timeout, env=env, check=True
        )
    except subprocess.TimeoutExpired:
        return None
    return float(json.loads(done.stdout.strip().splitlines()[-1])["seconds"])


def _fmt(values: list[float]) -> str:
    if not values:
        return "—"
    med = statistics.median(values)
    return (
        f"{med:.3f} ({min(values):.3f}, n={len(values)})"
        if med < 10
        else (f"{med:.1f} ({min(values):.1f}, n={len(values)})")
    )


def _ratio(a: list[float], b: list[float]) -> str:
    if not a or not b:
        return "—"
    return f"**{statistics.median(b) / statistics.median(a):.1f}×**"


def timed_call(op: Callable[[torch.Tensor], object], x: torch.Tensor, mode: str) -> float:
    """Seconds of one forward (``mode="f"``, no autograd) or forward + backward (``"fb"``)."""
    t0 = time.perf_counter()
    if mode == "f":
        with torch.no_grad():
            value = scalar_loss(op(x))
    else:
        xg = x.clone().requires_grad_(True)
        value = scalar_loss(op(xg))
        value.backward()
        assert xg.grad is not None and bool(torch.isfinite(xg.grad).all())
    seconds = time.perf_counter() - t0
    assert bool(torch.isfinite(value)), "a non-finite loss"
    return seconds


# -------------------------------------------------------------------------- statistics
def bench_stats(nsides: list[int], repeat: int, budget: float, lines: list[str]) -> dict:
    """The statistics table (appended to ``lines``); returns the raw times."""
    skipped: set[str] = set()
    raw: dict = {}
    lines += [
        "",
        "Seconds, median (min, n runs). First call = a fresh process building the operators "
        "and computing once; foscat's with an empty kernel-cache folder (cold) and with the "
        "files its first run wrote (cached).",
        "",
        "| nside | J | texsynth first call | foscat first call cold / cached | "
        "texsynth forward | foscat forward | speed-up | texsynth fwd+bwd | foscat fwd+bwd | "
        "speed-up |",
        "|---:|:---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for nside in nsides:
        J = int(math.log2(nside))
        template = tempfile.mkdtemp(prefix=f"foscat_kernels_{nside}_")
        first: dict[str, str] = {}
        live = [lib for lib in LIBRARIES if lib not in skipped]
        for lib in live:
            print(f"nside {nside}: first call of {lib} ...", file=sys.stderr, flush=True)
            cold = first_call_subprocess(lib, nside, template, budget)
            if cold is None:
                skipped.add(lib)
                first[lib] = f"> {budget:.0f} s: skipped"
                continue
            first[lib] = f"{cold:.2f}"
            if lib == "foscat":
                cached = first_call_subprocess(lib, nside, template, budget)
                first[lib] += f" / {cached:.2f}" if cached is not None else " / —"
            raw.setdefault(nside, {})[f"{lib}_first"] = first[lib]
        live = [lib for lib in LIBRARIES if lib not in skipped]
        ops = {lib: make_op(lib, nside, template) for lib in live}
        x = white_map(nside)
        times: dict[tuple[str, str], list[float]] = {
            (lib, m): [] for lib in live for m in ("f", "fb")
        }

        print(f"nside {nside}: steady state {live} ...", file=sys.stderr, flush=True)
        for lib in live:  # warm-up: one forward + backward (caches, allocator)
            timed_call(ops[lib], x, "fb")
        for _ in range(repeat):
            for mode in ("f", "fb"):
                for lib in live:
                    if sum(times[(lib, mode)]) < budget:
                        times[(lib, mode)].append(timed_call(ops[lib], x, mode))
        raw.setdefault(nside, {}).update({f"{lib}_{m}": v for (lib, m), v in times.items()})
        cells = []
        for mode in ("f", "fb"):
            ours, theirs = times.get(("texsynth", mode), []), times.get(("foscat", mode), [])
            cells += [_fmt(ours), _fmt(theirs), _ratio(ours, theirs)]
        lines.append(
            f"| {nside} | {J} | {first.get('texsynth', '—')} | {first.get('foscat', '—')} | "
            + " | ".join(cells)
            + " |"
        )
        print(lines[-1], file=sys.stderr, flush=True)
        del ops
        shutil.rmtree(template, ignore_errors=True)  # foscat's kernel files: up to GBs
    return raw


# --------------------------------------------------------------------------- synthesis
def lognormal_sky(nside: int, seed: int = 0, slope: float = 2.5) -> np.ndarray:
    """``exp(g)``, ``g`` a unit-variance Gaussian field with ``C_ell ∝ ell**-slope``
    (``ell >= 2``) drawn from ``numpy.random.default_rng(seed)`` alms; NESTED, float64."""
    import healpy as hp

    lmax = 3 * nside - 1
    cl = np.zeros(lmax + 1)
    cl[2:] = np.arange(2, lmax + 1, dtype=np.float64) ** -slope
    ell, m = hp.Alm.getlm(lmax)
    rng = np.random.default_rng(seed)
    alm = (rng.standard_normal(ell.size) + 1j * rng.standard_normal(ell.size)) * np.sqrt(
        cl[ell] / 2
    )
    alm[m == 0] = rng.standard_normal(int((m == 0).sum())) * np.sqrt(cl[ell[m == 0]])
    g = hp.reorder(hp.alm2map(alm, nside, lmax=lmax), r2n=True)
    g = (g - g.mean()) / g.std()
    return np.exp(g)


def run_foscat(sky: np.ndarray, epochs: int, seeds: list[int]) -> tuple[np.ndarray, float]:
    """foscat's ``synthesis`` (defaults but ``NUM_EPOCHS``), once per seed, on the
    standardised sky; outputs scaled back to the sky's units, and the wall seconds."""
    import foscat.scat_cov as sc

    mean, std = sky.mean(), sky.std()
    xnorm = (sky - mean) / std
    outs = []
    t0 = time.perf_counter()
    with quiet():
        op = sc.funct(NORIENT=L, KERNELSZ=FOSCAT_KERNELSZ)
        for s in seeds:
            outs.append(np.asarray(op.synthesis(xnorm, seed=s, NUM_EPOCHS=epochs)) * std + mean)
    return np.stack(outs)[:, None, :], time.perf_counter() - t0


def run_texsynth(sky: np.ndarray, n: int, steps: int) -> tuple[np.ndarray, float]:
    """``synthesize_healpix(sky, n=n, seed=0, steps=steps)`` and its wall seconds."""
    from texsynth import synthesize_healpix

    t0 = time.perf_counter()
    out = synthesize_healpix(torch.from_numpy(sky), n=n, seed=0, steps=steps, progress=False)
    return out.double().numpy(), time.perf_counter() - t0


def grade(
    sky: np.ndarray, samples: np.ndarray
) -> tuple[dict[str, float | None], list[float], list[float]]:
    """``evaluate_healpix`` ratios by metric, and the C_ell ratio (sample mean / exemplar)
    per half-octave bin with the bins' centres."""
    from texsynth.evaluation_healpix import anafast_binned, evaluate_healpix

    ex = torch.from_numpy(sky)
    xs = torch.from_numpy(samples)
    report = evaluate_healpix(ex, xs)
    ratios = {m.name: m.relative for m in report.metrics}
    centres, logc_ex = anafast_binned(ex.reshape(1, 1, -1))
    _, logc = anafast_binned(xs)
    cl_ratio = torch.exp(logc - logc_ex).mean(0)[0]
    return ratios, [float(c) for c in centres], [float(v) for v in cl_ratio]


def bench_synth(
    nside: int, steps: int, epochs: int | None, images: Path | None, lines: list[str]
) -> None:
    """Synthesise, grade and draw at ``nside`` (appends tables to ``lines``)."""
    from texsynth.healpix_views import healpix_contact_sheet

    sky = lognormal_sky(nside)
    z = (sky - sky.mean()) / sky.std()
    lines += ["", f"### nside {nside}: lognormal sky, skewness {float((z**3).mean()):.1f}", ""]
    print(f"synthesis nside {nside}: texsynth steps={steps} ...", file=sys.stderr, flush=True)
    ts_out, ts_time = run_texsynth(sky, 2, steps)
    print(f"  texsynth {ts_time:.1f} s", file=sys.stderr, flush=True)
    if epochs is None:  # calibrate: one output with 1 and with 11 epochs
        _, t1 = run_foscat(sky, 1, [0])
        _, t11 = run_foscat(sky, 11, [0])
        per_epoch = max((t11 - t1) / 10, 1e-3)
        fixed = max(t1 - per_epoch, 0.0)
        epochs = min(300, max(1, round((ts_time / 2 - fixed) / per_epoch)))
        note = (
            f"foscat calibration (one output): NUM_EPOCHS=1 {t1:.1f} s, NUM_EPOCHS=11 "
            f"{t11:.1f} s, so {per_epoch:.1f} s per epoch (all levels) + {fixed:.1f} s fixed; "
            f"its default NUM_EPOCHS=300 would take about "
            f"{(fixed + 300 * per_epoch) / 60:.0f} min per output. NUM_EPOCHS={epochs} "
            "matches texsynth's time."
        )
        print("  " + note, file=sys.stderr, flush=True)
        lines += [note, ""]
    print(f"  foscat NUM_EPOCHS={epochs} x 2 seeds ...", file=sys.stderr, flush=True)
    fs_out, fs_time = run_foscat(sky, epochs, [0, 1])
    print(f"  foscat {fs_time:.1f} s", file=sys.stderr, flush=True)
    runs = {
        f"texsynth `synthesize_healpix(sky, n=2, seed=0, steps={steps})`": (ts_out, ts_time),
        f"foscat `synthesis(xnorm, seed=s, NUM_EPOCHS={epochs})`, s = 0, 1": (fs_out, fs_time),
    }
    graded = {}
    for name, (out, _) in runs.items():
        print(f"  grading {name} ...", file=sys.stderr, flush=True)
        graded[name] = grade(sky, out)
    names = list(runs)
    lines += [
        "| | " + " | ".join(names) + " |",
        "|:---|" + "---:|" * len(names),
        "| wall time, 2 maps (s) | " + " | ".join(f"{runs[n][1]:.1f}" for n in names) + " |",
    ]
    for metric in graded[names[0]][0]:
        vals = [graded[n][0].get(metric) for n in names]
        lines.append(
            f"| {metric} | " + " | ".join("—" if v is None else f"{v:.2f}" for v in vals) + " |"
        )
    lines += [
        "",
        "C_ell ratio (mean of the 2 maps' anafast C_ell / the exemplar's), half-octave bins:",
        "",
    ]
    centres = graded[names[0]][1]
    lines += [
        "| ell ≈ | " + " | ".join(f"{c:.0f}" for c in centres) + " |",
        "|:---|" + "---:|" * len(centres),
    ]
    for name, short in zip(names, ("texsynth", "foscat"), strict=True):
        lines.append(f"| {short} | " + " | ".join(f"{v:.2f}" for v in graded[name][2]) + " |")
    if images is not None:
        images.mkdir(parents=True, exist_ok=True)
        for (out, _), short in zip(runs.values(), ("texsynth", "foscat"), strict=True):
            suffix = "" if nside == 32 else f"_{nside}"
            path = images / f"healpix_synth_{short}{suffix}.png"
            healpix_contact_sheet(
                sky,
                out,
                path,
                title=f"{short}: lognormal exemplar (left) and 2 syntheses, nside {nside}",
            )
            lines.append(
                f"\nPicture: `{path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}` "
                f"({path.stat().st_size // 1024} kB)"
            )


# -------------------------------------------------------------------------------- main
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=("stats", "synth", "all"), default="all")
    parser.add_argument("--nsides", type=int, nargs="+", default=[16, 32, 64, 128])
    parser.add_argument("--repeat", type=int, default=5, help="steady-state runs (default 5)")
    parser.add_argument("--budget", type=float, default=120.0, help="seconds per case (120)")
    parser.add_argument("--threads", type=int, default=2, help="torch threads (default 2)")
    parser.add_argument("--synth-nsides", type=int, nargs="+", default=[32])
    parser.add_argument("--steps", type=int, default=100, help="texsynth steps (default 100)")
    parser.add_argument("--foscat-epochs", type=int, default=None, help="default: matched time")
    parser.add_argument("--images", type=Path, default=ROOT / "docs" / "images")
    parser.add_argument("--no-images", action="store_true")
    parser.add_argument("--out", type=Path, default=None, help="also write the tables here")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    lines = machine_info(args.threads)
    lscpu = subprocess.run(["lscpu"], capture_output=True, text=True).stdout.splitlines()[:10]
    lines += [
        "- nproc: " + subprocess.run(["nproc"], capture_output=True, text=True).stdout.strip()
    ]
    lines += ["", "```", *lscpu, "```"]
    print("\n".join(lines), flush=True)
    start = len(lines)
    if args.part in ("stats", "all"):
        lines += ["", "## Statistics: scattering covariance of one map"]
        bench_stats(args.nsides, args.repeat, args.budget, lines)
    if args.part in ("synth", "all"):
        lines += ["", "## Synthesis"]
        for nside in args.synth_nsides:
            images = None if args.no_images else args.images
            bench_synth(nside, args.steps, args.foscat_epochs, images, lines)
    lines.append(f"\n- load average at end: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    print("\n".join(lines[start:]), flush=True)
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    if len(sys.argv) == 6 and sys.argv[1] == FIRST_FLAG:
        torch.set_num_threads(int(sys.argv[5]))
        print(json.dumps(first_call(sys.argv[2], int(sys.argv[3]), sys.argv[4])))
    else:
        main()
