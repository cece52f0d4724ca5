"""Generator benchmark: training time and match, sampling speed, diversity, pictures.

For each 256x256 exemplar (crops of scikit-image's ``gravel`` and ``brick``, and the colour
``examples/pebbles.png``) it trains a :class:`texsynth.generators.SynthHalfUNet2D` with the
defaults of ``texsynth train`` (scattering loss, 128x128 training samples, 2000 steps), then
draws 4 samples of 256x256 and measures, with the benchmark's own code (``bench_synth``):

* spectrum err, hist W1 and the scattering chi-square of each sample against the exemplar,
  divided by the same numbers for a second real sample of the texture (1 = as close as
  real; below 1 is possible for the quantities the loss matches);
* diversity: mean absolute difference between two samples, over that between the two real
  samples (about 1 = samples differ as much as two pieces of the texture; near 0 = collapse);
* the same match for one optimisation synthesis (``texsynth.synthesize``, defaults) of the
  same exemplar, for reference.

Sampling speed is the median wall time of ``generate_samples(model, 1, S, S)`` (after a
warm-up) at S = 256, 512, 1024 for the default network (``width=16``) and seed 000's
(``width=32``); training speed is the time per step at 128x128 and 256x256 with the
scattering loss, and at 128x128 with the VGG19 losses (``gram+spectrum``, ``swd``).

``--time-to-match MAX_STEPS`` instead trains on gravel at 128x128 and at 256x256 and reports
the training time until the samples first reach a stated match (spectrum and scattering
chi-square, see :func:`time_to_match`).

Usage::

    python benchmarks/bench_generators.py --out benchmarks/results/generators.md \\
        --images docs/images

``--method gram+spectrum`` trains (and runs the reference optimisation) with another loss;
``--model brick=brick.safetensors`` evaluates a generator trained earlier (for example by
``texsynth train`` on the same exemplar) instead of training one; its training time is
read from the file's metadata.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import bench_synth as bs  # noqa: E402  (exemplars, metrics, pictures)
from bench_methods import scattering_chi2  # noqa: E402
from bench_stats import machine_info  # noqa: E402

TEXTURES = ("gravel", "brick", "pebbles")


def match(out: np.ndarray, ex: bs.Exemplar) -> tuple[float, float, float]:
    """(spectrum, W1, chi2) of ``out`` against the exemplar, each over the real baseline's."""
    assert ex.baseline is not None
    rs, rw = bs.metrics(ex.baseline, ex.image)
    rc = scattering_chi2(ex.baseline, ex.image)
    s, w = bs.metrics(out, ex.image)
    c = scattering_chi2(out, ex.image)
    return s / rs, w / max(rw, 1e-12), c / rc


def diversity(samples: np.ndarray, ex: bs.Exemplar) -> float:
    """Mean |a - b| over sample pairs, over |exemplar - second real sample|."""
    assert ex.baseline is not None
    real = float(np.abs(ex.image - ex.baseline).mean())
    pairs = [
        float(np.abs(samples[i] - samples[j]).mean())
        for i in range(len(samples))
        for j in range(i + 1, len(samples))
    ]
    return float(np.mean(pairs)) / real


def sampling_speed(widths: tuple[int, ...], sizes: tuple[int, ...], repeat: int) -> list[str]:
    from texsynth.generators import SynthHalfUNet2D, generate_samples

    rows = []
    for width in widths:
        model = SynthHalfUNet2D(4, width=width)
        n_params = sum(p.numel() for p in model.parameters())
        cells = []
        for S in sizes:
            generate_samples(model, 1, S, S, seed=0)  # warm-up
            times = []
            for r in range(repeat):
                t = time.perf_counter()
                generate_samples(model, 1, S, S, seed=r)
                times.append(time.perf_counter() - t)
            cells.append(f"{statistics.median(times):.3f} s")
        rows.append(
            f"| width={width} ({n_params / 1e6:.2f} M parameters) | " + " | ".join(cells) + " |"
        )
    return rows


def step_time(ex: torch.Tensor, size: int, steps: int, method: str = "scattering") -> float:
    """Seconds per training step at ``size`` (median over ``steps`` after one)."""
    from texsynth.generators import train_generator

    stamps: list[float] = []
    train_generator(
        ex,
        method=method,
        size=size,
        steps=steps + 1,
        seed=0,
        progress=False,
        callback=lambda s, v, m: stamps.append(time.perf_counter()),
    )
    return statistics.median(np.diff(stamps).tolist())


