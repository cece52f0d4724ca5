"""The contract every texture loss keeps, checked on each one (signals and images).

A loss is built from an exemplar and scores a batch: ``loss(x)`` is ``[B]``, finite and
non-negative, scores each item independently of the others in the batch, has finite
gradients, ranks a new piece of the same texture closer than another texture, ``.at`` rebuilds
it with the same options, and weights compose linearly.

The cases are the loss classes (:data:`LOSSES`, small options, images and signals) and every
method of the registry :data:`texsynth.methods.METHODS`, built by its own factory as the
engine builds it: a newly registered method is checked without being listed here.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch
import torch.nn.functional as F

from tests.helpers import gen
from texsynth.features import RandomFeatures
from texsynth.loss_builder import LossBuilder
from texsynth.losses import (
    GAPLoss,
    GramLoss,
    HistogramLoss,
    HistogramLoss1D,
    ScatteringLoss,
    ScatteringLoss1D,
    SlicedWassersteinLoss,
    SpectrumLoss,
    SpectrumLoss1D,
    TextureLoss,
    item_losses,
)
from texsynth.methods import METHODS, Level


def _texture(ndim: int, seed: int, batch: int = 1, smooth: int = 1) -> torch.Tensor:
    """A periodic random field; ``smooth`` > 1 makes it spatially correlated (another
    texture), with the same mean and spread."""
    size = (512,) if ndim == 1 else (48, 48)
    x = torch.rand(batch, 2, *size, generator=gen(seed), dtype=torch.float64)
    if smooth > 1:
        pad = [smooth // 2] * (2 * ndim)
        pool = F.avg_pool1d if ndim == 1 else F.avg_pool2d
        x = pool(F.pad(x, pad, mode="circular"), smooth, stride=1)
    return (x - x.mean()) / x.std() * 0.29 + 0.5


def _rf() -> RandomFeatures:
    return RandomFeatures((3, 7), n_filters=6)


LOSSES: dict[str, tuple[int, Callable[[torch.Tensor], TextureLoss]]] = {
    "scattering": (2, lambda ex: ScatteringLoss(ex, J=3, L=2)),
    "histogram": (2, lambda ex: HistogramLoss(ex)),
    "spectrum": (2, lambda ex: SpectrumLoss(ex)),
    "gram": (2, lambda ex: GramLoss(ex.float(), extractor=_rf())),
    "gap": (2, lambda ex: GAPLoss(ex.float(), extractor=_rf())),
    "swd": (2, lambda ex: SlicedWassersteinLoss(ex.float(), extractor=_rf(), resample=False)),
    "scattering1d": (1, lambda ex: ScatteringLoss1D(ex, J=5)),
    "histogram1d": (1, lambda ex: HistogramLoss1D(ex)),
    "spectrum1d": (1, lambda ex: SpectrumLoss1D(ex)),
}


def _method(name: str) -> Callable[[torch.Tensor], TextureLoss]:
    """The loss of registered method ``name`` for an exemplar: its factory's term for the
    finest pyramid level, from a builder with random features (no VGG19 weights needed)."""

    def build(ex: torch.Tensor) -> TextureLoss:
        # the builder's own method string does not matter: only METHODS[name].build is called
        builder = LossBuilder(
            "scattering",
            scattering={"L": 2},
            to_image=lambda x: x,
            features="random",
            histogram=0.0,
        )
        level = Level(ex, J=3, in_mask=None, reference=None, edge=False, finest=True)
        loss = METHODS[name].build(builder, level)
        assert loss is not None, f"method {name!r} builds no loss at the finest level"
        return loss

    return build


#: every registered method, read from the registry when the tests are collected
METHOD_LOSSES = {f"method-{name}": (2, _method(name)) for name in METHODS}
CASES = {**LOSSES, **METHOD_LOSSES}


def _dtype(name: str) -> torch.dtype:
    """Feature-network losses run in float32 (as their networks), the others in float64."""
    if name.startswith("method-"):
        return torch.float32 if METHODS[name.removeprefix("method-")].network else torch.float64
    return torch.float32 if name in ("gram", "gap", "swd") else torch.float64


def _rewinder(loss: TextureLoss) -> Callable[[], None]:
    """A function that sets the loss's random generators back to their present states: a
    loss that draws on every call (``swd`` draws fresh directions) is compared with itself
    on the same draws. Nothing to do for a deterministic loss."""
    states = [g.get_state() for g in loss.random_generators()]

    def rewind() -> None:
        for g, s in zip(loss.random_generators(), states, strict=True):
            g.set_state(s)

    return rewind


@pytest.mark.parametrize("name", list(CASES))
def test_every_loss_keeps_the_contract(name: str) -> None:
    ndim, build = CASES[name]
    dt = _dtype(name)
    ex = _texture(ndim, 0).to(dt)
    loss = build(ex)
    assert isinstance(loss, TextureLoss)
    same = _texture(ndim, 1, batch=3).to(dt)
    other = _texture(ndim, 2, batch=3, smooth=7).to(dt)
    rewind = _rewinder(loss)
    a, b = loss(same), loss(other)
    assert a.shape == (3,) and b.shape == (3,)
    assert bool(torch.isfinite(a).all()) and bool((a >= 0).all())
    assert float(a.max()) < float(b.min()), (a, b)  # same texture ranks closer
    # each item is scored on its own: the batch does not leak into it
    rewind()
    torch.testing.assert_close(loss(same[1:2])[0], a[1], rtol=1e-4, atol=1e-6)
    # finite gradients
    x = other[:1].clone().requires_grad_(True)
    loss(x).sum().backward()
    assert x.grad is not None and bool(torch.isfinite(x.grad).all())
    assert float(x.grad.abs().max()) > 0
    # .at rebuilds the same loss; weights compose linearly
    torch.testing.assert_close(loss.at(ex)(same), a, rtol=1e-5, atol=1e-8)
    combo = 2.0 * loss + loss
    rewind()
    first, second = loss(same), loss(same)  # the draws of the two terms (both a if no draws)
    rewind()
    torch.testing.assert_close(combo(same), 2 * first + second, rtol=1e-5, atol=1e-8)


@pytest.mark.parametrize("name", list(CASES))
def test_item_losses_equal_runs_of_one_item_bit_for_bit(name: str) -> None:
    """``item_losses`` gives each item the value and gradient it has alone (what makes
    member k of a synthesised batch equal a run of that member alone); a loss that claims
    ``batch_invariant`` gets it from one batched call."""
    ndim, build = CASES[name]
    dt = _dtype(name)
    loss = 0.5 * build(_texture(ndim, 0).to(dt)) + build(_texture(ndim, 3).to(dt))
    x = _texture(ndim, 1, batch=3).to(dt).requires_grad_(True)
    states: list[list[torch.Tensor]] = [[g.get_state() for g in loss.random_generators()]] * 3
    values = item_losses(loss, x, [list(s) for s in states])
    (grad,) = torch.autograd.grad(values.sum(), x)
    for i in range(3):
        xi = x[i : i + 1].detach().clone().requires_grad_(True)
        for g, s in zip(loss.random_generators(), states[i], strict=True):
            g.set_state(s)
        alone = loss(xi)
        (gi,) = torch.autograd.grad(alone.sum(), xi)
        assert torch.equal(values[i : i + 1], alone.detach())
        assert torch.equal(grad[i : i + 1], gi)
    # batched=True: one call on the whole batch (from the items' common first draws), equal
    # up to rounding
    for g, s in zip(loss.random_generators(), states[0], strict=True):
        g.set_state(s)
    fast = item_losses(loss, x.detach(), [list(s) for s in states], batched=True)
    torch.testing.assert_close(fast, values.detach(), rtol=1e-4, atol=1e-6)
