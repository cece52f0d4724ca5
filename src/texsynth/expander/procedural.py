"""Procedural training textures for the expander: randomised, seeded, offline.

Six families (issue 19's list), each a function ``(rng, size) -> [3, size, size]`` float32 in
[0, 1] whose every parameter (scale, orientation, palette, jitter, noise) is drawn from
``rng``: ``noise`` (coloured Gaussian random fields with a random power-law spectrum,
anisotropy and colour map), ``cells`` (Voronoi cells of a jittered grid, flat or shaded, with
borders), ``bricks`` (running-bond bricks and square tiles with mortar, per-brick colour and
grain), ``weaves`` (over-under plain or twill weave of two thread colours), ``stripes``
(straight or wavy bands, several colours, any orientation) and ``scales`` (overlapping
half-discs in offset rows, shaded). :func:`texture` draws a family at random;
:func:`batch` makes a seeded batch. The evaluation's held-out textures (scikit-image's
photographs and the shipped ``examples``) come from other code and are never used here.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ..errors import TexsynthError

__all__ = ["FAMILIES", "batch", "texture"]

Array = np.ndarray
Rng = np.random.Generator


def _palette(rng: Rng, k: int) -> Array:
    """``k`` colours ``[k, 3]`` around a random base colour (related hues, varied value)."""
    base = rng.uniform(0.15, 0.85, 3)
    spread = rng.uniform(0.05, 0.4)
    return np.clip(base + rng.normal(0, spread, (k, 3)), 0, 1)


def _grf(rng: Rng, size: int, beta: float, aniso: float = 1.0, angle: float = 0.0) -> Array:
    """Zero-mean unit-variance periodic Gaussian field with ``P(k) ~ (k^2 + 1)^(-beta/2)``
    (``k`` in cycles per image), stretched by ``aniso`` along ``angle``."""
    f = np.fft.fftfreq(size) * size
    ky, kx = np.meshgrid(f, f, indexing="ij")
    c, s = np.cos(angle), np.sin(angle)
    ku, kv = c * kx + s * ky, (-s * kx + c * ky) * aniso
    amp = (ku**2 + kv**2 + 1.0) ** (-beta / 4)
    amp[0, 0] = 0.0
    z = rng.standard_normal((size, size)) + 1j * rng.standard_normal((size, size))
    out = np.fft.ifft2(amp * z).real
    return (out - out.mean()) / (out.std() + 1e-12)


def _colourise(rng: Rng, v: Array) -> Array:
    """Map a scalar field ``[H, W]`` in [0, 1] to RGB ``[3, H, W]`` through a random
    3-colour ramp."""
    pal = _palette(rng, 3)
    t = np.clip(v, 0, 1) * 2
    lo = np.clip(np.floor(t), 0, 1).astype(int)
    frac = t - lo
    out = pal[lo] * (1 - frac[..., None]) + pal[lo + 1] * frac[..., None]
    return out.transpose(2, 0, 1)


def _unit(v: Array) -> Array:
    lo, hi = np.percentile(v, [1, 99])
    return np.clip((v - lo) / (hi - lo + 1e-12), 0, 1)


def noise(rng: Rng, size: int) -> Array:
    """Coloured Gaussian random field: random spectral slope, anisotropy, orientation."""
    v = _grf(rng, size, rng.uniform(1.5, 4.5), rng.uniform(1, 4), rng.uniform(0, np.pi))
    if rng.random() < 0.5:  # some ridged/billowy fields
        v = -np.abs(v)
    return _colourise(rng, _unit(v))


def _coords(rng: Rng, size: int) -> tuple[Array, Array]:
    """Pixel coordinates rotated by a random angle (multiples of 90 degrees half the time)."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float64)
    a = rng.uniform(0, np.pi) if rng.random() < 0.5 else rng.integers(0, 4) * np.pi / 2
    c, s = np.cos(a), np.sin(a)
    return c * yy - s * xx, s * yy + c * xx


def cells(rng: Rng, size: int) -> Array:
    """Voronoi cells of a jittered grid: flat random colours (or shaded by distance), dark
    borders of random width."""
    from scipy.spatial import cKDTree

    spacing = rng.uniform(8, 40)
    n = int(np.ceil(size / spacing)) + 2
    gy, gx = np.mgrid[-1 : n - 1, -1 : n - 1].astype(np.float64)
    pts = (np.stack([gy.ravel(), gx.ravel()], 1) + rng.uniform(-0.45, 0.45, (gy.size, 2))) * spacing
    yy, xx = np.mgrid[0:size, 0:size]
    q = np.stack([yy.ravel(), xx.ravel()], 1).astype(np.float64)
    d, i = cKDTree(pts).query(q, k=2)
    edge = (d[:, 1] - d[:, 0]).reshape(size, size)
    pal = _palette(rng, 6)
    col = pal[rng.integers(0, 6, len(pts))][i[:, 0]].reshape(size, size, 3).transpose(2, 0, 1)
    if rng.random() < 0.5:
        col = col * (1 - 0.5 * np.clip(d[:, 0].reshape(size, size) / spacing, 0, 1))
    width = rng.uniform(0.5, 4)
    mortar = _palette(rng, 1)[0][:, None, None]
    w = np.clip(edge / width, 0, 1)[None]
    return col * w + mortar * (1 - w)


