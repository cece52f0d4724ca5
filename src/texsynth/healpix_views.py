"""Pictures of HEALPix maps: Mollweide and gnomonic views, angular power spectra, a contact sheet.

The projections are healpy's projector classes (``healpy.projector.MollweideProj``,
``GnomonicProj``) evaluated into plain 2-D numpy images, so no plotting library and no global
figure state is involved; :func:`to_rgb` colours an image (viridis or grey) for Pillow.
:func:`angular_power_spectrum` is healpy's ``anafast`` (Gorski et al. 2005) on the RING
reordering of a NESTED map. :func:`healpix_contact_sheet` draws one PNG, with Pillow like the
evaluation report (:mod:`texsynth.report`): Mollweide views of an exemplar and its
realisations on one colour scale, a gnomonic zoom of each, and all their ``C_ell`` on one
log-log chart. Needs healpy (``pip install 'texsynth[healpix]'``).
"""

from __future__ import annotations

import io
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .atomic import atomic_write
from .charts import EXEMPLAR_COLOUR, NAMED_COLOURS, SAMPLE_COLOUR, Chart, Series
from .domains.healpix import check_nside, healpy_module, nside_of
from .errors import TexsynthError
from .healpix_colours import UNSEEN_RGB, colour_image, to_rgb
from .io.healpix_maps import UNSEEN, HealpixMap
from .paths import as_path, check_target, quote_path

__all__ = [
    "angular_power_spectrum",
    "compare_power_spectra",
    "gnomonic",
    "healpix_contact_sheet",
    "mollweide",
    "to_rgb",
]

#: HEALPix pixels across a gnomonic view by default (at most 90 degrees wide).
_ZOOM_PIXELS = 48


# ---------------------------------------------------------------------------------- the maps
def _as_numpy(values: Any, what: str) -> np.ndarray:
    """A tensor or array of real numbers as a float64 numpy array."""
    if isinstance(values, torch.Tensor):
        values = values.detach().cpu().double().numpy()
    if not isinstance(values, np.ndarray) or values.dtype.kind not in "biuf":
        raise TexsynthError(
            f"{what} must be a numpy array, a torch.Tensor or a HealpixMap of real numbers, "
            f"got {type(values).__name__}"
        )
    return values.astype(np.float64)


def _full_map(
    values: Any, *, nest: bool, cell_ids: Any, nside: int | None, what: str
) -> tuple[np.ndarray, int]:
    """One map as a full-sky NESTED float64 array (missing pixels NaN) and its nside."""
    if isinstance(values, HealpixMap):
        if cell_ids is not None or nside not in (None, values.nside):
            raise TexsynthError(
                f"{what} is a HealpixMap, which carries its own nside and cell_ids; give them "
                "only with an array"
            )
        if values.values.shape[0] != 1:
            raise TexsynthError(
                f"{what} has {values.values.shape[0]} fields; draw one at a time: "
                "HealpixMap(m.values[c:c + 1], m.nside, m.cell_ids)"
            )
        return values.full_sky()[0].astype(np.float64), values.nside
    arr = _as_numpy(values, what)
    while arr.ndim > 1 and arr.shape[0] == 1:
        arr = arr[0]
    if arr.ndim != 1:
        raise TexsynthError(
            f"{what} has shape {arr.shape}; give one map [npix] (pick a field: values[c])"
        )
    n_inf = int(np.count_nonzero(np.isinf(arr)))
    if n_inf:
        raise TexsynthError(
            f"{what} has {n_inf} infinite values; mark pixels without data with NaN instead"
        )
    arr = np.where(np.abs(arr - UNSEEN) <= 1e-5 * abs(UNSEEN), np.nan, arr)
    if cell_ids is None:
        ns = nside_of(arr.size, what)
        if nside is not None and check_nside(nside) != ns:
            raise TexsynthError(f"{what} has {arr.size} pixels, not those of nside {nside}")
        full = arr if nest else np.asarray(healpy_module().reorder(arr, r2n=True), np.float64)
        return full, ns
    if nside is None:
        raise TexsynthError(f"{what}: give nside with cell_ids (a partial sky)")
    ns = check_nside(nside)
    ids = np.asarray(cell_ids)
    if ids.ndim != 1 or ids.dtype.kind not in "iu" or ids.size != arr.size:
        raise TexsynthError(
            f"{what}: cell_ids must be {arr.size} integer pixel indices, one per value, got "
            f"dtype {ids.dtype} and shape {ids.shape}"
        )
    if not nest:
        ids = np.asarray(healpy_module().ring2nest(ns, ids))
    order = np.argsort(ids, kind="stable")
    full = HealpixMap(arr[order][None], ns, ids[order].astype(np.int64)).full_sky()[0]
    return full, ns


