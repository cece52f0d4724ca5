"""Tests for texsynth.io: round trips for every format and depth, alpha, errors, atomicity."""

from __future__ import annotations

import os
import struct
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest
import tifffile
import torch
from PIL import Image, features

from texsynth.errors import TexsynthError
from texsynth.io import ImageMeta, TexsynthWarning, read_image, write_image

RNG = np.random.default_rng(1234)
H, W = 5, 7


def _u8(shape: tuple[int, ...]) -> np.ndarray:
    a = RNG.integers(0, 256, shape, dtype=np.uint8)
    a.flat[0], a.flat[-1] = 0, 255
    return a


def _u16(shape: tuple[int, ...]) -> np.ndarray:
    a = RNG.integers(0, 65536, shape, dtype=np.uint16)
    a.flat[0], a.flat[-1] = 0, 65535
    return a


def _listing(d: Path) -> list[str]:
    return sorted(os.listdir(d))


def _as_numpy(t: torch.Tensor) -> np.ndarray:
    assert t.dtype == torch.float32
    return t.numpy()


# ----------------------------------------------------------------------------- a reference
# PNG encoder, independent of texsynth.io, using every row filter and optional Adam7.

_ADAM7 = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2),
          (0, 1, 1, 2)]  # fmt: skip


def _paeth(a: int, b: int, c: int) -> int:
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    if pa <= pb and pa <= pc:
        return a
    return b if pb <= pc else c


def _filter_rows(img: np.ndarray, bpp: int) -> bytes:
    """Filter ``[h, w*bpp]`` uint8 rows, cycling through filter types 0..4."""
    out = bytearray()
    prev = [0] * img.shape[1]
    for y, row in enumerate(img.tolist()):
        ftype = y % 5
        out.append(ftype)
        for x, v in enumerate(row):
            a = row[x - bpp] if x >= bpp else 0
            b = prev[x]
            c = prev[x - bpp] if x >= bpp else 0
            pred = [0, a, b, (a + b) // 2, _paeth(a, b, c)][ftype]
            out.append((v - pred) % 256)
        prev = row
    return bytes(out)


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def _write_png16(path: Path, hwc: np.ndarray, colour_type: int, interlace: bool = False) -> None:
    h, w, s = hwc.shape
    raw = hwc.astype(">u2").view(np.uint8).reshape(h, w, 2 * s)
    if interlace:
        data = b"".join(
            _filter_rows(sub.reshape(sub.shape[0], -1), 2 * s)
            for x0, y0, dx, dy in _ADAM7
            if (sub := raw[y0::dy, x0::dx]).size
        )
    else:
        data = _filter_rows(raw.reshape(h, -1), 2 * s)
    ihdr = struct.pack(">IIBBBBB", w, h, 16, colour_type, 0, 0, int(interlace))
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", ihdr)
        + _chunk(b"IDAT", zlib.compress(data)[:10])  # split IDAT over two chunks
        + _chunk(b"IDAT", zlib.compress(data)[10:])
        + _chunk(b"IEND", b"")
    )


# ----------------------------------------------------------------------------- PNG & co


@pytest.mark.parametrize("channels", [1, 3])
def test_png_uint8_round_trip(tmp_path: Path, channels: int) -> None:
    a = _u8((H, W) if channels == 1 else (H, W, 3))
    Image.fromarray(a).save(tmp_path / "a.png")
    img, meta = read_image(tmp_path / "a.png")
    chw = a[None] if channels == 1 else np.moveaxis(a, -1, 0)
    assert img.shape == (channels, H, W)
    np.testing.assert_array_equal(_as_numpy(img), (chw / np.float32(255)).astype(np.float32))
    assert meta == ImageMeta(
        path=str(tmp_path / "a.png"),
        format="png",
        dtype="uint8",
        channels=channels,
        value_range=(0.0, 255.0),
        scaled=True,
        alpha_dropped=False,
    )
    out = write_image(tmp_path / "b.png", img)
    assert out == tmp_path / "b.png"
    np.testing.assert_array_equal(np.asarray(Image.open(out)), a)
    img2, meta2 = read_image(out)
    assert torch.equal(img, img2) and meta2.dtype == "uint8"


