"""Exemplars of ``bench_quality.py``: a target crop and held-out real crops of each texture.

Every exemplar gives, at side ``S`` (256 by default, 128 for quick runs):

* ``target``: the crop that the methods synthesise from;
* ``held``: at least 3 more crops of the same texture, none overlapping the target, used to
  normalise the statistics (how far is another piece of the same texture?);
* ``extra``: one more real crop, not used in the normalisation, graded as the pseudo-method
  ``real`` (``None`` when the source is too small; then ``real`` is graded leave-one-out).

Three groups (see :data:`EXEMPLARS`): ``stochastic``, ``structured`` and ``scientific``.
Sources are the textures that scikit-image ships (512x512 or larger: the crops are cells of a
non-overlapping grid, target top-left), our procedural examples (``examples/*.png``, made by
``examples/make_exemplars.py`` at 256x256: the target is the shipped file, the other crops are
the same generator with other seeds), and procedural generators written here (a source of
``3S x 3S`` pixels from one seed: nine non-overlapping crops). All images are ``[C, H, W]``
float64 in [0, 1]; scientific fields are mapped to [0, 1] by one affine map per exemplar (0.1 and
99.9 percentiles over all its crops, clipped), and graded as grey images.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from scipy import ndimage
from scipy.spatial import cKDTree

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

Array = np.ndarray
MAX_HELD = 6  # held-out crops used for the normalisation (more cost more statistics)

GROUPS = ("stochastic", "structured", "scientific")


@dataclass
class Exemplar:
    """A texture at side ``S``: target crop, held-out crops, an extra real crop."""

    name: str
    group: str
    target: Array  # [C, S, S]
    held: list[Array]
    extra: Array | None
    source: str
    licence: str
    notes: list[str] = field(default_factory=list)

    @property
    def colour(self) -> bool:
        return self.target.shape[0] == 3


# --------------------------------------------------------------------------- helpers


def _chw(a: Array) -> Array:
    a = np.asarray(a, dtype=np.float64)
    return a[None] if a.ndim == 2 else a.transpose(2, 0, 1)


def grid_crops(src: Array, size: int) -> list[Array]:
    """Non-overlapping ``size`` crops of ``src [C, H, W]`` in row-major order (top-left first)."""
    _, h, w = src.shape
    return [
        src[:, i * size : (i + 1) * size, j * size : (j + 1) * size].copy()
        for i in range(h // size)
        for j in range(w // size)
    ]


def split_crops(crops: list[Array], max_held: int = MAX_HELD) -> tuple[Array, list, Array | None]:
    """(target, held, extra) from grid crops: the first is the target, the last the extra
    real crop when at least 5 crops exist, up to ``max_held`` of the rest are held out."""
    if len(crops) < 4:
        raise ValueError(f"need at least 4 non-overlapping crops, got {len(crops)}")
    target, rest = crops[0], crops[1:]
    extra = None
    if len(rest) >= 4:
        extra, rest = rest[-1], rest[:-1]
    return target, rest[:max_held], extra


def grf(
    rng: np.random.Generator,
    shape: tuple[int, int],
    beta: float,
    k0: float = 1.0,
    aniso: tuple[float, float] = (1.0, 1.0),
    band: tuple[float, float] | None = None,
) -> Array:
    """Gaussian random field with ``P(k) ~ (k^2 + k0^2)^(-beta/2)``, k in cycles per 256 px,
    zero mean, unit std; ``band=(lo, hi)`` keeps only ``lo <= k < hi``."""
    h, w = shape
    ky = np.fft.fftfreq(h)[:, None] * 256 * aniso[0]
    kx = np.fft.fftfreq(w)[None, :] * 256 * aniso[1]
    k = np.hypot(ky, kx)
    amp = (k**2 + k0**2) ** (-beta / 4)
    if band is not None:
        amp = amp * ((k >= band[0]) & (k < band[1]))
    amp[0, 0] = 0
    f = np.fft.ifft2(amp * (rng.standard_normal(shape) + 1j * rng.standard_normal(shape))).real
    return (f - f.mean()) / f.std()


def _rescale(a: Array) -> Array:
    lo, hi = float(a.min()), float(a.max())
    return (a - lo) / (hi - lo)


def _palette(hexes: str) -> Array:
    return np.array([[int(c[k : k + 2], 16) for k in (0, 2, 4)] for c in hexes.split()]) / 255


def _cells(
    rng: np.random.Generator, shape: tuple[int, int], spacing: float, jitter: float = 0.5
) -> tuple[Array, Array]:
    """Voronoi cells of a jittered grid: (cell index, distance to the nearest border)."""
    h, w = shape
    gy, gx = np.mgrid[-1 : h / spacing + 1, -1 : w / spacing + 1]
    pts = np.stack([gy.ravel(), gx.ravel()], 1) * spacing
    pts = pts + rng.uniform(-jitter, jitter, pts.shape) * spacing
    yy, xx = np.mgrid[0:h, 0:w]
    q = np.stack([yy.ravel(), xx.ravel()], 1).astype(float)
    d, i = cKDTree(pts).query(q, k=2)
    # distance to the bisector of the two nearest sites
    p0, p1 = pts[i[:, 0]], pts[i[:, 1]]
    n = p1 - p0
    edge = ((p1 + p0) / 2 - q) * n
    edge = edge.sum(1) / np.linalg.norm(n, axis=1)
    return i[:, 0].reshape(h, w), edge.reshape(h, w)


# --------------------------------------------------------------------------- procedural sources
# each takes (rng, shape) and returns [H, W] or [H, W, 3] in [0, 1]


def gen_sand(rng, shape):
    ripples = np.sin(2 * np.pi * (np.arange(shape[0])[:, None] / 23 + 0.25 * grf(rng, shape, 4)))
    grain = ndimage.gaussian_filter(rng.standard_normal(shape), 0.7)
    grain /= grain.std()
    lum = 0.6 + 0.06 * ripples + 0.08 * grain + 0.05 * grf(rng, shape, 3)
    base = np.array([0.86, 0.74, 0.55])
    dark = rng.uniform(size=shape) < 0.02  # dark mineral grains
    img = lum[..., None] * base / 0.6
    img = np.where(dark[..., None], img * 0.45, img)
    return np.clip(img, 0, 1)


def gen_clouds(rng, shape):
    f = grf(rng, shape, 3.2, k0=2)
    cover = 1 / (1 + np.exp(-3 * (f - 0.3)))
    detail = 0.15 * grf(rng, shape, 2.2)
    c = np.clip(cover + detail * cover, 0, 1)
    sky = np.array([0.30, 0.52, 0.85])
    white = np.array([0.97, 0.97, 0.98])
    shade = 1 - 0.25 * np.clip(grf(rng, shape, 3.5), 0, None)[..., None] * c[..., None]
    return np.clip((sky + (white - sky) * c[..., None]) * shade, 0, 1)


def gen_moss(rng, shape):
    clumps = ndimage.gaussian_filter(rng.standard_normal(shape), 2.0)
    clumps /= clumps.std()
    big = grf(rng, shape, 3.5)
    t = 1 / (1 + np.exp(-2.5 * (clumps + 0.6 * big)))
    pal = _palette("2e3b14 5f7a1f 9bb03a c9c46a")
    pos = np.clip(t * 3, 0, 2.999)
    lo = np.floor(pos).astype(int)
    frac = (pos - lo)[..., None]
    img = pal[lo] * (1 - frac) + pal[lo + 1] * frac
    return np.clip(
        img * (1 + 0.1 * ndimage.gaussian_filter(rng.standard_normal(shape), 0.6))[..., None], 0, 1
    )


def gen_granite(rng, shape):
    idx, edge = _cells(rng, shape, 5.0, jitter=0.45)
    pal = _palette("d8c6bd b9a39a 8a8480 e9e2da 2a2627 5a4a46")
    prob = np.array([0.25, 0.2, 0.15, 0.2, 0.12, 0.08])
    pick = rng.choice(len(pal), size=idx.max() + 1, p=prob)
    col = pal[pick] * rng.uniform(0.9, 1.08, (idx.max() + 1, 1))
    img = col[idx] * (1 + 0.05 * rng.standard_normal(shape))[..., None]
    img *= (1 - 0.12 * np.exp(-((edge / 0.8) ** 2)))[..., None]
    return np.clip(ndimage.gaussian_filter(img, (0.5, 0.5, 0)), 0, 1)


def gen_voronoi(rng, shape):
    idx, edge = _cells(rng, shape, 22.0, jitter=0.45)
    pal = _palette("e8c547 d1603d 5c80bc 4d9078 e3dcc2 a06cd5")
    col = pal[rng.integers(len(pal), size=idx.max() + 1)]
    img = col[idx] * (1 + 0.03 * grf(rng, shape, 2.0))[..., None]
    border = np.clip((edge - 1.0) / 1.0, 0, 1)[..., None]
    return np.clip(0.08 + (img - 0.08) * border, 0, 1)


# procedural exemplars with an exact lattice, and its period in pixels
LATTICES = {"tiles": 64}


def gen_tiles(rng, shape):
    t, g = 32, 3  # tile pitch and grout width
    yy, xx = np.mgrid[0 : shape[0], 0 : shape[1]]
    ty, tx = yy // t, xx // t
    ny, nx = ty.max() + 1, tx.max() + 1
    pal = _palette("f2efe6 2f5d8a")
    checker = (ty + tx) % 2
    shade = rng.uniform(0.93, 1.05, (ny, nx))[ty, tx]
    img = pal[checker] * shade[..., None]
    img = img * (1 + 0.02 * grf(rng, shape, 1.5))[..., None]
    grout = ((yy % t) < g) | ((xx % t) < g)
    img = np.where(grout[..., None], np.array([0.55, 0.53, 0.5]), img)
    return np.clip(ndimage.gaussian_filter(img, (0.6, 0.6, 0)), 0, 1)


def gen_scales(rng, shape):
    h, w = shape
    dy, dx, r = 11.0, 22.0, 15.0
    img = np.zeros((h, w, 3))
    img[:] = 0.15
    yy, xx = np.mgrid[0:h, 0:w].astype(float)
    base = np.array([0.35, 0.6, 0.55])
    for row in range(-2, int(h / dy) + 3):
        cy = row * dy
        y0, y1 = max(int(cy - r), 0), min(int(cy + r) + 1, h)
        if y0 >= y1:
            continue
        off = (row % 2) * dx / 2
        cx = np.arange(-1, w / dx + 2) * dx + off
        ys, xs = yy[y0:y1], xx[y0:y1]
        k = np.rint((xs - off) / dx)
        d = np.hypot(ys - cy, xs - (k * dx + off)) / r
        inside = (d < 1) & (ys >= cy - 0.2 * r)
        tone = rng.uniform(0.8, 1.15, cx.size + 4)[(k + 1).astype(int).clip(0, cx.size + 3)]
        col = base * (tone * (1.15 - 0.75 * d**2))[..., None]
        img[y0:y1] = np.where(inside[..., None], col, img[y0:y1])
    return np.clip(img, 0, 1)


def gen_stripes(rng, shape):
    x = np.arange(shape[1])[None, :]
    phase = 2 * np.pi * (x / 18 + 0.4 * grf(rng, shape, 5, k0=2))
    s = np.tanh(2.5 * np.sin(phase)) * 0.5 + 0.5
    a, b = np.array([0.92, 0.85, 0.7]), np.array([0.45, 0.22, 0.12])
    img = b + (a - b) * s[..., None]
    return np.clip(img * (1 + 0.03 * grf(rng, shape, 1.0))[..., None], 0, 1)


def gen_glyphs(rng, shape):
    h, w = shape
    alphabet = rng.uniform(size=(40, 7, 5)) < 0.42
    alphabet[:, :, 2] |= rng.uniform(size=(40, 7)) < 0.5  # a stem in most glyphs
    page = np.zeros((h, w), bool)
    line, cell = 20, 12  # line height, glyph advance (glyphs drawn 2x: 14 x 10)
    for top in range(2, h - 16, line):
        x = int(rng.integers(0, 8))
        while x < w - cell:
            if rng.uniform() < 0.16:  # word space
                x += cell
                continue
            g = np.kron(alphabet[rng.integers(40)], np.ones((2, 2), bool))
            page[top : top + 14, x : x + 10] |= g
            x += cell
    ink = ndimage.gaussian_filter(page.astype(float), 0.6)
    return np.clip(0.94 - 0.85 * ink + 0.02 * rng.standard_normal(shape), 0, 1)


def gen_terrain(rng, shape):
    fbm = grf(rng, shape, 3.6, k0=1.5)
    ridged = 1 - np.abs(grf(rng, shape, 3.0, k0=2))
    return fbm + 0.6 * ridged**2


def gen_turbulence(rng, shape):
    t = np.zeros(shape)
    for o in range(6):
        lo = 2.0 * 2**o
        t += 2 ** (-0.6 * o) * np.abs(grf(rng, shape, 0.0, band=(lo, 2 * lo)))
    return t


def gen_lognormal(rng, shape):
    return np.exp(1.0 * grf(rng, shape, 2.5, k0=2))


def gen_cascade(rng, shape):
    f = np.zeros(shape)
    for o in range(7):
        lo = 1.0 * 2**o
        f += 0.45 * grf(rng, shape, 0.0, band=(lo, 2 * lo))
    return np.exp(f)


PROCEDURAL: dict[str, tuple[str, Callable, str, int]] = {
    # name: (group, generator, description, seed)
    "sand": ("stochastic", gen_sand, "fine grain, faint wavy ripples, dark grains", 11),
    "clouds": ("stochastic", gen_clouds, "k^-3.2 field through a soft threshold, sky colours", 12),
    "moss": ("stochastic", gen_moss, "blurred-noise clumps through a green palette", 13),
    "granite": ("stochastic", gen_granite, "5 px Voronoi grains of six mineral colours", 14),
    "voronoi": ("structured", gen_voronoi, "flat-colour Voronoi cells, dark 2 px borders", 21),
    "tiles": ("structured", gen_tiles, "32 px checker tiles with grout lines", 22),
    "scales": ("structured", gen_scales, "overlapping staggered fish scales", 23),
    "stripes": ("structured", gen_stripes, "smooth wavy two-tone stripes, period 18 px", 24),
    "glyphs": ("structured", gen_glyphs, "text-like rows of random 14x10 px glyphs", 25),
    "terrain": ("scientific", gen_terrain, "fBm k^-3.6 height plus ridged k^-3 term", 31),
    "turbulence": ("scientific", gen_turbulence, "Perlin-style turbulence: sum of |band|", 32),
    "lognormal": ("scientific", gen_lognormal, "exp of a k^-2.5 Gaussian field", 33),
    "cascade": ("scientific", gen_cascade, "multiplicative multi-scale cascade, 7 octaves", 34),
}
FIELDS = {"terrain", "turbulence", "lognormal", "cascade", "cosmic", "craters"}

SKIMAGE: dict[str, tuple[str, str]] = {
    # name: (group, licence)
    "gravel": ("stochastic", "CC0 (cc0textures Gravel04, per skimage.data docstring)"),
    "grass": ("stochastic", "CC0 (DeviantArt linolafett, per skimage.data docstring)"),
    "immunohistochemistry": ("stochastic", "no known copyright restrictions (skimage.data)"),
    "brick": ("structured", "CC0 (cc0textures Bricks25, per skimage.data docstring)"),
    "moon": ("scientific", "skimage.data sample (scikit-image BSD-3 data; no restriction stated)"),
    "hubble_deep_field": ("scientific", "public domain (NASA, per skimage.data docstring)"),
}

# examples/*.png|npy|tif made by examples/make_exemplars.py: (group, generator, seed, file)
EXAMPLES: dict[str, tuple[str, str, int, str]] = {
    "bark": ("stochastic", "bark", 2, "bark.png"),
    "mosaic": ("structured", "mosaic", 6, "mosaic.png"),
    "weave": ("structured", "weave", 3, "weave.png"),
    "pebbles": ("structured", "pebbles", 1, "pebbles.png"),
    "cosmic": ("scientific", "cosmic_field", 4, "field.npy"),
    "craters": ("scientific", "craters", 5, "field16.tif"),
}

EXEMPLARS: dict[str, str] = {
    **{k: v[0] for k, v in SKIMAGE.items()},
    **{k: v[0] for k, v in EXAMPLES.items()},
    **{k: v[0] for k, v in PROCEDURAL.items()},
}
# the two per group for --quick
QUICK = {
    "stochastic": ["gravel", "clouds"],
    "structured": ["brick", "voronoi"],
    "scientific": ["terrain", "lognormal"],
}


def names(groups: list[str] | None = None) -> list[str]:
    """Exemplar names in group order."""
    gs = groups or list(GROUPS)
    return [n for g in gs for n in EXEMPLARS if EXEMPLARS[n] == g]


# --------------------------------------------------------------------------- loaders


def _field_to_unit(ex: Exemplar) -> Exemplar:
    """Map a scientific field (all crops) to [0, 1] with one affine map."""
    allc = [ex.target, *ex.held] + ([ex.extra] if ex.extra is not None else [])
    values = np.concatenate([c.ravel() for c in allc])
    lo, hi = (float(v) for v in np.percentile(values, [0.1, 99.9]))
    f = lambda c: np.clip((c - lo) / (hi - lo), 0, 1)  # noqa: E731
    ex.target, ex.held = f(ex.target), [f(c) for c in ex.held]
    ex.extra = None if ex.extra is None else f(ex.extra)
    ex.notes.append(
        f"field mapped to [0, 1] by (v - {lo:.4g}) / ({hi:.4g} - {lo:.4g}), clipped "
        "(0.1 and 99.9 percentiles over all its crops)"
    )
    return ex


def _load_skimage(name: str, size: int) -> Exemplar:
    import skimage.data

    full = _chw(getattr(skimage.data, name)()) / 255
    if full.shape[0] == 4:
        full = full[:3]
    target, held, extra = split_crops(grid_crops(full, size))
    group, lic = SKIMAGE[name]
    h, w = full.shape[1:]
    src = f"skimage.data.{name}() {h}x{w}: grid of non-overlapping {size}px crops"
    return Exemplar(name, group, target, held, extra, src, lic)


@functools.lru_cache(maxsize=1)
def _make_exemplars() -> object:
    import bench_synth as bs

    return bs._make_exemplars_module()


def _load_example(name: str, size: int) -> Exemplar:
    group, fn, seed, file = EXAMPLES[name]
    if size > 256:
        raise ValueError(f"{name}: the generator makes 256 px images; size {size} is too big")
    mk = _make_exemplars()
    gen = getattr(mk, fn)

    def crop(a: Array) -> Array:
        return _chw(a)[:, :size, :size] / (255 if a.dtype == np.uint8 else 1)

    path = HERE.parent / "examples" / file
    if file.endswith(".png"):
        from PIL import Image

        target = crop(np.asarray(Image.open(path)))
    elif file.endswith(".npy"):
        target = crop(np.load(path))
    else:
        import tifffile

        target = crop(tifffile.imread(path).astype(np.float64))
    others = []
    for s in range(seed + 100, seed + 101 + MAX_HELD):
        a = gen(seed=s)
        others.append(crop(a.astype(np.float64) if a.dtype == np.uint16 else a))
    src = (
        f"examples/{file} (make_exemplars.{fn}(seed={seed})) top-left {size}px; held-out: "
        f"seeds {seed + 101}..{seed + 100 + MAX_HELD}; extra: seed {seed + 100}"
    )
    ex = Exemplar(name, group, target, others[1:], others[0], src, "MIT (this project)")
    return _field_to_unit(ex) if name in FIELDS else ex


def jittered_crops(src: Array, size: int, gap: int, rng: np.random.Generator) -> list[Array]:
    """Non-overlapping ``size`` crops of ``src [C, H, W]`` on a grid of pitch ``size + gap``,
    each moved by a random offset in ``[0, gap)`` per axis (row-major order)."""
    _, h, w = src.shape
    pitch = size + gap
    out = []
    for i in range(h // pitch):
        for j in range(w // pitch):
            dy, dx = (int(v) for v in rng.integers(0, gap, 2))
            y, x = i * pitch + dy, j * pitch + dx
            out.append(src[:, y : y + size, x : x + size].copy())
    return out


def _load_procedural(name: str, size: int) -> Exemplar:
    group, gen, desc, seed = PROCEDURAL[name]
    rng = np.random.default_rng(seed)
    if name in LATTICES:
        # an exact lattice whose period divides the crop size would put every grid crop at
        # the same phase, and phase-sensitive statistics (VGG's zero padding) would then
        # treat any other phase as unreal: crop real pieces at random phases instead
        gap = LATTICES[name]
        src = np.asarray(gen(rng, (3 * (size + gap), 3 * (size + gap))), dtype=np.float64)
        crops = jittered_crops(_chw(src), size, gap, np.random.default_rng(seed + 1))
        layout = f"3x3 grid of {size}px crops at random phases of the {gap}px lattice"
    else:
        src = np.asarray(gen(rng, (3 * size, 3 * size)), dtype=np.float64)
        crops = grid_crops(_chw(src), size)
        layout = f"3x3 grid of {size}px crops"
    target, held, extra = split_crops(crops)
    text = f"procedural ({desc}), seed {seed}, {src.shape[0]}px source: {layout}"
    ex = Exemplar(name, group, target, held, extra, text, "MIT (this project)")
    return _field_to_unit(ex) if name in FIELDS else ex


@functools.lru_cache(maxsize=64)
def load(name: str, size: int = 256) -> Exemplar:
    """The exemplar ``name`` at side ``size``."""
    if name in SKIMAGE:
        return _load_skimage(name, size)
    if name in EXAMPLES:
        return _load_example(name, size)
    if name in PROCEDURAL:
        return _load_procedural(name, size)
    raise KeyError(f"unknown exemplar {name!r}; known: {', '.join(EXEMPLARS)}")
