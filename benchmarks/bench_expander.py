"""Expansion benchmark (issue 19): the Transposer protocol, graded honestly, with baselines.

For each held-out texture a real crop ``R`` of side ``2s`` is cut; the input is its centre crop
of side ``s`` and every method returns a ``2s`` expansion with the input in the centre
(:mod:`texsynth.expander.protocol`). Columns:

* ``SSIM``: against ``R``, over the whole image (the Transposer paper's number) and over the
  windows centred on generated pixels only (``SSIM border``);
* the quality benchmark's statistic families (``quality_metrics.py``: Portilla-Simoncelli,
  VGG19 Gram, SIFID, spectrum, histogram, scattering) on the **border**: the 12 outer cells of a
  the 24 cells of side ``s / 2`` at stride ``s / 4`` that miss the input (half of them straddle
  the lines where tiling puts its seams), each graded against a held-out real cell of the same
  texture with the spread of more held-out cells (from other, non-overlapping real crops); a
  family's score is the mean over the 24 cells; **1 = as close as a real crop** (the ``real``
  row grades the border of ``R`` itself); ``worst`` is the largest family score; ``copy`` is
  the cells' nearest-16-px-patch distance to the *input* over held-out real cells' (below
  0.5: pasted from the input). The Gram family's spreads are floored at 5 % of each block's
  *mean* spread (``--gram-floor``; the quality benchmark's median floor is 0 on these cells'
  pool4 block, where most VGG19 channels are dead: held cells then lie up to 1e10 spreads
  away and the Gram score is meaningless, about 1e-7 for every method on moon and cosmic);
* ``sifid_whole``: the single-image FID (Shaham et al. 2019, "SinGAN: learning a generative
  model from a single natural image") of the **whole** ``2s`` output against ``R``, with the
  ``sifid`` family's extractor (VGG19 pool1), in raw units (lower is better; 0 for ``R``
  itself); the pseudo-method ``real (other crop)`` is another real ``2s`` crop of the texture
  against ``R``, for scale;
* the time of the expansion, in this process with ``--threads`` torch threads.

Held-out textures (never trained on; :data:`HELD_OUT`, ``--exemplars held-out``):
scikit-image's ``gravel``, ``grass``, ``brick``, ``moon``, ``hubble_deep_field`` and the shipped
``examples`` ``bark``, ``pebbles``, ``mosaic``, ``weave``, ``cosmic``, ``craters``
(``quality_exemplars.py``): stochastic, structured and scientific. The expander trains on
``texsynth.expander.procedural`` and the packaged photos of ``texsynth.expander.photos``,
which leave these out. Model selection uses :data:`VALIDATION` (``--exemplars validation``),
the quality benchmark's procedural exemplars, never the held-out set.

Usage::

    PYTHONPATH=src .venv/bin/python benchmarks/bench_expander.py --size 128 \\
        --methods "real,mean fill,blur fill,bilinear,tiling,mirror tiling,patch fill" \\
        --report /tmp/expander.md --sheets /tmp/expander_png
    # slow per-exemplar baselines, by name in --methods: "optimisation fill" (10 s grey to
    # 90 s colour per texture on one thread), "generator fill" (a generator trained on the
    # input: 30 s grey to 75 s colour)
    # add the expander: --model expander.safetensors (method name "expander"), or several,
    # each named: --model "expander=a.safetensors" --model "untrained=b.safetensors"
"""

from __future__ import annotations

import argparse
import functools
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "src"))

import quality_exemplars as qe  # noqa: E402
import quality_metrics as qm  # noqa: E402
from texsynth.expander import protocol  # noqa: E402
from texsynth.metrics import copy_score  # noqa: E402

HELD_OUT, VALIDATION = protocol.HELD_OUT, protocol.VALIDATION
SETS = {"held-out": HELD_OUT, "validation": VALIDATION}
N_HELD_CELLS = 6
OTHER = "real (other crop)"  # the pseudo-method of sifid_whole's reference


def exemplar_names(spec: str) -> list[str]:
    """``--exemplars``: a comma list of names, where ``held-out`` and ``validation`` stand for
    :data:`HELD_OUT` and :data:`VALIDATION`."""
    out: list[str] = []
    for n in (n.strip() for n in spec.split(",")):
        out.extend(SETS.get(n, (n,) if n else ()))
    return list(dict.fromkeys(out))