def test_png_16bit_grey_exact(tmp_path: Path) -> None:
    a = _u16((H, W))
    a[1, :4] = [1, 256, 257, 65534]
    Image.fromarray(a).save(tmp_path / "g16.png")
    img, meta = read_image(tmp_path / "g16.png")
    assert (meta.dtype, meta.value_range, meta.channels) == ("uint16", (0.0, 65535.0), 1)
    np.testing.assert_array_equal(np.rint(_as_numpy(img)[0] * 65535).astype(np.uint16), a)
    write_image(tmp_path / "w16.png", img, meta)
    with Image.open(tmp_path / "w16.png") as im:
        np.testing.assert_array_equal(np.asarray(im), a)
    img2, meta2 = read_image(tmp_path / "w16.png")
    assert torch.equal(img, img2) and meta2.dtype == "uint16"


@pytest.mark.parametrize("interlace", [False, True])
def test_png_16bit_rgb_exact(tmp_path: Path, interlace: bool) -> None:
    a = _u16((11, 13, 3))  # big enough for all Adam7 passes and every filter type
    _write_png16(tmp_path / "c16.png", a, colour_type=2, interlace=interlace)
    img, meta = read_image(tmp_path / "c16.png")
    assert img.shape == (3, 11, 13)
    assert (meta.dtype, meta.channels, meta.scaled) == ("uint16", 3, True)
    got = np.rint(_as_numpy(img) * 65535).astype(np.uint16)
    np.testing.assert_array_equal(got, np.moveaxis(a, -1, 0))


@pytest.mark.parametrize(("colour_type", "samples"), [(6, 4), (4, 2)])
def test_png_16bit_alpha_dropped_exact(tmp_path: Path, colour_type: int, samples: int) -> None:
    a = _u16((H, W, samples))
    _write_png16(tmp_path / "a16.png", a, colour_type=colour_type)
    with pytest.warns(TexsynthWarning, match="alpha"):
        img, meta = read_image(tmp_path / "a16.png")
    assert meta.alpha_dropped and meta.channels == samples - 1
    got = np.rint(_as_numpy(img) * 65535).astype(np.uint16)
    np.testing.assert_array_equal(got, np.moveaxis(a[..., :-1], -1, 0))


def test_png_16bit_rgb_write_round_trip(tmp_path: Path) -> None:
    a = _u16((3, 17, 9))
    x = torch.from_numpy(a.astype(np.float32) / 65535)
    write_image(tmp_path / "c16.png", x, bit_depth=16)
    head = (tmp_path / "c16.png").read_bytes()[:26]
    assert (head[24], head[25]) == (16, 2)  # 16-bit RGB
    with Image.open(tmp_path / "c16.png") as im:  # a second decoder agrees (8-bit view)
        np.testing.assert_array_equal(np.asarray(im), np.moveaxis(a >> 8, 0, -1))
    img, meta = read_image(tmp_path / "c16.png")
    np.testing.assert_array_equal(np.rint(_as_numpy(img) * 65535).astype(np.uint16), a)
    write_image(tmp_path / "again.png", img, meta)
    assert (tmp_path / "again.png").read_bytes() == (tmp_path / "c16.png").read_bytes()


def test_png_1bit_palette_and_la(tmp_path: Path) -> None:
    bits = RNG.integers(0, 2, (H, W)).astype(bool)
    Image.fromarray(bits).save(tmp_path / "b.png")
    img, meta = read_image(tmp_path / "b.png")
    assert meta.dtype == "bool" and meta.value_range == (0.0, 1.0)
    np.testing.assert_array_equal(_as_numpy(img)[0], bits.astype(np.float32))

    rgb = _u8((H, W, 3))
    Image.fromarray(rgb).quantize(colors=8).save(tmp_path / "p.png")
    img, meta = read_image(tmp_path / "p.png")
    assert img.shape == (3, H, W) and meta.dtype == "uint8" and not meta.alpha_dropped

    Image.fromarray(_u8((H, W, 2)), mode="LA").save(tmp_path / "la.png")
    with pytest.warns(TexsynthWarning, match="alpha"):
        img, meta = read_image(tmp_path / "la.png")
    assert img.shape == (1, H, W) and meta.alpha_dropped


def test_png_rgba_drops_alpha(tmp_path: Path) -> None:
    a = _u8((H, W, 4))
    Image.fromarray(a).save(tmp_path / "rgba.PNG")  # upper-case suffix works too
    with pytest.warns(TexsynthWarning, match="alpha"):
        img, meta = read_image(tmp_path / "rgba.PNG")
    assert img.shape == (3, H, W) and meta.channels == 3 and meta.alpha_dropped
    np.testing.assert_array_equal(np.rint(_as_numpy(img) * 255), np.moveaxis(a[..., :3], -1, 0))


