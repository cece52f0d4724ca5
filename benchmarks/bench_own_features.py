"""The seed's texture-extraction experiment (docs/own-features.md): GAP on features learned
from a material family's photos against GAP on VGG19 and on random filters, and Gram /
guided correspondence on the learned features, graded on held-out photos of that family.

Held-out exemplars are the quality benchmark's ``granite``, ``sand`` and ``moss`` (the same
generators as the training photos of ``own_features_data.py``, other seeds). Grading uses the
quality benchmark's families (``quality_metrics.py``): 1 = as close to the target as another
real crop. The headline is the worst of ``ps`` (a) and ``scattering`` (e), which none of the
compared methods optimises; ``gram`` (b, VGG19 statistics) is shown apart because the VGG19
methods optimise it.

    python benchmarks/bench_own_features.py --features DIR [--size 128] [--out DIR]
        [--only LABELS] [--extra "LABEL=METHOD@FILE" ...]

``DIR`` holds one training run: ``features.safetensors`` (the final file) and its snapshots
``features_step<N>.safetensors`` (``texsynth features train --snapshot-every``; the curve),
or the older layout ``features_<steps>.safetensors`` (the largest is the final file).
``--extra`` adds runs of other files (variants of the experiment); ``{name}`` in FILE is
replaced by the exemplar's name (``granite``, ``sand``, ``moss``), for files calibrated on
one material's photos.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

import quality_exemplars as qe
import quality_metrics as qm

EXEMPLARS = ("granite", "sand", "moss")


def to_u8(img: np.ndarray) -> np.ndarray:
    a = np.rint(np.clip(img, 0, 1) * 255).astype(np.uint8)
    return a.transpose(1, 2, 0)


def snapshots(features_dir: Path) -> tuple[Path, list[tuple[int, Path]]]:
    """The final file of a training run and its ``(steps, file)`` snapshots."""
    snaps = sorted(
        (int(p.stem.rsplit("_step", 1)[1]), p) for p in features_dir.glob("*_step*.safetensors")
    )
    final = features_dir / "features.safetensors"
    if not final.is_file():  # the older layout: features_<steps>.safetensors
        old = sorted(
            (int(p.stem.split("_")[1]), p)
            for p in features_dir.glob("features_*.safetensors")
            if p.stem.split("_")[1].isdigit()
        )
        if not old:
            raise SystemExit(f"no features.safetensors or features_<steps> in {features_dir}")
        final, snaps = old[-1][1], old[:-1]
    return final, snaps


def runs(features_dir: Path) -> list[tuple[str, str, str]]:
    """(label, method, features) of every run; the learned snapshots by training step."""
    final_path, snaps = snapshots(features_dir)
    final = str(final_path)
    out = [
        ("gap / VGG19", "gap", "vgg19"),
        ("gap / random", "gap", "random"),
        ("gap / learned", "gap", final),
        ("gram / VGG19", "gram", "vgg19"),
        ("gram / learned", "gram", final),
        ("gc / VGG19", "gc", "vgg19"),
        ("gc / learned", "gc", final),
    ]
    for steps, p in snaps:
        out += [
            (f"gap / learned@{steps}", "gap", str(p)),
            (f"gram / learned@{steps}", "gram", str(p)),
        ]
    return out


def extra_run(text: str) -> tuple[str, str, str]:
    """``LABEL=METHOD@FILE`` -> (label, method, features)."""
    label, _, rest = text.partition("=")
    method, _, features = rest.partition("@")
    if not (label and method and features):
        raise SystemExit(f"--extra wants LABEL=METHOD@FILE, got {text!r}")
    return label, method, features


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--features", type=Path, required=True)
    ap.add_argument("--size", type=int, default=128)
    ap.add_argument("--quality", default="fast")
    ap.add_argument("--seed", type=int, default=2026)
    ap.add_argument("--out", type=Path, default=Path("own_features_results"))
    ap.add_argument("--only", default=None, help="comma-separated labels to run")
    ap.add_argument("--extra", action="append", default=[], help="LABEL=METHOD@FILE")
    a = ap.parse_args()
    import texsynth

    torch.set_num_threads(1)
    a.out.mkdir(parents=True, exist_ok=True)
    results = a.out / "results.jsonl"
    done = set()
    if results.exists():
        done = {(r["exemplar"], r["label"]) for r in map(json.loads, results.open())}
    todo = runs(a.features)
    if a.only:
        keep = set(a.only.split(","))
        todo = [r for r in todo if r[0] in keep]
    todo += [extra_run(t) for t in a.extra]
    for name in EXEMPLARS:
        ex = qe.load(name, a.size)
        ref = qm.Reference(ex.target, ex.held)
        rows = (
            [("real", ex.extra, 0.0, 0.0)]
            if ("real" not in done and (name, "real") not in done)
            else []
        )
        for label, img, wall, cpu in rows:
            scores = ref.grade([img])[0]
            _write(results, name, label, "", "", scores, wall, cpu)
            np.save(a.out / f"{name}_real.npy", img)
        for label, method, features in todo:
            if (name, label) in done:
                continue
            t0, c0 = time.perf_counter(), time.process_time()
            out = texsynth.synthesize(
                torch.from_numpy(ex.target).float(),
                method=method,
                features=features.replace("{name}", name),
                quality=a.quality,
                seed=a.seed,
                progress=False,
            )[0].numpy()
            wall, cpu = time.perf_counter() - t0, time.process_time() - c0
            scores = ref.grade([out.astype(np.float64)])[0]
            _write(results, name, label, method, features, scores, wall, cpu)
            np.save(a.out / f"{name}_{label.replace(' / ', '_').replace('@', '_')}.npy", out)
            print(
                name,
                label,
                {k: round(v, 2) for k, v in scores.items()},
                f"{wall:.0f} s",
                flush=True,
            )
        np.save(a.out / f"{name}_target.npy", ex.target)


def _write(path: Path, name: str, label: str, method: str, features: str, scores: dict,
           wall: float, cpu: float) -> None:  # fmt: skip
    head = max(scores.get("ps", float("nan")), scores.get("scattering", float("nan")))
    row = {"exemplar": name, "label": label, "method": method, "features": features,
           "headline": head, "scores": scores, "wall_s": round(wall, 1),
           "cpu_s": round(cpu, 1)}  # fmt: skip
    with path.open("a") as f:
        f.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main()