def _project(proj: Any, full: np.ndarray, nside: int) -> tuple[np.ndarray, np.ndarray]:
    """``(image, inside)`` of a NESTED map through a healpy projector: row 0 at the top,
    NaN outside the projected sphere and at pixels without data."""
    hp = healpy_module()
    img = proj.projmap(full, lambda x, y, z: hp.vec2pix(nside, x, y, z, nest=True))
    img = np.flipud(np.asarray(img, dtype=np.float64))
    inside = ~np.isneginf(img)  # healpy puts -inf outside the projection
    return np.where(inside, img, np.nan), inside


def mollweide(
    values: Any,
    *,
    nest: bool = True,
    cell_ids: Any = None,
    nside: int | None = None,
    xsize: int = 800,
    rot: tuple[float, ...] | None = None,
) -> np.ndarray:
    """The Mollweide view of a map (healpy's ``MollweideProj``): a ``[xsize // 2, xsize]``
    image.

    Parameters
    ----------
    values
        One map: ``[npix]`` (or with leading axes of one, e.g. ``[1, 1, npix]``), a
        :class:`~texsynth.io.healpix_maps.HealpixMap` of one field, or ``[N]`` values of
        the pixels ``cell_ids`` (with ``nside``). NaN and ``UNSEEN`` mean no data.
    nest
        Whether ``values`` (and ``cell_ids``) are in NESTED ordering (texsynth's); ``False``:
        RING. A HealpixMap is always NESTED.
    xsize
        Width of the image in pixels.
    rot
        ``(lon, lat[, psi])`` in degrees of the view's centre (healpy's ``rot``).

    Returns
    -------
    numpy.ndarray
        float64 ``[xsize // 2, xsize]``, as on screen: row 0 at the top (north), longitude
        increasing to the left (healpy's astronomical convention); NaN outside the ellipse
        and at pixels without data. Draw it with ``plt.imshow(img)`` or :func:`to_rgb`.
    """
    hp = healpy_module()
    full, ns = _full_map(values, nest=nest, cell_ids=cell_ids, nside=nside, what="values")
    proj = hp.projector.MollweideProj(rot=rot, xsize=_size(xsize, "xsize"))
    return _project(proj, full, ns)[0]


def gnomonic(
    values: Any,
    *,
    rot: tuple[float, ...] = (0.0, 0.0),
    reso_arcmin: float | None = None,
    xsize: int = 200,
    nest: bool = True,
    cell_ids: Any = None,
    nside: int | None = None,
) -> np.ndarray:
    """A gnomonic (tangent-plane) zoom on a map (healpy's ``GnomonicProj``): a square
    ``[xsize, xsize]`` image centred on ``rot = (lon, lat)`` degrees.

    ``reso_arcmin`` is the size of an image pixel; default: about 48 HEALPix pixels across
    the image (at most 90 degrees). The other arguments and the image's layout are those of
    :func:`mollweide` (NaN only at pixels without data).
    """
    hp = healpy_module()
    full, ns = _full_map(values, nest=nest, cell_ids=cell_ids, nside=nside, what="values")
    size = _size(xsize, "xsize")
    reso = _default_reso(ns, size) if reso_arcmin is None else float(reso_arcmin)
    if not reso > 0 or not np.isfinite(reso):
        raise TexsynthError(f"reso_arcmin must be a positive number, got {reso_arcmin!r}")
    proj = hp.projector.GnomonicProj(rot=tuple(rot), xsize=size, ysize=size, reso=reso)
    return _project(proj, full, ns)[0]


def _size(xsize: object, what: str) -> int:
    if isinstance(xsize, bool) or not isinstance(xsize, (int, np.integer)) or xsize < 8:
        raise TexsynthError(f"{what} must be an integer of at least 8 (pixels), got {xsize!r}")
    return int(xsize)


def _default_reso(nside: int, xsize: int) -> float:
    """Arcminutes per image pixel showing about ``_ZOOM_PIXELS`` HEALPix pixels, <= 90 deg."""
    width = min(healpy_module().nside2resol(nside, arcmin=True) * _ZOOM_PIXELS, 90.0 * 60.0)
    return float(width / xsize)


