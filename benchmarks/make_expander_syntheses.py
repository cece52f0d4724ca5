"""Write a folder of texsynth's own syntheses as expander training data (issue 19).

The exemplars are procedural textures (``texsynth.expander.procedural``) and crops of the
photographs that scikit-image and matplotlib ship (``texsynth.expander.photos``), never the
benchmark's held-out or validation textures (checked: ``texsynth.expander.syntheses``).

Usage::

    PYTHONPATH=src OMP_NUM_THREADS=1 .venv/bin/python benchmarks/make_expander_syntheses.py \\
        -o /tmp/synth --count 24 --size 128 --methods patch,scattering
    texsynth train-expander /tmp/synth --photos -o expander.safetensors

Writes ``NNNN_SOURCE-NAME_METHOD.png`` (each atomically) and ``syntheses.json``; one line per
synthesis. Errors are one line (exit status 2), before anything is written.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

from texsynth.errors import TexsynthError  # noqa: E402
from texsynth.expander.syntheses import DEFAULT_METHODS, make_syntheses  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    """Parse the arguments and write the syntheses; 0, or 2 after a one-line error."""
    ap = argparse.ArgumentParser(
        prog="make_expander_syntheses", description=__doc__.splitlines()[0]
    )
    ap.add_argument("-o", "--output", type=Path, required=True, help="folder to write")
    ap.add_argument("--count", type=int, default=24, help="number of syntheses")
    ap.add_argument("--size", type=int, default=128, help="side of exemplars and syntheses")
    ap.add_argument("--seed", type=int, default=0, help="seed of the whole run")
    ap.add_argument(
        "--methods",
        default=",".join(DEFAULT_METHODS),
        help="synthesis methods used in turn, comma-separated (patch, scattering, gram, ...)",
    )
    ap.add_argument("--quality", default="fast", help="synthesis preset: fast, default, best")
    ap.add_argument(
        "--no-photos", action="store_true", help="procedural exemplars only (no photographs)"
    )
    ap.add_argument("--threads", type=int, default=1, help="torch threads")
    ap.add_argument("--overwrite", action="store_true", help="replace an earlier run's files")
    ap.add_argument("--quiet", action="store_true", help="no line per synthesis")
    a = ap.parse_args(argv)
    if a.threads < 1:
        ap.error(f"--threads must be at least 1, got {a.threads}")
    torch.set_num_threads(a.threads)
    start = time.perf_counter()
    try:
        done = make_syntheses(
            a.output,
            a.count,
            a.size,
            a.seed,
            [m for m in a.methods.split(",") if m.strip()],
            photos=not a.no_photos,
            quality=a.quality,
            overwrite=a.overwrite,
            progress=None if a.quiet else print,
        )
    except TexsynthError as exc:
        print(f"{ap.prog}: error: {exc}", file=sys.stderr)
        return 2
    print(
        f"wrote {len(done)} syntheses of {a.size}x{a.size} into {a.output} in "
        f"{time.perf_counter() - start:.1f} s; train on them with: texsynth train-expander "
        f"{a.output} --photos -o expander.safetensors"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
