"""Texture-synthesis benchmark: texsynth vs foscat, and plenoptic's Portilla-Simoncelli metamer.

For each 256x256 grey exemplar (``examples/bark.png`` and crops of scikit-image's ``grass``,
``brick`` and ``gravel``) it times one synthesis with

* ours:       ``texsynth.synthesis.synthesize(exemplar, method="scattering", quality=Q,
  seed=s, progress=False)`` (``--quality``, default ``default``; ``fast`` is version 0.1's
  schedule);
* foscat:     ``foscat.scat_cov2D.funct(NORIENT=4).synthesis(xnorm, nstep=3, NUM_EPOCHS=100,
  seed=s)`` on the standardised image;
* plenoptic:  a Portilla-Simoncelli metamer (L-BFGS, 100 iterations), on bark only, one run;

plus ours on the colour exemplar ``examples/pebbles.png``. It measures the peak resident memory
of one synthesis in a fresh subprocess, and how well each output matches the exemplar's
statistics with two metrics written here (not the libraries' losses): the mean absolute
difference of the log radial power spectra (Hann-windowed) and the 1-D Wasserstein distance of
the pixel values over the exemplar's standard deviation. The same metrics for a second real
sample of the texture (another crop of the source image, or another realisation of the
procedural exemplar) give the "as close as real" baseline.

Run it in the benchmark environment (see ``benchmarks/README.md``)::

    benchmarks/.venv-bench/bin/python benchmarks/bench_synth.py \
        --out benchmarks/results/synth.md --images docs/images
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import io
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from bench_stats import _loadavg, _peak_increase, machine_info

ROOT = Path(__file__).resolve().parent.parent
RUN_FLAG = "--run-one"  # internal: one synthesis in this process, print its time and memory
N = 256  # exemplar side
GREY = ("bark", "grass", "brick", "gravel")
COLOUR = ("pebbles",)
FOSCAT_KW = {"nstep": 3, "NUM_EPOCHS": 100}
PS_KW = {"n_scales": 4, "n_orientations": 4, "spatial_corr_width": 7}
PS_OPT_KW = {
    "max_iter": 10,
    "max_eval": 10,
    "history_size": 100,
    "line_search_fn": "strong_wolfe",
    "lr": 1,
}
PS_ITERS = 100
PNG_LIMIT = 300_000  # bytes per picture
Image2 = np.ndarray  # [C, H, W] float64


# --------------------------------------------------------------------------- exemplars


@dataclass
class Exemplar:
    """A texture sample ``[C, H, W]`` in [0, 1] and, if there is one, a second real sample."""

    name: str
    image: Image2
    baseline: Image2 | None
    source: str


def _make_exemplars_module() -> object:
    """``examples/make_exemplars.py`` as a module (its procedural generators)."""
    spec = importlib.util.spec_from_file_location(
        "make_exemplars", ROOT / "examples" / "make_exemplars.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def load_exemplar(name: str, baseline: bool = True) -> Exemplar:
    """The exemplar ``name`` and (if ``baseline``) a second, independent sample of it.

    skimage textures (512x512): the exemplar is the top-left 256x256 crop, the baseline the
    bottom-right one (no overlap). ``bark``/``pebbles`` are procedural (256x256, made by
    ``examples/make_exemplars.py`` with seeds 2/1): the baseline is the same generator's
    realisation with seed + 100.
    """
    if name in ("bark", "pebbles"):
        from texsynth.io import read_image

        img, _ = read_image(ROOT / "examples" / f"{name}.png")
        second = None
        if baseline:
            mk = _make_exemplars_module()
            seed = {"bark": 2, "pebbles": 1}[name] + 100
            arr = np.asarray(getattr(mk, name)(seed=seed), dtype=np.float64) / 255
            second = arr[None] if arr.ndim == 2 else arr.transpose(2, 0, 1)
        seed = {"bark": 2, "pebbles": 1}[name]
        src = f"examples/{name}.png; baseline: examples/make_exemplars.py {name}(seed={seed + 100})"
        return Exemplar(name, img.double().numpy(), second, src)
    import skimage.data

    full = np.asarray(getattr(skimage.data, name)(), dtype=np.float64)
    if full.ndim == 3:  # not the case for grass/brick/gravel, kept for other textures
        full = full[..., :3].mean(-1)
    full = full / 255
    first = full[None, :N, :N]
    second = full[None, -N:, -N:] if baseline else None
    h, w = full.shape
    return Exemplar(
        name, first, second, f"skimage.data.{name}() {h}x{w}: top-left / bottom-right {N}x{N}"
    )


# --------------------------------------------------------------------------- methods


@dataclass
class Run:
    """One synthesis: its output ``[C, H, W]`` in the exemplar's units and a note."""

    out: Image2
    note: str = ""


