"""Reading HEALPix maps: :func:`read_healpix_map` (FITS binary tables in the layout of
healpy's ``write_map`` and the HEALPix libraries, or ``.npy`` arrays) and
:func:`is_healpix_file` (from the headers only).

The HEALPix FITS convention (Gorski et al. 2005; healpy's ``read_map``/``write_map``): an
empty primary HDU, then a binary table whose header says ``PIXTYPE = 'HEALPIX'``,
``ORDERING = 'NESTED'`` or ``'RING'``, ``NSIDE``, ``INDXSCHM = 'IMPLICIT'`` (one row per pixel
of the full sky, or of the range ``FIRSTPIX ... LASTPIX``) or ``'EXPLICIT'`` (a first column
``PIXEL`` of pixel indices: a partial sky). Maps are returned in the NESTED ordering, every
missing pixel (``UNSEEN`` or NaN) as NaN; RING files need ``healpy``, FITS ``astropy``
(``pip install 'texsynth[healpix]'``).
"""

from __future__ import annotations

import math
import os
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..domains.healpix import check_nside, healpy_module, npix_of, nside_of
from ..errors import TexsynthError
from ..paths import as_path, input_size, quote_path
from .formats import npy_shape, reissue_fits_warnings, unreadable_error
from .healpix_map import (
    FITS_SUFFIXES,
    HEALPIX_SUFFIXES,
    UNSEEN,
    Field,
    HealpixMap,
    as_float,
    astropy_fits,
)

__all__ = ["is_healpix_file", "read_healpix_map"]


def is_healpix_file(path: str | os.PathLike[str], *, arrays: bool = False) -> bool:
    """Whether ``path`` holds a HEALPix map, from its headers only (no data read).

    A FITS file (``.fits``, ``.fit``, ``.fts``) is one when its first extension (HDU 1) says
    ``PIXTYPE = 'HEALPIX'``. With ``arrays=True`` a ``.npy`` file is one too when it holds a
    1-D array of ``12 nside**2`` values (``nside`` a power of two): such arrays are also
    1-D signals, so only a caller that expects a sky asks. Unreadable files, and FITS
    files without astropy installed, are not (their reader says why).
    """
    p = Path(path)
    suffix = p.suffix.lower()
    try:
        if not p.is_file():
            return False
        if suffix in FITS_SUFFIXES:
            from astropy.io import fits

            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                header = fits.getheader(p, 1)
            return str(header.get("PIXTYPE", "")).strip().upper() == "HEALPIX"
        if suffix == ".npy" and arrays:
            shape = npy_shape(p)
            return len(shape) == 1 and _is_npix(shape[0])
    except Exception:  # unreadable or not FITS: the reader reports it
        return False
    return False


