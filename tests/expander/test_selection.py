"""The expander's selection head: a hard choice among shifted copies of the input (issue 19)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from texsynth.errors import TexsynthError
from texsynth.expander.model import (
    ExpanderConfig,
    TransposerExpander,
    load_expander,
    save_expander,
)
from texsynth.expander.selection import box_sum, candidate_copies, candidate_shifts
from texsynth.expander.selfsim import self_similarity
from texsynth.generators.serialization import atomic_save_file


def _select(seed: int = 0, **kw: int) -> TransposerExpander:
    torch.manual_seed(seed)
    cfg = {"candidates": 6, "block": 4, "radius": 2, "grow": 1, "margin": 4, "feather": 0}
    cfg.update(kw)
    return TransposerExpander(ExpanderConfig(head="select", **cfg))  # type: ignore[arg-type]


def test_select_is_the_default_head() -> None:
    assert ExpanderConfig().head == "select"
    with pytest.raises(TexsynthError, match="head"):
        ExpanderConfig(head="blend")
    with pytest.raises(TexsynthError, match="block"):
        ExpanderConfig(block=3)
    with pytest.raises(TexsynthError, match="feather"):
        ExpanderConfig(feather=4)  # the blend reaches the neighbouring blocks only
    with pytest.raises(TexsynthError, match="refine"):
        ExpanderConfig(refine=-1)


@pytest.mark.parametrize("periodic", [False, True])
def test_box_sum_equals_a_direct_window_sum(periodic: bool) -> None:
    t = torch.rand(2, 5, 7, dtype=torch.float64)
    r = 2
    out = box_sum(t, r, periodic)
    for i, j in [(0, 0), (2, 3), (4, 6)]:
        total = 0.0
        for di in range(-r, r + 1):
            for dj in range(-r, r + 1):
                y, x = i + di, j + dj
                if periodic:
                    total += float(t[1, y % 5, x % 7])
                elif 0 <= y < 5 and 0 <= x < 7:
                    total += float(t[1, y, x])
        assert abs(float(out[1, i, j]) - total) < 1e-12


def test_candidates_start_with_zero_and_find_the_period() -> None:
    g = torch.Generator().manual_seed(0)
    tile = torch.rand(1, 3, 8, 8, generator=g)
    x = tile.repeat(1, 1, 4, 4)  # period 8 in both directions, 32 x 32
    shifts = candidate_shifts(self_similarity(x - x.mean()), 5, min_shift=2)
    assert shifts.shape == (1, 5, 2)
    assert shifts[0, 0].tolist() == [0, 0]
    # the best peaks are the lattice of periods (multiples of 8 on the 32-torus)
    assert all(int(v) % 8 == 0 for v in shifts[0, 1:].flatten())
    copies = candidate_copies(x, shifts)
    assert copies.shape == (1, 5, 3, 64, 64)
    # the zero-shift copy holds the input at (H / 2, W / 2)
    assert torch.equal(copies[0, 0, :, 16:48, 16:48], x[0])


@pytest.mark.parametrize("refine", [0, 1])
def test_hard_output_is_made_of_input_pixels(refine: int) -> None:
    m = _select(refine=refine)
    g = torch.Generator().manual_seed(1)
    x = torch.rand(1, 3, 24, 16, generator=g)  # (multiples of 8: no padding)
    out = m.expand(x, keep_input=False)
    assert out.shape == (1, 3, 48, 32)
    colours = x[0].flatten(1).T  # [N, 3], all distinct
    px = out[0].flatten(1).T
    d = torch.cdist(px.double(), colours.double()).min(1).values
    assert float(d.max()) < 1e-6
    # and the input is its own copy in the centre box, even without keep_input
    assert torch.equal(out[..., 12:36, 8:24], x)


@pytest.mark.parametrize("refine", [0, 1])
def test_a_periodic_texture_is_continued_exactly(refine: int) -> None:
    g = torch.Generator().manual_seed(2)
    tile = torch.rand(1, 3, 8, 8, generator=g)
    big = tile.repeat(1, 1, 8, 8)  # 64 x 64, period 8
    x = big[..., 16:48, 16:48]
    out = _select(feather=2, refine=refine).expand(x)
    assert torch.allclose(out, big, atol=1e-5)


def test_feathered_output_keeps_the_input_and_the_range() -> None:
    m = _select(feather=2)
    x = torch.rand(2, 3, 17, 23)  # odd sizes: padded inside
    with torch.no_grad():
        out = m(x)
    assert out.shape == (2, 3, 34, 46)
    box = out[..., 8:25, 11:34]
    assert torch.allclose(box[..., 4:-4, 4:-4], x[..., 4:-4, 4:-4])
    assert float(out.min()) >= 0 and float(out.max()) <= 1
    assert m.expand(torch.rand(1, 12, 10)).shape == (1, 1, 24, 20)


def test_gradients_reach_the_selection_parameters() -> None:
    m = _select(feather=1)
    g = torch.Generator().manual_seed(3)
    target = torch.rand(2, 3, 32, 32, generator=g)
    inp = target[..., 8:24, 8:24]
    m.train()
    out = m(inp, target=target)
    aux = m.aux_loss
    assert aux is not None and float(aux.detach()) > 0
    ((out - target).square().mean() + aux).backward()
    for name, p in m.named_parameters():
        assert p.grad is not None and float(p.grad.abs().sum()) > 0, name
    m.eval()
    m(inp)
    assert m.aux_loss is None  # no target, no oracle


def _jumps(img: torch.Tensor) -> torch.Tensor:
    return (img[..., 1:, :] - img[..., :-1, :]).abs().mean((0, 1, 3))


def test_periodic_mode_tiles() -> None:
    g = torch.Generator().manual_seed(4)
    # a smooth random texture: neighbouring pixels are close, a seam would show
    x = torch.nn.functional.avg_pool2d(torch.rand(1, 3, 36, 36, generator=g), 5, 1)
    m = _select(feather=2)
    out = m.expand(x, periodic=True)
    H, W = out.shape[-2:]
    tiled = out.repeat(1, 1, 2, 2)
    rows, cols = _jumps(tiled), _jumps(tiled.transpose(-1, -2))
    assert float(rows[H - 1]) <= 2 * float(rows[: H - 1].mean())
    assert float(cols[W - 1]) <= 2 * float(cols[: W - 1].mean())
    # the choices wrap around the torus: the periodic output differs from the ordinary one
    assert not torch.allclose(out, m.expand(x, periodic=False))


def test_save_load_round_trip_of_the_new_fields(tmp_path: Path) -> None:
    m = _select(5, candidates=5, margin=3, feather=1, refine=1)
    with torch.no_grad():
        for p in m.parameters():
            p.add_(0.01 * torch.randn_like(p))
    path = tmp_path / "s.safetensors"
    save_expander(m, path)
    back = load_expander(path)
    assert back.config == m.config and back.config.candidates == 5 and back.config.refine == 1
    x = torch.rand(1, 3, 16, 24)
    assert torch.equal(back.expand(x), m.expand(x))


def test_old_files_load_as_the_soft_head_and_newer_ones_are_refused(tmp_path: Path) -> None:
    torch.manual_seed(0)
    soft = TransposerExpander(ExpanderConfig(widths=(8, 8, 16), decoder_width=16, head="soft"))
    raw = json.loads(soft.config.to_json())
    old = {k: v for k, v in raw.items() if k in ("encoder", "widths", "decoder_width", "scale")}
    meta = {"format": "texsynth-expander", "version": "1", "config": json.dumps(old)}
    state = dict(soft.state_dict())
    atomic_save_file(state, tmp_path / "v1.safetensors", meta, what="expander file")
    back = load_expander(tmp_path / "v1.safetensors")
    assert back.config.head == "soft"
    x = torch.rand(1, 3, 16, 16)
    assert torch.equal(back.expand(x), soft.expand(x))
    meta["version"] = "99"
    atomic_save_file(state, tmp_path / "v99.safetensors", meta, what="expander file")
    with pytest.raises(TexsynthError, match="version 99"):
        load_expander(tmp_path / "v99.safetensors")


@pytest.mark.parametrize("periodic", [False, True])
def test_fast_stitching_equals_the_dense_blend(periodic: bool) -> None:
    m = _select(6, feather=2, refine=0, seam=0)  # (refinement, seams: inference only)
    x = torch.rand(1, 3, 24, 32)
    with torch.no_grad():
        fast = m(x, periodic, keep_input=False)  # evaluation: gathers of the chosen copies
    m.train()
    dense = m(x, periodic, keep_input=False)  # training: the blend of all K copies
    assert torch.allclose(fast, dense.detach(), atol=1e-6)


def test_the_shipped_model_loads_and_expands() -> None:
    import texsynth.expander as pkg

    path = Path(pkg.__file__).parent / "models" / "default.safetensors"
    assert path.stat().st_size < 20 * 2**20  # the 20 MB
    m = load_expander(path)
    assert m.config.head == "select"
    x = torch.rand(1, 3, 32, 32)
    out = m.expand(x)
    assert out.shape == (1, 3, 64, 64)
    assert torch.allclose(out[..., 20:44, 20:44], x[..., 4:-4, 4:-4])  # (4 px blend at the edge)
