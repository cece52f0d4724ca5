"""The Stokes Q and U columns of a HEALPix polarisation map, picked by name.

Polarisation files (healpy's ``write_map`` of ``(I, Q, U)``, the Planck Legacy Archive and
LAMBDA maps) name their columns ``I_STOKES, Q_STOKES, U_STOKES``, ``TEMPERATURE,
Q_POLARISATION, U_POLARISATION`` or ``I, Q, U``. Spin-2 work (:func:`texsynth.
synthesize_healpix` and :class:`~texsynth.stats.healpix.HealpixScatteringCovariance` with
``spin=2``) takes the ``(Q, U)`` pair; :func:`select_qu` finds it and leaves the other
columns (the temperature I) out.
"""

from __future__ import annotations

from ..errors import TexsynthError
from .healpix_map import HealpixMap

__all__ = ["Q_NAMES", "U_NAMES", "qu_columns", "select_qu"]

#: column names of the Stokes Q map in HEALPix files (healpy's and the LAMBDA/Planck ones)
Q_NAMES: tuple[str, ...] = ("Q_POLARISATION", "Q_POLARIZATION", "Q_STOKES", "Q")
#: column names of the Stokes U map
U_NAMES: tuple[str, ...] = ("U_POLARISATION", "U_POLARIZATION", "U_STOKES", "U")


def qu_columns(names: tuple[str, ...] | list[str] | None) -> tuple[int, int] | None:
    """The indices of the Q and U columns among ``names`` (any case, spaces ignored), or
    ``None`` when either is missing; the first of each kind wins."""
    upper = [n.strip().upper() for n in names or ()]
    q = next((i for i, n in enumerate(upper) if n in Q_NAMES), None)
    u = next((i for i, n in enumerate(upper) if n in U_NAMES), None)
    return None if q is None or u is None else (q, u)


def select_qu(m: HealpixMap, what: str) -> tuple[HealpixMap, tuple[str, ...]]:
    """The ``(Q, U)`` pair of a map, and the names of the columns left out.

    Parameters
    ----------
    m
        A map as :func:`~texsynth.io.healpix_reading.read_healpix_map` returns it. A map
        whose columns carry no Stokes names (a ``.npy`` array, read as ``COLUMN_1...``)
        is taken as ``(Q, U)`` when it has exactly two fields.
    what
        How the map is named in errors (its path).

    Returns
    -------
    (HealpixMap, tuple of str)
        The map of two fields, Q then U, with their names and units; the names of the
        other columns (e.g. ``("I_STOKES",)``), which spin-2 work leaves out.

    Raises
    ------
    TexsynthError
        If the map has no Q and U columns.
    """
    names = m.column_names
    found = qu_columns(names)
    generic = all(n.upper().startswith("COLUMN_") for n in names)
    if found is None and generic and m.values.shape[0] == 2:
        found = (0, 1)
    if found is None:
        raise TexsynthError(
            f"{what} has no Stokes Q and U columns (its columns: {', '.join(names) or 'none'}); "
            "spin 2 needs a polarisation map with columns named Q_STOKES/U_STOKES, "
            "Q_POLARISATION/U_POLARISATION or Q/U (or a [2, npix] .npy of Q, U)"
        )
    keep = list(found)
    units = tuple(m.units[i] for i in keep) if m.units else ()
    left = tuple(n for i, n in enumerate(names) if i not in keep)
    pair = HealpixMap(
        m.values[keep],
        m.nside,
        m.cell_ids,
        tuple(names[i] for i in keep) if names else (),
        units,
        m.file_ordering,
    )
    return pair, left
