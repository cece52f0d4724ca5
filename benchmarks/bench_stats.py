"""Side-by-side benchmark of scattering-covariance statistics: texsynth vs foscat.

For each image size, times forward + backward (a scalar loss over all statistics) of

* ours:   ``texsynth.stats.ScatteringCovariance(J=J, L=4)`` on ``[1, 1, N, N]``;
* foscat: ``foscat.scat_cov2D.funct(NORIENT=4).eval(x)`` on ``[1, N, N]`` (KERNELSZ=5),

with the same number of scales ``J`` for both, and measures the peak resident memory of one
forward + backward in a fresh subprocess per (library, size).

Run it in the benchmark environment (see ``benchmarks/README.md``)::

    benchmarks/.venv-bench/bin/python benchmarks/bench_stats.py --sizes 128 256 512 \
        --repeat 7 --out benchmarks/results/stats.md
"""

from __future__ import annotations

import argparse
import datetime
import gc
import json
import math
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import torch

LIBRARIES = ("ours", "foscat")
FOSCAT_KERNELSZ = 5  # fixed by foscat.scat_cov2D.funct
L = 4  # orientations, both libraries
WARMUP = 2
MEMORY_FLAG = "--measure-memory"  # internal: run one memory measurement in this process

# Fixed malloc thresholds (glibc's defaults) turn off glibc's dynamic mmap threshold, which
# otherwise rises after the first call and keeps freed blocks of up to 32 MiB resident: with
# them the memory subprocess's RSS follows its live tensors.
MEMORY_ENV = {"MALLOC_MMAP_THRESHOLD_": "131072", "MALLOC_TRIM_THRESHOLD_": "131072"}


def foscat_J(N: int) -> int:
    """Number of scales foscat's 2D ``eval`` uses for an ``N x N`` image (KERNELSZ=5)."""
    J = int(math.log(N - FOSCAT_KERNELSZ) / math.log(2))  # same expression as foscat
    return J - 1 if FOSCAT_KERNELSZ > 3 else J


def ours_J(N: int, wanted: int) -> int:
    """``wanted`` scales, or the most texsynth allows for an ``N x N`` image if fewer."""
    from texsynth.wavelets import max_J

    return min(wanted, max_J(N, N))


def scalar_loss(stats: object, fields: tuple[str, ...]) -> torch.Tensor:
    """Sum of the statistics in ``fields`` (moduli of complex ones); ``None`` fields skipped."""
    total = torch.zeros(())
    for name in fields:
        t = getattr(stats, name, None)
        if t is not None:
            total = total + (t.abs() if t.is_complex() else t).sum()
    return total


@dataclass
class Case:
    """One library at one size: ``step()`` runs forward + backward once."""

    step: Callable[[], None]
    x: torch.Tensor
    J: int  # number of scales actually used (read from the output's S1)


def make_case(lib: str, N: int, seed: int = 0) -> Case:
    """Build the module and the input of ``lib`` for ``N x N`` images."""
    gen = torch.Generator().manual_seed(seed)
    J = foscat_J(N)
    if lib == "ours":
        from texsynth.stats import ScatteringCovariance

        sc = ScatteringCovariance(J=ours_J(N, J), L=L)
        x = torch.randn(1, 1, N, N, generator=gen, dtype=torch.float32).requires_grad_(True)

        def forward() -> object:
            return sc(x)

        fields = ("S1", "S2", "S3", "S4")
    elif lib == "foscat":
        import foscat.scat_cov2D as sc2d

        op = sc2d.funct(NORIENT=L)  # KERNELSZ=5, torch backend (on CUDA if torch sees a GPU)
        x = torch.randn(1, N, N, generator=gen, dtype=torch.float32).requires_grad_(True)

        def forward() -> object:
            return op.eval(x)  # torch backend: the graph to x is kept (bk_cast is a no-op)

        fields = ("S0", "S1", "S2", "S3", "S4")
    else:
        raise ValueError(f"unknown library {lib!r}")

    used = {"J": 0}

    def step() -> None:
        x.grad = None
        s = forward()
        used["J"] = int(s.S1.shape[-2])  # S1 is [B, C, J, L] for both
        scalar_loss(s, fields).backward()

    step()  # first warm-up: also checks that the gradient reaches the input
    if x.grad is None or not bool(torch.isfinite(x.grad).all()) or not bool(x.grad.any()):
        raise RuntimeError(f"{lib}: no finite, nonzero gradient reached the input")
    return Case(step, x, used["J"])