def time_to_match(
    ex: bs.Exemplar, size: int, max_steps: int, every: int, spectrum: float, chi2: float
) -> str:
    """Train at ``size`` and return a table row: when the samples first reach the match.

    Every ``every`` steps 4 samples of 256x256 (seed 1) are drawn and compared with the
    exemplar; the match is reached when their mean spectrum distance is at most ``spectrum``
    times a real sample's and their mean scattering chi-square at most ``chi2`` times. The
    time excludes those evaluations. ``max_steps`` is also the length of the cosine schedule.
    """
    from texsynth.generators import generate_samples, train_generator

    assert ex.baseline is not None
    rs = bs.metrics(ex.baseline, ex.image)[0]
    rc = scattering_chi2(ex.baseline, ex.image)
    X = torch.from_numpy(ex.image).float()
    state = {"eval": 0.0, "start": time.perf_counter(), "hit": None, "last": None}

    def check(step: int, value: float, model: torch.nn.Module) -> bool:
        if (step + 1) % every:
            return False
        t = time.perf_counter()
        elapsed = t - state["start"] - state["eval"]  # training time so far
        S = generate_samples(model, 4, 256, 256, seed=1).double().numpy()
        s = float(np.mean([bs.metrics(x, ex.image)[0] for x in S])) / rs
        c = float(np.mean([scattering_chi2(x, ex.image) for x in S])) / rc
        state["eval"] += time.perf_counter() - t
        state["last"] = (step + 1, elapsed, s, c)
        print(f"  {size}x{size} step {step + 1}: {elapsed:.0f} s, spectrum {s:.2f}, chi2 {c:.2f}")
        if state["hit"] is None and s <= spectrum and c <= chi2:
            state["hit"] = state["last"]
            return True
        return False

    train_generator(X, size=size, steps=max_steps, seed=0, progress=False, callback=check)
    if state["hit"] is None:
        n, secs, s, c = state["last"]
        return f"| {size}x{size} | not by step {n} ({secs:.0f} s) | | {s:.2f} | {c:.2f} |"
    n, secs, s, c = state["hit"]
    return f"| {size}x{size} | {n} | {secs:.0f} s | {s:.2f} | {c:.2f} |"