#: quality preset of ``synth_ours`` (``--quality``; passed to the timing subprocesses
#: through the environment)
QUALITY = os.environ.get("BENCH_SYNTH_QUALITY", "default")


def synth_ours(ex: Image2, seed: int) -> Run:
    """texsynth's scattering synthesis at the :data:`QUALITY` preset."""
    from texsynth.synthesis import synthesize

    out, rep = synthesize(
        torch.from_numpy(ex).float(),
        method="scattering",
        quality=QUALITY,
        seed=seed,
        progress=False,
        report=True,
    )
    return Run(out[0].double().numpy(), "+".join(str(i) for i in rep.iterations))


def synth_foscat(ex: Image2, seed: int) -> Run:
    """foscat's 2D synthesis on the standardised image (a fresh operator per call)."""
    import foscat.scat_cov2D as sc2d

    img = ex[0]
    mean, std = float(img.mean()), float(img.std())
    with contextlib.redirect_stdout(io.StringIO()):  # foscat prints its progress
        op = sc2d.funct(NORIENT=4)
        r = op.synthesis((img - mean) / std, seed=seed, **FOSCAT_KW)
    return Run((np.asarray(r, dtype=np.float64) * std + mean)[None])


def synth_plenoptic(ex: Image2, seed: int, device: str = "cpu") -> Run:
    """plenoptic's Portilla-Simoncelli metamer with L-BFGS, as in its documentation."""
    import plenoptic as po

    po.set_seed(seed)
    img = torch.from_numpy(ex).float()[None].to(device)  # [1, 1, H, W] in [0, 1]
    model = po.models.PortillaSimoncelli(img.shape[-2:], **PS_KW)
    loss = po.loss.portilla_simoncelli_loss_factory(model, img)
    met = po.Metamer(img, model, loss_function=loss)
    met.setup(optimizer=torch.optim.LBFGS, optimizer_kwargs=PS_OPT_KW)
    with contextlib.redirect_stderr(io.StringIO()):  # its tqdm bar
        met.synthesize(max_iter=PS_ITERS)
    n_iter = len(met.losses) - 1
    return Run(met.metamer.detach()[0].cpu().double().numpy(), f"{n_iter} iterations")


METHODS: dict[str, Callable[[Image2, int], Run]] = {
    "ours": synth_ours,
    "foscat": synth_foscat,
    "plenoptic": synth_plenoptic,
}


def warm_imports(methods: list[str]) -> None:
    """Import the libraries before any timing (foscat's import alone takes seconds)."""
    import texsynth.synthesis  # noqa: F401

    if "foscat" in methods:
        with contextlib.redirect_stdout(io.StringIO()):
            import foscat.scat_cov2D  # noqa: F401
    if "plenoptic" in methods:
        import plenoptic  # noqa: F401


# --------------------------------------------------------------------------- metrics


def radial_power(img: np.ndarray) -> np.ndarray:
    """Radially averaged power spectrum of a 2-D image, Hann-windowed, bins k = 1..min(H,W)/2.

    The mean is removed before the window so that it does not leak into the low frequencies.
    """
    h, w = img.shape
    win = np.outer(np.hanning(h), np.hanning(w))
    p = np.abs(np.fft.fft2((img - img.mean()) * win)) ** 2
    k = np.hypot(*np.meshgrid(np.fft.fftfreq(h) * h, np.fft.fftfreq(w) * w, indexing="ij"))
    kbin = np.rint(k).astype(int).ravel()
    kmax = min(h, w) // 2
    sums = np.bincount(kbin, weights=p.ravel(), minlength=kmax + 1)
    counts = np.bincount(kbin, minlength=kmax + 1)
    return sums[1 : kmax + 1] / counts[1 : kmax + 1]


