"""The expansion protocol and its naive baselines (issue 19)."""

from __future__ import annotations

import pytest
import torch

from texsynth.errors import TexsynthError
from texsynth.expander import protocol as p
from texsynth.metrics import ssim


def _big(c: int = 3, side: int = 32, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.rand(1, c, side, side, generator=g)


def test_centre_crop_and_box_odd_sizes() -> None:
    big = torch.arange(11 * 9, dtype=torch.float32).reshape(1, 1, 11, 9)
    inp = p.centre_crop(big)
    assert inp.shape[-2:] == (5, 4)
    y0, x0 = p.centre_box(11, 9, 5, 4)
    assert torch.equal(inp, big[..., y0 : y0 + 5, x0 : x0 + 4])
    m = p.border_mask(11, 9, 5, 4)
    assert int((~m).sum()) == 20 and not m[y0, x0] and m[0, 0]


def test_ssim_map_mean_is_texsynth_ssim() -> None:
    a, b = _big(seed=1), _big(seed=2)
    b = 0.5 * a + 0.5 * b
    assert float(p.ssim_map(a, b).mean()) == pytest.approx(
        float(ssim(a, b, data_range=1.0)), abs=1e-6
    )


def test_expansion_ssim_whole_and_border() -> None:
    big = _big()
    whole, border = p.expansion_ssim(big, big)
    assert whole == pytest.approx(1.0) and border == pytest.approx(1.0)
    out = p.mean_fill(p.centre_crop(big))
    whole, border = p.expansion_ssim(out, big)
    # pasting the input scores on the centre, not on the border
    assert border < whole < 0.9
    assert border < 0.3


@pytest.mark.parametrize("name", ["mean fill", "blur fill", "tiling", "mirror tiling"])
@pytest.mark.parametrize("shape", [(3, 16, 16), (1, 9, 13)])
def test_closed_form_baselines_keep_the_input(name: str, shape: tuple[int, int, int]) -> None:
    inp = torch.rand(1, *shape)
    out = p.BASELINES[name](inp, 2, 0)
    assert out.shape == (1, shape[0], 2 * shape[1], 2 * shape[2])
    assert torch.equal(p.centre_crop(out)[..., : shape[1], : shape[2]], inp)


def test_tiling_is_periodic_and_mirror_is_symmetric() -> None:
    inp = torch.rand(1, 2, 8, 6)
    t = p.tiling(inp)
    assert torch.equal(t[..., :8, :], t[..., 8:, :])
    assert torch.equal(t[..., :, :6], t[..., :, 6:12])
    m = p.mirror_tiling(inp)
    y0, x0 = p.centre_box(16, 12, 8, 6)
    # the row just above the box mirrors the box's first row
    assert torch.equal(m[..., y0 - 1, :], m[..., y0, :])
    assert torch.equal(m[..., :, x0 - 1], m[..., :, x0])


def test_bilinear_is_an_enlargement_not_a_paste() -> None:
    inp = torch.rand(1, 3, 8, 8)
    out = p.enlarge_bilinear(inp)
    assert out.shape == (1, 3, 16, 16)
    assert torch.allclose(out.mean(), inp.mean(), atol=1e-6)
    assert not torch.equal(p.centre_crop(out), inp)


def test_blur_fill_is_smooth_outside() -> None:
    inp = torch.rand(1, 1, 16, 16)
    out = p.blur_fill(inp)
    border = out[0, 0, :6, :]
    assert float(border.std()) < float(inp.std()) / 3


def test_border_tiles_miss_the_input() -> None:
    img = torch.zeros(1, 1, 32, 32)
    img[..., 8:24, 8:24] = 1.0  # the input box
    cells = p.border_tiles(img)
    assert len(cells) == 24
    assert all(c.shape == (1, 8, 8) and float(c.max()) == 0.0 for c in cells)
    with pytest.raises(TexsynthError):
        p.border_tiles(torch.zeros(1, 1, 30, 30))


def test_patch_fill_inpaints_the_border() -> None:
    inp = _big(side=24)
    out = p.patch_fill(inp, 2, 0)
    assert out.shape == (1, 3, 48, 48)
    assert torch.equal(p.centre_crop(out), inp)
    border = out[0][:, p.border_mask(48, 48, 24, 24)]
    # every filled pixel comes from the input's values (patch copies), none is the mean fill
    assert float(border.std()) > 0.5 * float(inp.std())


def test_bad_input_is_one_clear_error() -> None:
    with pytest.raises(TexsynthError, match="scale"):
        p.tiling(torch.rand(1, 1, 4, 4), 0)
    with pytest.raises(TexsynthError, match="floating"):
        p.mean_fill(torch.ones(1, 1, 4, 4, dtype=torch.int64))


@pytest.mark.parametrize("shape", [(3, 24, 24), (1, 20, 18)])
def test_generator_fill_keeps_the_input_and_the_range(shape: tuple[int, int, int]) -> None:
    torch.manual_seed(0)
    inp = torch.rand(1, *shape)
    out = p.generator_fill(inp, 2, 0, steps=2, size=24)  # a tiny budget: seconds
    assert out.shape == (1, shape[0], 2 * shape[1], 2 * shape[2])
    assert torch.equal(p.centre_crop(out)[..., : shape[1], : shape[2]], inp)
    assert float(out.min()) >= 0.0 and float(out.max()) <= 1.0
    border = out[0][:, p.border_mask(2 * shape[1], 2 * shape[2], shape[1], shape[2])]
    assert float(border.std()) > 0.0  # a sample, not a flat fill
    # seeded: the same seed gives the same output
    assert torch.equal(out, p.generator_fill(inp, 2, 0, steps=2, size=24))
    assert "generator fill" in p.GENERATOR_BASELINES
    assert "generator fill" not in p.BASELINES  # not in the cheap default list
