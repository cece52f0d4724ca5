"""texsynth.compat.foscat on HEALPix maps (foscat's default geometry): ``funct().eval`` on full
and partial (``cell_ids``) nested skies, ``funct().synthesis`` on texsynth's sphere, and the
HEALPix options' errors; shapes checked against foscat itself where it is installed."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

from texsynth import TexsynthError

hp = pytest.importorskip("healpy")

import texsynth.compat.foscat.scat_cov as sc  # noqa: E402
from texsynth.compat.foscat import FoscatCompatWarning  # noqa: E402
from texsynth.compat.foscat.scat_cov import scat_cov  # noqa: E402
from texsynth.stats.healpix import HealpixScatteringCovariance  # noqa: E402

FIELDS = ("S0", "S1", "S2", "S3", "S4")


def _sky(nside: int, seed: int = 0, batch: int | None = None) -> np.ndarray:
    """Lognormal skies of a red spectrum (C_ell ~ ell**-2), nested ordering, standardised:
    ``(npix,)`` or ``(batch, npix)``."""
    lmax = 3 * nside - 1
    cl = np.zeros(lmax + 1)
    cl[1:] = np.arange(1, lmax + 1) ** -2.0
    ell, m = hp.Alm.getlm(lmax)
    rng = np.random.default_rng(seed)
    maps = []
    for _ in range(batch or 1):
        z = rng.standard_normal((2, ell.size))
        alm = np.sqrt(cl[ell] / 2) * (z[0] + 1j * z[1])
        alm[m == 0] = np.sqrt(cl[ell[m == 0]]) * z[0, m == 0]
        g = hp.alm2map(alm, nside, lmax=lmax)
        sky = hp.reorder(np.exp(g / g.std()), r2n=True)
        maps.append((sky - sky.mean()) / sky.std())
    out = np.stack(maps).astype(np.float32)
    return out if batch else out[0]


def _same(a: scat_cov, b: object) -> None:
    for name in FIELDS:
        assert torch.equal(getattr(a, name), getattr(b, name)), name


# ------------------------------------------------------------------ eval: shapes, numbers
def test_default_geometry_is_healpix_with_foscats_batch_conventions() -> None:
    op = sc.funct(NORIENT=4)
    assert op.geometry == "healpix"
    sky = _sky(8, batch=3)
    one = op.eval(sky[0])  # (npix,): a batch of one, as foscat
    many = op.eval(sky)
    J = 3  # down to nside 2: log2(8) scales (foscat: log2(8) + 1)
    assert tuple(one.S0.shape) == (1, 1, 2)
    assert tuple(many.S1.shape) == (3, 1, J, 4) == tuple(many.S2.shape)
    assert tuple(many.S3.shape) == (3, 1, J * (J + 1) // 2, 4, 4)
    assert tuple(many.S4.shape) == (3, 1, J * (J + 1) * (J + 2) // 6, 4, 4, 4)
    assert many.S3.is_complex() and many.S3P is None
    for name in FIELDS:  # (a batched kernel may change the last bits)
        assert torch.allclose(getattr(one, name)[0], getattr(many, name)[0], rtol=1e-5)
    masks = np.ones((2, sky.shape[-1]), np.float32)
    masks[1, : sky.shape[-1] // 2] = 0
    assert tuple(op.eval(sky, mask=masks).S2.shape) == (3, 2, J, 4)
    assert tuple(sc.funct(NORIENT=6).eval(sky[0], Jmax=2).S4.shape) == (1, 1, 4, 6, 6, 6)


def test_eval_is_texsynths_sphere_statistics() -> None:
    sky = _sky(16, batch=2)
    x = torch.tensor(sky)[:, None]
    for K in (3, 5):  # KERNELSZ is the stencil size (foscat's default 3)
        got = sc.funct(NORIENT=4, KERNELSZ=K).eval(sky, Jmax=3)
        _same(got, HealpixScatteringCovariance(J=3, L=4, K=K)(x))
    assert not torch.equal(sc.funct(KERNELSZ=3).eval(sky).S1, sc.funct(KERNELSZ=5).eval(sky).S1)
    other = _sky(16, seed=1, batch=2)
    cross, sigma = sc.funct().eval(sky, other, calc_var=True, norm="self")
    ref, ref_sigma = HealpixScatteringCovariance(L=4, K=3)(
        x, torch.tensor(other)[:, None], calc_var=True, norm="self"
    )
    _same(cross, ref)
    assert torch.equal(cross.S3P, ref.S3P)
    assert torch.equal(sigma.S4, ref_sigma.S4)
    assert tuple(cross.iso_mean().S4.shape) == (2, 1, 20, 4, 4)


def test_norm_auto_caches_until_clean_norm() -> None:
    op = sc.funct()
    a, b = _sky(8, seed=0), _sky(8, seed=1)
    first = op.eval(a, norm="auto")
    assert torch.allclose(first.S2, torch.ones_like(first.S2))
    assert not torch.allclose(op.eval(b, norm="auto").S2, torch.ones_like(first.S2))
    op.clean_norm()
    assert torch.allclose(op.eval(b, norm="auto").S2, torch.ones_like(first.S2))


def test_autograd_flows_through_torch_maps() -> None:
    x = torch.tensor(_sky(8), requires_grad=True)
    sc.funct().eval(x).S2.sum().backward()
    assert x.grad is not None and bool(x.grad.abs().sum() > 0)


def test_nside_out_nside_edge_and_cmat_options() -> None:
    op = sc.funct()
    sky = _sky(8)
    base = op.eval(sky)
    _same(op.eval(sky, nside=8), base)
    # foscat's out_nside only coarsens return_data's per-pixel maps: no effect here either
    _same(op.eval(sky, out_nside=2), base)
    _same(op.eval(sky, edge=False), base)  # a sphere has no edge
    with pytest.warns(FoscatCompatWarning, match="cmat"):
        _same(op.eval(sky, cmat={0: None}), base)


# ------------------------------------------------------------------ eval: partial skies
def test_cell_ids_equal_the_full_sky_with_a_mask() -> None:
    nside = 16
    sky = _sky(nside, batch=2)
    ids = np.arange(4 * nside**2, 8 * nside**2)  # base pixels 4..7 (the equator)
    valid = np.zeros(sky.shape[-1], np.float32)
    valid[ids] = 1
    op = sc.funct()
    part = op.eval(sky[:, ids], cell_ids=ids, nside=nside, Jmax=3)
    _same(part, op.eval(sky, mask=valid[None], Jmax=3))
    # the other pixels play no part, and the user's masks combine with the cells
    noisy = sky.copy()
    noisy[:, valid == 0] = 1e3
    _same(op.eval(noisy, mask=valid[None], Jmax=3), part)
    masks = np.ones((2, ids.size), np.float32)
    masks[1, ::3] = 0.5
    both = op.eval(sky[:, ids], mask=masks, cell_ids=torch.tensor(ids), nside=nside, Jmax=3)
    full_masks = np.zeros((2, sky.shape[-1]), np.float32)
    full_masks[:, ids] = masks
    _same(both, op.eval(sky, mask=full_masks, Jmax=3))
    # default scales with N cells: at most log4(N) - 1, as foscat (1024 cells: 4)
    assert op.eval(sky[:, ids], cell_ids=ids, nside=nside).S1.shape[2] == 4
    few = ids[:256]
    assert op.eval(sky[:, few], cell_ids=few, nside=nside).S1.shape[2] == 3


def test_healpix_errors() -> None:
    op = sc.funct()
    sky = _sky(8)
    npix = sky.size
    ids = np.arange(100, 300)
    cases = [
        (dict(spin=2), "Q/U maps \\(2, npix\\)"),
        (dict(spin=1), "U/V maps \\(2, npix\\)"),
        (dict(nside=4), "nside=4 has 12"),
        (dict(nside=6), "power of two"),
        (dict(out_nside=16), "out_nside=16 is finer"),
        (dict(out_nside=3), "out_nside must be a power of two"),
    ]
    for kwargs, match in cases:
        with pytest.raises(TexsynthError, match=match):
            op.eval(sky, **kwargs)
    with pytest.raises(TexsynthError, match="not 12 \\* nside\\*\\*2"):
        op.eval(np.zeros(1000))
    with pytest.raises(TexsynthError, match="a map \\(npix,\\) or a batch \\(B, npix\\)"):
        op.eval(np.zeros((2, 2, npix)))
    with pytest.raises(TexsynthError, match="needs the nside"):
        op.eval(sky[ids], cell_ids=ids)
    bad_ids = [
        (np.arange(npix - 100, npix + 100), "must lie in \\[0, 768\\)"),
        (np.arange(-1, 199), "must lie in"),
        (ids[::-1].copy(), "sorted and distinct"),
        (np.concatenate([ids[:100], ids[:100]]), "sorted and distinct"),
        (ids.astype(float), "integer"),
        (ids[:-1], "lists 199 pixels but image1 has 200"),
    ]
    for cells, match in bad_ids:
        with pytest.raises(TexsynthError, match=match):
            op.eval(sky[ids], cell_ids=cells, nside=8)
    with pytest.raises(TexsynthError, match="at most J=3"):
        op.eval(sky, Jmax=4)
    with pytest.raises(TexsynthError, match="same shape"):
        op.eval(sky, _sky(16))


def test_shapes_match_foscat() -> None:
    foscat_sc = pytest.importorskip("foscat.scat_cov")
    sky = _sky(8, batch=2)
    ids = np.arange(2 * 64, 6 * 64)
    calls = [
        ((sky,), dict(Jmax=2)),
        ((sky[0], sky[1]), dict(Jmax=2)),
        ((sky,), dict(Jmax=2, mask=np.ones((3, sky.shape[-1]), np.float32))),
        ((sky[:, ids],), dict(cell_ids=ids, nside=8, Jmax=2)),
    ]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for args, kwargs in calls:
            theirs = foscat_sc.funct(NORIENT=4).eval(*args, **kwargs)  # fresh: foscat caches
            ours = sc.funct(NORIENT=4).eval(*args, **kwargs)
            for name in (*FIELDS, "S3P"):
                a, b = getattr(ours, name), getattr(theirs, name)
                assert (a is None) == (b is None), name
                if a is not None:
                    assert tuple(a.shape) == tuple(b.shape), (name, kwargs)


# ------------------------------------------------------------------ synthesis
def test_synthesis_shapes_and_seeds() -> None:
    op = sc.funct(NORIENT=4)
    sky = _sky(8)
    run = dict(nstep=1, NUM_EPOCHS=6, EVAL_FREQUENCY=0)
    a = op.synthesis(sky, seed=3, **run)
    assert a.shape == sky.shape and a.dtype == np.float64
    assert np.array_equal(a, op.synthesis(sky, seed=3, **run))
    assert not np.array_equal(a, op.synthesis(sky, seed=4, **run))
    assert op.synthesis(sky, synthesised_N=2, **run).shape == (2, sky.size)
    assert op.synthesis(_sky(8, batch=2), **run).shape == (1, sky.size)
    assert op.synthesis(sky, n_up=1, **run).shape == (12 * 16**2,)  # nside * 2**n_up
    two = op.synthesis(sky, nstep=2, NUM_EPOCHS=4, EVAL_FREQUENCY=0, Jmax=2)
    assert two.shape == sky.shape
    warm = op.synthesis(sky, input_image=a, **run)
    assert warm.shape == sky.shape
    inm = np.ones_like(sky)
    inm[:100] = 0
    assert op.synthesis(sky, in_mask=inm, **run).shape == sky.shape


def test_synthesis_grd_mask_keeps_pixels() -> None:
    sky = _sky(8)
    grd = np.zeros_like(sky)
    grd[200:400] = 1
    out = sc.funct().synthesis(sky, grd_mask=grd, nstep=1, NUM_EPOCHS=6, EVAL_FREQUENCY=0)
    assert np.array_equal(out[grd == 0], sky[grd == 0].astype(np.float64))
    assert not np.allclose(out[grd == 1], sky[grd == 1])
    # a float64 target (healpy's maps) keeps its pixels to the last bit, though the
    # operator computes in float32; a torch target too
    sky64 = sky.astype(np.float64) + 1e-9 * np.arange(sky.size)  # not float32-representable
    for target in (sky64, torch.tensor(sky64)):
        out = sc.funct().synthesis(target, grd_mask=grd, nstep=1, NUM_EPOCHS=3, EVAL_FREQUENCY=0)
        assert out.dtype == np.float64 and np.array_equal(out[grd == 0], sky64[grd == 0])


def test_synthesis_with_angular_reductions() -> None:
    sky = _sky(8)
    for kwargs in (dict(iso_ang=True), dict(fft_ang=True)):
        out = sc.funct().synthesis(sky, nstep=1, NUM_EPOCHS=4, EVAL_FREQUENCY=0, **kwargs)
        assert out.shape == sky.shape and np.isfinite(out).all()


def test_synthesis_refusals_and_progress(capsys: pytest.CaptureFixture[str]) -> None:
    op = sc.funct()
    sky = _sky(8)
    for kwargs, match in (
        (dict(iso_ang=True, fft_ang=True), "iso_ang and fft_ang"),
        (dict(Jmax=4), "Jmax=4 is more scales than a map of nside 8"),
        (dict(grd_mask=np.ones_like(sky), n_up=1), "grd_mask"),
        (dict(reference=sky, n_up=1), "reference"),
    ):
        with pytest.raises(TexsynthError, match=match):
            op.synthesis(sky, nstep=1, NUM_EPOCHS=2, EVAL_FREQUENCY=0, **kwargs)  # type: ignore[arg-type]
    with pytest.raises(TexsynthError, match="not 12 \\* nside\\*\\*2"):
        op.synthesis(np.zeros(1000), NUM_EPOCHS=2)
    op.synthesis(sky, nstep=1, NUM_EPOCHS=2, EVAL_FREQUENCY=1)
    printed = capsys.readouterr().out
    assert "Synthesis scale [ 768 ]" in printed and "Total computation" in printed