def cells_of(crop: np.ndarray, side: int) -> list[np.ndarray]:
    """Non-overlapping ``side`` cells of ``crop [C, H, W]`` (row-major)."""
    _, h, w = crop.shape
    return [
        crop[:, i : i + side, j : j + side]
        for i in range(0, h - side + 1, side)
        for j in range(0, w - side + 1, side)
    ]


def n_cases(name: str, size: int) -> int:
    """How many protocol cases texture ``name`` has at input side ``size``: one per real crop
    of side ``2 size`` (the target and the held-out crops)."""
    ex = qe.load(name, 2 * size)
    return 1 + len(ex.held)


def make_case(name: str, size: int, case: int = 0) -> dict:
    """Real crop, input, and the reference cells of one held-out texture; ``other`` is another
    real crop of side ``2 size`` (the exemplar's extra crop, else its last held-out crop, which
    gives at most one of the held cells), the reference of ``sifid_whole``.

    ``case`` picks the real crop ``R``: 0 is the exemplar's target crop (the tables before
    2026-12-06), ``c >= 1`` its ``c``-th held-out crop, the target crop then joining the
    crops that give the reference cells (``--cases``: more independent crops per texture)."""
    ex = qe.load(name, 2 * size)
    crops = [ex.target, *ex.held]
    if not 0 <= case < len(crops):
        raise ValueError(f"{name} has {len(crops)} real crops of side {2 * size}; case {case}")
    real = torch.from_numpy(crops[case]).float()[None]
    rest = crops[:case] + crops[case + 1 :]
    inp = protocol.centre_crop(real)
    side = size // 2
    held: list[np.ndarray] = []
    for crop in rest:  # one cell from each other real crop first, then more
        held.append(cells_of(crop, side)[len(held) % 16])
    k = 0
    while len(held) < N_HELD_CELLS + 1:
        held.append(cells_of(rest[0], side)[5 + k])
        k += 1
    return {
        "name": name,
        "group": ex.group,
        "real": real,
        "input": inp,
        "target": held[0],
        "held": held[1 : N_HELD_CELLS + 1],
        "other": ex.extra if ex.extra is not None else rest[-1],
    }


@functools.lru_cache(maxsize=4)
def _ps_model(h: int, w: int) -> torch.nn.Module:
    import plenoptic as po

    n_scales = max(1, min(4, int(np.log2(min(h, w) / 8))))
    return po.models.PortillaSimoncelli(
        (h, w), n_scales=n_scales, n_orientations=4, spatial_corr_width=7
    )


def ps_stats(x: torch.Tensor) -> dict[str, np.ndarray]:
    """``quality_metrics.ps_stats`` with as many scales as the cell allows (coarsest >= 8 px:
    3 scales on 64 px cells, 2 on 32 px)."""
    model = _ps_model(*x.shape[-2:])
    with torch.no_grad():
        d = model.convert_to_dict(model(x))
    out = {}
    for k, v in d.items():
        v = v.reshape(v.shape[0], -1).double().numpy()
        out[k] = np.nan_to_num(v)  # redundant entries (NaN) as 0 in every image
    return out


def stack(imgs: list[np.ndarray]) -> torch.Tensor:
    """``[N, C, H, W]`` float64 tensor of ``[C, H, W]`` arrays."""
    return torch.from_numpy(np.stack(imgs)).double()


