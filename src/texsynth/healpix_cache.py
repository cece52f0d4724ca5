"""An on-disk cache of the HEALPix stencil operators, one file per operator.

Building the stencil wavelets of :mod:`texsynth.healpix_wavelets` (a ``K x K`` tangent-plane
stencil at every pixel, healpy's bilinear interpolation weights, the sorted sparse rows)
takes seconds at ``nside 64`` and tens of seconds at ``nside 128``; foscat keeps the same
matrices in files (its ``TEMPLATE_PATH``). texsynth writes each built operator to a cache
folder as an uncompressed ``.npz`` (the neighbours as int32, the complex64 weights) and
reads it back on the next run, bit for bit the operator it would build.

* Folder: ``$TEXSYNTH_CACHE`` if set, else the platform's user cache folder
  (``$XDG_CACHE_HOME`` or ``~/.cache`` on Linux, ``~/Library/Caches`` on macOS,
  ``%LOCALAPPDATA%`` on Windows) plus ``texsynth/healpix``.
* Off: ``TEXSYNTH_CACHE=off`` (or ``0``, ``false``, ``no``, ``none``, or empty), or
  :func:`operator_cache` ``(False)`` in a ``with`` block.
* Key: the file name holds ``nside``, ``K``, ``L``, the gauge, :data:`OPERATOR_VERSION` (bumped
  whenever the construction changes), texsynth's and healpy's versions.
* Writes are atomic (a hidden temporary renamed over the target), so concurrent runs never
  see half a file; an unreadable, truncated or mismatched entry is rebuilt and rewritten,
  with a :class:`~texsynth.errors.TexsynthWarning`. A folder that cannot be written only
  costs the cache (a warning, once per folder).

Sizes: ``12 nside**2 * M * (4 + 8 L)`` bytes (``M = 41`` for ``K = 5``), 18 MB at nside 32,
73 MB at nside 64 and 290 MB at nside 128 for ``L = 4`` (version 1 stored complex128, 548 MB
at nside 128; the weights are applied in float32, so complex64 loses nothing the statistics
keep). The wavelets' fast path (:mod:`texsynth.healpix_faces`) needs no operator file at
nside 8 and above.
"""

from __future__ import annotations

import contextlib
import os
import sys
import warnings
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO

import numpy as np
import torch

from .atomic import atomic_write
from .errors import TexsynthError, TexsynthWarning
from .version import __version__

__all__ = [
    "OPERATOR_VERSION",
    "cache_folder",
    "cached_operator",
    "operator_cache",
    "operator_path",
]

#: bumped whenever the operators' construction changes (invalidates older entries)
OPERATOR_VERSION = 2  # 2: complex64 weights
#: the orientation gauge of the stencils (foscat's "standard": local east and north)
GAUGE = "standard"
_OFF = {"", "0", "off", "false", "no", "none"}
_enabled: list[bool] = [True]
_warned: set[str] = set()


def cache_folder() -> Path | None:
    """The folder of the operator cache, or ``None`` when it is turned off."""
    if not _enabled[-1]:
        return None
    env = os.environ.get("TEXSYNTH_CACHE")
    if env is not None:
        return None if env.strip().lower() in _OFF else Path(env).expanduser() / "healpix"
    if sys.platform == "win32":
        base = Path(os.environ.get("LOCALAPPDATA") or Path.home() / "AppData" / "Local")
        return base / "texsynth" / "Cache" / "healpix"
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Caches" / "texsynth" / "healpix"
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "texsynth" / "healpix"


@contextlib.contextmanager
def operator_cache(enabled: bool) -> Iterator[None]:
    """Turn the on-disk cache on or off inside a ``with`` block (``TEXSYNTH_CACHE=off``
    still turns it off)."""
    _enabled.append(bool(enabled))
    try:
        yield
    finally:
        _enabled.pop()


def _healpy_version() -> str:
    try:
        from importlib.metadata import version

        return version("healpy")
    except Exception:  # (not installed: the operators cannot be built either)
        return "none"


def operator_path(kind: str, nside: int, K: int, L: int, spin: int = 0) -> Path | None:
    """The cache file of one operator (``None`` when the cache is off)."""
    folder = cache_folder()
    if folder is None:
        return None
    name = (
        f"{kind}-nside{nside}-K{K}-L{L}-spin{spin}-{GAUGE}-v{OPERATOR_VERSION}"
        f"-texsynth{__version__}-healpy{_healpy_version()}.npz"
    )
    return folder / name


def _load(path: Path, npix: int, L: int) -> tuple[torch.Tensor, torch.Tensor]:
    """An entry's ``(neighbours, weights)``; ``ValueError`` if it is not a valid one."""
    with open(path, "rb") as fh:  # (closed even when numpy cannot parse it)
        f = np.load(fh, allow_pickle=False)
        if not isinstance(f, np.lib.npyio.NpzFile):
            raise ValueError("not an .npz archive")
        with f:
            nb, w = f["neighbours"], f["weights"]
    if nb.ndim != 2 or nb.shape[0] != npix or nb.dtype != np.int32:
        raise ValueError(f"neighbours of shape {nb.shape} and type {nb.dtype}")
    if w.shape != (L, *nb.shape) or w.dtype != np.complex64:
        raise ValueError(f"weights of shape {w.shape} and type {w.dtype}")
    if nb.size and (nb.min() < 0 or nb.max() >= npix):
        raise ValueError("neighbours out of range")
    if not np.isfinite(w).all():
        raise ValueError("weights are not finite")
    return torch.as_tensor(nb.astype(np.int64)), torch.as_tensor(w)


def _save(path: Path, nb: torch.Tensor, w: torch.Tensor) -> None:
    def write(f: IO[bytes]) -> None:
        np.savez(f, neighbours=nb.numpy().astype(np.int32), weights=w.numpy())

    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(path, write)
    except (OSError, TexsynthError) as exc:
        folder = str(path.parent)
        if folder not in _warned:
            _warned.add(folder)
            warnings.warn(
                f"cannot cache HEALPix operators in {folder} ({exc}); set TEXSYNTH_CACHE to a "
                "writable folder, or TEXSYNTH_CACHE=off",
                TexsynthWarning,
                stacklevel=4,
            )


def cached_operator(
    kind: str,
    nside: int,
    K: int,
    L: int,
    build: Callable[[], tuple[torch.Tensor, torch.Tensor]],
    spin: int = 0,
) -> tuple[torch.Tensor, torch.Tensor]:
    """``(neighbours [npix, M] int64, weights [L, npix, M] complex64)`` from the cache, or
    from ``build()`` (then written to the cache)."""
    path = operator_path(kind, nside, K, L, spin)
    if path is None:
        return build()
    npix = 12 * nside * nside
    if path.exists():
        try:
            return _load(path, npix, L)
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:
            warnings.warn(
                f"the cached HEALPix operator {path.name} is corrupted ({exc}); rebuilding it",
                TexsynthWarning,
                stacklevel=3,
            )
    nb, w = build()
    _save(path, nb, w)
    return nb, w