def time_cases(cases: dict[str, Case], repeat: int) -> dict[str, list[float]]:
    """Seconds of ``repeat`` forward + backward runs of each case, after the warm-up runs.

    The libraries alternate run by run (in turn first), so that a burst of load from other
    processes slows both rather than one of them.
    """
    for _ in range(WARMUP - 1):  # make_case already ran one
        for case in cases.values():
            case.step()
    times: dict[str, list[float]] = {lib: [] for lib in cases}
    order = list(cases)
    for r in range(repeat):
        for lib in order[r % len(order) :] + order[: r % len(order)]:
            t0 = time.perf_counter()
            cases[lib].step()
            times[lib].append(time.perf_counter() - t0)
    return times


def _status_mb(key: str) -> float | None:
    """``VmHWM`` / ``VmRSS`` of this process in MB, or None without /proc."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def _reset_peak() -> bool:
    """Reset this process's ``VmHWM`` to its current RSS (Linux >= 4.0)."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def _peak_increase(fn: Callable[[], None]) -> float:
    """Increase of the peak RSS (MB) over the current RSS while ``fn`` runs.

    Uses ``VmHWM`` of /proc/self/status, reset just before: ``ru_maxrss`` of a process started
    by fork + exec also counts the parent's peak, which would hide the child's own.
    """
    gc.collect()
    base = _status_mb("VmRSS")
    if base is not None and _reset_peak():
        fn()
        peak = _status_mb("VmHWM")
        assert peak is not None
        return max(peak - base, 0.0)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    fn()
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 - before


def measure_memory(lib: str, N: int, threads: int) -> dict[str, float]:
    """Peak RSS increase (MB) of the first and of a later forward + backward (this process)."""
    torch.set_num_threads(threads)
    holder: dict[str, Case] = {}
    first = _peak_increase(lambda: holder.__setitem__("case", make_case(lib, N)))
    steady = _peak_increase(holder["case"].step)
    return {"first_mb": first, "steady_mb": steady}


