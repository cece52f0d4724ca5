"""texsynth.compat.foscat ``eval(..., spin=2)``: Q/U polarisation maps on HEALPix skies,
computed by ``HealpixScatteringCovariance(spin=2)`` and returned with foscat's axes (one
complex field channel where foscat has an (E, B) pair: docs/foscat-compat.md); ``spin=1``
(U/V vector maps) the same way."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from texsynth import TexsynthError

hp = pytest.importorskip("healpy")

import texsynth.compat.foscat.scat_cov as sc  # noqa: E402
from texsynth.stats.healpix import HealpixScatteringCovariance  # noqa: E402

FIELDS = ("S0", "S1", "S2", "S3", "S4")
SHAPES = Path(__file__).with_name("data") / "foscat_spin_shapes.json"


def _qu(nside: int, seed: int = 0) -> np.ndarray:
    """A Gaussian polarisation sky with E and B (C_ell^BB = C_ell^EE / 2), ``(2, npix)``
    (Q, U) in the nested ordering, healpy's COSMO convention."""
    lmax = 3 * nside - 1
    ell = np.arange(lmax + 1)
    cl = np.zeros(lmax + 1)
    cl[2:] = ell[2:] ** -2.0
    np.random.seed(seed)  # noqa: NPY002 (synalm draws from numpy's global generator)
    e, b = hp.synalm(cl, lmax=lmax), hp.synalm(cl / 2, lmax=lmax)
    _, q, u = hp.alm2map([0 * e, e, b], nside, lmax=lmax)
    return np.stack([hp.reorder(q, r2n=True), hp.reorder(u, r2n=True)]).astype(np.float32)


def _turn(qu: np.ndarray, phi: float) -> np.ndarray:
    """Every polarisation angle turned by ``phi / 2``: ``P = Q + i U -> e^{i phi} P``."""
    c, s = np.cos(phi), np.sin(phi)
    return np.stack([c * qu[0] - s * qu[1], s * qu[0] + c * qu[1]])


def _rel(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).abs().max() / b.abs().max())


# ------------------------------------------------------------------ layout and values
def test_spin2_eval_is_texsynths_spin2_statistics_with_a_field_axis() -> None:
    qu = np.stack([_qu(8, 0), _qu(8, 1)])  # (B, 2, npix)
    op = sc.funct(NORIENT=4)
    got = op.eval(qu, Jmax=3, spin=2)
    ref = HealpixScatteringCovariance(J=3, L=4, K=3, spin=2)(torch.tensor(qu))
    assert got.fields == 1 and got.J == 3 and got.L == 4
    for name in FIELDS:  # [B, N_mask=1, F=1, ...]: texsynth's [B, F, ...] with the mask axis
        assert torch.equal(getattr(got, name), getattr(ref, name)[:, None]), name
    assert tuple(got.S1.shape) == (2, 1, 1, 3, 4) and tuple(got.S0.shape) == (2, 1, 1, 2)
    assert tuple(got.S4.shape) == (2, 1, 1, 10, 4, 4, 4) and got.S3P is None
    one = op.eval(qu[0], Jmax=3, spin=2)  # (2, npix): a batch of one, as foscat
    assert torch.allclose(one.S2[0], got.S2[0], rtol=1e-5)
    # default scales: down to nside 2 (foscat: one more, down to nside 1)
    assert op.eval(qu[0], spin=2).J == 3
    # S0 is texsynth's (mean, std) of the amplitude |Q + i U|
    amp = np.hypot(qu[0, 0], qu[0, 1])
    assert np.allclose(one.S0[0, 0, 0].numpy(), [amp.mean(), amp.std()], rtol=1e-4)
    # two fields (B, 4, npix): two channels on the field axis, each its own statistics
    two = op.eval(np.concatenate([qu[0], qu[1]])[None], Jmax=3, spin=2)
    assert tuple(two.S2.shape) == (1, 1, 2, 3, 4)
    assert torch.allclose(two.S2[0, 0, 1], got.S2[1, 0, 0], rtol=1e-5)


