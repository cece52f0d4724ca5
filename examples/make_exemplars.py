"""Generate the small texture exemplars shipped in ``examples/``.

Every image is procedural and made from scratch by this script (no third-party content),
so the outputs carry the project's MIT licence. All randomness comes from fixed seeds:
``python examples/make_exemplars.py`` rewrites the same files (for given numpy and scipy versions).

Files written next to this script
---------------------------------
pebbles.png
    256x256 RGB. Rounded stones of varied sizes and muted colours in dark sandy grout,
    mottled, grainy and lit from the upper left. Seamlessly periodic (tileable).
bark.png
    256x256 grey. Tree bark: vertically elongated plates between deep wavy fissures of
    varying width, with fine vertical fibres and thin secondary cracks.
weave.png
    256x256 RGB. Burlap plain weave: jute threads of uneven thickness, shade and spacing,
    wandering slightly, with twist and fibre streaks and dark holes between them.
mosaic.png
    256x256 RGB. Small stone tesserae (about 11 px, irregular) in patches of slate,
    terracotta, cream, ochre and green, set in light grout. Seamlessly periodic (tileable).
field.npy
    256x256 float32. Cosmic-web-like projected density in Msun/pc^2 (mean about 50):
    log-normal P(k) ~ k^-3 field times a Voronoi web of clumpy filaments. Periodic.
field16.tif
    256x256 uint16 TIFF. Lunar-like height map in decimetres (100 m pixels, ~3 km relief):
    k^-4 fractal ground with power-law-sized rimmed bowl craters. Periodic.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import tifffile
from PIL import Image
from scipy import ndimage

N = 256
OUT = Path(__file__).resolve().parent
Array = np.ndarray
Rng = np.random.Generator


def grf(
    rng: Rng, beta: float, aniso: tuple[float, float] = (1, 1), kmax: float = np.inf, k0: float = 1
) -> Array:
    """Periodic Gaussian random field with power spectrum ``P(k) ~ k**-beta``.

    Parameters
    ----------
    rng : numpy.random.Generator
        Source of randomness.
    beta : float
        Spectral slope; larger is smoother.
    aniso : tuple of float
        Factors on (ky, kx); ``(4, 1)`` gives structures elongated 4x along y.
    kmax : float
        Gaussian high-frequency cut-off, in cycles per image (default: none).
    k0 : float
        The spectrum flattens below ``k0`` cycles per image (``(k**2 + k0**2)**(-beta/2)``),
        which keeps one huge mode from dominating and the image statistically uniform.

    Returns
    -------
    numpy.ndarray
        ``(N, N)`` field with zero mean and unit standard deviation.
    """
    k1 = np.fft.fftfreq(N, 1.0 / N)
    k = np.hypot(k1[:, None] * aniso[0], k1[None, :] * aniso[1])
    amp = (k**2 + k0**2) ** (-beta / 4)
    amp *= np.exp(-((k / kmax) ** 2))
    amp[0, 0] = 0.0
    noise = rng.standard_normal((N, N)) + 1j * rng.standard_normal((N, N))
    f = np.fft.ifft2(amp * noise).real
    return (f - f.mean()) / f.std()


def speckle(rng: Rng, sigma: float = 0.6) -> Array:
    """Fine periodic grain: blurred white noise with unit standard deviation."""
    f = ndimage.gaussian_filter(rng.standard_normal((N, N)), sigma, mode="wrap")
    return f / f.std()


def power_cells(
    pts: Array, radii: Array, yy: Array, xx: Array, aspect: float = 1.0
) -> tuple[Array, Array, Array]:
    """Periodic power (weighted Voronoi) diagram sampled at (possibly warped) positions.

    Parameters
    ----------
    pts : numpy.ndarray
        ``(P, 2)`` site positions (y, x) in pixels.
    radii : numpy.ndarray
        ``(P,)`` site weights as radii; zeros give an ordinary Voronoi diagram.
    yy, xx : numpy.ndarray
        ``(N, N)`` sample positions; distances use the minimum image on an N-periodic torus.
    aspect : float
        Vertical stretch of the cells (y distances are divided by it).

    Returns
    -------
    idx : numpy.ndarray
        Index of the site owning each pixel.
    dist : numpy.ndarray
        Distance to the owning site.
    edge : numpy.ndarray
        Distance to the cell boundary (the nearest power bisector with another site).
    """
    idx, dist, edge = (np.empty((N, N), t) for t in (int, float, float))
    for r0 in range(0, N, 32):  # row chunks keep memory small
        rows = slice(r0, r0 + 32)
        dy = ((yy[rows, :, None] - pts[:, 0] + N / 2) % N - N / 2) / aspect
        dx = (xx[rows, :, None] - pts[:, 1] + N / 2) % N - N / 2
        pd = dy**2 + dx**2 - radii**2
        i1 = np.argmin(pd, axis=-1)[..., None]
        y1, x1, p1 = (np.take_along_axis(v, i1, -1) for v in (dy, dx, pd))
        with np.errstate(divide="ignore", invalid="ignore"):  # the owner itself gives 0/0
            bisect = (pd - p1) / (2 * np.hypot(dy - y1, dx - x1))  # distance to each bisector
        np.put_along_axis(bisect, i1, np.inf, -1)
        idx[rows], dist[rows] = i1[..., 0], np.hypot(y1, x1)[..., 0]
        edge[rows] = bisect.min(axis=-1)
    return idx, dist, edge


def shade(h: Array, light: tuple[float, float, float], ao: float = 0.0, blur: float = 4) -> Array:
    """Lambertian shading of height map ``h`` (pixels) with periodic differences.

    ``light`` is the (x, y, z) direction towards the light (y points down the image);
    ``ao`` darkens hollows in proportion to their depth below the local mean (Gaussian ``blur``).
    """
    gx = (np.roll(h, -1, 1) - np.roll(h, 1, 1)) / 2
    gy = (np.roll(h, -1, 0) - np.roll(h, 1, 0)) / 2
    lx, ly, lz = np.asarray(light) / np.linalg.norm(light)
    lam = np.clip((-gx * lx - gy * ly + lz) / np.sqrt(gx**2 + gy**2 + 1), 0, None)
    hollow = np.clip(ndimage.gaussian_filter(h, blur, mode="wrap") - h, 0, None)
    return lam * np.clip(1 - ao * hollow, 0.25, 1)


def to_u8(img: Array) -> Array:
    """Clip to [0, 1] and quantise to uint8."""
    return np.round(np.clip(img, 0, 1) * 255).astype(np.uint8)


def pebbles(seed: int = 1) -> Array:
    """Tileable RGB pebbles: packed discs -> power diagram -> rounded shaded domes."""
    rng = np.random.default_rng(seed)
    pts, rs = [], []
    for r in np.sort(np.clip(rng.lognormal(np.log(10), 0.45, 500), 5, 28))[::-1]:
        for _ in range(60):  # random sequential packing on the torus
            p = rng.uniform(0, N, 2)
            d = (np.asarray(pts).reshape(-1, 2) - p + N / 2) % N - N / 2
            if not np.any(np.hypot(d[:, 0], d[:, 1]) < 0.85 * (np.asarray(rs) + r)):
                pts.append(p)
                rs.append(r)
                break
    pts, rs = np.asarray(pts), np.asarray(rs)
    yy, xx = np.mgrid[0:N, 0:N].astype(float)
    idx, dist, edge = power_cells(pts, rs, yy + 2.5 * grf(rng, 4), xx + 2.5 * grf(rng, 4))
    r = rs[idx]
    inside = np.minimum(edge - 1.3, 0.95 * r - dist)  # ~ distance to the stone outline
    mask = ndimage.gaussian_filter((inside > 0).astype(float), 2.5, mode="wrap") > 0.5
    t = np.clip(inside / (0.8 * r), 0, 1)
    h = np.where(mask, 0.6 * r * np.sqrt(1 - (1 - t) ** 2), -1.5)
    h = ndimage.gaussian_filter(h, 1.0, mode="wrap") + 0.12 * grf(rng, 1.5)
    hexes = "8f877d b3a185 786352 9a7057 6e757d 54524f ccc2ad 787d6e"  # muted stone colours
    palette = np.array([[int(c[k : k + 2], 16) for k in (0, 2, 4)] for c in hexes.split()]) / 255
    cols = palette[rng.integers(len(palette), size=len(rs))] * rng.uniform(0.8, 1.15, (len(rs), 1))
    cols += rng.normal(0, 0.025, cols.shape)
    mottle = rng.uniform(0.03, 0.12, len(rs))[idx] * grf(rng, 3, kmax=60)
    alb = cols[idx] * (1 + mottle + 0.05 * speckle(rng))[..., None]
    grout = np.array([0.36, 0.33, 0.29]) * (1 + 0.22 * speckle(rng, 0.7))[..., None]
    alb = np.where(mask[..., None], alb, grout)
    light = shade(h, (-1.0, -1.0, 1.3), ao=0.12)
    return to_u8(alb * (0.3 + 0.95 * light)[..., None])


def bark(seed: int = 2) -> Array:
    """Grey bark: elongated Voronoi plates, wavy fissures, fibres and small cracks."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:N, 0:N].astype(float)
    wy, wx = yy + 6 * grf(rng, 4), xx + 7 * grf(rng, 3.5, aniso=(2, 1))
    _, _, e1 = power_cells(rng.uniform(0, N, (40, 2)), np.zeros(40), wy, wx, aspect=3.5)
    _, _, e2 = power_cells(rng.uniform(0, N, (110, 2)), np.zeros(110), wy, wx, aspect=2.0)
    width = 2.8 * np.exp(0.35 * grf(rng, 3))
    fissure = np.exp(-((e1 / width) ** 2))
    small = np.exp(-((e2 / 1.0) ** 2)) * (grf(rng, 3.5) > 0.0)
    fibres = grf(rng, 2.0, aniso=(10, 1))
    h = 6 * np.tanh(e1 / 4) - 4 * fissure - 1.5 * small + 0.8 * fibres + 0.8 * grf(rng, 3.5)
    h = ndimage.gaussian_filter(h, 0.7, mode="wrap")  # soften aliased crack edges
    alb = 0.66 * (1 + 0.1 * grf(rng, 2.5)) * (1 - 0.7 * fissure) * (1 - 0.3 * small)
    alb *= 1 + 0.05 * speckle(rng) + 0.08 * fibres
    return to_u8(alb * (0.3 + 0.85 * shade(h, (-0.8, -0.6, 1.6), ao=0.1)))


