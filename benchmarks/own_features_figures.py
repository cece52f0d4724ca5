"""Figures of docs/own-features.md from ``bench_own_features.py``'s results folder: a sheet of
the outputs (one row per held-out exemplar) and the training-time curve.

    python benchmarks/own_features_figures.py RESULTS_DIR TRAINED.safetensors OUT_DIR
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

COLUMNS = ["target", "real", "gap / VGG19", "gap / random", "gap / learned",
           "gram / VGG19", "gram / learned", "gc / VGG19", "gc / learned"]  # fmt: skip


def _tile(path: Path, side: int) -> np.ndarray:
    if not path.exists():
        return np.full((side, side, 3), 255, np.uint8)
    a = np.load(path)
    a = np.rint(np.clip(a, 0, 1) * 255).astype(np.uint8).transpose(1, 2, 0)
    return a[:side, :side]


def sheet(res: Path, out: Path) -> None:
    names = ["granite", "sand", "moss"]
    side, label, gap = 128, 14, 4
    W = len(COLUMNS) * (side + gap)
    H = label + len(names) * (side + gap)
    img = Image.new("RGB", (W, H), "white")
    draw = ImageDraw.Draw(img)
    for j, col in enumerate(COLUMNS):
        draw.text((j * (side + gap) + 2, 1), col, fill="black")
        for i, name in enumerate(names):
            key = col.replace(" / ", "_").replace("@", "_")
            tile = _tile(res / f"{name}_{key}.npy", side)
            img.paste(Image.fromarray(tile), (j * (side + gap), label + i * (side + gap)))
    img.save(out / "own_features_sheet.jpg", quality=90)  # a PNG of noise-like tiles is 1 MB


def curve(res: Path, trained: Path, out: Path) -> None:
    """Held-out PSNR and synthesis quality (median over the exemplars of the worst of PS and
    scattering) against training time: wall minutes when the history has them (the 5th
    field, ``features train`` since --minutes), CPU minutes otherwise."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from texsynth.features.learned import read_features_metadata

    training = read_features_metadata(trained)["training"]
    hist = training["history"]
    wall = all(len(h) > 4 for h in hist)
    minutes = {int(h[0]): (h[4] if wall else h[1]) / 60 for h in hist}
    unit = "wall" if wall else "CPU"
    rows = [json.loads(line) for line in (res / "results.jsonl").open()]
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(9, 3.4))
    a1.plot(list(minutes.values()), [h[3] for h in hist], "o-", ms=3)
    a1.set_xlabel(f"training {unit} minutes (1 thread, under load)")
    a1.set_ylabel("held-out reconstruction PSNR (dB)")
    a1.set_xlim(left=0)
    final_step = int(training.get("steps", hist[-1][0]))
    for method, colour in (("gap", "tab:blue"), ("gram", "tab:orange")):
        by_step: dict[int, list[float]] = {}
        for r in rows:
            lab = r["label"]
            if lab == f"{method} / learned":
                step = final_step
            elif lab.startswith(f"{method} / learned@"):
                step = int(lab.split("@")[1])
            else:
                continue
            by_step.setdefault(step, []).append(r["headline"])
        xs = sorted(by_step)
        a2.plot([minutes.get(s, np.nan) for s in xs], [np.median(by_step[s]) for s in xs],
                "o-", color=colour, label=f"{method} / learned")  # fmt: skip
        v = [r["headline"] for r in rows if r["label"] == f"{method} / VGG19"]
        if v:
            a2.axhline(np.median(v), ls="--", lw=1, color=colour, label=f"{method} / VGG19")
    v = [r["headline"] for r in rows if r["label"] == "real"]
    if v:
        a2.axhline(np.median(v), ls=":", lw=1, color="black", label="another real crop")
    a2.set_xlabel(f"training {unit} minutes")
    a2.set_ylabel("median of worst(PS, scattering)")
    a2.set_xlim(left=0)
    a2.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out / "own_features_curve.png", dpi=90)


def table(res: Path) -> str:
    """Markdown: per run, the PS score (a) per exemplar and the medians of PS, scattering (e)
    and the VGG19 Gram family (b), and the synthesis time; 1 = as close as a real crop."""
    rows = [json.loads(line) for line in (res / "results.jsonl").open()]
    names = ["granite", "sand", "moss"]
    labels = list(dict.fromkeys(r["label"] for r in rows))
    by = {(r["exemplar"], r["label"]): r for r in rows}
    lines = [
        "| run | PS " + " | PS ".join(names) + " | PS (a) | scattering (e) | VGG19 gram (b) "
        "| s / run |",
        "|:---|" + "---:|" * (len(names) + 4),
    ]
    for lab in labels:
        got = [r for r in (by.get((n, lab)) for n in names) if r]
        med = {f: np.median([r["scores"][f] for r in got]) for f in ("ps", "scattering", "gram")}
        cells = [f"{by[(n, lab)]['scores']['ps']:.2f}" if (n, lab) in by else "–" for n in names]
        lines.append(
            f"| {lab} | " + " | ".join(cells) + f" | **{med['ps']:.2f}** | "
            f"{med['scattering']:.2f} | {med['gram']:.2f} | "
            f"{np.median([r['wall_s'] for r in got]):.0f} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    res, trained, out = (Path(p) for p in sys.argv[1:4])
    out.mkdir(parents=True, exist_ok=True)
    sheet(res, out)
    curve(res, trained, out)
    print(table(res))
