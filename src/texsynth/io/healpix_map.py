"""The HEALPix map type, :class:`HealpixMap`: ``C`` fields on a full or partial sky in the
NESTED ordering of :class:`~texsynth.domains.HealpixSphere` (Gorski et al. 2005), with the
constants and checks its reader (:mod:`~texsynth.io.healpix_reading`) and writer
(:mod:`~texsynth.io.healpix_writing`) share."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..domains.healpix import check_nside, npix_of
from ..errors import TexsynthError

__all__ = [
    "FITS_SUFFIXES",
    "HEALPIX_SUFFIXES",
    "UNSEEN",
    "Field",
    "HealpixMap",
    "as_float",
    "astropy_fits",
    "check_cells",
]

#: The HEALPix value of a pixel without data (``healpy.UNSEEN``).
UNSEEN = -1.6375e30
#: File suffixes :func:`read_healpix_map` and :func:`write_healpix_map` understand.
HEALPIX_SUFFIXES: tuple[str, ...] = (".fits", ".fit", ".fts", ".npy")
#: The FITS suffixes among them.
FITS_SUFFIXES: tuple[str, ...] = (".fits", ".fit", ".fts")
#: A field of a map file: a column index or a column name.
Field = int | str


@dataclass(frozen=True, eq=False)
class HealpixMap:
    """A HEALPix map, NESTED ordering: ``C`` fields on a full or partial sky.

    Attributes
    ----------
    values
        ``[C, N]`` floats (float32 or float64, as stored): ``N = 12 nside**2`` for a full
        sky, ``N = len(cell_ids)`` for a partial one. Pixels without data (``UNSEEN`` or NaN
        in the file) are NaN.
    nside
        The HEALPix resolution (a power of two).
    cell_ids
        ``None`` for a full sky, else the ``N`` NESTED pixel indices of the columns of
        ``values`` (int64, sorted, unique): a partial sky.
    column_names
        The name of each field (``C`` names).
    units
        The unit of each field (``TUNIT`` keys), ``None`` where the file gives none.
    file_ordering
        ``"RING"`` or ``"NESTED"``: the ordering of the file the map was read from (its
        ``ORDERING``), so that a result can be written back in it
        (``write_healpix_map(..., ordering=m.file_ordering)``); ``values`` and ``cell_ids``
        are NESTED either way. ``"NESTED"`` for maps made in memory.

    Notes
    -----
    A full-sky file with ``UNSEEN`` pixels stays a full sky (its missing pixels NaN):
    :attr:`seen` is the mask texsynth's statistics take, and :meth:`seen_cells` turns it into
    the explicit partial sky (``cell_ids``) foscat and the HEALPix ``EXPLICIT`` files use.
    """

    values: np.ndarray
    nside: int
    cell_ids: np.ndarray | None = None
    column_names: tuple[str, ...] = ()
    units: tuple[str | None, ...] = ()
    file_ordering: str = "NESTED"

    def __post_init__(self) -> None:
        v = self.values
        if not isinstance(v, np.ndarray) or v.ndim != 2 or v.dtype.kind != "f":
            raise TexsynthError(
                "HealpixMap.values must be a [C, N] numpy array of floats, got "
                f"{type(v).__name__} {getattr(v, 'shape', '')}"
            )
        check_nside(self.nside, "HealpixMap.nside")
        n = v.shape[1]
        if self.cell_ids is None:
            if n != npix_of(self.nside):
                raise TexsynthError(
                    f"HealpixMap has {n} pixels per field but nside {self.nside} needs "
                    f"{npix_of(self.nside)}; give cell_ids for a partial sky"
                )
        else:
            check_cells(self.cell_ids, self.nside, n, "HealpixMap")
        if self.column_names and len(self.column_names) != v.shape[0]:
            raise TexsynthError(
                f"HealpixMap has {v.shape[0]} fields but {len(self.column_names)} column names"
            )
        if self.units and len(self.units) != v.shape[0]:
            raise TexsynthError(f"HealpixMap has {v.shape[0]} fields but {len(self.units)} units")
        if self.file_ordering not in ("RING", "NESTED"):
            raise TexsynthError(
                f"HealpixMap.file_ordering must be 'RING' or 'NESTED', got {self.file_ordering!r}"
            )

    @property
    def npix(self) -> int:
        """Pixels of the full sky at :attr:`nside` (``12 nside**2``)."""
        return npix_of(self.nside)

    @property
    def unit(self) -> str | None:
        """The unit shared by every field, or ``None`` (none given, or they differ)."""
        return self.units[0] if self.units and len(set(self.units)) == 1 else None

    @property
    def seen(self) -> np.ndarray:
        """``[N]`` booleans: the pixels where every field has a value (not NaN)."""
        return np.asarray(~np.isnan(self.values).any(0))

    def full_sky(self) -> np.ndarray:
        """``[C, 12 nside**2]`` values on the full sky, NaN outside :attr:`cell_ids`."""
        if self.cell_ids is None:
            return self.values
        out = np.full((self.values.shape[0], self.npix), np.nan, dtype=self.values.dtype)
        out[:, self.cell_ids] = self.values
        return out

    def seen_cells(self) -> HealpixMap:
        """The same map as a partial sky of only its :attr:`seen` pixels (``cell_ids``)."""
        seen = self.seen
        ids = np.arange(self.values.shape[1]) if self.cell_ids is None else self.cell_ids
        if not seen.any():
            raise TexsynthError("this HEALPix map has no pixel with a value; nothing to keep")
        return HealpixMap(
            self.values[:, seen],
            self.nside,
            ids[seen],
            self.column_names,
            self.units,
            self.file_ordering,
        )


def check_cells(cell_ids: Any, nside: int, n: int, what: str) -> np.ndarray:
    """``cell_ids`` as sorted unique int64 NESTED indices of ``n`` pixels at ``nside``."""
    ids = np.asarray(cell_ids)
    if ids.ndim != 1 or ids.dtype.kind not in "iu":
        raise TexsynthError(
            f"{what}: cell_ids must be a 1-D array of integer pixel indices, got dtype "
            f"{ids.dtype} and shape {ids.shape}"
        )
    if ids.size != n:
        raise TexsynthError(f"{what}: {ids.size} cell_ids for {n} values per field; give one each")
    if n == 0:
        raise TexsynthError(f"{what}: no pixels (empty cell_ids); give at least one")
    npix = npix_of(nside)
    if ids.min() < 0 or ids.max() >= npix:
        raise TexsynthError(
            f"{what}: cell_ids run from {ids.min()} to {ids.max()}, outside 0 ... {npix - 1} "
            f"of nside {nside}; check nside and the indices"
        )
    if np.any(np.diff(ids) <= 0):
        raise TexsynthError(
            f"{what}: cell_ids must be sorted and unique; sort them (with the values) first"
        )
    return ids.astype(np.int64, copy=False)


def as_float(arr: np.ndarray) -> np.ndarray:
    """float32 stays float32; everything else (other floats, integers) becomes float64."""
    narrow = arr.dtype.kind == "f" and arr.dtype.itemsize <= 4  # any byte order
    return np.asarray(arr, dtype=np.float32 if narrow else np.float64)


def astropy_fits() -> Any:
    """``astropy.io.fits``, or a one-line error naming the extra that installs it."""
    try:
        from astropy.io import fits
    except ImportError:
        raise TexsynthError(
            "HEALPix FITS maps need astropy: pip install 'texsynth[healpix]'"
        ) from None
    return fits
