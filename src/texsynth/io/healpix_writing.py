"""Writing HEALPix maps: :func:`write_healpix_map`, a FITS binary table in the layout
healpy's ``read_map`` reads (NESTED, or RING on request; NaN written as ``UNSEEN``; a
partial sky as an ``INDXSCHM = 'EXPLICIT'`` table with a ``PIXEL`` column), or a full-sky
``.npy`` array, atomically (:mod:`texsynth.atomic`). FITS needs ``astropy`` (``pip install
'texsynth[healpix]'``)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any

import numpy as np

from ..atomic import atomic_write
from ..domains.healpix import check_nside, healpy_module, npix_of, nside_of
from ..errors import TexsynthError
from ..paths import as_path, check_target, quote_path
from .checks import real_array
from .healpix_map import HEALPIX_SUFFIXES, UNSEEN, HealpixMap, as_float, astropy_fits, check_cells

__all__ = ["write_healpix_map"]

#: Column names healpy gives 1, 2, 3 and 6 maps (others: ``COLUMN_1``, ``COLUMN_2``...).
_STANDARD_NAMES: dict[int, tuple[str, ...]] = {
    1: ("TEMPERATURE",),
    2: ("Q_POLARISATION", "U_POLARISATION"),
    3: ("TEMPERATURE", "Q_POLARISATION", "U_POLARISATION"),
    6: ("II", "IQ", "IU", "QQ", "QU", "UU"),
}


def write_healpix_map(
    path: str | os.PathLike[str],
    map: HealpixMap | np.ndarray | Any,
    *,
    nside: int | None = None,
    cell_ids: Any = None,
    column_names: Sequence[str] | None = None,
    unit: str | None = None,
    overwrite: bool = False,
    ordering: str = "NESTED",
) -> Path:
    """Write a HEALPix map, NESTED ordering unless asked, atomically (a temporary file, then
    a rename).

    Parameters
    ----------
    path
        ``.fits`` (``.fit``, ``.fts``): the HEALPix FITS layout healpy's ``read_map`` reads
        (``PIXTYPE``, ``ORDERING = 'NESTED'``, ``NSIDE``, ``INDXSCHM``, ``OBJECT``); or
        ``.npy``: the ``[npix]`` or ``[C, npix]`` array in ``ordering`` (full sky only).
    map
        A :class:`HealpixMap`, or an array or tensor ``[npix]``, ``[C, npix]`` (full sky,
        NESTED) or ``[N]``, ``[C, N]`` with ``cell_ids``. NaN values are written as
        ``UNSEEN``. float32 is written as float32 (FITS ``E``), anything else as float64.
    nside
        The resolution: needed with ``cell_ids``, else checked against the length.
    cell_ids
        ``N`` NESTED pixel indices of a partial sky (any order: they are written sorted):
        an ``INDXSCHM = 'EXPLICIT'`` table with a ``PIXEL`` column. Only with an array
        (a :class:`HealpixMap` carries its own).
    column_names
        One name per field; default: the map's own, else healpy's (``TEMPERATURE``;
        ``TEMPERATURE, Q_POLARISATION, U_POLARISATION``; ``COLUMN_1``...).
    unit
        Unit of every field (``TUNIT``); default: the map's own units.
    overwrite
        Replace an existing file (refused otherwise).
    ordering
        The file's ordering: ``"NESTED"`` (the default) or ``"RING"``; the map is given in
        NESTED order either way and reordered with healpy (a partial sky's ``cell_ids`` turned
        into RING indices). Write a map read from a file with ``ordering=m.file_ordering`` to
        keep that file's ordering.

    Returns
    -------
    pathlib.Path
        The path written.
    """
    p = as_path(path, "path")
    q = quote_path(p)
    suffix = p.suffix.lower()
    if suffix not in HEALPIX_SUFFIXES:
        raise TexsynthError(
            f"cannot write {q} as a HEALPix map: unknown file type {p.suffix or '(no suffix)'!r}; "
            f"use one of {', '.join(HEALPIX_SUFFIXES)}"
        )
    check_target(p)
    if (p.exists() or p.is_symlink()) and not overwrite:
        raise TexsynthError(
            f"cannot write {q}: the file exists; pass overwrite=True to replace it, or choose "
            "another name"
        )
    order = {"NEST": "NESTED"}.get(str(ordering).strip().upper(), str(ordering).strip().upper())
    if order not in ("NESTED", "RING"):
        raise TexsynthError(
            f"cannot write {q}: ordering must be 'NESTED' or 'RING', got {ordering!r}"
        )
    hmap = _to_map(map, nside, cell_ids, q)
    names = _names(column_names, hmap, q)
    units = (unit,) * len(names) if unit is not None else (hmap.units or (None,) * len(names))
    if suffix == ".npy":
        if hmap.cell_ids is not None:
            raise TexsynthError(
                f"cannot write {q}: a .npy file holds full skies only; write a partial sky "
                "(cell_ids) to .fits, or fill it with hmap.full_sky()"
            )
        v = _in_ordering(hmap, order)[0]
        atomic_write(p, lambda f: np.save(f, v[0] if v.shape[0] == 1 else v, allow_pickle=False))
        return p
    fits = astropy_fits()
    table = _table(fits, hmap, names, units, order)

    def write(f: IO[bytes]) -> None:
        fits.HDUList([fits.PrimaryHDU(), table]).writeto(f)

    atomic_write(p, write)
    return p


def _to_map(data: Any, nside: int | None, cell_ids: Any, q: str) -> HealpixMap:
    """The map to write, checked: ``[C, N]`` finite-or-NaN floats and their pixels."""
    if isinstance(data, HealpixMap):
        if cell_ids is not None or (nside is not None and nside != data.nside):
            raise TexsynthError(
                f"cannot write {q}: a HealpixMap carries its own nside and cell_ids; give them "
                "only with an array"
            )
        arr = data.values
    else:
        arr = real_array(data, q, "map")
        if arr.ndim == 1:
            arr = arr[None]
        if arr.ndim != 2 or arr.size == 0:
            raise TexsynthError(
                f"cannot write {q}: map has shape {tuple(arr.shape)}; give [npix] or [C, npix] "
                "(with cell_ids: [N] or [C, N])"
            )
        arr = as_float(arr)
    n_inf = int(np.count_nonzero(np.isinf(arr)))
    if n_inf:
        raise TexsynthError(
            f"cannot write {q}: map has {n_inf} infinite values; replace them with NaN (written "
            "as UNSEEN, no data) or finite values"
        )
    if isinstance(data, HealpixMap):
        return data
    if cell_ids is None:
        n = int(arr.shape[1])
        found = nside_of(n, f"the map for {q}")
        if nside is not None and check_nside(nside) != found:
            raise TexsynthError(
                f"cannot write {q}: nside {nside} needs {npix_of(nside)} pixels, the map has {n} "
                "(give cell_ids for a partial sky)"
            )
        return HealpixMap(arr, found)
    if nside is None:
        raise TexsynthError(f"cannot write {q}: give nside with cell_ids (a partial sky)")
    ns = check_nside(nside)
    ids = np.asarray(cell_ids)
    if ids.ndim == 1 and ids.dtype.kind in "iu" and ids.size == arr.shape[1]:
        order = np.argsort(ids, kind="stable")
        ids, arr = ids[order], arr[:, order]
        if np.any(np.diff(ids) == 0):
            raise TexsynthError(f"cannot write {q}: cell_ids lists some pixels twice")
    return HealpixMap(arr, ns, check_cells(ids, ns, int(arr.shape[1]), f"cannot write {q}"))


def _names(column_names: Sequence[str] | None, hmap: HealpixMap, q: str) -> tuple[str, ...]:
    c = hmap.values.shape[0]
    if column_names is None:
        return hmap.column_names or _STANDARD_NAMES.get(
            c, tuple(f"COLUMN_{i + 1}" for i in range(c))
        )
    names = (column_names,) if isinstance(column_names, str) else tuple(column_names)
    if len(names) != c:
        raise TexsynthError(f"cannot write {q}: {len(names)} column names for {c} fields")
    upper = [str(n).strip().upper() for n in names]
    if any(not n or not isinstance(o, str) for n, o in zip(upper, names, strict=True)):
        raise TexsynthError(f"cannot write {q}: column names must be non-empty strings")
    if len(set(upper)) != c or (hmap.cell_ids is not None and "PIXEL" in upper):
        raise TexsynthError(
            f"cannot write {q}: column names {list(names)} repeat (or use PIXEL, the index "
            "column of a partial sky); give distinct names"
        )
    return names


def _in_ordering(hmap: HealpixMap, order: str) -> tuple[np.ndarray, np.ndarray | None]:
    """``hmap``'s values and pixel indices in ``order`` (RING: reordered with healpy; a
    partial sky's indices converted and sorted)."""
    if order == "NESTED":
        return hmap.values, hmap.cell_ids
    hp = healpy_module()
    if hmap.cell_ids is None:
        ring = hp.reorder(hmap.values, n2r=True)
        return np.asarray(ring, dtype=hmap.values.dtype).reshape(hmap.values.shape), None
    ids = np.asarray(hp.nest2ring(hmap.nside, hmap.cell_ids), dtype=np.int64)
    sort = np.argsort(ids, kind="stable")
    return hmap.values[:, sort], ids[sort]