@pytest.mark.parametrize("suffix", [".jpg", ".jpeg"])
def test_jpeg_round_trip_approximate(tmp_path: Path, suffix: str) -> None:
    yy, xx = np.mgrid[0:16, 0:16] / 15.0
    x = torch.from_numpy(np.stack([yy, xx, (yy + xx) / 2]).astype(np.float32))
    write_image(tmp_path / f"c{suffix}", x)
    img, meta = read_image(tmp_path / f"c{suffix}")
    assert meta.format == "jpeg" and meta.dtype == "uint8" and img.shape == (3, 16, 16)
    assert float((img - x).abs().mean()) < 0.02
    write_image(tmp_path / f"g{suffix}", x[:1])
    img, _ = read_image(tmp_path / f"g{suffix}")
    assert img.shape == (1, 16, 16) and float((img - x[:1]).abs().max()) < 0.05


def test_jpeg_exif_orientation_applied(tmp_path: Path) -> None:
    exif = Image.Exif()
    exif[0x0112] = 6  # stored sideways: rotate 90 degrees clockwise to display
    Image.fromarray(_u8((H, W, 3))).save(tmp_path / "r.jpg", exif=exif)
    img, _ = read_image(tmp_path / "r.jpg")
    assert img.shape == (3, W, H)


@pytest.mark.skipif(not features.check("webp"), reason="Pillow built without WebP")
def test_webp_round_trip_lossless(tmp_path: Path) -> None:
    a = _u8((H, W, 3))
    x = torch.from_numpy(np.moveaxis(a, -1, 0) / np.float32(255))
    write_image(tmp_path / "c.webp", x)
    img, meta = read_image(tmp_path / "c.webp")
    assert meta.format == "webp"
    assert torch.equal(img, x)


@pytest.mark.parametrize("channels", [1, 3])
def test_bmp_round_trip(tmp_path: Path, channels: int) -> None:
    x = torch.from_numpy(_u8((channels, H, W)) / np.float32(255))
    write_image(tmp_path / "c.bmp", x)
    img, meta = read_image(tmp_path / "c.bmp")
    assert meta.format == "bmp" and torch.equal(img, x)


# ----------------------------------------------------------------------------- TIFF


@pytest.mark.parametrize("dtype", ["uint8", "uint16", "float32", "float64"])
@pytest.mark.parametrize("channels", [1, 3])
def test_tiff_round_trip(tmp_path: Path, dtype: str, channels: int) -> None:
    shape = (H, W) if channels == 1 else (H, W, 3)
    if dtype == "uint8":
        a, top = _u8(shape), 255
    elif dtype == "uint16":
        a, top = _u16(shape), 65535
    else:
        a, top = (RNG.normal(size=shape) * 100).astype(dtype), None
    tifffile.imwrite(tmp_path / "a.tif", a, photometric="minisblack" if channels == 1 else "rgb")
    img, meta = read_image(tmp_path / "a.tif")
    chw = a[None] if channels == 1 else np.moveaxis(a, -1, 0)
    assert img.shape == (channels, H, W)
    assert (meta.format, meta.dtype, meta.channels) == ("tiff", dtype, channels)
    if top is None:
        assert not meta.scaled
        f32 = chw.astype(np.float32)
        assert meta.value_range == (float(f32.min()), float(f32.max()))
        np.testing.assert_array_equal(_as_numpy(img), chw.astype(np.float32))
    else:
        assert meta.scaled and meta.value_range == (0.0, float(top))
        np.testing.assert_array_equal(np.rint(_as_numpy(img) * top).astype(dtype), chw)
    # write it back with its metadata: the same dtype comes back (float64 -> float32)
    write_image(tmp_path / "b.TIFF", img, meta)
    back = tifffile.imread(tmp_path / "b.TIFF")
    assert back.dtype == (np.float32 if dtype == "float64" else np.dtype(dtype))
    img2, meta2 = read_image(tmp_path / "b.TIFF")
    assert torch.equal(img, img2)