def spectrum_error(out: Image2, ex: Image2) -> float:
    """Mean over radial bins (and channels) of ``|log P_out(k) - log P_ex(k)|``."""
    errs = [
        np.mean(np.abs(np.log(radial_power(o)) - np.log(radial_power(e))))
        for o, e in zip(out, ex, strict=True)
    ]
    return float(np.mean(errs))


def wasserstein1(a: np.ndarray, b: np.ndarray) -> float:
    """1-D Wasserstein-1 distance between two samples (their quantile functions' L1 distance)."""
    a, b = np.sort(a.ravel()), np.sort(b.ravel())
    if a.size != b.size:
        q = (np.arange(max(a.size, b.size)) + 0.5) / max(a.size, b.size)
        a = np.quantile(a, q)
        b = np.quantile(b, q)
    return float(np.mean(np.abs(a - b)))


def histogram_distance(out: Image2, ex: Image2) -> float:
    """Wasserstein-1 of the pixel values over the exemplar's std (mean over channels)."""
    return float(np.mean([wasserstein1(o, e) / e.std() for o, e in zip(out, ex, strict=True)]))


def metrics(out: Image2, ex: Image2) -> tuple[float, float]:
    """(spectrum error, histogram distance) of ``out`` against ``ex``."""
    return spectrum_error(out, ex), histogram_distance(out, ex)


# --------------------------------------------------------------------------- one run


def run_here(method: str, name: str, seed: int, threads: int, save: str) -> dict:
    """One synthesis in this (fresh) process: its seconds and peak memory; output to ``save``.

    The peak is the increase of ``VmHWM`` (reset just before) over the resident set before the
    call; imports and loading the exemplar come before and are not counted in either.
    """
    torch.set_num_threads(threads)
    warm_imports([method])
    ex = load_exemplar(name, baseline=False).image
    holder: dict[str, object] = {}

    def call() -> None:
        t0 = time.perf_counter()
        holder["run"] = METHODS[method](ex, seed)
        holder["seconds"] = time.perf_counter() - t0

    peak = _peak_increase(call)
    run = holder["run"]
    assert isinstance(run, Run)
    np.save(save, run.out)
    return {"seconds": holder["seconds"], "peak_mb": peak, "note": run.note}


def run_in_subprocess(method: str, name: str, seed: int, threads: int) -> tuple[float, float, Run]:
    """:func:`run_here` in a fresh interpreter: (seconds, peak MB, run)."""
    with tempfile.TemporaryDirectory() as tmp:
        save = str(Path(tmp) / "out.npy")
        script = str(Path(__file__).resolve())
        cmd = [sys.executable, script, RUN_FLAG, method, name, str(seed), str(threads), save]
        out = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if out.returncode != 0:
            last = (out.stderr.strip().splitlines() or ["no output"])[-1]
            raise RuntimeError(f"{method} on {name} failed: {last}\n{out.stderr[-3000:]}")
        res = json.loads(out.stdout.strip().splitlines()[-1])
        return res["seconds"], res["peak_mb"], Run(np.load(save), res["note"])


# --------------------------------------------------------------------------- benchmark


@dataclass
class Result:
    """Everything measured for one (exemplar, method)."""

    times: list[float] = field(default_factory=list)
    peaks: list[float] = field(default_factory=list)
    runs: list[Run] = field(default_factory=list)
    metrics: list[tuple[float, float]] = field(default_factory=list)
    error: str = ""