def test_spin2_cross_calc_var_norm_and_scat_cov_methods() -> None:
    a, b = _qu(8, 0), _qu(8, 1)
    op = sc.funct(NORIENT=4)
    cross, sigma = op.eval(a, b, Jmax=2, spin=2, calc_var=True, norm="self")
    ref, ref_sigma = HealpixScatteringCovariance(J=2, L=4, K=3, spin=2)(
        torch.tensor(a)[None], torch.tensor(b)[None], calc_var=True, norm="self"
    )
    for name in (*FIELDS, "S3P"):
        assert torch.equal(getattr(cross, name), getattr(ref, name)[:, None]), name
        assert torch.equal(getattr(sigma, name), getattr(ref_sigma, name)[:, None]), name
    assert not sigma.S3.is_complex() and bool((sigma.S2 > 0).all())
    # norm='auto': the first call's S2 becomes 1, later calls use that reference
    auto = sc.funct(NORIENT=4)
    assert torch.allclose(auto.eval(a, Jmax=2, spin=2, norm="auto").S2, torch.ones(1))
    later = auto.eval(b, Jmax=2, spin=2, norm="auto").S2
    raw_a, raw_b = (auto.eval(x, Jmax=2, spin=2).S2 for x in (a, b))
    assert torch.allclose(later, raw_b / raw_a, rtol=1e-4)
    auto.clean_norm()
    assert torch.allclose(auto.eval(b, Jmax=2, spin=2, norm="auto").S2, torch.ones(1))
    # the field axis survives the scat_cov methods (through texsynth.ScatCov and back)
    s = op.eval(a, Jmax=2, spin=2)
    assert tuple(s.iso_mean().S3.shape) == (1, 1, 1, 3, 4)
    assert tuple(s.fft_ang(nharm=1, imaginary=True).S4.shape) == (1, 1, 1, 4, 4, 4, 3)
    assert tuple((2 * s - s).S2.shape) == (1, 1, 1, 2, 4)
    assert tuple(op.reduce_mean_batch(s).S1.shape) == (1, 1, 1, 2, 4)
    assert s.numpy().fields == 1 and isinstance(s.numpy().S1, np.ndarray)
    assert float(op.reduce_distance(s, s)) == 0.0
    # autograd flows from the statistics to Q and U (torch inputs, as foscat's)
    t = torch.tensor(b, requires_grad=True)
    op.reduce_distance(op.eval(t, Jmax=2, spin=2), s).backward()
    assert t.grad is not None and bool(t.grad.abs().sum(-1).gt(0).all())
    assert float(op.reduce_distance(s, op.eval(b, Jmax=2, spin=2))) > 0.0