def test_tiff_uint16_meta_round_trip(tmp_path: Path) -> None:
    a = _u16((H, W))
    tifffile.imwrite(tmp_path / "in.tif", a)
    img, meta = read_image(tmp_path / "in.tif")
    write_image(tmp_path / "out.tif", img, meta)
    back = tifffile.imread(tmp_path / "out.tif")
    assert back.dtype == np.uint16
    np.testing.assert_array_equal(back, a)
    _, meta2 = read_image(tmp_path / "out.tif")
    assert meta2.dtype == "uint16"


def test_tiff_defaults_and_overrides(tmp_path: Path) -> None:
    x = torch.rand(3, H, W)
    write_image(tmp_path / "f.tif", x)  # default float32
    back = tifffile.imread(tmp_path / "f.tif")
    assert back.dtype == np.float32 and back.shape == (H, W, 3)
    np.testing.assert_array_equal(np.moveaxis(back, -1, 0), x.numpy())
    write_image(tmp_path / "u8.tif", x, bit_depth=8)
    assert tifffile.imread(tmp_path / "u8.tif").dtype == np.uint8
    _, meta = read_image(tmp_path / "u8.tif")
    write_image(tmp_path / "u16.tif", x, meta, bit_depth=16)  # bit_depth beats meta
    assert tifffile.imread(tmp_path / "u16.tif").dtype == np.uint16


def test_tiff_planar_rgb(tmp_path: Path) -> None:
    a = _u16((3, H, W))
    tifffile.imwrite(tmp_path / "p.tif", a, photometric="rgb", planarconfig="separate")
    img, meta = read_image(tmp_path / "p.tif")
    assert meta.channels == 3
    np.testing.assert_array_equal(np.rint(_as_numpy(img) * 65535).astype(np.uint16), a)


def test_tiff_rgba_drops_alpha(tmp_path: Path) -> None:
    a = _u8((H, W, 4))
    tifffile.imwrite(tmp_path / "a.tif", a)
    with pytest.warns(TexsynthWarning, match="alpha"):
        img, meta = read_image(tmp_path / "a.tif")
    assert img.shape == (3, H, W) and meta.alpha_dropped
    np.testing.assert_array_equal(np.rint(_as_numpy(img) * 255), np.moveaxis(a[..., :3], -1, 0))


def test_tiff_bilevel_miniswhite_matches_pillow(tmp_path: Path) -> None:
    bits = RNG.integers(0, 2, (H, W)).astype(bool)
    tifffile.imwrite(tmp_path / "b.tif", bits)  # tifffile stores bool as MINISWHITE
    img, meta = read_image(tmp_path / "b.tif")
    assert meta.dtype == "bool"
    with Image.open(tmp_path / "b.tif") as im:
        np.testing.assert_array_equal(_as_numpy(img)[0], np.asarray(im).astype(np.float32))


def test_tiff_multipage_is_an_error(tmp_path: Path) -> None:
    tifffile.imwrite(tmp_path / "v.tif", np.zeros((4, H, W), np.float32), photometric="minisblack")
    with pytest.raises(TexsynthError, match="single page"):
        read_image(tmp_path / "v.tif")


# ----------------------------------------------------------------------------- NPY / NPZ


def test_npy_layouts(tmp_path: Path) -> None:
    f2 = RNG.normal(size=(H, W)).astype(np.float32)
    np.save(tmp_path / "a.npy", f2)
    img, meta = read_image(tmp_path / "a.npy")
    assert img.shape == (1, H, W) and meta.format == "npy" and not meta.scaled
    np.testing.assert_array_equal(_as_numpy(img)[0], f2)
    assert meta.value_range == (float(f2.min()), float(f2.max()))

    chw = RNG.normal(size=(3, H, W))  # float64, returned as float32
    np.save(tmp_path / "b.npy", chw)
    img, meta = read_image(tmp_path / "b.npy")
    assert meta.dtype == "float64"
    np.testing.assert_array_equal(_as_numpy(img), chw.astype(np.float32))

    hwc = RNG.normal(size=(H, W, 3)).astype(np.float32)
    np.save(tmp_path / "c.npy", hwc)
    img, _ = read_image(tmp_path / "c.npy")
    np.testing.assert_array_equal(_as_numpy(img), np.moveaxis(hwc, -1, 0))

    np.save(tmp_path / "d.npy", np.zeros((H, W, 4), np.float32))
    with pytest.warns(TexsynthWarning, match="alpha"):
        img, _ = read_image(tmp_path / "d.npy")
    assert img.shape == (3, H, W)

    np.save(tmp_path / "e.npy", _u16((H, W)).astype(">u2"))  # big-endian ints are scaled
    img, meta = read_image(tmp_path / "e.npy")
    assert meta.dtype == "uint16" and meta.scaled