def run_exemplar(
    name: str, repeats: dict[str, int], threads: int, loads: list[float]
) -> dict[str, Result]:
    """All runs on one exemplar, seeds 0, 1, ...; the methods alternate run by run (in turn
    first), so that a burst of load from other processes slows all of them."""
    results = {m: Result() for m in repeats}
    order = list(repeats)
    for r in range(max(repeats.values())):
        for m in order[r % len(order) :] + order[: r % len(order)]:
            if r >= repeats[m] or results[m].error:
                continue
            loads.append(os.getloadavg()[0])
            print(f"  {name}: {m} seed {r} ...", file=sys.stderr, flush=True)
            try:
                seconds, peak, run = run_in_subprocess(m, name, r, threads)
            except RuntimeError as e:  # a peer failing must not stop the others
                results[m].error = str(e).splitlines()[0]
                print(f"  {e}", file=sys.stderr, flush=True)
                continue
            results[m].times.append(seconds)
            results[m].peaks.append(peak)
            results[m].runs.append(run)
            print(f"    {seconds:.1f} s, {peak:.0f} MB {run.note}", file=sys.stderr, flush=True)
    return results


def benchmark(
    names: list[str], methods: list[str], repeats: dict[str, int], threads: int, loads: list[float]
) -> tuple[dict[str, Exemplar], dict[str, dict[str, Result]]]:
    """Time, measure and score every (exemplar, method)."""
    exemplars: dict[str, Exemplar] = {}
    results: dict[str, dict[str, Result]] = {}
    for name in names:
        ex = load_exemplar(name)
        exemplars[name] = ex
        grey = ex.image.shape[0] == 1
        ms = [m for m in methods if (grey or m == "ours") and (m != "plenoptic" or name == "bark")]
        res = run_exemplar(name, {m: repeats[m] for m in ms}, threads, loads)
        for r in res.values():
            r.metrics = [metrics(run.out, ex.image) for run in r.runs]
        results[name] = res
    return exemplars, results


# --------------------------------------------------------------------------- report


def _s(seconds: float) -> str:
    return f"{seconds:.2f}" if seconds < 10 else f"{seconds:.1f}"


def _f(v: float) -> str:
    return f"{v:.3f}"


