"""Photographs shipped by installed packages, as extra training crops for the expander.

Issue 19's built-in training set is the procedural families
(:mod:`~texsynth.expander.procedural`) plus crops of the photographs that installed packages
ship, read offline. The
photographs used are scikit-image's ``astronaut``, ``coffee``, ``chelsea``, ``rocket``,
``retina``, ``camera``, ``coins`` and ``clock`` and matplotlib's ``grace_hopper.jpg`` (grey
ones repeated to RGB); **never** the quality benchmark's exemplars (scikit-image's
``gravel``, ``grass``, ``brick``, ``immunohistochemistry``, ``moon``, ``hubble_deep_field``,
held out for evaluation and validation). :func:`load_photos` skips those not installed;
:func:`require_photos` (``texsynth train-expander --photos``,
``train_expander(photos=True)``) wants them all and says in one line which package to
install. Nothing is downloaded: a scikit-image photograph is read only when its file is on
disk (in the package or in scikit-image's data cache).
"""

from __future__ import annotations

import functools
import hashlib
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import TexsynthError

__all__ = ["PHOTOS", "crops", "load_photos", "photos_summary", "require_photos"]

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

# scikit-image's file of each of its photographs (matplotlib's: grace_hopper.jpg)
_SKIMAGE_FILES = {
    "astronaut": "astronaut.png",
    "coffee": "coffee.png",
    "chelsea": "chelsea.png",
    "rocket": "rocket.jpg",
    "retina": "retina.jpg",
    "camera": "camera.png",
    "coins": "coins.png",
    "clock": "clock_motion.png",
}


def _skimage_file_present(name: str) -> bool:
    """Whether scikit-image has the file of photograph ``name`` on disk (in the package or
    its data cache): without it, ``skimage.data`` would try to download it."""
    import skimage.data

    file = _SKIMAGE_FILES[name]
    folders = [Path(skimage.data.__file__).parent]
    cache = getattr(skimage.data, "data_dir", None)
    if cache:  # (an empty name would be the working directory)
        folders.append(Path(str(cache)))
    return any((f / file).is_file() for f in folders)


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

            if not _skimage_file_present(name):  # no download: the photo is skipped
                return None
            a = np.asarray(getattr(skimage.data, name)())
    except Exception:  # an absent package or sample file: the photo is skipped
        return None
    a = a.astype(np.float32) / 255.0
    if a.ndim == 2:
        a = np.repeat(a[..., None], 3, -1)
    return np.ascontiguousarray(a[..., :3].transpose(2, 0, 1))


@functools.lru_cache(maxsize=2)
def _read_all(names: tuple[str, ...]) -> tuple[np.ndarray | None, ...]:
    unknown = sorted(set(names) - set(PHOTOS))
    if unknown:
        raise TexsynthError(f"unknown training photographs {unknown}; known: {', '.join(PHOTOS)}")
    return tuple(_read(n) for n in names)


def load_photos(names: tuple[str, ...] = PHOTOS) -> tuple[np.ndarray, ...]:
    """The installed photographs among ``names`` (:data:`PHOTOS`), ``[3, H, W]`` in [0, 1]."""
    out = tuple(p for p in _read_all(tuple(names)) if p is not None)
    if not out:
        raise TexsynthError("none of the training photographs is installed")
    return out


def require_photos(names: tuple[str, ...] = PHOTOS) -> tuple[np.ndarray, ...]:
    """All of ``names`` (default :data:`PHOTOS`), ``[3, H, W]`` in [0, 1], in that order.

    Raises
    ------
    TexsynthError
        One line naming the photographs that cannot be read offline and the package that
        ships them (scikit-image's wheels carry its sample photographs; matplotlib's its
        ``grace_hopper.jpg``).
    """
    pics = _read_all(tuple(names))
    missing = [n for n, p in zip(names, pics, strict=True) if p is None]
    if missing:
        packages = sorted(
            {"matplotlib" if n == "grace_hopper" else "scikit-image" for n in missing}
        )
        raise TexsynthError(
            f"the packaged photographs {', '.join(missing)} cannot be read offline (their "
            f"files are missing); install {' and '.join(packages)} with their sample data "
            f"(pip install --force-reinstall {' '.join(packages)}), or train without --photos"
        )
    return tuple(p for p in pics if p is not None)


def photos_summary(
    photos: tuple[np.ndarray, ...], names: tuple[str, ...] = PHOTOS
) -> dict[str, Any]:
    """What the photographs are, for a training record: their names, count, megapixels and a
    digest of their pixels (same digest = same data)."""
    digest = hashlib.sha256()
    for p in photos:
        digest.update(str(tuple(p.shape)).encode())
        digest.update(np.ascontiguousarray(p).tobytes())
    return {
        "photos": list(names),
        "images": len(photos),
        "megapixels": round(sum(p.shape[1] * p.shape[2] for p in photos) / 1e6, 3),
        "sha256": digest.hexdigest()[:16],
    }


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
