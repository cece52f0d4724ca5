"""The stencil operator's deterministic backward pass (texsynth.healpix_stencil)."""

from __future__ import annotations

import pytest
import torch

pytest.importorskip("healpy")

from texsynth.healpix_spin import HealpixSpinWaveletBank  # noqa: E402
from texsynth.healpix_stencil import reader_table, stencil_apply  # noqa: E402
from texsynth.healpix_wavelets import HealpixWaveletBank, stencil_taps  # noqa: E402


def _grad(bank: HealpixWaveletBank, x: torch.Tensor) -> torch.Tensor:
    x = x.clone().requires_grad_(True)
    layer = bank.first_layer(x)
    loss = sum((m**2).mean() for m in layer.modulus)
    loss = loss + sum(bank.rows(layer, j).abs().pow(2).mean() for j in range(bank.J))
    (g,) = torch.autograd.grad(loss, x)
    return g


def test_two_backward_passes_are_bit_identical() -> None:
    # (autograd's scatter-add backward of the gather differs run to run, by about 1e-10 of
    # these gradients, when two threads add into the same pixels)
    torch.manual_seed(0)
    bank = HealpixWaveletBank(16, J=3, L=4)
    x = torch.randn(3, 2, 12 * 16**2)
    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        first = _grad(bank, x)
        for _ in range(4):
            assert torch.equal(_grad(bank, x), first)
    finally:
        torch.set_num_threads(threads)


def test_reader_table_is_the_transpose() -> None:
    nb, taps, readers = stencil_taps(4, 5, 2)
    npix, M = nb.shape
    # every nonzero tap is listed once, under the pixel it reads
    listed = readers[readers < npix * M]
    assert listed.unique().numel() == listed.numel()
    used = (taps != 0).any(-1).reshape(-1).nonzero().squeeze(1)
    assert torch.equal(listed.sort().values, used)
    rows = torch.arange(npix)[:, None].expand_as(readers)[readers < npix * M]
    assert torch.equal(nb.reshape(-1)[listed], rows)
    assert torch.equal(reader_table(nb, taps), readers)


def test_gradcheck_float64_with_second_derivatives() -> None:
    nb, taps, readers = stencil_taps(2, 3, 2)
    taps64 = taps.double()
    x = torch.randn(2, nb.shape[0], dtype=torch.float64, requires_grad=True)

    def f(t: torch.Tensor) -> torch.Tensor:
        return stencil_apply(t, nb, taps64, readers)

    assert torch.autograd.gradcheck(f, (x,))
    assert torch.autograd.gradgradcheck(f, (x,))


def test_matches_the_plain_gather() -> None:
    nb, taps, readers = stencil_taps(8, 5, 4)
    x = torch.randn(2, nb.shape[0], dtype=torch.float64, requires_grad=True)
    y = stencil_apply(x, nb, taps.double(), readers)
    ref = torch.bmm(x[:, nb].transpose(0, 1), taps.double())
    torch.testing.assert_close(y, ref)
    w = torch.randn_like(y)
    (g,) = torch.autograd.grad((y * w).sum(), x)
    (g_ref,) = torch.autograd.grad((ref * w).sum(), x)
    torch.testing.assert_close(g, g_ref)


def test_spin_bank_gradients_are_bit_identical() -> None:
    torch.manual_seed(1)
    bank = HealpixSpinWaveletBank(8, J=2, L=4)
    x = torch.randn(1, 2, 12 * 8**2, dtype=torch.float64)

    def grad() -> torch.Tensor:
        t = x.clone().requires_grad_(True)
        loss = sum(m.pow(2).sum() for m in bank.first_layer(t).modulus)
        (g,) = torch.autograd.grad(loss, t)
        return g

    assert torch.equal(grad(), grad())
    t = x[:, :, :].clone().requires_grad_(True)
    assert torch.autograd.gradcheck(
        lambda u: bank.first_layer(u).coef[1].abs().sum(), (t,), atol=1e-6
    )