def test_npy_write_round_trip(tmp_path: Path) -> None:
    x = torch.randn(3, H, W)
    write_image(tmp_path / "x.npy", x)
    arr = np.load(tmp_path / "x.npy")
    assert arr.dtype == np.float32 and arr.shape == (3, H, W)
    img, meta = read_image(tmp_path / "x.npy")
    assert torch.equal(img, x)
    write_image(tmp_path / "g.npy", x[:1])
    assert np.load(tmp_path / "g.npy").shape == (H, W)
    write_image(tmp_path / "u.npy", x.clamp(0, 1), bit_depth=16)
    assert np.load(tmp_path / "u.npy").dtype == np.uint16


def test_npz(tmp_path: Path) -> None:
    a = RNG.normal(size=(H, W)).astype(np.float32)
    np.savez(tmp_path / "one.npz", whatever=a)
    np.savez(tmp_path / "img.npz", image=a, mask=np.ones((H, W)))
    np.savez(tmp_path / "fld.npz", field=a, other=np.ones(3))
    for name in ("one", "img", "fld"):
        img, meta = read_image(tmp_path / f"{name}.npz")
        assert meta.format == "npz"
        np.testing.assert_array_equal(_as_numpy(img)[0], a)
    np.savez(tmp_path / "many.npz", a=a, b=a)
    with pytest.raises(TexsynthError, match="keys: a, b"):
        read_image(tmp_path / "many.npz")
    x = torch.rand(3, H, W)
    write_image(tmp_path / "w.npz", x)
    assert list(np.load(tmp_path / "w.npz").keys()) == ["image"]
    assert torch.equal(read_image(tmp_path / "w.npz")[0], x)


# ----------------------------------------------------------------------------- FITS


def test_fits_big_endian_round_trip(tmp_path: Path) -> None:
    from astropy.io import fits

    a = RNG.normal(size=(H, W)).astype(">f4")
    fits.PrimaryHDU(a).writeto(tmp_path / "a.fits")
    with fits.open(tmp_path / "a.fits") as hdul:
        assert hdul[0].data.dtype.byteorder == ">"  # astropy hands back big-endian data
    img, meta = read_image(tmp_path / "a.fits")
    assert (meta.format, meta.dtype, meta.scaled) == ("fits", "float32", False)
    assert img.dtype == torch.float32 and img.shape == (1, H, W)
    np.testing.assert_array_equal(_as_numpy(img)[0], a.astype("<f4"))
    assert float((img * 2).sum()) == pytest.approx(float(a.astype(np.float64).sum() * 2), 1e-4)

    write_image(tmp_path / "b.fit", img, meta)
    img2, meta2 = read_image(tmp_path / "b.fit")
    assert torch.equal(img, img2) and meta2.dtype == "float32"


def test_fits_cube_extension_and_uint16(tmp_path: Path) -> None:
    from astropy.io import fits

    cube = RNG.normal(size=(3, H, W)).astype(np.float32)
    fits.HDUList([fits.PrimaryHDU(), fits.ImageHDU(cube)]).writeto(tmp_path / "c.fts")
    img, meta = read_image(tmp_path / "c.fts")
    assert meta.channels == 3
    np.testing.assert_array_equal(_as_numpy(img), cube)

    a = _u16((H, W))
    fits.PrimaryHDU(a).writeto(tmp_path / "u.fits")
    img, meta = read_image(tmp_path / "u.fits")
    assert meta.dtype == "uint16" and meta.scaled
    write_image(tmp_path / "v.fits", img, meta)
    back = fits.getdata(tmp_path / "v.fits")
    assert back.dtype == np.uint16
    np.testing.assert_array_equal(back, a)


def test_fits_without_astropy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "a.fits").write_bytes(b"SIMPLE  =                    T")
    for name in ("astropy", "astropy.io", "astropy.io.fits"):
        monkeypatch.setitem(sys.modules, name, None)
    with pytest.raises(TexsynthError, match=r"pip install 'texsynth\[fits\]'"):
        read_image(tmp_path / "a.fits")
    with pytest.raises(TexsynthError, match="needs astropy"):
        write_image(tmp_path / "b.fits", torch.zeros(H, W))
    assert _listing(tmp_path) == ["a.fits"]


