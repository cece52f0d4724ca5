"""HEALPix sky maps in FITS files, in the layout of healpy and the HEALPix libraries.

The HEALPix FITS convention (Gorski et al. 2005; healpy's ``read_map``/``write_map``): an
empty primary HDU, then a binary table whose header says ``PIXTYPE = 'HEALPIX'``,
``ORDERING = 'NESTED'`` or ``'RING'``, ``NSIDE``, ``INDXSCHM = 'IMPLICIT'`` (one row per pixel
of the full sky, or of the range ``FIRSTPIX ... LASTPIX``) or ``'EXPLICIT'`` (a first column
``PIXEL`` of pixel indices: a partial sky), ``OBJECT = 'FULLSKY'`` or ``'PARTIAL'``, and one
column per field (``TEMPERATURE``, ``Q_POLARISATION``, ``U_POLARISATION``, ...). Pixels
without data hold ``UNSEEN`` (:data:`UNSEEN`, -1.6375e30) or NaN.

:func:`read_healpix_map` returns a :class:`HealpixMap`, always in the NESTED ordering of
:class:`~texsynth.domains.HealpixSphere`, with every missing pixel as NaN;
:func:`write_healpix_map` writes one (NESTED, NaN written as ``UNSEEN``), atomically;
:func:`is_healpix_file` tells a HEALPix file from an image without reading its data.
``.npy`` arrays ``[npix]`` or ``[C, npix]`` (full sky, NESTED unless told otherwise) are read
and written too. FITS needs ``astropy`` and RING files ``healpy`` (``pip install
'texsynth[healpix]'``).
"""

from __future__ import annotations

import math
import os
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import numpy as np

from ..atomic import atomic_write
from ..domains.healpix import check_nside, healpy_module, npix_of, nside_of
from ..errors import TexsynthError
from ..paths import as_path, check_target, input_size, quote_path
from .checks import real_array
from .formats import _fits_warnings, _unreadable

__all__ = [
    "HEALPIX_SUFFIXES",
    "UNSEEN",
    "HealpixMap",
    "is_healpix_file",
    "read_healpix_map",
    "write_healpix_map",
]

#: The HEALPix value of a pixel without data (``healpy.UNSEEN``).
UNSEEN = -1.6375e30
#: File suffixes :func:`read_healpix_map` and :func:`write_healpix_map` understand.
HEALPIX_SUFFIXES: tuple[str, ...] = (".fits", ".fit", ".fts", ".npy")
_FITS_SUFFIXES = (".fits", ".fit", ".fts")
#: Column names healpy gives 1, 2, 3 and 6 maps (others: ``COLUMN_1``, ``COLUMN_2``...).
_STANDARD_NAMES: dict[int, tuple[str, ...]] = {
    1: ("TEMPERATURE",),
    2: ("Q_POLARISATION", "U_POLARISATION"),
    3: ("TEMPERATURE", "Q_POLARISATION", "U_POLARISATION"),
    6: ("II", "IQ", "IU", "QQ", "QU", "UU"),
}

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
            _check_cells(self.cell_ids, self.nside, n, "HealpixMap")
        if self.column_names and len(self.column_names) != v.shape[0]:
            raise TexsynthError(
                f"HealpixMap has {v.shape[0]} fields but {len(self.column_names)} column names"
            )
        if self.units and len(self.units) != v.shape[0]:
            raise TexsynthError(f"HealpixMap has {v.shape[0]} fields but {len(self.units)} units")

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
            self.values[:, seen], self.nside, ids[seen], self.column_names, self.units
        )


def _check_cells(cell_ids: Any, nside: int, n: int, what: str) -> np.ndarray:
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


# ---------------------------------------------------------------------------------- detection
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
        if suffix in _FITS_SUFFIXES:
            from astropy.io import fits

            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                header = fits.getheader(p, 1)
            return str(header.get("PIXTYPE", "")).strip().upper() == "HEALPIX"
        if suffix == ".npy" and arrays:
            with open(p, "rb") as f:
                version = np.lib.format.read_magic(f)
                read_header = (
                    np.lib.format.read_array_header_1_0
                    if version == (1, 0)
                    else np.lib.format.read_array_header_2_0
                )
                shape = read_header(f)[0]
            return len(shape) == 1 and _is_npix(int(shape[0]))
    except Exception:  # unreadable or not FITS: the reader reports it
        return False
    return False


