"""The fast path of the HEALPix wavelets: base faces padded from their neighbours and
convolved (texsynth.healpix_faces), against the reference stencil bank."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

hp = pytest.importorskip("healpy")

from texsynth.errors import TexsynthError  # noqa: E402
from texsynth.healpix_faces import (  # noqa: E402
    FacesOperator,
    FacesTranspose,
    faces_apply,
    pad_table,
)
from texsynth.healpix_wavelets import HealpixWaveletBank, stencil_operator  # noqa: E402
from texsynth.stats.healpix import HealpixScatteringCovariance  # noqa: E402

#: healpy's neighbour order (SW, W, NW, N, NE, E, SE, S): +x is NE, -x SW, +y NW, -y SE
STEPS = {(1, 0): 4, (-1, 0): 0, (0, 1): 2, (0, -1): 6}


def _reference(x: torch.Tensor, nside: int) -> torch.Tensor:
    nb, w = stencil_operator(nside, 5, 4)
    return torch.einsum("xpm,lpm->xlp", x.double()[:, nb].to(w.dtype), w)


def _fast(x: torch.Tensor, op: FacesOperator) -> torch.Tensor:
    y = faces_apply(x, op)
    return torch.complex(y[:, :4], y[:, 4:]).to(torch.complex128)


@pytest.mark.parametrize("nside", [4, 8])
def test_pad_table_continues_the_grid_into_the_neighbour_faces(nside: int) -> None:
    R = 3
    table = pad_table(nside, R).numpy()
    f, y, x = np.meshgrid(np.arange(12), np.arange(nside), np.arange(nside), indexing="ij")
    inner = hp.xyf2pix(nside, x.ravel(), y.ravel(), f.ravel(), nest=True)
    assert np.array_equal(table[:, R : R + nside, R : R + nside].ravel(), inner)
    nb = hp.get_all_neighbours(nside, np.arange(12 * nside**2), nest=True).T
    # the first padded ring across each edge is healpy's neighbour in that grid direction
    for (dx, dy), k in STEPS.items():
        xx, yy = x + dx, y + dy
        out = (xx < 0) | (xx >= nside) | (yy < 0) | (yy >= nside)
        padded = table[f[out], R + yy[out], R + xx[out]]
        assert np.array_equal(padded, nb[inner.reshape(x.shape)[out], k])
    # deeper rings, across the edges (not beyond the corners, where three or four faces
    # meet): each position is a HEALPix neighbour of the one before it along its row
    pix = np.arange(12 * nside**2)
    nbs = np.where(nb < 0, pix[:, None], nb)
    rows = table[:, R : R + nside, :]  # (columns beyond both edges included)
    a, b = rows[:, :, 1:].ravel(), rows[:, :, :-1].ravel()
    assert (nbs[a] == b[:, None]).any(1).all()
    cols = table[:, :, R : R + nside]
    a, b = cols[:, 1:, :].ravel(), cols[:, :-1, :].ravel()
    assert (nbs[a] == b[:, None]).any(1).all()


def test_pad_table_needs_a_face_wider_than_the_padding() -> None:
    with pytest.raises(TexsynthError, match="cannot pad"):
        pad_table(2, 2)


@pytest.mark.parametrize("nside", [8, 16])
def test_fast_operator_is_the_reference_at_the_face_centres(nside: int) -> None:
    op = FacesOperator(nside, 5, 4)
    x = torch.randn(2, 12 * nside**2, generator=torch.Generator().manual_seed(1))
    ref, fast = _reference(x, nside), _fast(x, op)
    c = nside // 2
    centres = hp.xyf2pix(nside, [c] * 12, [c] * 12, list(range(12)), nest=True)
    scale = ref.abs().max()
    assert float((fast - ref)[..., centres].abs().max() / scale) < 1e-6
    # elsewhere the shapes differ where the faces are distorted: a stated bound
    rel = float((fast - ref).abs().pow(2).mean().sqrt() / ref.abs().pow(2).mean().sqrt())
    assert 0.05 < rel < 0.35


def test_transpose_is_the_adjoint_and_second_derivatives_work() -> None:
    op = FacesOperator(8, 5, 4).double()
    g = torch.Generator().manual_seed(2)
    x = torch.randn(2, 768, dtype=torch.float64, generator=g, requires_grad=True)
    y = torch.randn(2, 8, 768, dtype=torch.float64, generator=g, requires_grad=True)
    lhs = (faces_apply(x, op) * y).sum()
    rhs = (FacesTranspose.apply(y, op) * x).sum()
    assert torch.allclose(lhs, rhs, rtol=1e-12)
    (gx,) = torch.autograd.grad(lhs, x, create_graph=True)  # A^T y
    assert torch.allclose(gx, FacesTranspose.apply(y, op))
    z = torch.randn(2, 768, dtype=torch.float64, generator=g)
    (gy,) = torch.autograd.grad((gx * z).sum(), y)  # d/dy <A^T y, z> = A z
    assert torch.allclose(gy, faces_apply(z, op))


def test_two_backward_passes_are_bit_identical_on_two_threads() -> None:
    bank = HealpixWaveletBank(16, J=3, L=4, method="faces")
    x = torch.randn(2, 1, 12 * 16**2, generator=torch.Generator().manual_seed(3))

    def grad() -> torch.Tensor:
        t = x.clone().requires_grad_(True)
        layer = bank.first_layer(t)
        loss = sum((m**2).mean() for m in layer.modulus)
        loss = loss + sum(bank.rows(layer, j).abs().pow(2).mean() for j in range(bank.J))
        (out,) = torch.autograd.grad(loss, t)
        return out

    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        first = grad()
        for _ in range(3):
            assert torch.equal(grad(), first)
    finally:
        torch.set_num_threads(threads)


def test_bank_uses_faces_down_to_nside_8_and_the_stencil_below() -> None:
    bank = HealpixWaveletBank(32, J=5, L=4, method="faces")
    assert [op.nside for op in bank.faces] == [32, 16, 8]
    x = torch.randn(1, 1, 12 * 32**2)
    ref = HealpixWaveletBank(32, J=5, L=4, method="stencil")
    for j in (3, 4):  # nside 4 and 2: the reference itself
        xj = bank.downsample(x, j)
        assert torch.equal(bank.transform(xj, j), ref.transform(xj, j))
    with pytest.raises(TexsynthError, match="unknown HEALPix wavelet method"):
        HealpixWaveletBank(32, J=2, method="fft")


def _gaussian_sky(nside: int, seed: int) -> torch.Tensor:
    ell = np.arange(3 * nside)
    cl = np.zeros(3 * nside)
    cl[2:] = ell[2:] ** -1.5
    np.random.seed(seed)  # noqa: NPY002 (synfast draws from numpy's global generator)
    m = hp.reorder(hp.synfast(cl, nside), r2n=True)
    return torch.tensor(m, dtype=torch.float32)[None, None]


def test_statistics_agree_with_the_reference_within_stated_tolerances() -> None:
    from bench_healpix import lognormal_sky

    nside = 32
    J = int(math.log2(nside))
    fast_op = HealpixScatteringCovariance(J=J)  # bank="faces": the default
    ref_op = HealpixScatteringCovariance(J=J, bank="stencil")
    x = _gaussian_sky(nside, 0)
    fast, ref = fast_op(x), ref_op(x)
    for name, tol in (("S1", 0.05), ("S2", 0.10)):  # each coefficient
        a, b = getattr(ref, name), getattr(fast, name)
        assert float(((a - b).abs() / a.abs()).max()) < tol, name
    # orientation-averaged power by scale: within 2 %
    a, b = ref.S2.mean(-1), fast.S2.mean(-1)
    assert float(((a - b).abs() / a).max()) < 0.02
    # a non-Gaussian (lognormal) sky: S3 and S4 as a whole
    y = torch.from_numpy(lognormal_sky(nside)).float()[None, None]
    fast, ref = fast_op(y), ref_op(y)
    for name in ("S1", "S2", "S3", "S4"):
        a, b = getattr(ref, name), getattr(fast, name)
        assert float((a - b).abs().norm() / a.abs().norm()) < 0.12, name


def test_bank_option_of_the_statistics() -> None:
    assert HealpixScatteringCovariance(J=2).bank == "faces"
    assert HealpixScatteringCovariance(J=2, spin=2).bank == "stencil"
    with pytest.raises(TexsynthError, match="unknown HEALPix wavelet bank"):
        HealpixScatteringCovariance(J=2, bank="sparse")
    with pytest.raises(TexsynthError, match="only the stencil bank"):
        HealpixScatteringCovariance(J=2, spin=2, bank="faces")


def test_the_loss_and_the_synthesis_take_the_bank() -> None:
    from texsynth import synthesize_healpix
    from texsynth.losses.healpix import HealpixScatteringLoss

    sky = torch.randn(1, 12 * 8**2)
    loss = HealpixScatteringLoss(sky, J=2, bank="stencil")
    assert loss.sc.bank == "stencil"
    assert loss.at(torch.randn(1, 12 * 8**2)).sc.bank == "stencil"
    assert HealpixScatteringLoss(sky, J=2).sc.bank == "faces"
    with pytest.raises(TexsynthError, match="only the stencil bank"):
        synthesize_healpix(torch.randn(2, 12 * 8**2), spin=2, bank="faces", steps=1)


def test_the_memory_estimate_has_no_stencil_operators_with_faces() -> None:
    from texsynth.synthesis.sky_plan import estimate_healpix_bytes

    npix = 12 * 512**2
    faces = estimate_healpix_bytes(npix, npix, n=1, channels=1, L=4, K=5, bank="faces")
    stencil = estimate_healpix_bytes(npix, npix, n=1, channels=1, L=4, K=5)
    assert faces < 4 * 2**30 < 40 * 2**30 < stencil