def expander_method(path: str, periodic: bool = False) -> protocol.Expander:
    """The expander of file ``path`` as a method of the protocol."""
    from texsynth.expander.model import load_expander

    model = load_expander(path)

    def run(inp: torch.Tensor, scale: int = 2, seed: int = 0) -> torch.Tensor:
        with torch.no_grad():
            return model.expand(inp, periodic=periodic).clamp(0, 1)

    return run


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=128, help="input side s (output 2s)")
    ap.add_argument(
        "--exemplars",
        default="held-out",
        help="comma list; 'held-out' and 'validation' name the two sets (default held-out)",
    )
    ap.add_argument("--methods", default="real," + ",".join(protocol.BASELINES))
    ap.add_argument("--families", default=None, help="comma list (default: all available)")
    ap.add_argument(
        "--gram-floor",
        default="mean",
        choices=("mean", "median"),
        help="floor of the Gram family's spreads: 5%% of the block's mean spread (default) or "
        "median (the quality benchmark's, as in the tables before 2026-12-06)",
    )
    ap.add_argument(
        "--model",
        action="append",
        default=[],
        help="expander .safetensors (method 'expander'), or NAME=FILE; repeatable",
    )
    ap.add_argument("--periodic", action="store_true", help="run the expanders' tileable mode")
    ap.add_argument("--opt-method", default="scattering", help="method of 'optimisation fill'")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument(
        "--cases",
        type=int,
        default=1,
        help="real crops per texture used as the protocol's crop (case 0: the target crop; "
        "c >= 1: the c-th held-out crop), as many as the texture has; the report averages a "
        "texture's cases, then takes medians over textures",
    )
    ap.add_argument("--report", default=None, help="markdown table to write")
    ap.add_argument("--json", default=None, help="raw results to write")
    ap.add_argument("--sheets", default=None, help="folder for one PNG strip per exemplar")
    ap.add_argument(
        "--merge", nargs="*", default=[], help="--json files of earlier runs to add to the report"
    )
    a = ap.parse_args(argv)
    torch.set_num_threads(a.threads)
    methods: dict[str, protocol.Expander] = {}
    for m in [m.strip() for m in a.methods.split(",") if m.strip()]:
        if m == "real":
            continue
        if m == "optimisation fill":
            opt = a.opt_method
            methods[m] = lambda x, s, seed, opt=opt: protocol.optimisation_fill(x, s, seed, opt)
        elif m in protocol.BASELINES:
            methods[m] = protocol.BASELINES[m]
        elif m in protocol.GENERATOR_BASELINES:
            methods[m] = protocol.GENERATOR_BASELINES[m]
        else:
            known = ", ".join([*protocol.BASELINES, *protocol.GENERATOR_BASELINES])
            raise SystemExit(f"unknown method {m!r}; known: real, expander, {known}")
    for spec in a.model:
        name, _, path = spec.rpartition("=")
        methods[name or "expander"] = expander_method(path, a.periodic)
    want_real = "real" in a.methods.split(",")
    fams = a.families.split(",") if a.families else qm.available_families()
    rows: list[dict] = []
    # (no method at all: a report of the --merge files only)
    names = exemplar_names(a.exemplars) if (methods or want_real) else []
    whole_sifid = "sifid" in fams  # the whole-image SIFID needs the sifid family's VGG19
    if a.cases < 1:
        raise SystemExit(f"--cases must be at least 1, got {a.cases}")
    jobs = [(n, c) for n in names for c in range(min(a.cases, n_cases(n, a.size)))]
    for name, ci in jobs:
        case = make_case(name, a.size, ci)
        ref = qm.Reference(
            case["target"], case["held"], [f for f in fams if f not in ("ps", "gram")]
        )
        if "gram" in fams:
            gram = qm.make_family("gram", a.gram_floor)
            gram.fit(case["target"], case["held"])
            ref.families = {"gram": gram, **ref.families}
        if "ps" in fams:  # the border cells are small: fewer pyramid scales than the benchmark's 4
            ps = qm.FamilyRef("ps", ps_stats)
            ps.fit(case["target"], case["held"])
            ref.families = {"ps": ps, **ref.families}
        inp_np = case["input"].double()
        copy_real = float(copy_score(stack(case["held"]), inp_np, patch=16).double().mean())
        outs: dict[str, torch.Tensor] = {}
        if want_real:
            outs["real"] = case["real"]
        times: dict[str, float] = {"real": 0.0}
        for m, fn in methods.items():
            t0 = time.perf_counter()
            out = fn(case["input"], 2, a.seed)
            times[m] = time.perf_counter() - t0
            outs[m] = out.float().clamp(0, 1)
        real_np = case["real"][0].double().numpy()  # (the whole-image SIFID's reference)
        for m, out in outs.items():
            whole, border = protocol.expansion_ssim(out, case["real"])
            cells = [c.double().numpy() for c in protocol.border_tiles(out)]
            graded = ref.grade(cells)
            scores = {f: float(np.mean([g[f] for g in graded])) for f in fams}
            copy = float(copy_score(stack(cells), inp_np, patch=16).double().mean()) / copy_real
            extra = {}
            if whole_sifid:
                extra["sifid_whole"] = qm.sifid_distances([out[0].double().numpy()], real_np)[0]
            row = {
                "exemplar": name,
                "case": ci,
                "group": case["group"],
                "method": m,
                "ssim": whole,
                "ssim_border": border,
                **scores,
                "worst": max(scores.values()),
                "copy": copy,
                **extra,
                "time": times[m],
            }
            rows.append(row)
            print(json.dumps(row), flush=True)
        if whole_sifid and want_real:
            row = {
                "exemplar": name,
                "case": ci,
                "group": case["group"],
                "method": OTHER,
                "sifid_whole": qm.sifid_distances([case["other"]], real_np)[0],
            }
            rows.append(row)
            print(json.dumps(row), flush=True)
        if a.sheets:
            stem = name if ci == 0 else f"{name}_case{ci}"
            save_sheet(Path(a.sheets) / f"{stem}.png", case["input"], outs)
    if a.json:
        Path(a.json).write_text(json.dumps(rows, indent=1))
    if a.report:
        for extra in a.merge:
            rows.extend(json.loads(Path(extra).read_text()))
        Path(a.report).write_text(report(rows, fams, a))
    return 0