def weave(seed: int = 3) -> Array:
    """Burlap plain weave: irregular jute threads going over and under each other."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:N, 0:N].astype(float)
    xs, ys = xx + 1.5 * grf(rng, 4), yy + 1.5 * grf(rng, 4)
    sides = []
    for s in (xs, ys):  # thread index and fractional position across each thread
        edges = np.concatenate([[-32.0], -32 + np.cumsum(rng.uniform(12, 17, 40))])
        i = np.searchsorted(edges, s, side="right") - 1
        sides.append((i, (s - edges[i]) / (edges[i + 1] - edges[i])))
    (i, u), (j, v) = sides
    top = np.where((i + j) % 2 == 0, 1.0, -1.0)  # +1 where the warp (vertical) is on top
    fill_w = rng.uniform(0.62, 0.9, 50)[i] * np.exp(0.12 * grf(rng, 2.5, aniso=(12, 1)))
    fill_f = rng.uniform(0.62, 0.9, 50)[j] * np.exp(0.12 * grf(rng, 2.5, aniso=(1, 12)))
    a = np.sqrt(np.clip(1 - ((2 * u - 1) / fill_w) ** 2, 0, None))  # round cross-sections
    b = np.sqrt(np.clip(1 - ((2 * v - 1) / fill_f) ** 2, 0, None))
    twist_w = 0.06 * np.sin(2 * np.pi * (ys / 5 + 1.2 * u + 0.3 * grf(rng, 3)))
    twist_f = 0.06 * np.sin(2 * np.pi * (xs / 5 - 1.2 * v + 0.3 * grf(rng, 3)))
    hw = np.where(a > 0, 0.5 * top * np.sin(np.pi * v) + 0.5 * a + twist_w, -9)
    hf = np.where(b > 0, -0.5 * top * np.sin(np.pi * u) + 0.5 * b + twist_f, -9)
    hw += 0.1 * grf(rng, 1.5, aniso=(6, 1))
    hf += 0.1 * grf(rng, 1.5, aniso=(1, 6))
    warp_on = hw >= hf
    h = np.maximum(np.maximum(hw, hf), -1.2) * 6
    tone = np.where(warp_on, rng.normal(1, 0.08, 50)[i], rng.normal(1, 0.08, 50)[j])
    streak = np.where(warp_on, grf(rng, 1.5, aniso=(6, 1)), grf(rng, 1.5, aniso=(1, 6)))
    jute = np.array([0.66, 0.53, 0.34]) * (tone * (1 + 0.12 * streak))[..., None]
    hole = np.array([0.16, 0.12, 0.08]) * (1 + 0.4 * speckle(rng, 1.0))[..., None]
    alb = np.where((h > -7)[..., None], jute, hole)
    return to_u8(alb * (0.25 + 0.9 * shade(h, (-1.0, -1.0, 1.6), ao=0.1, blur=3))[..., None])


def cosmic_field(seed: int = 4) -> Array:
    """Projected density (Msun/pc^2): log-normal k^-3 field times clumpy filaments."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:N, 0:N].astype(float)
    lognormal = np.exp(0.8 * grf(rng, 3, kmax=70, k0=3) - 0.32)
    wy, wx = yy + 5 * grf(rng, 4), xx + 5 * grf(rng, 4)
    web = np.zeros((N, N))
    for count, width, weight in ((30, 2.0, 1.0), (110, 1.2, 0.3)):  # main web + tendrils
        _, _, edge = power_cells(rng.uniform(0, N, (count, 2)), np.zeros(count), wy, wx)
        thick = width * np.exp(0.35 * grf(rng, 3))
        web += weight * np.exp(-((edge / thick) ** 2)) * np.exp(0.9 * grf(rng, 2.5, kmax=50))
    nodes = ndimage.gaussian_filter(web, 3, mode="wrap") ** 2  # knots where filaments meet
    field = 10.0 * lognormal * (0.3 + 3.0 * web + 8.0 * nodes)
    return field.astype(np.float32)


