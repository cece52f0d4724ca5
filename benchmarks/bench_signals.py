"""1-D signal benchmark: known processes through :func:`texsynth.synthesize_1d`.

For fractional Brownian motions (H = 0.3, 0.7; 2048 samples), a multifractal random walk
(4096 samples, lambda^2 = 0.04) and a stationary log-normal process (2048 samples), three
exemplars each, two syntheses per exemplar (default settings, seed = exemplar index), it
measures with its own numpy code (no texsynth):

* fBm: the log power-spectrum slope (Hann periodogram, 12 log bins from 8 cycles per record
  to 1/4 cycle per sample) and the Hurst exponent from the increments' variance at lags
  1-64, as the RMS difference synthesis - exemplar, next to the same for 16 other
  realisations of the process ("another realisation");
* the multifractal walk: the Wasserstein-1 distance between standardised increment
  distributions at lags 1, 4, 16 (synthesis, other realisations, and a Gaussian phase
  surrogate with the exemplar's spectrum), the kurtosis of the increments at those lags,
  and the standard deviation of the log local volatility (32-sample windows);
* the log-normal process: the Wasserstein-1 distance between value distributions and the
  spectral slope, with and without the histogram term.

Random walks are synthesised through their increments by default (``increments=None``);
ablations: ``increments=False`` (the walk itself, without histogram term or S0: the previous
default), ``histogram=1.0`` (the increments with a histogram loss term as well as the final
remapping), ``stationary=True`` (the walk itself with histogram term and S0, as the 2-D
composition) and ``power_spectrum=0``. Writes a Markdown table and a figure.

Usage::

    python benchmarks/bench_signals.py --out benchmarks/results/signals_1d.md \\
        --figure docs/images/signals_1d.png
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from processes1d import fbm, lognormal_process, phase_surrogate
from processes1d import multifractal_walk as mrw
from texsynth import synthesize_1d


def slope(x: np.ndarray) -> float:
    n = len(x)
    w = np.hanning(n)
    p = np.abs(np.fft.rfft((x - (x * w).sum() / w.sum()) * w)) ** 2
    f = np.fft.rfftfreq(n)
    sel = (f >= 8 / n) & (f <= 0.25)
    lf, lp = np.log(f[sel]), p[sel]
    idx = np.digitize(lf, np.linspace(lf.min(), lf.max() + 1e-9, 13))
    bins = np.unique(idx)
    return float(
        np.polyfit(
            [lf[idx == i].mean() for i in bins], [np.log(lp[idx == i].mean()) for i in bins], 1
        )[0]
    )


def hurst(x: np.ndarray) -> float:
    lags = np.array([1, 2, 4, 8, 16, 32, 64])
    v = [np.var(x[lag:] - x[:-lag]) for lag in lags]
    return float(np.polyfit(np.log(lags), np.log(v), 1)[0] / 2)


def w1(a: np.ndarray, b: np.ndarray) -> float:
    a, b = (a - a.mean()) / a.std(), (b - b.mean()) / b.std()
    q = (np.arange(400) + 0.5) / 400
    return float(np.abs(np.quantile(a, q) - np.quantile(b, q)).mean())


def incr(x: np.ndarray, lag: int) -> np.ndarray:
    return x[lag:] - x[:-lag]


def kurt(d: np.ndarray) -> float:
    d = d - d.mean()
    return float((d**4).mean() / (d**2).mean() ** 2)


def logvol(x: np.ndarray, w: int = 32) -> float:
    d = np.diff(x)
    v = [d[i : i + w].std() for i in range(0, len(d) - w, w)]
    return float(np.std(np.log(v)))


def synth(x: np.ndarray, seed: int, **kw: Any) -> tuple[np.ndarray, float]:
    t = time.perf_counter()
    out = synthesize_1d(torch.tensor(x, dtype=torch.float32), n=2, seed=seed, progress=False, **kw)
    return out[:, 0].double().numpy(), time.perf_counter() - t


def rms(v: list[float]) -> float:
    return float(np.sqrt(np.mean(np.square(v))))


def bench_fbm(configs: dict[str, dict[str, Any]]) -> list[str]:
    rows = [
        "| process | setting | slope: synth - ex (RMS) | slope: other - ex (RMS) "
        "| H: synth - ex (RMS) | H: other - ex (RMS) | time (n=2) |",
        "|---|---|---|---|---|---|---|",
    ]
    n = 2048
    for h in (0.3, 0.7):
        others = [fbm(n, h, s) for s in range(100, 116)]
        for name, kw in configs.items():
            ds, dh, do_s, do_h, tt = [], [], [], [], []
            for e in range(3):
                ex = fbm(n, h, e)
                out, dt = synth(ex, e, **kw)
                tt.append(dt)
                ds += [slope(o) - slope(ex) for o in out]
                dh += [hurst(o) - hurst(ex) for o in out]
                do_s += [slope(o) - slope(ex) for o in others]
                do_h += [hurst(o) - hurst(ex) for o in others]
            rows.append(
                f"| fBm H={h} | {name} | {rms(ds):.3f} | {rms(do_s):.3f} | {rms(dh):.3f} "
                f"| {rms(do_h):.3f} | {np.mean(tt):.1f} s |"
            )
            print(rows[-1], flush=True)
    return rows


def bench_mrw(configs: dict[str, dict[str, Any]]) -> list[str]:
    n, lags = 4096, (1, 4, 16)
    rows = [
        "| setting | W1 incr. synth (lags 1/4/16) | W1 other real. | W1 Gaussian surrogate "
        "| kurtosis ex | kurtosis other real. (median) | kurtosis synth | log-vol std "
        "ex / other / synth | time (n=2) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    others = [mrw(n, s) for s in range(100, 108)]
    for name, kw in configs.items():
        ws, wo, wg, ke, ko, ks, lv, tt = [], [], [], [], [], [], [], []
        for e in range(3):
            ex = mrw(n, e)
            out, dt = synth(ex, e, **kw)
            tt.append(dt)
            ws.append([[w1(incr(o, lag), incr(ex, lag)) for lag in lags] for o in out])
            wo.append([[w1(incr(o, lag), incr(ex, lag)) for lag in lags] for o in others])
            gs = [phase_surrogate(ex, s) for s in (1, 2)]
            wg.append([[w1(incr(g, lag), incr(ex, lag)) for lag in lags] for g in gs])
            ke.append([kurt(incr(ex, lag)) for lag in lags])
            ks.append([np.mean([kurt(incr(o, lag)) for o in out]) for lag in lags])
            lv.append([logvol(ex), np.mean([logvol(o) for o in out])])
        ko = [np.median([kurt(incr(o, lag)) for o in others]) for lag in lags]
        lvo = np.mean([logvol(o) for o in others])

        def fmt(a: Any) -> str:
            return "/".join(f"{v:.3f}" for v in np.mean(np.reshape(a, (-1, 3)), 0))

        def fmtk(a: Any) -> str:
            return "/".join(f"{v:.1f}" for v in np.mean(np.reshape(a, (-1, 3)), 0))

        lvm = np.mean(lv, 0)
        rows.append(
            f"| {name} | {fmt(ws)} | {fmt(wo)} | {fmt(wg)} | {fmtk(ke)} | {fmtk(ko)} "
            f"| {fmtk(ks)} | {lvm[0]:.2f} / {lvo:.2f} / {lvm[1]:.2f} | {np.mean(tt):.1f} s |"
        )
        print(rows[-1], flush=True)
    return rows


def bench_lognormal(configs: dict[str, dict[str, Any]]) -> list[str]:
    n = 2048
    rows = [
        "| setting | W1 values synth - ex | W1 values other - ex | slope: synth - ex (RMS) "
        "| slope: other - ex (RMS) | min synth (ex min > 0) | time (n=2) |",
        "|---|---|---|---|---|---|---|",
    ]
    others = [lognormal_process(n, s) for s in range(100, 108)]
    for name, kw in configs.items():
        wv, wo, ds, do, mins, tt = [], [], [], [], [], []
        for e in range(3):
            ex = lognormal_process(n, e)
            out, dt = synth(ex, e, **kw)
            tt.append(dt)
            wv += [w1(o, ex) * o.std() / ex.std() for o in out]
            wo += [w1(o, ex) * o.std() / ex.std() for o in others]
            ds += [slope(o) - slope(ex) for o in out]
            do += [slope(o) - slope(ex) for o in others]
            mins += [float(o.min()) for o in out]
        rows.append(
            f"| {name} | {np.mean(wv):.3f} | {np.mean(wo):.3f} | {rms(ds):.3f} | {rms(do):.3f} "
            f"| {min(mins):.2f} | {np.mean(tt):.1f} s |"
        )
        print(rows[-1], flush=True)
    return rows


def figure(path: Path) -> None:
    """Exemplar and one synthesis of each process, as line plots (PIL only)."""
    from PIL import Image, ImageDraw

    cases: list[tuple[str, Callable[[], np.ndarray]]] = [
        ("fBm H=0.3", lambda: fbm(2048, 0.3, 0)),
        ("fBm H=0.7", lambda: fbm(2048, 0.7, 0)),
        ("multifractal walk", lambda: mrw(4096, 0)),
        ("increments of the walk", lambda: np.diff(mrw(4097, 0))),
    ]
    W, H, pad = 900, 110, 6
    img = Image.new("RGB", (2 * W + 3 * pad, len(cases) * (H + 22) + pad), "white")
    draw = ImageDraw.Draw(img)
    for row, (name, make) in enumerate(cases):
        ex = make()
        if name.startswith("increments"):
            out = np.diff(synth(mrw(4097, 0), 0)[0][0])
        else:
            out = synth(ex, 0)[0][0]
        for col, (label, y) in enumerate(((f"{name}: exemplar", ex), ("synthesis", out))):
            x0, y0 = pad + col * (W + pad), pad + row * (H + 22) + 16
            draw.text((x0, y0 - 14), label, fill="black")
            lo, hi = float(y.min()), float(y.max())
            xs = np.linspace(x0, x0 + W - 1, len(y))
            ys = y0 + H - 1 - (y - lo) / (hi - lo + 1e-12) * (H - 1)
            draw.line(list(zip(xs.tolist(), ys.tolist(), strict=True)), fill=(20, 60, 160))
    img.save(path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--figure", type=Path, default=None)
    args = parser.parse_args()
    torch.set_num_threads(1)
    walks = {
        "default (increments)": {},
        "increments, histogram=1.0": {"histogram": 1.0},
        "increments=False (direct)": {"increments": False},
        "stationary=True (direct, histogram + S0)": {"stationary": True},
        "power_spectrum=0": {"power_spectrum": 0.0},
    }
    lines = ["## Fractional Brownian motion (2048 samples)", ""] + bench_fbm(walks)
    lines += ["", "## Multifractal random walk (4096 samples)", ""] + bench_mrw(walks)
    stat = {"default (histogram 1.0)": {}, "histogram=0": {"histogram": 0.0}}
    lines += ["", "## Log-normal process (2048 samples)", ""] + bench_lognormal(stat)
    text = "\n".join(lines) + "\n"
    if args.out is not None:
        args.out.write_text(text)
    if args.figure is not None:
        figure(args.figure)


if __name__ == "__main__":
    main()