def _is_npix(n: int) -> bool:
    nside = math.isqrt(n // 12) if n >= 12 else 0
    return n >= 12 and 12 * nside * nside == n and nside & (nside - 1) == 0


def read_healpix_map(
    path: str | os.PathLike[str],
    *,
    field: Field | Sequence[Field] | None = None,
    ordering: str | None = None,
) -> HealpixMap:
    """Read a HEALPix map: a FITS binary table (healpy's ``write_map``) or a ``.npy`` array.

    Parameters
    ----------
    path
        ``.fits`` (``.fit``, ``.fts``) in the HEALPix convention (see the module docstring),
        full sky or partial (``INDXSCHM = 'EXPLICIT'``, or an implicit ``FIRSTPIX ...
        LASTPIX`` range); or ``.npy`` of shape ``[npix]`` or ``[C, npix]`` (full sky).
    field
        The fields (columns) to read: an index (0 is the first column after ``PIXEL``, as
        in healpy), a column name (any case), or a sequence of them; ``None``: all.
    ordering
        ``"NESTED"`` or ``"RING"``: the ordering of a file that does not say (``.npy``:
        NESTED by default; a FITS file without ``ORDERING`` is an error unless given).
        A FITS header's ``ORDERING`` always wins.

    Returns
    -------
    HealpixMap
        Values ``[C, N]`` in NESTED ordering (RING files are reordered with healpy), float32
        if every read column is float32, else float64; missing pixels (``UNSEEN`` or NaN)
        are NaN. ``cell_ids`` is ``None`` for a full sky (even one with missing pixels: see
        :attr:`HealpixMap.seen`) and the sorted NESTED indices of a partial one.
        ``file_ordering`` is the file's ordering (``ordering`` for a ``.npy``).

    Raises
    ------
    TexsynthError
        If the file is missing, unreadable, not a HEALPix map, has an ``NSIDE`` that is not
        a power of two, a length that does not match it, out-of-range or repeated pixel
        indices, Inf values, or an unknown field.
    """
    p = as_path(path, "path")
    suffix = p.suffix.lower()
    if suffix not in HEALPIX_SUFFIXES:
        raise TexsynthError(
            f"cannot read {quote_path(p)} as a HEALPix map: unknown file type "
            f"{p.suffix or '(no suffix)'!r}; use one of {', '.join(HEALPIX_SUFFIXES)}"
        )
    given = _ordering(ordering, "ordering") if ordering is not None else None
    if input_size(p, "a HEALPix map file") == 0:
        raise TexsynthError(f"{quote_path(p)} is empty (0 bytes); give a HEALPix map file")
    if suffix == ".npy":
        return _read_npy(p, field, given or "NESTED")
    return _read_fits(p, field, given)


def _read_npy(p: Path, field: Field | Sequence[Field] | None, ordering: str) -> HealpixMap:
    q = quote_path(p)
    try:
        arr = np.load(p, allow_pickle=False)
    except Exception as exc:  # any library failure means an unreadable file
        raise unreadable_error(p, exc) from None
    if arr.ndim == 1:
        arr = arr[None]
    if arr.ndim != 2 or arr.dtype.kind not in "biuf":
        raise TexsynthError(
            f"{q} holds a {arr.ndim}-D {arr.dtype} array of shape {arr.shape}; a HEALPix .npy "
            "is [npix] or [C, npix] numbers"
        )
    nside = nside_of(int(arr.shape[1]), q)
    names = tuple(f"COLUMN_{i + 1}" for i in range(arr.shape[0]))
    keep = _select(field, names, q)
    values = as_float(arr[keep])
    values = _missing_to_nan(values, q)
    if ordering == "RING":
        values = _ring_to_nested(values, nside)
    return HealpixMap(values, nside, None, tuple(names[i] for i in keep), (), ordering)


def _read_fits(p: Path, field: Field | Sequence[Field] | None, given: str | None) -> HealpixMap:
    q = quote_path(p)
    fits = astropy_fits()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            with fits.open(p, memmap=False) as hdul:
                table = next(
                    (
                        h
                        for h in hdul
                        if isinstance(h, fits.BinTableHDU)
                        and str(h.header.get("PIXTYPE", "")).strip().upper() == "HEALPIX"
                    ),
                    None,
                )
                if table is None:
                    kinds = ", ".join(type(h).__name__ for h in hdul)
                    raise TexsynthError(
                        f"{q} is not a HEALPix map: no binary table with PIXTYPE = 'HEALPIX' "
                        f"(HDUs: {kinds}); read images with read_image, or write the map with "
                        "write_healpix_map or healpy.write_map"
                    )
                header = table.header.copy()
                names = [str(n) for n in table.columns.names]
                units = [(str(c.unit).strip() or None) if c.unit else None for c in table.columns]
                explicit = _is_explicit(header, q)
                data_names = names[1:] if explicit else names
                keep = _select(field, tuple(data_names), q)
                offset = 1 if explicit else 0
                columns = [_column(table, offset + i, names[offset + i], q) for i in keep]
                pixels = np.asarray(table.data.field(0)).ravel() if explicit else None
        except TexsynthError:
            raise
        except Exception as exc:  # any library failure means an unreadable file
            raise unreadable_error(p, exc) from None
    reissue_fits_warnings(p, caught)
    order = header.get("ORDERING")
    if order is None:
        if given is None:
            raise TexsynthError(
                f"{q} has no ORDERING key; pass ordering='RING' or 'NESTED' (whichever the "
                "map was made in)"
            )
        order = given
    order = _ordering(order, f"{q}: ORDERING")
    lengths = {c.size for c in columns}
    if len(lengths) != 1:
        raise TexsynthError(f"{q}: the columns have different lengths {sorted(lengths)}")
    n = lengths.pop()
    nside = _nside(header, n, explicit, q)
    values = _missing_to_nan(as_float(np.stack(columns)), q)
    units_kept = tuple(units[offset + i] for i in keep)
    names_kept = tuple(names[offset + i] for i in keep)
    npix = npix_of(nside)
    if explicit:
        assert pixels is not None
        if pixels.size != n:
            raise TexsynthError(f"{q}: {pixels.size} pixel indices for {n} values per field")
        cells = _file_cells(pixels, nside, q)
    elif n == npix:
        cells = None
    else:
        first, last = header.get("FIRSTPIX"), header.get("LASTPIX")
        if first is None or last is None or int(last) - int(first) + 1 != n:
            raise TexsynthError(
                f"{q}: NSIDE = {nside} needs {npix} pixels per field, the file holds {n} (and "
                "no FIRSTPIX ... LASTPIX range of that length); fix NSIDE or the columns"
            )
        cells = _file_cells(np.arange(int(first), int(last) + 1), nside, q)
    if order == "RING":
        if cells is None:
            values = _ring_to_nested(values, nside)
        else:
            cells = healpy_module().ring2nest(nside, cells).astype(np.int64)
    if cells is not None:
        sort = np.argsort(cells, kind="stable")
        cells, values = cells[sort], values[:, sort]
    return HealpixMap(values, nside, cells, names_kept, units_kept, order)


def _is_explicit(header: Any, q: str) -> bool:
    """Whether the table lists its pixels (``INDXSCHM``, else ``OBJECT``)."""
    schm = str(header.get("INDXSCHM", "")).strip().upper()
    obj = str(header.get("OBJECT", "")).strip().upper()
    if schm == "EXPLICIT":
        if obj == "FULLSKY":
            raise TexsynthError(
                f"{q} says INDXSCHM = 'EXPLICIT' and OBJECT = 'FULLSKY', which contradict; fix "
                "one of the two keys"
            )
        return True
    if schm in ("IMPLICIT", ""):
        return schm == "" and obj == "PARTIAL"
    raise TexsynthError(f"{q} has INDXSCHM = {schm!r}; HEALPix files say IMPLICIT or EXPLICIT")


def _nside(header: Any, n: int, explicit: bool, q: str) -> int:
    raw = header.get("NSIDE")
    if raw is None:
        if explicit:
            raise TexsynthError(f"{q} lists pixels but has no NSIDE key; add NSIDE to its header")
        return nside_of(n, q)
    if isinstance(raw, float) and raw.is_integer():
        raw = int(raw)
    return check_nside(raw, f"{q}: NSIDE")


def _file_cells(pixels: np.ndarray, nside: int, q: str) -> np.ndarray:
    """Pixel indices of a file as int64, checked against ``nside``."""
    integral = pixels.dtype.kind in "iu" or (
        pixels.dtype.kind == "f" and bool(np.all(np.isfinite(pixels) & (pixels % 1 == 0)))
    )
    if not integral:
        raise TexsynthError(f"{q}: the PIXEL column holds {pixels.dtype} values, not indices")
    ids = pixels.astype(np.int64)
    npix = npix_of(nside)
    if ids.size and (ids.min() < 0 or ids.max() >= npix):
        raise TexsynthError(
            f"{q}: pixel indices run from {ids.min()} to {ids.max()}, outside 0 ... {npix - 1} "
            f"of NSIDE = {nside}; fix NSIDE or the PIXEL column"
        )
    if np.unique(ids).size != ids.size:
        raise TexsynthError(f"{q} lists some pixels twice; keep one value per pixel")
    return ids


def _select(field: Field | Sequence[Field] | None, names: tuple[str, ...], q: str) -> list[int]:
    """Indices into ``names`` of the requested fields."""
    if not names:
        raise TexsynthError(f"{q} has no data column; write at least one field")
    if field is None:
        return list(range(len(names)))
    wanted = [field] if isinstance(field, (int, str, np.integer)) else list(field)
    if not wanted:
        raise TexsynthError("field is empty; give a column index or name, or None for all")
    upper = [n.upper() for n in names]
    out = []
    for f in wanted:
        if isinstance(f, str):
            if f.upper() not in upper:
                raise TexsynthError(f"{q} has no column {f!r}; its columns are {', '.join(names)}")
            out.append(upper.index(f.upper()))
        elif isinstance(f, (int, np.integer)) and not isinstance(f, bool):
            if not 0 <= f < len(names):
                raise TexsynthError(
                    f"{q} has {len(names)} fields ({', '.join(names)}); field {f} is out of range"
                )
            out.append(int(f))
        else:
            raise TexsynthError(f"field must be a column index or name, got {f!r}")
    return out


def _column(table: Any, index: int, name: str, q: str) -> np.ndarray:
    """One data column, flattened (healpy stores rows of 1024 pixels)."""
    col = np.asarray(table.data.field(index))
    if col.dtype.kind not in "biuf":
        raise TexsynthError(f"{q}: column {name!r} holds {col.dtype} values, not numbers")
    return col.ravel()


def _is_unseen(values: np.ndarray) -> np.ndarray:
    """Where ``values`` equal ``UNSEEN`` (healpy's ``mask_bad`` tolerance)."""
    return np.asarray(np.abs(values - UNSEEN) <= 1e-8 + 1e-5 * abs(UNSEEN))


def _missing_to_nan(values: np.ndarray, q: str) -> np.ndarray:
    """``UNSEEN`` pixels as NaN; an error for Inf values (no HEALPix meaning)."""
    n_inf = int(np.count_nonzero(np.isinf(values)))
    if n_inf:
        raise TexsynthError(
            f"{q} has {n_inf} infinite values out of {values.size}; HEALPix marks pixels "
            "without data with UNSEEN (-1.6375e30) or NaN: replace the Inf values with one"
        )
    unseen = _is_unseen(values)
    if unseen.any():
        values = np.where(unseen, np.nan, values).astype(values.dtype)
    return values


def _ring_to_nested(values: np.ndarray, nside: int) -> np.ndarray:
    """``[C, npix]`` RING values reordered to NESTED (healpy's ``reorder``)."""
    hp = healpy_module()
    return np.asarray(hp.reorder(values, r2n=True), dtype=values.dtype).reshape(values.shape)


def _ordering(value: object, what: str) -> str:
    text = str(value).strip().upper()
    if text in ("NESTED", "NEST"):
        return "NESTED"
    if text == "RING":
        return "RING"
    raise TexsynthError(f"{what} must be 'NESTED' or 'RING', got {value!r}")
