"""The material family of docs/own-features.md: procedural ground textures (granite, sand,
moss from ``quality_exemplars``), written as PNG photos for ``texsynth features train``.

Training images use seeds 1000+ (never those of the quality benchmark, whose exemplars of
the same generators are the held-out photos).

    python benchmarks/own_features_data.py OUT_FOLDER [--n 12] [--size 384]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from PIL import Image

import quality_exemplars as qe

FAMILY = {"granite": qe.gen_granite, "sand": qe.gen_sand, "moss": qe.gen_moss}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", type=Path)
    ap.add_argument("--n", type=int, default=12, help="images per material")
    ap.add_argument("--size", type=int, default=384)
    a = ap.parse_args()
    for name, gen in FAMILY.items():
        folder = a.out / name
        folder.mkdir(parents=True, exist_ok=True)
        for k in range(a.n):
            img = np.asarray(gen(np.random.default_rng(1000 + k), (a.size, a.size)))
            Image.fromarray((np.clip(img, 0, 1) * 255).round().astype(np.uint8)).save(
                folder / f"{name}_{k:02d}.png"
            )
    print(f"wrote {a.n * len(FAMILY)} images to {a.out}")


if __name__ == "__main__":
    main()