def test_spin2_masks_and_partial_skies() -> None:
    nside = 8
    qu = _qu(nside)
    npix = qu.shape[-1]
    op = sc.funct(NORIENT=4)
    masks = np.ones((2, npix), np.float32)
    masks[1, : npix // 2] = 0
    both = op.eval(qu, mask=masks, Jmax=2, spin=2)
    assert tuple(both.S2.shape) == (1, 2, 1, 2, 4)  # one set of statistics per mask
    for k in range(2):  # each mask as texsynth's spin-2 mask (one map shared by Q and U)
        ref = HealpixScatteringCovariance(J=2, L=4, K=3, spin=2)(
            torch.tensor(qu)[None], mask=torch.tensor(masks[k])
        )
        for name in FIELDS:
            assert torch.equal(getattr(both, name)[:, k], getattr(ref, name)), (name, k)
    assert not torch.allclose(both.S2[:, 0], both.S2[:, 1])
    # cell_ids: the values of those pixels only = the full sky with them as the mask
    ids = np.arange(2 * 64, 8 * 64)
    part = op.eval(qu[:, ids], cell_ids=ids, nside=nside, spin=2)
    inside = np.zeros(npix, np.float32)
    inside[ids] = 1
    noisy = qu + 100 * (1 - inside)  # what lies off the cells does not matter
    full = op.eval(noisy, mask=inside[None], Jmax=part.J, spin=2)
    for name in FIELDS:
        assert torch.equal(getattr(part, name), getattr(full, name)), name
    # 384 cells: at most log4(384) - 1 = 3 scales, within nside 8's 3
    assert part.J == 3


@pytest.mark.parametrize("spin", [2, 1])
def test_shapes_match_foscat_but_for_the_field_axis(spin: int) -> None:
    """foscat 2026.6.1's shapes (recorded by data/make_foscat_spin_shapes.py at nside 4):
    every field has foscat's shape except axis 2, foscat's (E, B) pair (S0: its (mean,
    standard error) of Q and U), which is texsynth's field axis of size 1."""
    record = json.loads(SHAPES.read_text())
    assert record["foscat"].startswith("2026.6")
    shapes = record["spins"][str(spin)]
    nside = record["nside"]
    npix = 12 * nside**2
    rng = np.random.default_rng(0)
    qu = rng.standard_normal((3, 2, npix)).astype(np.float32)
    qu2 = rng.standard_normal((3, 2, npix)).astype(np.float32)
    masks = np.ones((2, npix), np.float32)
    masks[1, : npix // 2] = 0
    calls = {
        "one (2, npix) Jmax=2": ((qu[0],), {"Jmax": 2}),
        "batch (3, 2, npix) Jmax=2": ((qu,), {"Jmax": 2}),
        "cross (2, npix) Jmax=2": ((qu[0], qu2[0]), {"Jmax": 2}),
        "masks (2, npix) Jmax=2": ((qu[0],), {"Jmax": 2, "mask": masks}),
        "calc_var Jmax=2": ((qu[0],), {"Jmax": 2, "calc_var": True}),
    }
    for name, (args, kwargs) in calls.items():
        out = sc.funct(NORIENT=4, KERNELSZ=3).eval(*args, spin=spin, **kwargs)
        calc_var = isinstance(out, tuple)
        parts = dict(zip(("stats", "sigma"), out, strict=True)) if calc_var else {"stats": out}
        theirs = shapes[name]
        assert set(parts) == set(theirs), name
        for part, ours in parts.items():
            for field, shape in theirs[part].items():
                got = getattr(ours, field)
                assert (got is None) == (shape is None), (name, part, field)
                if shape is not None:
                    assert shape[2] == 2 and got.shape[2] == 1, (name, field)
                    assert list(got.shape[:2]) + list(got.shape[3:]) == shape[:2] + shape[3:]
    # without Jmax foscat has one scale more (down to nside 1)
    theirs_j = shapes["one (2, npix)"]["stats"]["S1"][3]
    assert theirs_j == sc.funct().eval(qu[0], spin=spin).J + 1
    # foscat's S0 is [[mean Q, mean U], [standard error Q, standard error U]]
    s0 = np.array(shapes["one (2, npix)"]["S0"])[0, 0]
    assert np.allclose(s0[0], shapes["one (2, npix)"]["channel_means"], atol=1e-6)
    assert np.allclose(s0[0], qu[0].mean(-1), atol=1e-6)


# ------------------------------------------------------------------ invariances, conventions
def test_a_global_polarisation_rotation_leaves_s1_s2_s4_and_turns_s3() -> None:
    qu = _qu(8)
    op = sc.funct(NORIENT=4)
    a = op.eval(qu, Jmax=3, spin=2)
    for phi in (0.7, np.pi / 2, 2.0):  # P -> e^{i phi} P mixes E into B
        b = op.eval(_turn(qu, phi), Jmax=3, spin=2)
        for name in ("S0", "S1", "S2", "S4"):
            assert _rel(getattr(b, name), getattr(a, name)) < 1e-5, (name, phi)
        # S3 = <c conj(|c| * psi)>: it turns with c, the only statistic that tells E from B
        assert _rel(b.S3, np.exp(1j * phi) * a.S3) < 1e-5
        assert _rel(b.S3, a.S3) > 0.1


def test_q_u_conventions_behave_as_documented() -> None:
    """The maps are healpy's COSMO Q/U (as foscat's); IAU maps need U negated first. The
    convention cannot be detected from the data, so nothing raises; reading it wrongly
    changes the statistics. Channels in the order (U, Q) are ``i conj(P)``: the IAU reading
    turned by ``pi / 2``."""
    q, u = _qu(8)
    op = sc.funct(NORIENT=4)
    cosmo = op.eval(np.stack([q, u]), Jmax=3, spin=2)
    iau = op.eval(np.stack([q, -u]), Jmax=3, spin=2)
    swapped = op.eval(np.stack([u, q]), Jmax=3, spin=2)
    assert _rel(iau.S2, cosmo.S2) > 0.05 and _rel(iau.S1, cosmo.S1) > 0.02
    for name in ("S0", "S1", "S2", "S4"):
        assert _rel(getattr(swapped, name), getattr(iau, name)) < 1e-5, name
    assert _rel(swapped.S3, 1j * iau.S3) < 1e-5


# ------------------------------------------------------------------ refusals
def test_spin_errors() -> None:
    op = sc.funct()
    qu = _qu(8)
    npix = qu.shape[-1]
    cases = [
        ((qu[0],), dict(spin=2), "Q/U maps \\(2, npix\\) or a batch \\(B, 2, npix\\)"),
        ((np.zeros((3, npix)),), dict(spin=2), "3 channels .*spin=2 maps are \\(Q, U\\) pairs"),
        ((np.zeros((2, 3, npix)),), dict(spin=2), "3 channels"),
        ((np.zeros((2, 1000)),), dict(spin=2), "not 12 \\* nside\\*\\*2"),
        ((qu, qu[:, :-12]), dict(spin=2), "cross statistics need arrays of the same shape"),
        ((qu[0],), dict(spin=1), "U/V maps \\(2, npix\\) or a batch \\(B, 2, npix\\)"),
        ((np.zeros((3, npix)),), dict(spin=1), "spin=1 maps are \\(U, V\\) pairs"),
        ((qu,), dict(spin=3), "spin must be 0 \\(scalar maps\\), 1 .* or 2 .*got 3"),
        ((qu,), dict(spin=-2), "spin must be 0 .* or 2"),
        ((qu,), dict(spin=2.0), "spin must be 0 .* or 2"),
        ((qu,), dict(spin=True), "spin must be 0 .* or 2"),
        ((qu,), dict(spin=2, Jmax=4), "at most J=3"),
        ((qu,), dict(spin=2, mask=np.ones((2, 100))), "mask must have shape \\(N_mask, 768\\)"),
        ((qu,), dict(spin=2, nside=4), "nside=4 has 12"),
        ((qu,), dict(spin=2, out_nside=16), "out_nside=16 is finer"),
        ((qu[:, :200],), dict(spin=2, cell_ids=np.arange(200)), "needs the nside"),
        ((qu[:, :200],), dict(spin=2, cell_ids=np.arange(201), nside=8), "201 pixels"),
        ((qu + 1j,), dict(spin=2), "real-valued"),
    ]
    for args, kwargs, match in cases:
        with pytest.raises(TexsynthError, match=match):
            op.eval(*args, **kwargs)  # type: ignore[arg-type]
    # spin is a HEALPix option
    for geometry, data in ((dict(use_2D=True), (2, 16, 16)), (dict(use_1D=True), (2, 64))):
        with pytest.raises(TexsynthError, match="spin=2 is a HEALPix option"):
            sc.funct(**geometry).eval(np.ones(data), spin=2)  # type: ignore[arg-type]


def test_spin1_eval_is_texsynths_spin1_statistics() -> None:
    """foscat's ``spin=1`` (U/V vector maps, healpy's ``alm2map_spin(..., spin=1)``
    components on ``(e_theta, e_phi)``): texsynth's spin-1 statistics, the same layout."""
    nside = 8
    lmax = 3 * nside - 1
    cl = np.zeros(lmax + 1)
    cl[1:] = np.arange(1, lmax + 1) ** -2.0
    np.random.seed(5)  # noqa: NPY002 (synalm draws from numpy's global generator)
    maps = hp.alm2map_spin([hp.synalm(cl, lmax=lmax), hp.synalm(cl, lmax=lmax)], nside, 1, lmax)
    uv = np.stack([hp.reorder(m, r2n=True) for m in maps]).astype(np.float32)
    op = sc.funct(NORIENT=4)
    got = op.eval(uv, Jmax=3, spin=1)
    ref = HealpixScatteringCovariance(J=3, L=4, K=3, spin=1)(torch.tensor(uv)[None])
    for name in FIELDS:
        assert torch.equal(getattr(got, name), getattr(ref, name)[:, None]), name
    assert got.fields == 1 and tuple(got.S2.shape) == (1, 1, 1, 3, 4)
    assert not torch.allclose(op.eval(uv, Jmax=3, spin=2).S2, got.S2, rtol=1e-3)
    # one 'auto' reference per spin: spin-2 calls do not disturb the spin-1 one
    first = op.eval(uv, Jmax=3, spin=1, norm="auto").S2
    op.eval(uv[::-1].copy(), Jmax=3, spin=2, norm="auto")
    assert torch.allclose(first, torch.ones(1)) and torch.equal(
        op.eval(uv, Jmax=3, spin=1, norm="auto").S2, first
    )