def test_fits_no_image(tmp_path: Path) -> None:
    from astropy.io import fits

    fits.PrimaryHDU(np.zeros(5, np.float32)).writeto(tmp_path / "a.fits")
    with pytest.raises(TexsynthError, match="no 2-D or 3-D image HDU"):
        read_image(tmp_path / "a.fits")


# ----------------------------------------------------------------------------- read errors


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(TexsynthError, match="file not found.*nope.png"):
        read_image(tmp_path / "nope.png")


def test_unknown_suffix(tmp_path: Path) -> None:
    (tmp_path / "a.gif").write_bytes(b"GIF89a")
    with pytest.raises(TexsynthError, match=r"unknown file type '\.gif'.*\.png.*\.fits"):
        read_image(tmp_path / "a.gif")
    with pytest.raises(TexsynthError, match="unknown file type"):
        write_image(tmp_path / "b.gif", torch.zeros(H, W))


@pytest.mark.parametrize("suffix", [".png", ".jpg", ".tif", ".npy", ".npz", ".fits"])
def test_empty_and_corrupt_files(tmp_path: Path, suffix: str) -> None:
    (tmp_path / f"empty{suffix}").touch()
    with pytest.raises(TexsynthError, match=r"empty \(0 bytes\)"):
        read_image(tmp_path / f"empty{suffix}")
    (tmp_path / f"junk{suffix}").write_bytes(b"this is not an image at all" * 40)
    with pytest.raises(TexsynthError, match=f"cannot read .*junk{suffix}") as info:
        read_image(tmp_path / f"junk{suffix}")
    assert "\n" not in str(info.value)


def test_truncated_png16(tmp_path: Path) -> None:
    _write_png16(tmp_path / "c16.png", _u16((H, W, 3)), colour_type=2)
    data = (tmp_path / "c16.png").read_bytes()
    (tmp_path / "t.png").write_bytes(data[:-30])
    with pytest.raises(TexsynthError, match="cannot read 16-bit colour PNG"):
        read_image(tmp_path / "t.png")
    bad = bytearray(data)
    bad[40] ^= 0xFF  # inside the first IDAT chunk: CRC error
    (tmp_path / "crc.png").write_bytes(bytes(bad))
    with pytest.raises(TexsynthError, match="cannot read 16-bit colour PNG .* corrupt"):
        read_image(tmp_path / "crc.png")


def test_directory_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "d.png").mkdir()
    with pytest.raises(TexsynthError, match="is a directory"):
        read_image(tmp_path / "d.png")
    with pytest.raises(TexsynthError, match="is a directory"):
        write_image(tmp_path / "d.png", torch.zeros(H, W))


@pytest.mark.parametrize(
    ("shape", "message"),
    [
        ((0, W), "empty array"),
        ((3, 0, W), "empty array"),
        ((7,), "1-D array"),
        ((2, 3, H, W), "4-D array"),
        ((6, H, W), "6 channels"),
        ((H, W, 1), "channels-last"),
    ],
)
def test_bad_npy_shapes(tmp_path: Path, shape: tuple[int, ...], message: str) -> None:
    np.save(tmp_path / "a.npy", np.zeros(shape, np.float32))
    with pytest.raises(TexsynthError, match=message):
        read_image(tmp_path / "a.npy")


def test_bad_npy_dtype(tmp_path: Path) -> None:
    np.save(tmp_path / "c.npy", np.zeros((H, W), np.complex64))
    with pytest.raises(TexsynthError, match="complex64"):
        read_image(tmp_path / "c.npy")
    np.save(tmp_path / "o.npy", np.array([[None]], dtype=object), allow_pickle=True)
    with pytest.raises(TexsynthError, match="cannot read"):
        read_image(tmp_path / "o.npy")


def test_nonfinite(tmp_path: Path) -> None:
    a = np.arange(H * W, dtype=np.float32).reshape(H, W)
    a[0, 0] = np.nan
    a[1, 1] = np.inf
    a[2, 2] = np.nan
    np.save(tmp_path / "a.npy", a)
    with pytest.raises(TexsynthError, match=r"3 non-finite values \(2 NaN, 1 Inf\).*allow_nonfin"):
        read_image(tmp_path / "a.npy")
    img, meta = read_image(tmp_path / "a.npy", allow_nonfinite=True)
    assert int(torch.isnan(img).sum()) == 2
    assert meta.value_range == (1.0, float(H * W - 1))
    np.save(tmp_path / "b.npy", np.array([[1e300, 0.0]]))  # beyond float32: becomes Inf
    with pytest.raises(TexsynthError, match="1 non-finite"):
        read_image(tmp_path / "b.npy")