# ------------------------------------------------------------------------------------ spectra
def angular_power_spectrum(
    values: Any,
    *,
    lmax: int | None = None,
    nest: bool = True,
    cell_ids: Any = None,
    nside: int | None = None,
) -> np.ndarray:
    """The angular power spectrum ``C_ell``, ``ell = 0 ... lmax``, of one map or of each of
    several (healpy's ``anafast``, 3 iterations, on the RING reordering).

    Parameters
    ----------
    values
        ``[npix]``, or ``[C, npix]`` (each row its own scalar map: Q and U are not combined
        into E and B), or a :class:`~texsynth.io.healpix_maps.HealpixMap`; with ``cell_ids``
        and ``nside``, values of a partial sky.
    lmax
        Highest multipole; default ``3 nside - 1`` (healpy's).
    nest
        Whether ``values`` are NESTED (texsynth's ordering); ``False``: RING.

    Returns
    -------
    numpy.ndarray
        ``[lmax + 1]`` for one map, ``[C, lmax + 1]`` for ``[C, npix]`` and for a
        HealpixMap. A map with pixels without data (NaN, ``UNSEEN``) gives the usual
        pseudo-spectrum: its seen mean removed, missing pixels set to zero, divided by the
        seen fraction of the sky (biased at the scales of the mask's own edges).
    """
    if isinstance(values, HealpixMap):
        fields = range(values.values.shape[0])
        rows = [HealpixMap(values.values[c : c + 1], values.nside, values.cell_ids) for c in fields]
        return np.stack([_spectrum(r, lmax, True, None, None) for r in rows])
    arr = _as_numpy(values, "values")
    if arr.ndim == 2:
        return np.stack([_spectrum(row, lmax, nest, cell_ids, nside) for row in arr])
    return _spectrum(arr, lmax, nest, cell_ids, nside)


def _spectrum(values: Any, lmax: int | None, nest: bool, cell_ids: Any, nside: int | None) -> Any:
    hp = healpy_module()
    full, ns = _full_map(values, nest=nest, cell_ids=cell_ids, nside=nside, what="values")
    bad = isinstance(lmax, bool) or not isinstance(lmax, (int, np.integer)) or lmax < 1
    if lmax is not None and bad:
        raise TexsynthError(f"lmax must be a positive integer, got {lmax!r}")
    seen = ~np.isnan(full)
    if not seen.any():
        raise TexsynthError("the map has no pixel with a value; nothing to measure")
    fsky = float(seen.mean())
    if fsky < 1.0:
        full = np.where(seen, full - full[seen].mean(), 0.0)
    ring = hp.reorder(full, n2r=True)
    cl = np.asarray(hp.anafast(ring, lmax=lmax, iter=3), dtype=np.float64)
    return cl / fsky


