"""Speed of the expander's two large correlations (FFT against direct) and of one expansion.

Usage::

    PYTHONPATH=src .venv/bin/python benchmarks/bench_expander_speed.py --threads 1

Prints, per feature-map side ``h`` (32 channels): the feature-filter transposed convolution
through FFTs and through ``conv_transpose2d`` (fastest of ``--repeat``), and the self-similarity
map by FFT; then a 256² → 512² expansion with the default configuration (its cost does not depend
on the weights, so an untrained model is timed unless ``--model`` is given).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

from texsynth.expander.model import TransposerExpander, load_expander  # noqa: E402
from texsynth.expander.selfsim import (  # noqa: E402
    feature_transpose,
    feature_transpose_direct,
    self_similarity,
)


def fastest(fn, repeat: int) -> float:  # type: ignore[no-untyped-def]
    """Fastest wall time of ``repeat`` calls (after one warm-up call)."""
    fn()
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--sides", default="16,32,64,128")
    ap.add_argument("--model", default=None)
    a = ap.parse_args(argv)
    torch.set_num_threads(a.threads)
    print("| h | transposed conv, FFT (s) | direct (s) | direct / FFT | self-similarity FFT (s) |")
    print("|---|---|---|---|---|")
    with torch.no_grad():
        for h in (int(v) for v in a.sides.split(",")):
            f = torch.randn(1, 32, h, h)
            w = torch.rand(1, 1, h + 1, h + 1)
            t_fft = fastest(lambda: feature_transpose(w, f), a.repeat)  # noqa: B023
            t_dir = fastest(lambda: feature_transpose_direct(w, f), 1 if h >= 64 else a.repeat)  # noqa: B023
            t_ss = fastest(lambda: self_similarity(f), a.repeat)  # noqa: B023
            print(f"| {h} | {t_fft:.4f} | {t_dir:.4f} | {t_dir / t_fft:.0f} | {t_ss:.4f} |")
        model = load_expander(a.model) if a.model else TransposerExpander().eval()
        x = torch.rand(1, 3, 256, 256)
        t = fastest(lambda: model(x), a.repeat)
        tp = fastest(lambda: model(x, periodic=True), a.repeat)
    n = sum(p.numel() for p in model.parameters())
    print(f"256² → 512²: {t:.3f} s (periodic {tp:.3f} s), {a.threads} thread(s), {n} parameters")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