def _table(
    fits: Any,
    hmap: HealpixMap,
    names: tuple[str, ...],
    units: tuple[str | None, ...],
    order: str,
) -> Any:
    """The HEALPix binary table of ``hmap`` in ``order`` (NaN as ``UNSEEN``)."""
    fmt = "E" if hmap.values.dtype == np.float32 else "D"
    raw, cell_ids = _in_ordering(hmap, order)
    values = np.where(np.isnan(raw), UNSEEN, raw).astype(hmap.values.dtype)
    cols = []
    if cell_ids is not None:
        wide = int(cell_ids.max()) >= 2**31
        cols.append(fits.Column(name="PIXEL", format="K" if wide else "J", array=cell_ids))
    for name, u, v in zip(names, units, values, strict=True):
        cols.append(fits.Column(name=name, format=fmt, array=v, unit=u))
    table = fits.BinTableHDU.from_columns(cols)
    h = table.header
    partial = hmap.cell_ids is not None
    h["PIXTYPE"] = ("HEALPIX", "HEALPIX pixelisation")
    h["ORDERING"] = (order, "Pixel ordering scheme, either RING or NESTED")
    h["NSIDE"] = (hmap.nside, "Resolution parameter of HEALPIX")
    if not partial:
        h["FIRSTPIX"] = (0, "First pixel # (0 based)")
        h["LASTPIX"] = (hmap.npix - 1, "Last pixel # (0 based)")
    h["INDXSCHM"] = ("EXPLICIT" if partial else "IMPLICIT", "Indexing: IMPLICIT or EXPLICIT")
    h["OBJECT"] = ("PARTIAL" if partial else "FULLSKY", "Sky coverage, either FULLSKY or PARTIAL")
    return table