def compare_power_spectra(
    exemplar: Any,
    realisations: Any,
    *,
    lmax: int | None = None,
    nest: bool = True,
    channel: int = 0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(ell, C_ell of the exemplar [L], C_ell of each realisation [K, L])`` of one field
    (``channel``) of maps on the same sky.

    ``exemplar`` is ``[npix]``, ``[C, npix]``, ``[1, C, npix]`` or a HealpixMap;
    ``realisations`` ``[npix]``, ``[K, npix]``, ``[K, C, npix]`` (a synthesis batch) or a
    list of maps. ``lmax`` defaults to ``3 nside - 1``.
    """
    ex = _pick(exemplar, channel, "exemplar")
    reals = _many(realisations, channel)
    nside = _same_sky([ex, *reals])
    lmax = 3 * nside - 1 if lmax is None else lmax
    cl_ex = _spectrum(ex, lmax, nest, None, None)
    cls = np.stack([_spectrum(r, lmax, nest, None, None) for r in reals])
    return np.arange(lmax + 1), cl_ex, cls


def _pick(x: Any, channel: int, what: str) -> Any:
    """One field of a map: a 1-D array, or a HealpixMap of one field."""
    if isinstance(x, HealpixMap):
        c = _channel(channel, x.values.shape[0], what)
        return HealpixMap(x.values[c : c + 1], x.nside, x.cell_ids)
    arr = _as_numpy(x, what)
    if arr.ndim == 3 and arr.shape[0] == 1:
        arr = arr[0]
    if arr.ndim == 2:
        arr = arr[_channel(channel, arr.shape[0], what)]
    if arr.ndim != 1:
        raise TexsynthError(f"{what} has shape {arr.shape}; give [npix], [C, npix] or [1, C, npix]")
    return arr


def _many(x: Any, channel: int) -> list[Any]:
    """The realisations as a list of one-field maps."""
    if isinstance(x, (list, tuple)):
        maps = [_pick(m, channel, f"realisation {i}") for i, m in enumerate(x)]
    elif isinstance(x, HealpixMap):
        maps = [_pick(x, channel, "realisation 0")]
    else:
        arr = _as_numpy(x, "realisations")
        if arr.ndim == 1:
            arr = arr[None]
        if arr.ndim == 3:
            arr = arr[:, _channel(channel, arr.shape[1], "realisations")]
        if arr.ndim != 2:
            raise TexsynthError(
                f"realisations have shape {arr.shape}; give [K, npix] or [K, C, npix] (a batch)"
            )
        maps = list(arr)
    if not maps:
        raise TexsynthError("no realisations given; give at least one map")
    return maps


def _channel(channel: int, n: int, what: str) -> int:
    if isinstance(channel, bool) or not isinstance(channel, (int, np.integer)):
        raise TexsynthError(f"channel must be an integer, got {channel!r}")
    if not 0 <= channel < n:
        raise TexsynthError(f"{what} has {n} fields; channel {channel} is out of range")
    return int(channel)


def _same_sky(maps: Sequence[Any]) -> int:
    """The nside all maps share (a one-line error otherwise)."""
    sides = []
    for i, m in enumerate(maps):
        name = "exemplar" if i == 0 else f"realisation {i - 1}"
        sides.append(m.nside if isinstance(m, HealpixMap) else nside_of(int(m.size), name))
    if len(set(sides)) != 1:
        raise TexsynthError(
            f"the maps have different resolutions (nside {sides[0]} for the exemplar, "
            f"{sorted(set(sides[1:]))} for the realisations); compare maps of one nside"
        )
    return int(sides[0])


# ------------------------------------------------------------------------------ contact sheet
def healpix_contact_sheet(
    exemplar: Any,
    realisations: Any,
    path: str | os.PathLike[str],
    *,
    gnomonic_centre: tuple[float, float] | None = None,
    nest: bool = True,
    channel: int = 0,
    max_realisations: int = 4,
    title: str = "texsynth: HEALPix exemplar and realisations",
    labels: Sequence[str] | None = None,
) -> Path:
    """Write one PNG comparing an exemplar sky with its realisations, atomically.

    Top row: the Mollweide view of the exemplar and of up to ``max_realisations``
    realisations, all on the exemplar's colour scale (its minimum and maximum, viridis; grey
    where there is no data). Middle row: a gnomonic zoom of each around
    ``gnomonic_centre = (lon, lat)`` degrees (default: (0, 0), or the centre of the seen
    pixels of a partial exemplar). Bottom: the colour bar and the ``C_ell`` (``ell >= 2``) of
    every map shown on one log-log chart (:func:`compare_power_spectra`). ``labels`` names
    the realisations shown (default "realisation 1", ...; e.g. a Gaussian surrogate among
    them).

    ``exemplar`` and ``realisations`` take the shapes of :func:`compare_power_spectra`
    (``channel`` picks the field drawn). An existing file at ``path`` (``.png``) is
    replaced, as by :func:`~texsynth.report.write_report`.
    """
    from PIL import Image, ImageDraw

    p = as_path(path, "path")
    if p.suffix.lower() != ".png":
        raise TexsynthError(f"the contact sheet is a .png image, got {quote_path(p)}")
    check_target(p)
    if (
        isinstance(max_realisations, bool)
        or not isinstance(max_realisations, int)
        or (max_realisations < 1)
    ):
        raise TexsynthError(f"max_realisations must be at least 1, got {max_realisations!r}")
    ex = _pick(exemplar, channel, "exemplar")
    reals = _many(realisations, channel)[:max_realisations]
    if labels is not None and len(labels) != len(reals):
        raise TexsynthError(
            f"labels names the realisations shown: {len(reals)} expected, got {len(labels)}"
        )
    nside = _same_sky([ex, *reals])
    maps = [_full_map(m, nest=nest, cell_ids=None, nside=None, what="map")[0] for m in [ex, *reals]]
    seen = ~np.isnan(maps[0])
    if not seen.any():
        raise TexsynthError("the exemplar has no pixel with a value; nothing to draw")
    lo, hi = float(maps[0][seen].min()), float(maps[0][seen].max())
    centre = gnomonic_centre if gnomonic_centre is not None else _centre(seen, nside)
    ell, cl_ex, cls = compare_power_spectra(ex, reals, nest=nest)

    hp = healpy_module()
    mw, zw, gap = 300, 150, 8
    named = labels
    names = [f"realisation {i + 1}" for i in range(len(reals))] if labels is None else labels
    labels = ["exemplar", *(str(name) for name in names)]
    chart_w, chart_h = 560, 260
    width = max(gap + len(maps) * (mw + gap), gap + 300 + 2 * gap + chart_w + gap)
    top_moll, top_zoom = 44, 44 + mw // 2 + 26
    top_chart = top_zoom + zw + 24
    sheet = Image.new("RGB", (width, top_chart + chart_h + gap), "white")
    draw = ImageDraw.Draw(sheet)
    draw.text((gap, 8), title, fill="black")
    moll = hp.projector.MollweideProj(xsize=mw)
    reso = _default_reso(nside, zw)
    zoom = hp.projector.GnomonicProj(rot=tuple(centre), xsize=zw, ysize=zw, reso=reso)
    for i, (label, full) in enumerate(zip(labels, maps, strict=True)):
        x = gap + i * (mw + gap)
        draw.text((x, top_moll - 14), label, fill="black")
        img, inside = _project(moll, full, nside)
        rgb = colour_image(img, lo, hi, "viridis", UNSEEN_RGB)
        rgb[~inside] = 255
        sheet.paste(Image.fromarray(rgb), (x, top_moll))
        zimg, _ = _project(zoom, full, nside)
        zx = x + (mw - zw) // 2
        zoomed = colour_image(zimg, lo, hi, "viridis", UNSEEN_RGB)
        sheet.paste(Image.fromarray(zoomed), (zx, top_zoom))
    draw.text(
        (gap, top_zoom - 14),
        f"gnomonic zoom at lon {centre[0]:.1f}, lat {centre[1]:.1f} deg, "
        f"{reso * zw / 60:.1f} deg wide; nside {nside}",
        fill="black",
    )
    # colour bar
    bar = colour_image(np.tile(np.linspace(lo, hi, 300), (14, 1)), lo, hi, "viridis", UNSEEN_RGB)
    sheet.paste(Image.fromarray(bar), (gap, top_chart + 30))
    draw.text((gap, top_chart + 12), "colour scale (exemplar's range)", fill="black")
    draw.text((gap, top_chart + 48), f"{lo:.4g}", fill="black")
    draw.text((gap + 300 - 6 * len(f"{hi:.4g}"), top_chart + 48), f"{hi:.4g}", fill="black")
    first = 2 if len(ell) > 3 else 1  # the monopole and the dipole are left out, as usual
    ells = [float(v) for v in ell[first:]]
    series = [Series(ells, [float(v) for v in cl_ex[first:]], "exemplar", EXEMPLAR_COLOUR)]
    # realisations of one process share a colour; named maps (a surrogate) get their own
    colours = [
        SAMPLE_COLOUR if named is None else NAMED_COLOURS[i % len(NAMED_COLOURS)]
        for i in range(len(cls))
    ]
    series += [
        Series(ells, [float(v) for v in c[first:]], labels[i + 1], colours[i])
        for i, c in enumerate(cls)
    ]
    chart = Chart("angular power spectrum", series, "multipole ell", "C_ell", True, True)
    left = gap + 300 + 2 * gap
    chart.draw(sheet, (left, top_chart, left + chart_w, top_chart + chart_h))
    buf = io.BytesIO()
    sheet.save(buf, format="PNG", optimize=True)
    atomic_write(p, lambda f: f.write(buf.getvalue()))
    return p


def _centre(seen: np.ndarray, nside: int) -> tuple[float, float]:
    """``(lon, lat)`` degrees of the mean direction of the seen pixels; (0, 0) for a full sky."""
    if seen.all():
        return (0.0, 0.0)
    hp = healpy_module()
    vec = np.asarray(hp.pix2vec(nside, np.flatnonzero(seen), nest=True)).mean(1)
    if np.linalg.norm(vec) < 1e-9:
        return (0.0, 0.0)
    lon, lat = hp.vec2ang(vec, lonlat=True)
    return (float(np.ravel(lon)[0]), float(np.ravel(lat)[0]))
