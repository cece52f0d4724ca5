"""Photographs shipped by installed packages, as extra training crops for the expander.

Issue 19's built-in training set is the procedural families (:mod:`~texsynth.expander.
procedural`) plus crops of the photographs that installed packages ship, read offline. The
photographs used are scikit-image's ``astronaut``, ``coffee``, ``chelsea``, ``rocket``,
``retina``, ``camera``, ``coins`` and ``clock`` and matplotlib's ``grace_hopper.jpg`` (grey
ones repeated to RGB); **never** the quality benchmark's exemplars (scikit-image's
``gravel``, ``grass``, ``brick``, ``immunohistochemistry``, ``moon``, ``hubble_deep_field``,
held out for evaluation and validation). Those not installed are skipped.
"""

from __future__ import annotations

import functools

import numpy as np

from ..errors import TexsynthError

__all__ = ["PHOTOS", "crops", "load_photos"]

PHOTOS = (
    "astronaut",
    "coffee",
    "chelsea",
    "rocket",
    "retina",
    "camera",
    "coins",
    "clock",
    "grace_hopper",
)


def _read(name: str) -> np.ndarray | None:
    """``[3, H, W]`` float32 in [0, 1], or ``None`` where the package or file is missing."""
    try:
        if name == "grace_hopper":
            import matplotlib.cbook
            from PIL import Image

            path = matplotlib.cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)
            with Image.open(str(path)) as im:
                a = np.asarray(im.convert("RGB"))
        else:
            import skimage.data

            a = np.asarray(getattr(skimage.data, name)())
    except Exception:  # an absent package or sample file: the photo is skipped
        return None
    a = a.astype(np.float32) / 255.0
    if a.ndim == 2:
        a = np.repeat(a[..., None], 3, -1)
    return np.ascontiguousarray(a[..., :3].transpose(2, 0, 1))


@functools.lru_cache(maxsize=2)
def load_photos(names: tuple[str, ...] = PHOTOS) -> tuple[np.ndarray, ...]:
    """The installed photographs among ``names`` (:data:`PHOTOS`), ``[3, H, W]`` in [0, 1]."""
    unknown = sorted(set(names) - set(PHOTOS))
    if unknown:
        raise TexsynthError(f"unknown training photographs {unknown}; known: {', '.join(PHOTOS)}")
    out = tuple(p for p in (_read(n) for n in names) if p is not None)
    if not out:
        raise TexsynthError("none of the training photographs is installed")
    return out


def crops(photos: tuple[np.ndarray, ...], seed: int, n: int, size: int) -> np.ndarray:
    """``[n, 3, size, size]`` random crops of ``photos`` (photo, position and one of the 8
    flips and quarter turns drawn from ``seed``), a pure function of its arguments."""
    rng = np.random.default_rng(seed)
    fits = [p for p in photos if min(p.shape[-2:]) >= size]
    if not fits:
        raise TexsynthError(f"no training photograph is at least {size} pixels on a side")
    out = []
    for _ in range(n):
        p = fits[int(rng.integers(len(fits)))]
        y = int(rng.integers(p.shape[1] - size + 1))
        x = int(rng.integers(p.shape[2] - size + 1))
        c = p[:, y : y + size, x : x + size]
        c = np.rot90(c, int(rng.integers(4)), axes=(1, 2))
        if rng.integers(2):
            c = c[:, :, ::-1]
        out.append(np.ascontiguousarray(c))
    return np.stack(out)
