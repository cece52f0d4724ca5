"""InceptionV3Features: torchvision key names, loading, validation, shapes, frozen weights."""

from __future__ import annotations

import pytest
import torch

from texsynth.errors import TexsynthError
from texsynth.features.inception import INCEPTION_LAYERS, InceptionV3Features


@pytest.fixture(scope="module")
def model() -> InceptionV3Features:
    torch.manual_seed(0)
    m = InceptionV3Features()
    with torch.no_grad():  # non-trivial batch-norm statistics, so loading them matters
        for mod in m.modules():
            if isinstance(mod, torch.nn.BatchNorm2d):
                mod.running_mean.uniform_(-0.1, 0.1)
                mod.running_var.uniform_(0.5, 1.5)
                mod.weight.uniform_(0.5, 1.5)
                mod.bias.uniform_(-0.1, 0.1)
    return m


@pytest.fixture(scope="module")
def state(model: InceptionV3Features) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in model.state_dict().items()}


def test_torchvision_key_names(state: dict[str, torch.Tensor]) -> None:
    assert state["Conv2d_1a_3x3.conv.weight"].shape == (32, 3, 3, 3)
    assert state["Conv2d_1a_3x3.bn.running_mean"].shape == (32,)
    assert state["Mixed_5b.branch1x1.conv.weight"].shape == (64, 192, 1, 1)
    assert state["Mixed_6e.branch7x7dbl_5.conv.weight"].shape == (192, 192, 1, 7)
    assert state["Mixed_7c.branch3x3dbl_3b.conv.weight"].shape == (384, 384, 3, 1)
    assert state["Mixed_7c.branch_pool.conv.weight"].shape == (192, 2048, 1, 1)
    assert not any(k.startswith(("AuxLogits.", "fc.")) for k in state)


def test_from_file_roundtrip_ignores_heads_and_shapes(
    model: InceptionV3Features, state: dict[str, torch.Tensor], tmp_path
) -> None:
    full = dict(state)
    full["AuxLogits.conv0.conv.weight"] = torch.zeros(128, 768, 1, 1)
    full["AuxLogits.fc.weight"] = torch.zeros(1000, 768)
    full["fc.weight"] = torch.zeros(1000, 2048)
    full["fc.bias"] = torch.zeros(1000)
    path = tmp_path / "inception_v3.pth"
    torch.save(full, path)
    loaded = InceptionV3Features.from_file(path)
    x = torch.rand(2, 3, 75, 75, generator=torch.Generator().manual_seed(1))
    a = model(x, list(INCEPTION_LAYERS))
    b = loaded(x, list(INCEPTION_LAYERS))
    shapes = {"pool1": (64, 73, 73), "mixed_5d": (288, 35, 35), "mixed_6e": (768, 17, 17)}
    shapes["pool3"] = (2048, 1, 1)
    for name in INCEPTION_LAYERS:
        assert a[name].shape == (2, *shapes[name])
        assert loaded.channels(name) == shapes[name][0]
        torch.testing.assert_close(a[name], b[name], rtol=0, atol=0)
    assert torch.isfinite(b["pool3"]).all()


def test_bad_state_dicts_raise_one_line(state: dict[str, torch.Tensor], tmp_path) -> None:
    missing = {k: v for k, v in state.items() if not k.startswith("Mixed_7c.branch_pool.")}
    with pytest.raises(TexsynthError, match=r"missing Mixed_7c\.branch_pool") as info:
        InceptionV3Features(missing)
    assert "\n" not in str(info.value)
    wrong = dict(state)
    wrong["Mixed_5b.branch1x1.conv.weight"] = torch.zeros(64, 191, 1, 1)
    path = tmp_path / "wrong.pth"
    torch.save(wrong, path)
    with pytest.raises(TexsynthError, match=r"Mixed_5b\.branch1x1\.conv\.weight has shape") as info:
        InceptionV3Features.from_file(path)
    assert "\n" not in str(info.value)
    with pytest.raises(TexsynthError, match="not found"):
        InceptionV3Features.from_file(tmp_path / "absent.pth")
    with pytest.raises(TexsynthError, match="unknown InceptionV3 layer"):
        InceptionV3Features._check_layers(InceptionV3Features, ["conv1"])  # type: ignore[arg-type]


def test_frozen_but_differentiable_and_grey(model: InceptionV3Features) -> None:
    model.train()
    assert not model.training and not any(p.requires_grad for p in model.parameters())
    x = torch.rand(1, 1, 64, 64, requires_grad=True)
    out = model(x, "mixed_5d")["mixed_5d"]
    assert out.shape == (1, 288, 35, 35)
    out.square().mean().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    assert all(p.grad is None for p in model.parameters())