def bricks(rng: Rng, size: int) -> Array:
    """Running-bond bricks or square tiles with mortar joints, per-unit colour and grain."""
    bh = rng.uniform(6, 32)
    bw = bh * (1 if rng.random() < 0.3 else rng.uniform(1.5, 3.5))
    offset = 0.0 if bw == bh else rng.choice([0.5, 1 / 3])
    u, v = _coords(rng, size) if rng.random() < 0.3 else np.mgrid[0:size, 0:size].astype(np.float64)
    row = np.floor(u / bh)
    vv = v + row * offset * bw
    col = np.floor(vv / bw)
    fu, fv = u / bh - row, vv / bw - col
    joint = rng.uniform(0.5, 2.5)
    dist = np.minimum.reduce([fu * bh, (1 - fu) * bh, fv * bw, (1 - fv) * bw])
    w = np.clip(dist / joint - 0.5, 0, 1)[None]
    pal = _palette(rng, 5)
    h = (row * 7919 + col * 104729).astype(np.int64) % 5
    base = pal[h].transpose(2, 0, 1)
    grain = 0.08 * _grf(rng, size, 2.0)[None]
    mortar = _palette(rng, 1)[0][:, None, None]
    return np.clip(base + grain, 0, 1) * w + mortar * (1 - w)


def weaves(rng: Rng, size: int) -> Array:
    """Plain or twill over-under weave of warp and weft threads, shaded across each thread."""
    p = rng.uniform(4, 14)
    u, v = np.mgrid[0:size, 0:size].astype(np.float64)
    i, j = np.floor(u / p), np.floor(v / p)
    step = 1 if rng.random() < 0.5 else int(rng.integers(2, 4))  # plain or twill
    warp_up = (
        ((i + j * (1 if step == 1 else 1)) // step % 2 == 0) if step > 1 else ((i + j) % 2 == 0)
    )
    fu, fv = u / p - i, v / p - j
    shade_warp = np.sin(np.pi * fv) ** 0.5
    shade_weft = np.sin(np.pi * fu) ** 0.5
    pal = _palette(rng, 2)
    warp = pal[0][:, None, None] * shade_warp
    weft = pal[1][:, None, None] * shade_weft
    out = np.where(warp_up[None], warp, weft)
    return np.clip(out + 0.04 * _grf(rng, size, 2.5)[None], 0, 1)


def stripes(rng: Rng, size: int) -> Array:
    """Bands of a few colours, straight or wavy, at a random angle and width."""
    u, v = _coords(rng, size)
    period = rng.uniform(6, 48)
    if rng.random() < 0.5:
        amp, wl = rng.uniform(1, 10), rng.uniform(20, 120)
        u = u + amp * np.sin(2 * np.pi * v / wl)
    k = int(rng.integers(2, 5))
    pal = _palette(rng, k)
    band = np.floor(u / period * k).astype(np.int64) % k
    out = pal[band].transpose(2, 0, 1)
    return np.clip(out + 0.05 * _grf(rng, size, 3.0)[None], 0, 1)


def scales(rng: Rng, size: int) -> Array:
    """Overlapping half-discs in offset rows (fish scales, roof tiles), shaded to the rim: a
    scale of row ``k`` is centred at ``(k p, (2 i + k mod 2) r)`` and covers the pixels below
    its centre within ``r``; rows further down lie on top."""
    r = rng.uniform(5, 20)
    pitch = r * rng.uniform(0.5, 0.9)
    u, v = np.mgrid[0:size, 0:size].astype(np.float64)
    k0 = np.floor(u / pitch)
    found = np.zeros((size, size), dtype=bool)
    shade = np.ones((size, size))
    ident = np.zeros((size, size), dtype=np.int64)
    for back in range(int(np.ceil(r / pitch)) + 1):
        k = k0 - back
        cy = k * pitch
        odd = np.mod(k, 2)
        i = np.round((v - odd * r) / (2 * r))
        cx = (2 * i + odd) * r
        d = np.hypot(u - cy, v - cx)
        hit = ~found & (d < r)
        shade = np.where(hit, d / r, shade)
        ident = np.where(hit, (k * 7 + i * 13).astype(np.int64), ident)
        found |= hit
    pal = _palette(rng, 3)
    base = pal[np.mod(ident, 3)].transpose(2, 0, 1)
    return np.clip(base * (1 - 0.6 * shade[None] ** 2), 0, 1)


#: the families, by name
FAMILIES: dict[str, Callable[[Rng, int], Array]] = {
    "noise": noise,
    "cells": cells,
    "bricks": bricks,
    "weaves": weaves,
    "stripes": stripes,
    "scales": scales,
}


def texture(seed: int, size: int, family: str | None = None) -> Array:
    """One procedural texture ``[3, size, size]`` float32 in [0, 1] from ``seed`` (a family
    drawn from the seed unless ``family`` names one)."""
    if not isinstance(size, int) or isinstance(size, bool) or size < 8:
        raise TexsynthError(f"size must be an integer of at least 8, got {size!r}")
    rng = np.random.default_rng(seed)
    name = family if family is not None else list(FAMILIES)[int(rng.integers(0, len(FAMILIES)))]
    if name not in FAMILIES:
        raise TexsynthError(f"unknown texture family {name!r}; known: {', '.join(FAMILIES)}")
    out = FAMILIES[name](rng, size)
    if rng.random() < 0.5:  # random flip / transpose for more variety
        out = out.transpose(0, 2, 1)
    return np.ascontiguousarray(np.clip(out, 0, 1), dtype=np.float32)


def batch(seed: int, n: int, size: int, families: list[str] | None = None) -> Array:
    """``n`` textures ``[n, 3, size, size]``: item ``k`` is ``texture(seed * 1_000_003 + k)``
    (families cycled from ``families`` when given)."""
    fams: list[str | None] = list(families) if families else [None]
    return np.stack([texture(seed * 1_000_003 + k, size, fams[k % len(fams)]) for k in range(n)])