def table(
    exemplars: dict[str, Exemplar], results: dict[str, dict[str, Result]]
) -> tuple[list[str], list[str]]:
    """The markdown table and the summary/legend lines."""
    lines = [
        "| exemplar | method | runs | time s median | time s min | peak MB | spectrum err "
        "| hist W1 | spectrum / baseline | W1 / baseline |",
        "|:---|:---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    speedups: dict[str, list[tuple[str, float]]] = {"foscat": [], "plenoptic": []}
    notes: list[str] = []
    for name, res in results.items():
        ex = exemplars[name]
        base = metrics(ex.baseline, ex.image) if ex.baseline is not None else None
        for m, r in res.items():
            if r.error or not r.times:
                lines.append(f"| {name} | {m} | 0 | – | – | – | – | – | – | – |")
                notes.append(f"- {name}, {m}: failed or skipped: {r.error or 'no run'}")
                continue
            spec = statistics.median(v[0] for v in r.metrics)
            w1 = statistics.median(v[1] for v in r.metrics)
            runs = "1 (single)" if m == "plenoptic" else f"{len(r.times)}"
            peak = f"{statistics.median(r.peaks):.0f}"
            rs = f"{spec / base[0]:.2f}" if base else "n/a"
            rw = f"{w1 / base[1]:.2f}" if base else "n/a"
            lines.append(
                f"| {name} | {m} | {runs} | {_s(statistics.median(r.times))} | {_s(min(r.times))} "
                f"| {peak} | {_f(spec)} | {_f(w1)} | {rs} | {rw} |"
            )
            if r.runs[0].note:
                what = "iterations per level" if m == "ours" else "run"
                notes.append(f"- {name}, {m} ({what}, seed 0): {r.runs[0].note}")
        if base is not None:
            lines.append(
                f"| {name} | *second real sample* | – | – | – | – | {_f(base[0])} | {_f(base[1])} "
                "| 1 | 1 |"
            )
        ours = res.get("ours")
        if ours is None or not ours.times:
            continue
        t_o = statistics.median(ours.times)
        for m, pairs in speedups.items():
            peer = res.get(m)
            if peer is not None and peer.times:
                pairs.append((name, statistics.median(peer.times) / t_o))
    legend = [""]
    for m, pairs in speedups.items():
        if pairs:
            each = ", ".join(f"{name} {ratio:.1f}x" for name, ratio in pairs)
            geo = math.exp(np.mean(np.log([ratio for _, ratio in pairs])))
            mean = f"; geometric mean {geo:.1f}x" if len(pairs) > 1 else ""
            legend.append(
                f"**Speed-up vs {m}** ({m} median time / ours median time): {each}{mean}."
            )
            legend.append("")
    legend += [
        "Every run is a fresh process (seeds 0, 1, ...; the methods alternate run by run). "
        "Time: wall-clock seconds of the synthesis call for a 256x256 output (imports and "
        "reading the exemplar excluded; foscat's operator construction included). Peak MB: "
        "increase of the peak resident memory (VmHWM) during that call over the resident memory "
        "before it; median over the runs. plenoptic: a single run (minutes per run).",
        "Spectrum err: mean over radial frequency bins k = 1..128 of |log P_out(k) - log P_ex(k)|"
        " (Hann window on both, mean removed). Hist W1: Wasserstein-1 distance between the pixel "
        "values of the output and the exemplar, over the exemplar's std. Both are medians over "
        "the runs; 0 is a perfect match. *Second real sample*: the same metrics for another "
        'sample of the same texture against the exemplar ("as close as real"); the ratio '
        "columns divide by it (about 1 or below: as close as a real sample). texsynth's default "
        "loss includes a pixel-histogram term (histogram=1.0, then an exact histogram remap) "
        "and a smoothed log power spectrum term (power_spectrum=0.3), so it optimises near "
        "relatives of both metrics directly (its W1 is 0 by construction); foscat and "
        "plenoptic only match them through their statistics.",
        "",
        *[f"- {ex.name}: {ex.source}" for ex in exemplars.values()],
        *notes,
    ]
    return lines, legend


# --------------------------------------------------------------------------- pictures


def to_u8(img: Image2) -> np.ndarray:
    """``[C, H, W]`` in [0, 1] (clipped) to ``uint8`` ``[H, W]`` or ``[H, W, 3]``."""
    a = np.rint(np.clip(img, 0, 1) * 255).astype(np.uint8)
    return a[0] if a.shape[0] == 1 else a.transpose(1, 2, 0)


def _font(size: int = 13) -> object:
    from PIL import ImageFont

    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1: bitmap font only
        return ImageFont.load_default()


def strip(panels: list[tuple[str, np.ndarray]], gap: int = 4, band: int = 18) -> object:
    """Panels side by side on white, each with its label above."""
    from PIL import Image, ImageDraw

    mode = "RGB" if panels[0][1].ndim == 3 else "L"
    white = (255, 255, 255) if mode == "RGB" else 255
    h = max(p.shape[0] for _, p in panels)
    w = sum(p.shape[1] for _, p in panels) + gap * (len(panels) - 1)
    canvas = Image.new(mode, (w, h + band), white)
    draw = ImageDraw.Draw(canvas)
    font = _font()
    x = 0
    for label, p in panels:
        canvas.paste(Image.fromarray(p, mode), (x, band))
        draw.text((x + 2, 2), label, fill=0 if mode == "L" else (0, 0, 0), font=font)
        x += p.shape[1] + gap
    return canvas


def save_png(im: object, path: Path) -> int:
    """Save an 8-bit PNG (optimised); returns its size in bytes."""
    im.save(path, optimize=True)
    return path.stat().st_size


def tile_panels(outs: dict[str, Image2], crop: int) -> list[tuple[str, np.ndarray]]:
    """2x2 tilings of each output, cropped to ``crop`` px around the centre (where tiles meet)."""
    panels = []
    for label, out in outs.items():
        t = np.tile(to_u8(out), (2, 2) if out.shape[0] == 1 else (2, 2, 1))
        full = min(t.shape[:2])
        c0, c1 = (t.shape[0] - crop) // 2, (t.shape[1] - crop) // 2
        t = t[c0 : c0 + crop, c1 : c1 + crop]
        what = "2x2 tiling" if crop >= full else f"2x2 tiling, centre {crop} px"
        panels.append((f"{label}: {what}", t))
    return panels


def save_pictures(
    exemplars: dict[str, Exemplar], results: dict[str, dict[str, Result]], folder: Path
) -> list[str]:
    """Write the comparison strips and tilings; returns one line per file."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, res in results.items():
        ex = exemplars[name]
        outs = {m: r.runs[0].out for m, r in res.items() if r.runs}
        if ex.image.shape[0] == 1:
            panels = [("exemplar", to_u8(ex.image))]
            panels += [(m, to_u8(o)) for m, o in outs.items()]
            path = folder / f"compare_{name}.png"
            written.append(f"{path} ({save_png(strip(panels), path) // 1024} KiB)")
            tiles = {m: o for m, o in outs.items() if m in ("ours", "foscat")}
            if tiles:
                path = folder / f"tile_{name}.png"
                for crop in range(2 * N, N - 1, -32):  # smaller crops until under the limit
                    size = save_png(strip(tile_panels(tiles, crop)), path)
                    if size < PNG_LIMIT:
                        break
                written.append(f"{path} ({size // 1024} KiB)")
        elif "ours" in outs:
            path = folder / f"{name}_ours.png"
            im = strip([("exemplar", to_u8(ex.image)), ("ours", to_u8(outs["ours"]))])
            size = save_png(im, path)
            if size >= PNG_LIMIT:  # 8-bit palette PNG instead of 24-bit RGB
                size = save_png(im.quantize(256), path)
            written.append(f"{path} ({size // 1024} KiB)")
    return written


# --------------------------------------------------------------------------- CLI


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == [RUN_FLAG]:
        method, name, seed, threads = argv[1], argv[2], int(argv[3]), int(argv[4])
        print(json.dumps(run_here(method, name, seed, threads, argv[5])))
        return 0
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="bark only, ours + foscat, 1 run each")
    p.add_argument("--repeat", type=int, default=3, help="timed runs of ours (default 3)")
    p.add_argument("--foscat-repeat", type=int, default=2, help="timed runs of foscat (default 2)")
    p.add_argument("--no-plenoptic", action="store_true", help="skip plenoptic")
    p.add_argument("--threads", type=int, default=2, help="torch threads (default 2)")
    p.add_argument("--quality", default="default", help="texsynth's preset (fast/default/best)")
    p.add_argument("--out", type=Path, help="also write the table and machine info here")
    p.add_argument("--images", type=Path, help="save the comparison pictures in this folder")
    args = p.parse_args(argv)
    global QUALITY
    QUALITY = os.environ["BENCH_SYNTH_QUALITY"] = args.quality
    if args.repeat < 1 or args.foscat_repeat < 1:
        p.error("repeats must be >= 1")
    names = ["bark"] if args.quick else [*GREY, *COLOUR]
    methods = ["ours", "foscat"] + ([] if args.quick or args.no_plenoptic else ["plenoptic"])
    repeats = {"ours": args.repeat, "foscat": args.foscat_repeat, "plenoptic": 1}
    if args.quick:
        repeats = {"ours": 1, "foscat": 1, "plenoptic": 1}

    info = machine_info(args.threads, peers=("foscat", "plenoptic", "scikit-image"))
    print("\n".join(info), flush=True)
    loads: list[float] = []
    exemplars, results = benchmark(names, methods, repeats, args.threads, loads)
    info.append(f"- load average at end: {_loadavg()}")
    if loads:
        info.append(
            f"- 1-min load average before each timed run: min {min(loads):.2f}, "
            f"max {max(loads):.2f} (the benchmark's own runs add up to about {args.threads})"
        )
    print("\n".join(info[-2:]))
    lines, legend = table(exemplars, results)
    print("\n".join(["", *lines, *legend]))
    if args.images is not None:
        written = save_pictures(exemplars, results, args.images)
        print("\n".join(["", "pictures:", *written]), file=sys.stderr)
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        title = "## Texture synthesis: texsynth vs foscat (and plenoptic)"
        args.out.write_text("\n".join([title, "", *info, "", *lines, *legend, ""]))
        print(f"\nwritten to {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