def save_sheet(path: Path, inp: torch.Tensor, outs: dict[str, torch.Tensor]) -> None:
    """The input (padded to the output size) then every output, side by side."""
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    first = next(iter(outs.values()))
    H, W = first.shape[-2:]
    canvas = torch.ones_like(first)
    canvas = protocol.centre_paste(inp, canvas)
    strip = torch.cat([canvas, *outs.values()], dim=-1)[0]
    arr = (strip.clamp(0, 1).permute(1, 2, 0).numpy() * 255 + 0.5).astype(np.uint8)
    if arr.shape[-1] == 1:
        arr = arr[..., 0]
    Image.fromarray(arr).save(path)


def per_exemplar(rows: list[dict]) -> list[dict]:
    """One row per (method, exemplar): the mean of each number over the exemplar's cases
    (``--cases``; rows without a case, from runs before it, are case 0; a case present twice,
    from merged runs, counts once: the first)."""
    groups: dict[tuple[str, str], list[dict]] = {}
    seen: set[tuple[str, str, int]] = set()
    for r in rows:  # (the same case twice, e.g. from two --merge files, counts once)
        key = (r["method"], r["exemplar"], int(r.get("case", 0)))
        if key not in seen:
            seen.add(key)
            groups.setdefault((r["method"], r["exemplar"]), []).append(r)
    out = []
    for rs in groups.values():
        row = {k: v for k, v in rs[0].items() if not isinstance(v, (int, float))}
        keys = dict.fromkeys(k for r in rs for k, v in r.items() if isinstance(v, (int, float)))
        for k in keys:
            if k != "case":
                row[k] = float(np.mean([r[k] for r in rs if k in r]))
        row["cases"] = len(rs)
        out.append(row)
    return out


def report(rows: list[dict], fams: list[str], a: argparse.Namespace) -> str:
    """Markdown: one row per method, medians over exemplars and per group (``–`` where a
    method has no value: the ``real (other crop)`` row has ``sifid_whole`` only, rows merged
    from runs before a column existed lack it)."""
    rows = per_exemplar(rows)
    methods = list(dict.fromkeys(r["method"] for r in rows))
    groups = list(dict.fromkeys(r["group"] for r in rows))
    cols = ["ssim", "ssim_border", *fams, "worst", "copy", "sifid_whole", "time"]
    cols = [c for c in cols if any(c in r for r in rows)]

    def med(rs: list[dict], c: str, fmt: str = "{:.2f}") -> str:
        vals = [r[c] for r in rs if c in r]
        return fmt.format(float(np.median(vals))) if vals else "–"

    lines = [
        f"Input {a.size}² → output {2 * a.size}², exemplars {a.exemplars}, seed {a.seed}, "
        f"{a.threads} thread(s), up to {a.cases} case(s) (real crops) per exemplar, averaged "
        "per exemplar. Medians over exemplars; family scores on the 24 border cells "
        "(1 = as close as a real crop); sifid_whole: SIFID of the whole output against the "
        f"real crop, raw units ({OTHER}: another real crop); time in seconds.",
        "",
        "| method | n | "
        + " | ".join(cols)
        + " | "
        + " | ".join(f"worst {g} | copy {g}" for g in groups)
        + " |",
        "|---" * (len(cols) + 2 + 2 * len(groups)) + "|",
    ]
    for m in methods:
        rs = [r for r in rows if r["method"] == m]
        cells = [med(rs, c, "{:.3f}" if c.startswith("ssim") else "{:.2f}") for c in cols]
        per = [
            med([r for r in rs if r["group"] == g], c) for g in groups for c in ("worst", "copy")
        ]
        lines.append(f"| {m} | {len(rs)} | " + " | ".join(cells) + " | " + " | ".join(per) + " |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    raise SystemExit(main())
