"""Make the pictures of docs/synthesis.md and docs/methods.md from the shipped exemplars.

Run from the repository root: ``python docs/make_figures.py`` (about three minutes on 2
cores; the style-transfer figure needs the VGG19 weights, ``pip install -e ".[vgg]"``, and
scikit-image for its content photo). Every figure is exemplar | result(s), saved as 8-bit PNG
under docs/images/ (palette PNG when a 24-bit one would exceed 300 KB).
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw

from texsynth import read_image, synthesize

OUT = Path(__file__).parent / "images"
GAP = 8


def _to_uint8(x: torch.Tensor) -> np.ndarray:
    """``[C, H, W]`` in [0, 1] to an ``[H, W, 3]`` uint8 array."""
    a = x.clamp(0, 1).cpu().numpy()
    if a.shape[0] == 1:
        a = np.repeat(a, 3, 0)
    return (np.moveaxis(a, 0, -1) * 255 + 0.5).astype(np.uint8)


def _strip(panels: list[tuple[str, torch.Tensor]], path: Path) -> None:
    """Save labelled panels side by side (heights may differ; aligned at the top)."""
    arrays = [(label, _to_uint8(p)) for label, p in panels]
    width = sum(a.shape[1] for _, a in arrays) + GAP * (len(arrays) - 1)
    height = max(a.shape[0] for _, a in arrays) + 18
    canvas = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(canvas)
    x = 0
    for label, a in arrays:
        canvas.paste(Image.fromarray(a), (x, 18))
        draw.text((x + 2, 2), label, fill="black")
        x += a.shape[1] + GAP
    canvas.save(path, optimize=True)
    if path.stat().st_size > 300_000:
        canvas.quantize(256).save(path, optimize=True)
    print(f"wrote {path} ({path.stat().st_size // 1024} KB)")


def _tile(x: torch.Tensor) -> torch.Tensor:
    return x.repeat(1, 2, 2)


def _log_display(field: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
    """Log-scale a positive field into [0, 1] with the exemplar's range."""
    lo, hi = float(ref.log().min()), float(ref.log().max())
    return (field.clamp_min(float(ref.min())).log() - lo) / (hi - lo)


def main() -> None:
    """Write every figure under docs/images/."""
    OUT.mkdir(exist_ok=True)
    t0 = time.perf_counter()
    bark, _ = read_image("examples/bark.png")
    out = synthesize(bark, seed=0, progress=False)[0]
    _strip(
        [("exemplar", bark), ("texsynth", out), ("texsynth, tiled 2x2", _tile(out))],
        OUT / "bark_tiling.png",
    )

    for name in ("pebbles", "weave"):
        ex, _ = read_image(f"examples/{name}.png")
        outs = synthesize(ex, n=2, seed=0, progress=False)
        _strip(
            [("exemplar", ex), ("seed 0", outs[0]), ("seed 1", outs[1])], OUT / f"{name}_colour.png"
        )

    big = synthesize(bark[:, :128, :128], size=(256, 384), seed=1, progress=False)[0]
    _strip(
        [("exemplar 128x128", bark[:, :128, :128]), ("texsynth 384x256", big)],
        OUT / "bark_larger.png",
    )

    mask = torch.zeros(256, 256)
    mask[90:162, 100:180] = 1
    holed = bark.clone()
    holed[:, mask > 0] = 0
    filled = synthesize(bark, mask=mask, seed=0, progress=False)[0]
    _strip([("input, hole in black", holed), ("inpainted", filled)], OUT / "bark_inpaint.png")

    field = torch.from_numpy(np.load("examples/field.npy"))[None]
    sims = synthesize(field, to_gaussian=True, n=2, seed=0, progress=False)
    _strip(
        [
            ("field.npy (log scale)", _log_display(field, field)),
            ("realisation 1", _log_display(sims[0], field)),
            ("realisation 2", _log_display(sims[1], field)),
        ],
        OUT / "field_realisations.png",
    )
    _remake_figure()
    print(f"done in {time.perf_counter() - t0:.0f} s")


def _remake_figure() -> None:
    """Style transfer: a photo of a cat remade in the weave and the pebbles."""
    from texsynth import remake
    from texsynth.features import vgg_available

    if not vgg_available():
        print("skipped remake.png: needs the VGG19 weights (pip install -e '.[vgg]')")
        return
    import skimage.data

    cat = Image.fromarray(skimage.data.chelsea()).resize((288, 192), Image.LANCZOS)
    content = torch.from_numpy(np.asarray(cat, dtype=np.float32) / 255).permute(2, 0, 1)
    panels = [("content", content)]
    for name in ("weave", "pebbles"):
        style, _ = read_image(f"examples/{name}.png")
        out = remake(content, style, method="gram", seed=0, progress=False)[0]
        panels += [(f"style: {name}", style[:, :192, :192]), (f"remake like {name}", out)]
    _strip(panels, OUT / "remake.png")


if __name__ == "__main__":
    main()