def memory_in_subprocess(lib: str, N: int, threads: int) -> dict[str, float]:
    """Run :func:`measure_memory` in a fresh interpreter, so runs don't contaminate each other."""
    cmd = [sys.executable, str(Path(__file__).resolve()), MEMORY_FLAG, lib, str(N), str(threads)]
    env = {**os.environ, **MEMORY_ENV}
    out = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    if out.returncode != 0:
        raise RuntimeError(f"memory run {lib} N={N} failed:\n{out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def _version(dist: str) -> str:
    try:
        return version(dist)
    except PackageNotFoundError:
        return "not installed"


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _git_commit() -> str:
    root = Path(__file__).resolve().parent.parent
    try:
        head = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(root), "--no-optional-locks", "status", "--porcelain", "-uno"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head + (" (with uncommitted changes)" if dirty else "")


def _loadavg() -> str:
    try:
        return " ".join(f"{v:.2f}" for v in os.getloadavg())
    except OSError:
        return "unknown"


def machine_info(threads: int, peers: tuple[str, ...] = ("foscat",)) -> list[str]:
    """Markdown bullet lines describing the machine and the software (``peers``: the
    distributions whose versions are listed before texsynth's)."""
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count() or 0
    return [
        f"- date: {datetime.datetime.now().astimezone().isoformat(timespec='seconds')}",
        f"- CPU: {_cpu_model()}",
        f"- cores: {os.cpu_count()} (usable: {usable}); torch threads: {threads}; "
        f"load average at start: {_loadavg()}",
        f"- Python {platform.python_version()}, torch {torch.__version__}",
        "- "
        + "".join(f"{p} {_version(p)}, " for p in peers)
        + f"texsynth {_version('texsynth')} (git {_git_commit()})",
    ]


def _ms(seconds: float) -> str:
    return f"{1000 * seconds:.1f}"


def _mem(m: dict[str, float]) -> str:
    return f"{m['steady_mb']:.0f} ({m['first_mb']:.0f})"


def run(sizes: list[int], repeat: int, threads: int) -> list[str]:
    """Benchmark every size; returns the markdown table lines."""
    torch.set_num_threads(threads)
    header = [
        "| size | J (ours / foscat) | ours median ms | ours min ms | foscat median ms "
        "| foscat min ms | speed-up | ours peak MB | foscat peak MB |",
        "|---:|:---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    rows = []
    notes = []
    for N in sizes:
        print(f"N={N}: timing ...", file=sys.stderr, flush=True)
        cases = {lib: make_case(lib, N) for lib in LIBRARIES}
        times = time_cases(cases, repeat)
        J_o, J_f = cases["ours"].J, cases["foscat"].J
        del cases
        gc.collect()
        print(f"N={N}: memory ...", file=sys.stderr, flush=True)
        m_o, m_f = (memory_in_subprocess(lib, N, threads) for lib in LIBRARIES)
        t_o, t_f = times["ours"], times["foscat"]
        print(f"N={N}: J ours={J_o}, J foscat={J_f}", file=sys.stderr, flush=True)
        J = f"{J_o}" if J_o == J_f else f"**{J_o}** / {J_f}"
        if J_o != J_f:
            notes.append(f"- N={N}: texsynth allows at most J={J_o}; foscat uses J={J_f}.")
        med_o, med_f = statistics.median(t_o), statistics.median(t_f)
        rows.append(
            f"| {N} | {J} | {_ms(med_o)} | {_ms(min(t_o))} | {_ms(med_f)} | {_ms(min(t_f))} "
            f"| {med_f / med_o:.1f}x | {_mem(m_o)} | {_mem(m_f)} |"
        )
    legend = [
        "",
        f"Forward + backward of a scalar loss over all statistics, float32, batch 1, L={L}; "
        f"{WARMUP} warm-up runs then {repeat} timed. Speed-up = foscat median / ours median.",
        "Peak MB: increase of the peak resident memory during one forward + backward after a "
        "warm-up call, in a fresh process (in parentheses: the first call, which also builds "
        "filters and caches).",
    ]
    return header + rows + legend + ([""] + notes if notes else [])


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == [MEMORY_FLAG]:
        lib, N, threads = argv[1], int(argv[2]), int(argv[3])
        print(json.dumps(measure_memory(lib, N, threads)))
        return 0
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sizes", type=int, nargs="+", default=[128, 256, 512])
    p.add_argument("--repeat", type=int, default=7, help="timed repetitions (default 7)")
    p.add_argument("--threads", type=int, default=2, help="torch threads (default 2)")
    p.add_argument("--out", type=Path, help="also write the table and machine info here")
    args = p.parse_args(argv)
    if args.repeat < 1:
        p.error("--repeat must be >= 1")
    info = machine_info(args.threads)
    print("\n".join(info), flush=True)
    table = run(args.sizes, args.repeat, args.threads)
    info.append(f"- load average at end: {_loadavg()}")
    print(info[-1])
    print("\n".join(["", *table]))
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        title = "## Scattering covariance: texsynth vs foscat"
        args.out.write_text("\n".join([title, "", *info, "", *table, ""]))
        print(f"\nwritten to {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