# ----------------------------------------------------------------------------- write errors


def test_write_float_or_16bit_into_8bit_formats_fails_cleanly(tmp_path: Path) -> None:
    np.save(tmp_path / "f.npy", np.ones((H, W), np.float32))
    _, float_meta = read_image(tmp_path / "f.npy")
    before = _listing(tmp_path)
    x = torch.rand(3, H, W)
    with pytest.raises(TexsynthError, match=r"PNG cannot hold float32.*\.tif"):
        write_image(tmp_path / "a.png", x, bit_depth=32)
    with pytest.raises(TexsynthError, match=r"JPEG cannot hold float32.*\.npy"):
        write_image(tmp_path / "a.jpg", x, float_meta)
    with pytest.raises(TexsynthError, match="8-bit data only"):
        write_image(tmp_path / "a.jpg", x, bit_depth=16)
    with pytest.raises(TexsynthError, match="use 8, 16 or 32"):
        write_image(tmp_path / "a.tif", x, bit_depth=12)
    assert _listing(tmp_path) == before


@pytest.mark.parametrize("suffix", [".png", ".tif", ".npy", ".fits"])
def test_write_nonfinite_fails_cleanly(tmp_path: Path, suffix: str) -> None:
    x = torch.rand(1, H, W)
    x[0, 0, 0] = float("nan")
    with pytest.raises(TexsynthError, match=r"1 non-finite values \(1 NaN"):
        write_image(tmp_path / f"a{suffix}", x)
    assert _listing(tmp_path) == []


def test_write_bad_inputs(tmp_path: Path) -> None:
    with pytest.raises(TexsynthError, match="channels first"):
        write_image(tmp_path / "a.png", torch.zeros(H, W, 3))
    with pytest.raises(TexsynthError, match="channels first"):
        write_image(tmp_path / "a.png", torch.zeros(2, 3, H, W))
    with pytest.raises(TexsynthError, match="torch.Tensor or numpy.ndarray"):
        write_image(tmp_path / "a.png", [[0.0]])
    with pytest.raises(TexsynthError, match="does not exist"):
        write_image(tmp_path / "missing" / "a.png", torch.zeros(H, W))
    assert _listing(tmp_path) == []


def test_write_accepts_batch_and_integer_input(tmp_path: Path) -> None:
    x = torch.rand(1, 3, H, W)
    write_image(tmp_path / "a.npy", x)
    assert np.load(tmp_path / "a.npy").shape == (3, H, W)
    a = _u8((H, W))
    write_image(tmp_path / "u.png", a)  # uint8 input: written unchanged
    np.testing.assert_array_equal(np.asarray(Image.open(tmp_path / "u.png")), a)


def test_write_clips_to_unit_range(tmp_path: Path) -> None:
    x = torch.tensor([[-0.5, 0.0, 0.5, 1.0, 2.0]])
    write_image(tmp_path / "c.png", x)
    got = np.asarray(Image.open(tmp_path / "c.png"))
    np.testing.assert_array_equal(got, [[0, 0, 128, 255, 255]])


def test_failed_write_keeps_old_file_and_leaves_no_temp(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "a.npy"
    write_image(target, torch.ones(H, W))
    old = target.read_bytes()

    def broken_save(f: object, arr: np.ndarray, **kwargs: object) -> None:
        f.write(b"partial")  # type: ignore[attr-defined]
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(np, "save", broken_save)
    with pytest.raises(TexsynthError, match="no space left on the disk"):
        write_image(target, torch.zeros(H, W))
    assert _listing(tmp_path) == ["a.npy"]
    assert target.read_bytes() == old


def test_write_replaces_atomically_with_visible_temp_suffix(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[str] = []
    real_replace = os.replace

    def spy(src: str, dst: str) -> None:
        seen.append(Path(src).name)
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", spy)
    write_image(tmp_path / "out.png", torch.rand(3, H, W))
    assert len(seen) == 1 and seen[0].startswith(".out.tmp-") and seen[0].endswith(".png")
    assert _listing(tmp_path) == ["out.png"]