def craters(seed: int = 5) -> Array:
    """Lunar-like height map (uint16 decimetres, 100 m pixels): fractal ground + craters."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:N, 0:N].astype(float)
    h = 3 * grf(rng, 4.0, k0=2) + 0.15 * grf(rng, 2.5)  # heights in pixel units
    for radius in np.minimum(2 * rng.uniform(0, 1, 250) ** -0.55, 32):  # power-law sizes
        cy, cx = rng.uniform(0, N, 2)
        x = np.hypot((yy - cy + N / 2) % N - N / 2, (xx - cx + N / 2) % N - N / 2) / radius
        depth, rim = 0.4 * radius, 0.08 * radius  # bowl depth and rim height
        bowl = -depth + (depth + rim) * x**2
        h += np.where(x < 1, bowl, rim * np.maximum(x, 1) ** -3) * (x < 4)
    return np.round((h - h.min()) * 1000).astype(np.uint16)


def mosaic(seed: int = 6) -> Array:
    """Tileable RGB mosaic: small stone tesserae in patches of colour, light grout."""
    rng = np.random.default_rng(seed)
    s = N / 24  # tessera spacing, about 11 px
    grid = (np.mgrid[0:24, 0:24].reshape(2, -1).T + 0.5) * s
    pts = (grid + rng.uniform(-0.28, 0.28, grid.shape) * s) % N
    yy, xx = np.mgrid[0:N, 0:N].astype(float)
    idx, _, edge = power_cells(pts, np.zeros(len(pts)), yy, xx)
    # colour patches: a smooth field sampled at each tessera picks its palette entry
    patch = grf(rng, 4.5)[pts[:, 0].astype(int), pts[:, 1].astype(int)]
    hexes = "3f5f7f b5542f e3d8bd d9a441 4b6b45 8a3b2c"  # slate, terracotta, cream, ochre...
    palette = np.array([[int(c[k : k + 2], 16) for k in (0, 2, 4)] for c in hexes.split()]) / 255
    rank = np.clip(((patch - patch.min()) / np.ptp(patch) * len(palette)).astype(int), 0, 5)
    pick = np.where(rng.uniform(size=len(pts)) < 0.12, rng.integers(6, size=len(pts)), rank)
    cols = palette[pick] * rng.uniform(0.82, 1.12, (len(pts), 1))
    cols += rng.normal(0, 0.02, cols.shape)
    alb = cols[idx] * (1 + 0.06 * speckle(rng, 0.8))[..., None]
    joint = edge < 1.1
    grout = np.array([0.72, 0.69, 0.62]) * (1 + 0.12 * speckle(rng, 0.6))[..., None]
    alb = np.where(joint[..., None], grout, alb)
    h = np.where(joint, 0.0, np.minimum(edge, 3.5))  # tesserae stand proud of the grout
    h = ndimage.gaussian_filter(h, 0.7, mode="wrap")
    light = shade(h, (-1.0, -1.0, 1.6), ao=0.05, blur=2)
    return to_u8(alb * (0.35 + 0.8 * light)[..., None])


def main() -> None:
    """Write all exemplars next to this script."""
    Image.fromarray(pebbles()).save(OUT / "pebbles.png", optimize=True)
    Image.fromarray(bark()).save(OUT / "bark.png", optimize=True)
    Image.fromarray(weave()).save(OUT / "weave.png", optimize=True)
    Image.fromarray(mosaic()).save(OUT / "mosaic.png", optimize=True)
    np.save(OUT / "field.npy", cosmic_field())
    tifffile.imwrite(OUT / "field16.tif", craters(), photometric="minisblack")
    for name in ("pebbles.png", "bark.png", "weave.png", "mosaic.png", "field.npy", "field16.tif"):
        print(f"{name:12s} {(OUT / name).stat().st_size / 1024:6.1f} KiB")


if __name__ == "__main__":
    main()