def _report(lines: list[str], out: Path | None) -> None:
    """Print the report and, with ``out``, write it there too."""
    text = "\n".join(lines) + "\n"
    print(text)
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--steps", type=int, default=2000, help="training steps per exemplar")
    p.add_argument("--textures", default=",".join(TEXTURES))
    p.add_argument("--quick", action="store_true", help="40 steps, gravel only, 1 repeat")
    p.add_argument("--method", default="scattering", help="loss of training and optimisation")
    p.add_argument(
        "--model",
        action="append",
        default=[],
        metavar="NAME=FILE",
        help="evaluate this trained generator for texture NAME instead of training one",
    )
    p.add_argument("--no-speed", action="store_true", help="skip the step and sampling timings")
    p.add_argument(
        "--time-to-match",
        metavar="MAX_STEPS",
        type=int,
        help="only measure the training time to a stated match on gravel, at 128x128 and "
        "256x256, with at most MAX_STEPS steps (the schedule's length)",
    )
    p.add_argument("--every", type=int, default=50, help="steps between checks of --time-to-match")
    p.add_argument("--out", type=Path, help="also write the tables here")
    p.add_argument("--images", type=Path, help="write the pictures here")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    from texsynth.generators import (
        generate_samples,
        load_generator,
        read_generator_metadata,
        train_generator,
    )
    from texsynth.synthesis import synthesize

    trained = dict(m.split("=", 1) for m in args.model)
    if args.time_to_match:
        ex = bs.load_exemplar("gravel")
        lines = ["# Generator training: time to a match", "", *machine_info(args.threads, ()), ""]
        lines += [
            f"Gravel 256x256, train_generator defaults, at most {args.time_to_match} steps; "
            "match: 4 samples of 256x256 with spectrum <= 1.25 and scattering chi2 <= 0.25 "
            f"of a real sample's (checked every {args.every} steps, checks not timed).",
            "",
            "| training size | steps | time | spectrum | scat chi2 |",
            "|---|---|---|---|---|",
        ]
        for size in (128, 256):
            lines.append(time_to_match(ex, size, args.time_to_match, args.every, 1.25, 0.25))
            print(lines[-1], flush=True)
        _report(lines, args.out)
        return 0

    steps = 40 if args.quick else args.steps
    names = ["gravel"] if args.quick else args.textures.split(",")
    lines = ["# Generator benchmark", "", *machine_info(args.threads, peers=()), ""]
    lines += [
        f"Training: `train_generator` defaults (method {args.method}, 128x128 samples, "
        f"batch 4, width 16, depth 4), {steps} steps, seed 0"
        + (f"; trained earlier: {', '.join(args.model)}" if args.model else "")
        + ". Match: mean over 4 samples of 256x256, "
        "each number over a second real sample's (1 = as close as real).",
        "",
        "| exemplar | train | final loss | spectrum | hist W1 | scat chi2 | diversity | "
        "optimisation: time, spectrum, chi2 |",
        "|---|---|---|---|---|---|---|---|",
    ]
    pictures = []
    for name in names:
        ex = bs.load_exemplar(name)
        X = torch.from_numpy(ex.image).float()
        if name in trained:
            model = load_generator(trained[name])
            meta = read_generator_metadata(trained[name])["metadata"]
            train_s, final = float(meta["seconds"]), float(meta["final_loss"])
        else:
            t = time.perf_counter()
            model, rep = train_generator(
                X, method=args.method, steps=steps, seed=0, progress=False, report=True
            )
            train_s = time.perf_counter() - t
            final = float(np.mean(rep.losses[-20:]))
        S = generate_samples(model, 4, 256, 256, seed=1).double().numpy()
        m = np.array([match(s, ex) for s in S])
        t = time.perf_counter()
        opt = synthesize(X, method=args.method, seed=0, progress=False)[0].double().numpy()
        opt_s = time.perf_counter() - t
        om = match(opt, ex)
        lines.append(
            f"| {name} | {train_s:.0f} s | {final:.3g} | {m[:, 0].mean():.2f} | "
            f"{m[:, 1].mean():.2f} | {m[:, 2].mean():.2f} | {diversity(S, ex):.2f} | "
            f"{opt_s:.1f} s, {om[0]:.2f}, {om[2]:.2f} |"
        )
        print(lines[-1], flush=True)
        if args.images is not None:
            args.images.mkdir(parents=True, exist_ok=True)
            panels = [("exemplar", bs.to_u8(ex.image))]
            panels += [(f"sample {i + 1}", bs.to_u8(s)) for i, s in enumerate(S[:3])]
            panels += bs.tile_panels({"sample 1": S[0]}, 256)
            im = bs.strip(panels)
            tag = "" if args.method == "scattering" else "_" + args.method.replace("+", "_")
            path = args.images / f"generator_{name}{tag}.png"
            size = bs.save_png(im, path)
            if size > 300_000:
                size = bs.save_png(im.quantize(256), path)
            pictures.append(f"{path} ({size // 1024} KiB)")
    if not args.no_speed:
        lines += [
            "",
            "Training speed (seconds per step on the gravel exemplar, batch 4, width 16; the "
            "median of 10 steps):",
            "",
            "| loss | training size | s / step | 2000 steps |",
            "|---|---|---|---|",
        ]
        X = torch.from_numpy(bs.load_exemplar("gravel", baseline=False).image).float()
        from texsynth.features import vgg_available

        runs = [("scattering", 128), ("scattering", 256)]
        if vgg_available():
            runs += [("gram+spectrum", 128), ("swd", 128)]
        for method, size in runs:
            s = step_time(X, size, 3 if args.quick else 10, method)
            lines.append(f"| {method} | {size}x{size} | {s:.3f} | {s * 2000 / 60:.0f} min |")
            print(lines[-1], flush=True)
        lines += [
            "",
            "Sampling speed (one sample, median of repeats after a warm-up, histogram matching "
            "included):",
            "",
            "| network | 256x256 | 512x512 | 1024x1024 |",
            "|---|---|---|---|",
        ]
        lines += sampling_speed((16, 32), (256, 512, 1024), 1 if args.quick else 5)
        print("\n".join(lines[-2:]))
    if pictures:
        lines += ["", "Pictures: " + ", ".join(pictures)]
    _report(lines, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
