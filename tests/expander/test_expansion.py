"""``texsynth.expand``: one image enlarged by an expander, any kind of input (issue 19)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

import texsynth
from texsynth.errors import TexsynthError
from texsynth.expander import default_model_path, expansion
from texsynth.expander.model import ExpanderConfig, TransposerExpander, save_expander


@pytest.fixture(scope="module")
def net() -> TransposerExpander:
    torch.manual_seed(0)
    return TransposerExpander(ExpanderConfig(widths=(8, 8, 16), decoder_width=16)).eval()


def test_public_api_tensor_numpy_and_file(net: TransposerExpander, tmp_path: Path) -> None:
    assert "expand" in texsynth.__all__ and texsynth.expand is expansion.expand
    x = torch.rand(3, 20, 24, generator=torch.Generator().manual_seed(1))
    out = texsynth.expand(x, model=net)
    assert out.shape == (1, 3, 40, 48)
    assert torch.equal(out[0], net.expand(x)[0].clamp(0, 1))
    assert torch.allclose(out[0, :, 14:26, 16:32], x[:, 4:16, 4:20])  # input kept in the centre
    arr = (x.permute(1, 2, 0).numpy() * 255).astype(np.uint8)
    got = texsynth.expand(arr, model=net)
    assert isinstance(got, np.ndarray) and got.dtype == np.uint8 and got.shape == (1, 40, 48, 3)
    path = tmp_path / "m.safetensors"
    save_expander(net, path)
    assert torch.equal(texsynth.expand(x, model=path), out)
    four = texsynth.expand(x[:1], model=net, scale=4)  # grey, twice
    assert four.shape == (1, 1, 80, 96)


def test_float_fields_are_mapped_and_back(net: TransposerExpander) -> None:
    x = torch.rand(1, 16, 16, generator=torch.Generator().manual_seed(2))
    field = x * 500 - 200
    out = texsynth.expand(field, model=net)
    lo, hi = float(field.min()), float(field.max())
    ref = texsynth.expand((field - lo) / (hi - lo), model=net)  # in [0, 1]: as it is
    assert torch.allclose(out, ref * (hi - lo) + lo, atol=1e-3)
    assert float(out.min()) >= lo - 1e-3 and float(out.max()) <= hi + 1e-3


def test_seed_leaves_the_callers_random_state(net: TransposerExpander) -> None:
    x = torch.rand(3, 16, 16)
    torch.manual_seed(5)
    a = torch.rand(1)
    torch.manual_seed(5)
    texsynth.expand(x, model=net, seed=9)
    assert torch.equal(torch.rand(1), a)
    assert torch.equal(texsynth.expand(x, model=net, seed=1), texsynth.expand(x, model=net))


def test_memory_estimate_grows_with_the_output_and_refuses(net: TransposerExpander) -> None:
    small = expansion.estimate_expand_bytes(64, 64)
    assert expansion.estimate_expand_bytes(128, 128) > 3 * (small - expansion.OVERHEAD_BYTES)
    assert expansion.estimate_expand_bytes(64, 64, 4) > expansion.estimate_expand_bytes(64, 64)
    assert expansion.estimate_expand_bytes(64, 64, config=net.config) < small
    # measured peak of the default network at 256 px: 180-215 MB (bench_expander_memory.py)
    assert expansion.estimate_expand_bytes(256, 256) > 215e6
    with pytest.raises(TexsynthError, match="needs about .* max_memory="):
        texsynth.expand(torch.rand(3, 64, 64), model=net, max_memory=1 << 20)


@pytest.mark.parametrize(
    ("image", "kw", "match"),
    [
        (torch.rand(3, 6, 20), {}, "at least 8x8"),
        (torch.rand(2, 3, 16, 16), {}, "one .* image"),
        (torch.rand(3, 16, 16), {"scale": 3}, "scale must be 2 or 4"),
        (torch.full((3, 16, 16), float("nan")), {}, "NaN"),
    ],
)
def test_bad_input(net: TransposerExpander, image: torch.Tensor, kw: dict, match: str) -> None:
    with pytest.raises(TexsynthError, match=match):
        texsynth.expand(image, model=net, **kw)


def test_default_model_is_packaged_or_named(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    path = default_model_path()
    assert path.parent == Path(expansion.__file__).resolve().parent / "models"
    monkeypatch.setattr(expansion, "default_model_path", lambda: tmp_path / "x.safetensors")
    with pytest.raises(TexsynthError, match="not installed.*model=") as info:
        texsynth.expand(torch.rand(3, 16, 16))
    assert "--model FILE" in info.value.cli_message()
