"""HEALPix FITS maps (texsynth.io.healpix_maps) and their pictures (texsynth.healpix_views),
checked against healpy's own read_map, write_map, anafast and synfast."""

from __future__ import annotations

import errno
import os
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from texsynth import TexsynthError

hp = pytest.importorskip("healpy")
fits = pytest.importorskip("astropy.io.fits")

from texsynth.healpix_views import (  # noqa: E402
    angular_power_spectrum,
    compare_power_spectra,
    gnomonic,
    healpix_contact_sheet,
    mollweide,
    to_rgb,
)
from texsynth.io.healpix_maps import (  # noqa: E402
    UNSEEN,
    HealpixMap,
    is_healpix_file,
    read_healpix_map,
    write_healpix_map,
)

NSIDE = 8
NPIX = 12 * NSIDE**2


def _maps(c: int = 1, dtype: type = np.float64, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((c, NPIX)).astype(dtype)


def _files(folder: Path) -> list[str]:
    return sorted(os.listdir(folder))


# ------------------------------------------------------------------------------ FITS maps
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_ours_read_by_healpy_and_back(tmp_path: Path, dtype: type) -> None:
    m = _maps(3, dtype)
    path = write_healpix_map(tmp_path / "iqu.fits", m)
    ref = hp.read_map(path, field=None, nest=True)
    assert ref.dtype == dtype and np.array_equal(ref, m)
    header = dict(fits.getheader(path, 1))
    assert header["PIXTYPE"] == "HEALPIX" and header["ORDERING"] == "NESTED"
    assert header["NSIDE"] == NSIDE and header["INDXSCHM"] == "IMPLICIT"
    assert header["OBJECT"] == "FULLSKY" and header["LASTPIX"] == NPIX - 1
    back = read_healpix_map(path)
    assert back.values.dtype == dtype and np.array_equal(back.values, m)
    assert back.nside == NSIDE and back.cell_ids is None
    assert back.column_names == ("TEMPERATURE", "Q_POLARISATION", "U_POLARISATION")
    assert back.seen.all()


def test_healpy_files_ring_and_nested(tmp_path: Path) -> None:
    m = _maps(3)
    ring = hp.reorder(m, n2r=True)
    hp.write_map(tmp_path / "ring.fits", ring, nest=False, dtype=np.float64, column_units="K")
    hp.write_map(tmp_path / "nest.fits", m, nest=True, dtype=np.float64)
    for name in ("ring.fits", "nest.fits"):
        got = read_healpix_map(tmp_path / name)
        assert np.array_equal(got.values, m), name
    got = read_healpix_map(tmp_path / "ring.fits", field=("u_polarisation", 0))
    assert np.array_equal(got.values, m[[2, 0]])
    assert got.column_names == ("U_POLARISATION", "TEMPERATURE") and got.unit == "K"
    assert read_healpix_map(tmp_path / "nest.fits").unit is None


def test_healpy_idl_rows_of_1024(tmp_path: Path) -> None:
    m = np.random.default_rng(1).standard_normal(12 * 16**2)  # 3072 > 1024: healpy's rows
    hp.write_map(tmp_path / "big.fits", m, nest=True, dtype=np.float64, fits_IDL=True)
    assert fits.getdata(tmp_path / "big.fits", 1).field(0).shape == (3, 1024)
    assert np.array_equal(read_healpix_map(tmp_path / "big.fits").values[0], m)


def test_partial_sky_explicit_both_ways(tmp_path: Path) -> None:
    ids = np.array([700, 3, 64, 5])
    v = np.array([[1.0, 2.0, 3.0, 4.0], [5.0, 6.0, 7.0, 8.0]])
    path = write_healpix_map(tmp_path / "part.fits", v, nside=NSIDE, cell_ids=ids)
    header = fits.getheader(path, 1)
    assert header["INDXSCHM"] == "EXPLICIT" and header["OBJECT"] == "PARTIAL"
    ref = hp.read_map(path, field=None, nest=True)
    order = np.argsort(ids)
    assert np.array_equal(ref[:, ids], v) and np.all(np.delete(ref, ids, axis=1) == UNSEEN)
    got = read_healpix_map(path)
    assert np.array_equal(got.cell_ids, ids[order]) and got.cell_ids.dtype == np.int64
    assert np.array_equal(got.values, v[:, order])
    full = got.full_sky()
    assert np.array_equal(full[:, ids], v) and np.isnan(np.delete(full, ids, axis=1)).all()
    # healpy's partial file, RING: the indices come back NESTED and sorted
    ring_full = np.full(NPIX, UNSEEN)
    ring_full[hp.nest2ring(NSIDE, ids)] = v[0]
    hp.write_map(tmp_path / "hp.fits", ring_full, nest=False, partial=True, dtype=np.float64)
    got = read_healpix_map(tmp_path / "hp.fits")
    assert np.array_equal(got.cell_ids, ids[order]) and np.array_equal(got.values[0], v[0, order])


def test_unseen_and_nan_pixels_stay_a_full_sky(tmp_path: Path) -> None:
    m = _maps(1, np.float32)
    m[0, [3, 10]] = UNSEEN
    m[0, 20] = np.nan
    hp.write_map(tmp_path / "holes.fits", m[0], nest=True, dtype=np.float32)
    got = read_healpix_map(tmp_path / "holes.fits")
    assert got.cell_ids is None and got.values.shape == (1, NPIX)
    assert np.flatnonzero(~got.seen).tolist() == [3, 10, 20]
    assert np.isnan(got.values[0, [3, 10, 20]]).all()
    part = got.seen_cells()
    assert part.cell_ids.size == NPIX - 3 and not np.isnan(part.values).any()
    # NaN is written as UNSEEN, which healpy reads as such
    write_healpix_map(tmp_path / "again.fits", got)
    assert (hp.read_map(tmp_path / "again.fits", nest=True)[[3, 10, 20]] == UNSEEN).all()
    assert np.array_equal(read_healpix_map(tmp_path / "again.fits").seen, got.seen)


def test_npy_maps_and_tensors(tmp_path: Path) -> None:
    m = _maps(2, np.float32)
    write_healpix_map(tmp_path / "m.npy", torch.from_numpy(m))
    got = read_healpix_map(tmp_path / "m.npy", field=1)
    assert np.array_equal(got.values, m[1:]) and got.nside == NSIDE
    np.save(tmp_path / "ring.npy", hp.reorder(m[0], n2r=True))
    got = read_healpix_map(tmp_path / "ring.npy", ordering="RING")
    assert np.array_equal(got.values[0], m[0])
    with pytest.raises(TexsynthError, match="full skies only"):
        write_healpix_map(tmp_path / "p.npy", m[:, :4], nside=NSIDE, cell_ids=np.arange(4))


def test_is_healpix_file(tmp_path: Path) -> None:
    write_healpix_map(tmp_path / "sky.fits", _maps())
    fits.PrimaryHDU(np.zeros((4, 4))).writeto(tmp_path / "image.fits")
    np.save(tmp_path / "sky.npy", _maps()[0])
    np.save(tmp_path / "signal.npy", np.zeros(100))
    (tmp_path / "junk.fits").write_bytes(b"not fits")
    assert is_healpix_file(tmp_path / "sky.fits")
    assert not is_healpix_file(tmp_path / "image.fits")
    assert not is_healpix_file(tmp_path / "junk.fits")
    assert not is_healpix_file(tmp_path / "missing.fits")
    assert not is_healpix_file(tmp_path / "sky.npy")  # only when the caller expects a sky
    assert is_healpix_file(tmp_path / "sky.npy", arrays=True)
    assert not is_healpix_file(tmp_path / "signal.npy", arrays=True)


def test_write_refuses_to_overwrite_and_is_atomic(tmp_path: Path, monkeypatch) -> None:
    path = write_healpix_map(tmp_path / "m.fits", _maps())
    before = path.read_bytes()
    with pytest.raises(TexsynthError, match="overwrite=True"):
        write_healpix_map(path, _maps(seed=1))
    assert path.read_bytes() == before
    write_healpix_map(path, _maps(seed=1), overwrite=True)
    assert np.array_equal(read_healpix_map(path).values, _maps(seed=1))

    def full_disk(fd: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", full_disk)
    with pytest.raises(TexsynthError, match="no space left"):
        write_healpix_map(tmp_path / "new.fits", _maps())
    assert _files(tmp_path) == ["m.fits"]


def test_write_errors(tmp_path: Path) -> None:
    q = tmp_path / "m.fits"
    with pytest.raises(TexsynthError, match="not 12 \\* nside"):
        write_healpix_map(q, np.zeros(100))
    with pytest.raises(TexsynthError, match="nside 16 needs 3072"):
        write_healpix_map(q, _maps(), nside=16)
    with pytest.raises(TexsynthError, match="give nside with cell_ids"):
        write_healpix_map(q, np.zeros(3), cell_ids=[1, 2, 3])
    with pytest.raises(TexsynthError, match="power of two"):
        write_healpix_map(q, np.zeros(3), nside=6, cell_ids=[1, 2, 3])
    with pytest.raises(TexsynthError, match="outside 0 ... 767"):
        write_healpix_map(q, np.zeros(2), nside=NSIDE, cell_ids=[1, 768])
    with pytest.raises(TexsynthError, match="twice"):
        write_healpix_map(q, np.zeros(2), nside=NSIDE, cell_ids=[4, 4])
    bad = _maps()
    bad[0, 0] = np.inf
    with pytest.raises(TexsynthError, match="1 infinite values"):
        write_healpix_map(q, bad)
    with pytest.raises(TexsynthError, match="2 column names for 1 fields"):
        write_healpix_map(q, _maps(), column_names=["A", "B"])
    with pytest.raises(TexsynthError, match="unknown file type '.png'"):
        write_healpix_map(tmp_path / "m.png", _maps())
    assert _files(tmp_path) == []


def test_read_errors(tmp_path: Path) -> None:
    with pytest.raises(TexsynthError, match="file not found"):
        read_healpix_map(tmp_path / "missing.fits")
    (tmp_path / "junk.fits").write_bytes(b"SIMPLE  = garbage" * 10)
    with pytest.raises(TexsynthError, match="cannot read .*junk.fits"):
        read_healpix_map(tmp_path / "junk.fits")
    fits.PrimaryHDU(np.zeros((4, 4))).writeto(tmp_path / "image.fits")
    with pytest.raises(TexsynthError, match="not a HEALPix map.*read_image"):
        read_healpix_map(tmp_path / "image.fits")

    def table(name: str, n: int, **keys: object) -> Path:
        t = fits.BinTableHDU.from_columns([fits.Column(name="T", format="D", array=np.zeros(n))])
        for k, v in {"PIXTYPE": "HEALPIX", "ORDERING": "NESTED", **keys}.items():
            if v is not None:
                t.header[k] = v
        fits.HDUList([fits.PrimaryHDU(), t]).writeto(tmp_path / name)
        return tmp_path / name

    with pytest.raises(TexsynthError, match="NSIDE must be a power of two"):
        read_healpix_map(table("n6.fits", 12 * 36, NSIDE=6))
    with pytest.raises(TexsynthError, match="NSIDE = 8 needs 768 pixels .* holds 700"):
        read_healpix_map(table("short.fits", 700, NSIDE=8))
    with pytest.raises(TexsynthError, match="no ORDERING key; pass ordering="):
        read_healpix_map(table("noorder.fits", NPIX, NSIDE=8, ORDERING=None))
    got = read_healpix_map(tmp_path / "noorder.fits", ordering="NESTED")
    assert got.nside == NSIDE
    with pytest.raises(TexsynthError, match="has 1 fields .*field 3 is out of range"):
        read_healpix_map(tmp_path / "noorder.fits", field=3, ordering="RING")
    with pytest.raises(TexsynthError, match="no column 'Q'; its columns are T"):
        read_healpix_map(tmp_path / "noorder.fits", field="Q", ordering="RING")
    bad = _maps()[0]
    bad[5] = -np.inf
    hp.write_map(tmp_path / "inf.fits", bad, nest=True, dtype=np.float64)
    with pytest.raises(TexsynthError, match="1 infinite values .* UNSEEN"):
        read_healpix_map(tmp_path / "inf.fits")
    np.save(tmp_path / "odd.npy", np.zeros(100))
    with pytest.raises(TexsynthError, match="100 pixels, not 12 \\* nside"):
        read_healpix_map(tmp_path / "odd.npy")


def test_healpix_map_checks_its_fields() -> None:
    with pytest.raises(TexsynthError, match="needs 768"):
        HealpixMap(np.zeros((1, 700)), NSIDE)
    with pytest.raises(TexsynthError, match="sorted and unique"):
        HealpixMap(np.zeros((1, 2)), NSIDE, np.array([5, 2]))
    with pytest.raises(TexsynthError, match="numpy array of floats"):
        HealpixMap(np.zeros((1, NPIX), dtype=np.int64), NSIDE)


# ------------------------------------------------------------------------------- pictures
def test_mollweide_and_gnomonic_images() -> None:
    m = _maps()[0]
    img = mollweide(m, xsize=200)
    assert img.shape == (100, 200)
    yy, xx = np.mgrid[0:100, 0:200]
    ellipse = ((xx + 0.5 - 100) / 100) ** 2 + ((yy + 0.5 - 50) / 50) ** 2
    assert np.isfinite(img[ellipse < 0.95]).all() and np.isnan(img[ellipse > 1.05]).all()
    # as on screen: north at the top, east (longitude 0 ... 180 degrees) on the left
    lon, lat = hp.pix2ang(NSIDE, np.arange(NPIX), nest=True, lonlat=True)
    north = mollweide(np.sign(lat), xsize=200)
    assert (north[:45][np.isfinite(north[:45])] == 1).all()
    assert (north[55:][np.isfinite(north[55:])] == -1).all()
    east = mollweide(np.where(lon < 180, 1.0, -1.0), xsize=200)
    assert np.nanmean(east[:, 5:95]) > 0.9 and np.nanmean(east[:, 105:195]) < -0.9
    zoom = gnomonic(m, rot=(40.0, -30.0), xsize=64)
    assert zoom.shape == (64, 64) and np.isfinite(zoom).all()
    assert zoom[32, 32] == m[hp.ang2pix(NSIDE, 40.0, -30.0, nest=True, lonlat=True)]
    # RING input and partial skies give the same pictures
    assert np.array_equal(mollweide(hp.reorder(m, n2r=True), nest=False, xsize=200), img, True)
    ids = np.arange(0, NPIX, 2)
    part = mollweide(m[ids], cell_ids=ids, nside=NSIDE, xsize=200)
    seen = np.isfinite(part)
    assert np.array_equal(part[seen], img[seen]) and 0.3 < seen.mean() < 0.5
    ring_ids = hp.nest2ring(NSIDE, ids)
    ring_part = mollweide(m[ids], nest=False, cell_ids=ring_ids, nside=NSIDE, xsize=200)
    assert np.array_equal(ring_part, part, equal_nan=True)
    rgb = to_rgb(img)
    assert rgb.shape == (100, 200, 3) and rgb.dtype == np.uint8
    assert (rgb[0, 0] == 255).all() and tuple(rgb[img == np.nanmin(img)][0]) == (68, 1, 84)


def test_view_errors() -> None:
    with pytest.raises(TexsynthError, match="one map"):
        mollweide(_maps(3))
    with pytest.raises(TexsynthError, match="give nside with cell_ids"):
        gnomonic(np.zeros(3), cell_ids=[1, 2, 3])
    with pytest.raises(TexsynthError, match="not 12 \\* nside"):
        mollweide(np.zeros(100))
    with pytest.raises(TexsynthError, match="carries its own nside"):
        mollweide(HealpixMap(_maps(), NSIDE), nside=16)
    with pytest.raises(TexsynthError, match="cmap must be"):
        to_rgb(np.zeros((2, 2)), cmap="jet")


def test_power_spectrum_recovers_synfast_input() -> None:
    nside, lmax = 32, 64
    ell = np.arange(3 * nside)
    cl = np.zeros(3 * nside)
    cl[2:] = 1.0 / (ell[2:] * (ell[2:] + 1.0))
    state = np.random.get_state()  # noqa: NPY002 (synfast draws from the global generator)
    try:
        np.random.seed(3)  # noqa: NPY002
        ring = hp.synfast(cl, nside, lmax=lmax)
    finally:
        np.random.set_state(state)  # noqa: NPY002
    nested = hp.reorder(ring, r2n=True)
    got = angular_power_spectrum(nested, lmax=lmax)
    assert got.shape == (lmax + 1,)
    # within cosmic variance: the estimate of C_ell has a relative std of sqrt(2 / (2 ell + 1))
    ratio = got[2:] / cl[2 : lmax + 1]
    sigma = np.sqrt(2.0 / (2 * ell[2 : lmax + 1] + 1))
    assert np.all(np.abs(ratio - 1) < 5 * sigma)
    assert abs(np.mean((ratio - 1) / sigma)) < 0.5  # no bias across 63 multipoles
    assert np.allclose(got, hp.anafast(ring, lmax=lmax, iter=3))
    both = angular_power_spectrum(np.stack([nested, 2 * nested]), lmax=lmax)
    assert both.shape == (2, lmax + 1) and np.allclose(both[1], 4 * got)
    ells, ex, reals = compare_power_spectra(nested, torch.from_numpy(np.stack([nested] * 2)))
    assert ells[-1] == 3 * nside - 1 and reals.shape == (2, 3 * nside)
    assert np.allclose(reals[0], ex)


def test_contact_sheet_writes_a_png(tmp_path: Path) -> None:
    maps = _maps(3)
    batch = torch.from_numpy(maps[1:, None])  # a synthesis batch [K, C, npix]
    path = healpix_contact_sheet(maps[0], batch, tmp_path / "sheet.png")
    with Image.open(path) as im:
        im.verify()
    with Image.open(path) as im:
        assert im.format == "PNG" and im.width > 900 and im.height > 400
    assert _files(tmp_path) == ["sheet.png"]
    masked = maps[0].copy()
    masked[: NPIX // 2] = np.nan
    healpix_contact_sheet(masked, maps[1:], tmp_path / "sheet.png", gnomonic_centre=(10, 20))
    assert _files(tmp_path) == ["sheet.png"]
    named = healpix_contact_sheet(
        maps[0], maps[1:], tmp_path / "named.png", labels=["synthesis", "Gaussian surrogate"]
    )
    with Image.open(named) as im, Image.open(path) as plain:  # the names are drawn
        assert (
            np.asarray(im.convert("L"))[:44].tolist()
            != np.asarray(plain.convert("L"))[:44].tolist()
        )
    with pytest.raises(TexsynthError, match="2 expected, got 1"):
        healpix_contact_sheet(maps[0], maps[1:], tmp_path / "x.png", labels=["one"])
    assert sorted(_files(tmp_path)) == ["named.png", "sheet.png"]


def test_contact_sheet_leaves_nothing_on_error(tmp_path: Path, monkeypatch) -> None:
    with pytest.raises(TexsynthError, match="different resolutions"):
        healpix_contact_sheet(_maps()[0], np.zeros((2, 12 * 16**2)), tmp_path / "s.png")
    with pytest.raises(TexsynthError, match=".png image"):
        healpix_contact_sheet(_maps()[0], _maps(), tmp_path / "s.jpg")

    def full_disk(fd: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", full_disk)
    with pytest.raises(TexsynthError, match="no space left"):
        healpix_contact_sheet(_maps()[0], _maps(), tmp_path / "s.png")
    assert _files(tmp_path) == []


def test_without_healpy_nested_files_still_read(tmp_path: Path, monkeypatch) -> None:
    m = _maps()
    write_healpix_map(tmp_path / "m.fits", m)
    hp.write_map(tmp_path / "ring.fits", hp.reorder(m[0], n2r=True), dtype=np.float64)
    monkeypatch.setitem(sys.modules, "healpy", None)  # import healpy now fails
    assert np.array_equal(read_healpix_map(tmp_path / "m.fits").values, m)
    with pytest.raises(TexsynthError, match=r"pip install 'texsynth\[healpix\]'"):
        read_healpix_map(tmp_path / "ring.fits")
    with pytest.raises(TexsynthError, match=r"pip install 'texsynth\[healpix\]'"):
        mollweide(m[0])


def test_big_endian_arrays_keep_their_precision(tmp_path: Path) -> None:
    m = _maps(1, np.float32).astype(">f4")
    np.save(tmp_path / "be.npy", m)
    got = read_healpix_map(tmp_path / "be.npy")
    assert got.values.dtype == np.float32 and got.values.dtype.isnative
    assert np.array_equal(got.values, m)
    write_healpix_map(tmp_path / "be.fits", m)
    assert read_healpix_map(tmp_path / "be.fits").values.dtype == np.float32


def test_write_in_ring_ordering_full_and_partial(tmp_path: Path) -> None:
    m = _maps(2, np.float32)
    path = write_healpix_map(tmp_path / "ring.fits", m, ordering="ring")
    assert fits.getheader(path, 1)["ORDERING"] == "RING"
    ref = hp.read_map(path, field=None)  # healpy: RING by default
    assert ref.dtype == np.float32 and np.array_equal(ref, hp.reorder(m, n2r=True))
    back = read_healpix_map(path)
    assert back.file_ordering == "RING" and np.array_equal(back.values, m)
    assert read_healpix_map(write_healpix_map(tmp_path / "n.fits", m)).file_ordering == "NESTED"
    ids = np.array([700, 3, 64, 5])
    v = np.arange(4.0)[None]
    part = write_healpix_map(tmp_path / "p.fits", v, nside=NSIDE, cell_ids=ids, ordering="RING")
    assert fits.getheader(part, 1)["ORDERING"] == "RING"
    ref = hp.read_map(part, nest=True)
    assert np.array_equal(ref[ids], v[0]) and np.all(np.delete(ref, ids) == UNSEEN)
    got = read_healpix_map(part)
    assert np.array_equal(got.cell_ids, np.sort(ids)) and got.file_ordering == "RING"
    assert got.seen_cells().file_ordering == "RING"
    with pytest.raises(TexsynthError, match="ordering must be"):
        write_healpix_map(tmp_path / "bad.fits", m, ordering="galactic")
    assert not (tmp_path / "bad.fits").exists()


def test_the_shipped_skies_are_what_their_script_makes() -> None:
    """``examples/dust_sky.fits`` (the README's sky) is a NESTED nside-64 map that
    ``examples/make_sky.py`` regenerates, positive and strongly skewed."""
    import importlib.util

    root = Path(__file__).resolve().parents[2] / "examples"
    spec = importlib.util.spec_from_file_location("make_sky", root / "make_sky.py")
    assert spec is not None and spec.loader is not None
    make_sky = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(make_sky)
    shipped = read_healpix_map(root / "dust_sky.fits")
    assert shipped.nside == 64 and shipped.file_ordering == "NESTED"
    values = np.asarray(shipped.values[0])
    np.testing.assert_allclose(values, make_sky.dust_sky(), rtol=1e-5)
    assert values.min() > 0 and float(((values - values.mean()) ** 3).mean()) > 0
    qu = read_healpix_map(root / "dust_qu.fits")  # the README's spin-2 example
    assert qu.nside == 32 and qu.column_names == ("I_STOKES", "Q_STOKES", "U_STOKES")
    np.testing.assert_allclose(qu.values, make_sky.dust_polarisation(), rtol=1e-5, atol=1e-7)
    pol = np.hypot(qu.values[1], qu.values[2])  # |Q + iU| = 0.1 I
    np.testing.assert_allclose(pol, 0.1 * qu.values[0], rtol=1e-4)
