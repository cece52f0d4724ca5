"""The expansion protocol of the Transposer paper, graded honestly.

Liu et al. 2020 ("Transposer: Universal texture synthesis using feature maps as transposed
convolution filter") evaluate an expander on a real crop ``R`` of side ``2s``: the input is the
centre crop of side ``s`` and the output is compared with ``R`` by SSIM. Because the centre of
``R`` *is* the input, pasting the input and filling the rest with anything already scores well;
so this module also measures SSIM over the generated **border** only (every pixel outside the
centre box), and cuts the border into square tiles for texture statistics (the quality
benchmark's families, ``benchmarks/bench_expander.py``).

It also holds the naive baselines that every table must show (issue 19): centre paste + mean
fill, blur fill, bilinear enlargement, tiling, mirror tiling, a PatchMatch fill (texsynth's
patch method in inpainting mode) and an optimisation fill (any texsynth method, inpainting);
and one per-exemplar generator baseline, the generator fill (:func:`generator_fill`: a
feed-forward generator trained on the input alone, one sample, the input pasted in the centre;
in :data:`GENERATOR_BASELINES`, since it trains for about a minute). Every baseline maps an
input ``[1, C, h, w]`` to ``[1, C, scale*h, scale*w]`` with the input in the centre box.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

from ..errors import TexsynthError

__all__ = [
    "BASELINES",
    "GENERATOR_BASELINES",
    "HELD_OUT",
    "VALIDATION",
    "Expander",
    "blur_fill",
    "border_mask",
    "border_tiles",
    "centre_box",
    "centre_crop",
    "centre_paste",
    "enlarge_bilinear",
    "expansion_ssim",
    "generator_fill",
    "mean_fill",
    "mirror_tiling",
    "optimisation_fill",
    "patch_fill",
    "ssim_map",
    "tiling",
]

#: the held-out textures of the expander benchmark (``benchmarks/bench_expander.py``, names of
#: ``benchmarks/quality_exemplars.py``), never trained on: stochastic and structured (since
#: 2026-12-05), then scientific (since 2026-12-06: two fields of ``examples/make_exemplars.py``
#: and two scikit-image photographs)
HELD_OUT = (
    "gravel",
    "grass",
    "brick",
    "bark",
    "pebbles",
    "mosaic",
    "weave",
    "cosmic",
    "craters",
    "moon",
    "hubble_deep_field",
)
#: its validation textures, for choosing models and settings (never the held-out set): the
#: quality benchmark's procedural exemplars
VALIDATION = (
    "sand",
    "clouds",
    "moss",
    "granite",
    "voronoi",
    "tiles",
    "scales",
    "stripes",
    "glyphs",
    "terrain",
    "turbulence",
    "lognormal",
    "cascade",
)

#: an expander: input ``[1, C, h, w]`` and a seed to ``[1, C, scale*h, scale*w]``
Expander = Callable[[torch.Tensor, int], torch.Tensor]


def centre_box(out_h: int, out_w: int, h: int, w: int) -> tuple[int, int]:
    """Top-left corner ``(y0, x0)`` of the centred ``h x w`` box in an ``out_h x out_w``
    image (``(out - in) // 2``)."""
    if h > out_h or w > out_w:
        raise TexsynthError(f"a {h}x{w} box does not fit in {out_h}x{out_w}")
    return (out_h - h) // 2, (out_w - w) // 2


def centre_crop(big: torch.Tensor, scale: int = 2) -> torch.Tensor:
    """The input of the protocol: the centre crop of side ``H // scale, W // scale`` of a real
    crop ``big [B, C, H, W]``."""
    H, W = big.shape[-2:]
    h, w = H // scale, W // scale
    if h < 1 or w < 1:
        raise TexsynthError(f"a {H}x{W} crop has no centre crop at scale {scale}")
    y0, x0 = centre_box(H, W, h, w)
    return big[..., y0 : y0 + h, x0 : x0 + w]


def border_mask(out_h: int, out_w: int, h: int, w: int) -> torch.Tensor:
    """``[out_h, out_w]`` bool, True outside the centred ``h x w`` box (the generated border)."""
    y0, x0 = centre_box(out_h, out_w, h, w)
    m = torch.ones(out_h, out_w, dtype=torch.bool)
    m[y0 : y0 + h, x0 : x0 + w] = False
    return m


def check_image(x: torch.Tensor, name: str) -> torch.Tensor:
    """``x`` as a ``[1, C, H, W]`` floating tensor, or a :class:`TexsynthError`."""
    if x.ndim == 3:
        x = x[None]
    if x.ndim != 4 or x.shape[0] != 1:
        raise TexsynthError(
            f"{name} must be one image [C, H, W] or [1, C, H, W], got {tuple(x.shape)}"
        )
    if not x.is_floating_point():
        raise TexsynthError(f"{name} must be a floating tensor in [0, 1], got {x.dtype}")
    return x


# --------------------------------------------------------------------------- SSIM


def ssim_map(
    x: torch.Tensor, y: torch.Tensor, *, win_size: int = 7, data_range: float = 1.0
) -> torch.Tensor:
    """SSIM map ``[B, H - win_size + 1, W - win_size + 1]`` (channel mean) of ``x`` against
    ``y`` (``[B, C, H, W]``), uniform window and sample covariances, as
    ``skimage.metrics.structural_similarity`` computes it (Wang et al. 2004); the map's mean is
    :func:`texsynth.metrics.ssim`. Pixel ``(i, j)`` of the map is the window whose top-left
    corner is ``(i, j)``."""
    if x.shape != y.shape:
        raise TexsynthError(
            f"SSIM needs images of one shape, got {tuple(x.shape)} and {tuple(y.shape)}"
        )
    if min(x.shape[-2:]) < win_size:
        raise TexsynthError(
            f"images of {tuple(x.shape[-2:])} are smaller than the SSIM window {win_size}"
        )
    a, b = x.double(), y.double()
    C1, C2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    np_ = win_size * win_size
    cov_norm = np_ / (np_ - 1)

    def mean(t: torch.Tensor) -> torch.Tensor:
        return F.avg_pool2d(t, win_size, stride=1)

    ux, uy = mean(a), mean(b)
    vx = cov_norm * (mean(a * a) - ux * ux)
    vy = cov_norm * (mean(b * b) - uy * uy)
    vxy = cov_norm * (mean(a * b) - ux * uy)
    s = ((2 * ux * uy + C1) * (2 * vxy + C2)) / ((ux * ux + uy * uy + C1) * (vx + vy + C2))
    return s.mean(1)


def expansion_ssim(
    out: torch.Tensor, real: torch.Tensor, scale: int = 2, *, win_size: int = 7
) -> tuple[float, float]:
    """SSIM of an expansion ``out`` against the real crop ``real`` (both ``[1, C, H, W]``):
    ``(whole, border)``. ``whole`` is the mean of the SSIM map (scikit-image's default: the
    windows inside the image); ``border`` is its mean over the windows centred on a generated
    pixel (outside the centre box of side ``H // scale``)."""
    out, real = check_image(out, "output"), check_image(real, "real crop")
    smap = ssim_map(out, real, win_size=win_size)[0]
    H, W = real.shape[-2:]
    r = (win_size - 1) // 2
    mask = border_mask(H, W, H // scale, W // scale)[r : H - r, r : W - r]
    return float(smap.mean()), float(smap[mask].mean())


def border_tiles(img: torch.Tensor, scale: int = 2) -> list[torch.Tensor]:
    """Square cells of side ``H / 4`` that hold no input pixel, at a stride of ``H / 8``: with
    ``scale = 2`` (and ``H, W`` divisible by 8) the 24 positions of a 7 x 7 grid whose cell
    misses the centre box. Half of them straddle the lines that continue the box's edges, where
    tiling and mirror tiling put their seams."""
    img = check_image(img, "image")
    H, W = img.shape[-2:]
    if scale != 2 or H % 8 or W % 8:
        raise TexsynthError(
            f"border tiles need scale 2 and sides divisible by 8, got {H}x{W} at scale {scale}"
        )
    th, tw = H // 4, W // 4
    out = []
    for i in range(7):
        for j in range(7):
            if 1 <= i <= 5 and 1 <= j <= 5:
                continue  # the cell meets the centre box
            y, x = i * th // 2, j * tw // 2
            out.append(img[0, :, y : y + th, x : x + tw])
    return out


# --------------------------------------------------------------------------- baselines


def centre_paste(inp: torch.Tensor, canvas: torch.Tensor) -> torch.Tensor:
    """``canvas`` with ``inp`` pasted in its centre box."""
    out = canvas.clone()
    h, w = inp.shape[-2:]
    y0, x0 = centre_box(out.shape[-2], out.shape[-1], h, w)
    out[..., y0 : y0 + h, x0 : x0 + w] = inp
    return out


def _out_size(inp: torch.Tensor, scale: int) -> tuple[int, int]:
    if not isinstance(scale, int) or isinstance(scale, bool) or scale < 1:
        raise TexsynthError(f"scale must be a positive integer, got {scale!r}")
    return inp.shape[-2] * scale, inp.shape[-1] * scale


def mean_fill(inp: torch.Tensor, scale: int = 2, seed: int = 0) -> torch.Tensor:
    """Centre paste + the input's mean colour everywhere else."""
    inp = check_image(inp, "input")
    H, W = _out_size(inp, scale)
    canvas = inp.mean((-2, -1), keepdim=True).expand(1, inp.shape[1], H, W)
    return centre_paste(inp, canvas)


def blur_fill(inp: torch.Tensor, scale: int = 2, seed: int = 0) -> torch.Tensor:
    """Centre paste + a smooth extrapolation of the input: normalised convolution (Knutsson &
    Westin 1993) ``G * (x m) / G * m`` with a Gaussian ``G`` of sigma ``max(h, w) / 4`` and
    ``m`` = 1 on the input, so each border pixel is a local weighted mean of the nearest input
    pixels."""
    inp = check_image(inp, "input")
    H, W = _out_size(inp, scale)
    h, w = inp.shape[-2:]
    zeros = torch.zeros(1, inp.shape[1], H, W, dtype=inp.dtype)
    x = centre_paste(inp, zeros)
    m = centre_paste(torch.ones(1, 1, h, w, dtype=inp.dtype), zeros[:, :1])
    sigma = max(h, w) / 4
    r = int(3 * sigma + 0.5)
    t = torch.arange(-r, r + 1, dtype=inp.dtype)
    g = torch.exp(-0.5 * (t / sigma) ** 2)

    def blur(v: torch.Tensor) -> torch.Tensor:
        c = v.shape[1]
        v = F.pad(v, (r, r, r, r))
        v = F.conv2d(v, g.view(1, 1, 1, -1).expand(c, 1, 1, -1).contiguous(), groups=c)
        return F.conv2d(v, g.view(1, 1, -1, 1).expand(c, 1, -1, 1).contiguous(), groups=c)

    filled = blur(x) / blur(m).clamp_min(1e-12)
    return centre_paste(inp, filled)


def enlarge_bilinear(inp: torch.Tensor, scale: int = 2, seed: int = 0) -> torch.Tensor:
    """Bilinear enlargement of the whole input (no centre paste: the misaligned output the
    issue warns about)."""
    inp = check_image(inp, "input")
    H, W = _out_size(inp, scale)
    return F.interpolate(inp, size=(H, W), mode="bilinear", align_corners=False)


def _wrapped(
    inp: torch.Tensor, scale: int, index: Callable[[torch.Tensor, int], torch.Tensor]
) -> torch.Tensor:
    inp = check_image(inp, "input")
    H, W = _out_size(inp, scale)
    h, w = inp.shape[-2:]
    y0, x0 = centre_box(H, W, h, w)
    iy = index(torch.arange(H) - y0, h)
    ix = index(torch.arange(W) - x0, w)
    return inp[..., iy[:, None], ix[None, :]]


def tiling(inp: torch.Tensor, scale: int = 2, seed: int = 0) -> torch.Tensor:
    """Periodic repetition of the input, in phase with the centre box."""
    return _wrapped(inp, scale, lambda i, n: torch.remainder(i, n))


def mirror_tiling(inp: torch.Tensor, scale: int = 2, seed: int = 0) -> torch.Tensor:
    """Mirror repetition (period ``2n``, edge pixels repeated) in phase with the centre box."""

    def mirror(i: torch.Tensor, n: int) -> torch.Tensor:
        k = torch.remainder(i, 2 * n)
        return torch.where(k < n, k, 2 * n - 1 - k)

    return _wrapped(inp, scale, mirror)


def _inpaint(inp: torch.Tensor, scale: int, seed: int, method: str, quality: str) -> torch.Tensor:
    from ..synthesis import synthesize

    inp = check_image(inp, "input")
    H, W = _out_size(inp, scale)
    h, w = inp.shape[-2:]
    init = mean_fill(inp, scale)
    mask = border_mask(H, W, h, w).to(inp.dtype)[None]
    out = synthesize(
        inp[0], method=method, init=init[0], mask=mask, seed=seed, quality=quality, progress=False
    )
    out = out if isinstance(out, torch.Tensor) else out[0]
    out = out.reshape(1, inp.shape[1], H, W).to(inp.dtype)
    return centre_paste(inp, out)


def patch_fill(
    inp: torch.Tensor, scale: int = 2, seed: int = 0, quality: str = "default"
) -> torch.Tensor:
    """PatchMatch fill: texsynth's patch method (multi-resolution PatchMatch search and voting,
    Barnes et al. 2009, Kaspar et al. 2015) inpainting the border from the input alone."""
    return _inpaint(inp, scale, seed, "patch", quality)


def optimisation_fill(
    inp: torch.Tensor,
    scale: int = 2,
    seed: int = 0,
    method: str = "scattering",
    quality: str = "fast",
) -> torch.Tensor:
    """An optimisation method of texsynth inpainting the border (the input kept), per exemplar:
    the statistics of the input, non-periodic."""
    return _inpaint(inp, scale, seed, method, quality)


def generator_fill(
    inp: torch.Tensor,
    scale: int = 2,
    seed: int = 0,
    *,
    steps: int = 400,
    size: int = 64,
    method: str = "scattering",
) -> torch.Tensor:
    """A per-exemplar feed-forward generator as an expander: train texsynth's generator
    (:func:`texsynth.train_generator`, foscat's decoder-only U-Net over wavelet skips of noise,
    in the spirit of Ulyanov et al. 2016, "Texture networks: feed-forward synthesis of textures
    and stylized images") on the input alone, draw one ``scale * h x scale * w`` sample with
    ``seed`` (:func:`texsynth.generate_samples`), clamp it to [0, 1] and paste the input in its
    centre box (as :func:`optimisation_fill` keeps its input).

    The defaults are a **fast budget, not the generator's best**: ``steps = 400`` Adam steps of
    batch 4 on ``size = 64`` px training samples with the default scattering loss (plus the
    histogram and power-spectrum terms), width 16, depth 4, seeded by ``seed``; about 30 s
    (grey) to 75 s (colour) per 128² input on one CPU thread. The generator's documented
    settings are 2000 steps at 128² (about 10 minutes on 2 cores) and, for colour photos of
    objects, the sliced Wasserstein loss (``method="swd"``, about 8x slower per step). The
    sample is periodic and independent of the input's position: nothing joins it to the
    input, so the input's edges are seams.

    Parameters
    ----------
    inp
        ``[1, C, h, w]`` (or ``[C, h, w]``) in [0, 1], ``h, w >= 17``.
    scale
        Output size factor.
    seed
        Seeds the generator's weights, its training noise and the sample.
    steps, size, method
        :func:`texsynth.train_generator`'s ``steps``, ``size`` (training samples, at most the
        input's sides) and ``method``.

    Returns
    -------
    torch.Tensor
        ``[1, C, scale * h, scale * w]``, the input in the centre box, values in [0, 1].
    """
    from ..generators import generate_samples, train_generator

    inp = check_image(inp, "input")
    H, W = _out_size(inp, scale)
    h, w = inp.shape[-2:]
    model = train_generator(
        inp[0],
        method=method,
        steps=steps,
        size=(min(size, h), min(size, w)),
        seed=seed,
        progress=False,
    )
    assert not isinstance(model, tuple)  # (a report only with report=True)
    sample = generate_samples(model, 1, H, W, seed=seed)
    sample = sample.reshape(1, inp.shape[1], H, W).to(inp.dtype).clamp(0, 1)
    return centre_paste(inp, sample)


#: the naive baselines of issue 19, by name (``patch`` and ``optimisation`` are per-exemplar
#: syntheses; the others are closed forms)
BASELINES: dict[str, Expander] = {
    "mean fill": mean_fill,
    "blur fill": blur_fill,
    "bilinear": enlarge_bilinear,
    "tiling": tiling,
    "mirror tiling": mirror_tiling,
    "patch fill": patch_fill,
    "optimisation fill": optimisation_fill,
}

#: per-exemplar generator baselines (slow: each trains a generator on its input first)
GENERATOR_BASELINES: dict[str, Expander] = {"generator fill": generator_fill}