def _is_npix(n: int) -> bool:
    nside = math.isqrt(n // 12) if n >= 12 else 0
    return n >= 12 and 12 * nside * nside == n and nside & (nside - 1) == 0


# ------------------------------------------------------------------------------------ reading
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


def _ordering(value: object, what: str) -> str:
    text = str(value).strip().upper()
    if text in ("NESTED", "NEST"):
        return "NESTED"
    if text == "RING":
        return "RING"
    raise TexsynthError(f"{what} must be 'NESTED' or 'RING', got {value!r}")


def _astropy_fits() -> Any:
    try:
        from astropy.io import fits
    except ImportError:
        raise TexsynthError(
            "HEALPix FITS maps need astropy: pip install 'texsynth[healpix]'"
        ) from None
    return fits


def _read_npy(p: Path, field: Field | Sequence[Field] | None, ordering: str) -> HealpixMap:
    q = quote_path(p)
    try:
        arr = np.load(p, allow_pickle=False)
    except Exception as exc:  # any library failure means an unreadable file
        raise _unreadable(p, exc) from None
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
    values = _as_float(arr[keep])
    values = _missing_to_nan(values, q)
    if ordering == "RING":
        values = _ring_to_nested(values, nside)
    return HealpixMap(values, nside, None, tuple(names[i] for i in keep), ())


def _read_fits(p: Path, field: Field | Sequence[Field] | None, given: str | None) -> HealpixMap:
    q = quote_path(p)
    fits = _astropy_fits()
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
            raise _unreadable(p, exc) from None
    _fits_warnings(p, caught)
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
    values = _missing_to_nan(_as_float(np.stack(columns)), q)
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
    return HealpixMap(values, nside, cells, names_kept, units_kept)


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


def _as_float(arr: np.ndarray) -> np.ndarray:
    """float32 stays float32; everything else (other floats, integers) becomes float64."""
    narrow = arr.dtype.kind == "f" and arr.dtype.itemsize <= 4  # any byte order
    return np.asarray(arr, dtype=np.float32 if narrow else np.float64)


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


# ------------------------------------------------------------------------------------ writing
def write_healpix_map(
    path: str | os.PathLike[str],
    map: HealpixMap | np.ndarray | Any,
    *,
    nside: int | None = None,
    cell_ids: Any = None,
    column_names: Sequence[str] | None = None,
    unit: str | None = None,
    overwrite: bool = False,
) -> Path:
    """Write a HEALPix map, NESTED ordering, atomically (a temporary file, then a rename).

    Parameters
    ----------
    path
        ``.fits`` (``.fit``, ``.fts``): the HEALPix FITS layout healpy's ``read_map`` reads
        (``PIXTYPE``, ``ORDERING = 'NESTED'``, ``NSIDE``, ``INDXSCHM``, ``OBJECT``); or
        ``.npy``: the ``[npix]`` or ``[C, npix]`` NESTED array (full sky only).
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
    hmap = _to_map(map, nside, cell_ids, q)
    names = _names(column_names, hmap, q)
    units = (unit,) * len(names) if unit is not None else (hmap.units or (None,) * len(names))
    if suffix == ".npy":
        if hmap.cell_ids is not None:
            raise TexsynthError(
                f"cannot write {q}: a .npy file holds full skies only; write a partial sky "
                "(cell_ids) to .fits, or fill it with hmap.full_sky()"
            )
        v = hmap.values
        atomic_write(p, lambda f: np.save(f, v[0] if v.shape[0] == 1 else v, allow_pickle=False))
        return p
    fits = _astropy_fits()
    table = _table(fits, hmap, names, units)

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
        arr = _as_float(arr)
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
    return HealpixMap(arr, ns, _check_cells(ids, ns, int(arr.shape[1]), f"cannot write {q}"))


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


def _table(
    fits: Any, hmap: HealpixMap, names: tuple[str, ...], units: tuple[str | None, ...]
) -> Any:
    """The HEALPix binary table of ``hmap`` (NaN as ``UNSEEN``)."""
    fmt = "E" if hmap.values.dtype == np.float32 else "D"
    values = np.where(np.isnan(hmap.values), UNSEEN, hmap.values).astype(hmap.values.dtype)
    cols = []
    if hmap.cell_ids is not None:
        wide = int(hmap.cell_ids.max()) >= 2**31
        cols.append(fits.Column(name="PIXEL", format="K" if wide else "J", array=hmap.cell_ids))
    for name, u, v in zip(names, units, values, strict=True):
        cols.append(fits.Column(name=name, format=fmt, array=v, unit=u))
    table = fits.BinTableHDU.from_columns(cols)
    h = table.header
    partial = hmap.cell_ids is not None
    h["PIXTYPE"] = ("HEALPIX", "HEALPIX pixelisation")
    h["ORDERING"] = ("NESTED", "Pixel ordering scheme, either RING or NESTED")
    h["NSIDE"] = (hmap.nside, "Resolution parameter of HEALPIX")
    if not partial:
        h["FIRSTPIX"] = (0, "First pixel # (0 based)")
        h["LASTPIX"] = (hmap.npix - 1, "Last pixel # (0 based)")
    h["INDXSCHM"] = ("EXPLICIT" if partial else "IMPLICIT", "Indexing: IMPLICIT or EXPLICIT")
    h["OBJECT"] = ("PARTIAL" if partial else "FULLSKY", "Sky coverage, either FULLSKY or PARTIAL")
    return table
