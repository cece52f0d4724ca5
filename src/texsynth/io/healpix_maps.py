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

This module gathers the public names of :mod:`~texsynth.io.healpix_map` (the map type),
:mod:`~texsynth.io.healpix_reading` and :mod:`~texsynth.io.healpix_writing`, so that
``from texsynth.io.healpix_maps import read_healpix_map`` keeps working.
"""

from __future__ import annotations

from .healpix_map import HEALPIX_SUFFIXES, UNSEEN, HealpixMap
from .healpix_reading import is_healpix_file, read_healpix_map
from .healpix_writing import write_healpix_map

__all__ = [
    "HEALPIX_SUFFIXES",
    "UNSEEN",
    "HealpixMap",
    "is_healpix_file",
    "read_healpix_map",
    "write_healpix_map",
]
