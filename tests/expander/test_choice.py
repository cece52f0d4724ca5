"""The selection head's choice at inference: no tiling in the border, the continuation bonus."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from texsynth.errors import TexsynthError
from texsynth.expander.model import ExpanderConfig, TransposerExpander, load_expander
from texsynth.generators.serialization import atomic_save_file


def _select(seed: int = 0, **kw: object) -> TransposerExpander:
    torch.manual_seed(seed)
    cfg: dict[str, object] = {
        "candidates": 6,
        "block": 4,
        "radius": 2,
        "grow": 1,
        "margin": 4,
        "feather": 0,
        "seam": 0,
    }
    cfg.update(kw)
    return TransposerExpander(ExpanderConfig(head="select", **cfg))  # type: ignore[arg-type]


def _tileable(n: int = 32, seed: int = 0) -> torch.Tensor:
    """``[1, 3, n, n]`` smooth random texture that tiles (low-pass filtered noise on a torus):
    the zero-shift copy continues it without a seam, so a tiling is its best continuation."""
    g = torch.Generator().manual_seed(seed)
    f = torch.fft.fftfreq(n)
    low = ((f[:, None] ** 2 + f[None, :] ** 2) < 0.15**2).to(torch.float32)
    x = torch.fft.ifft2(torch.fft.fft2(torch.rand(1, 3, n, n, generator=g)) * low).real
    lo, hi = x.amin((-2, -1), keepdim=True), x.amax((-2, -1), keepdim=True)
    return (x - lo) / (hi - lo)


def _tiled_share(out: torch.Tensor, x: torch.Tensor) -> float:
    """Share of the border pixels (farther than one block from the input's box) equal to the
    tiling of ``x`` (its circular copy around the centre box)."""
    n = x.shape[-1]
    tiling = torch.roll(x.repeat(1, 1, 2, 2), shifts=(n // 2, n // 2), dims=(-2, -1))
    same = (out - tiling).abs().amax(1)[0] == 0
    far = torch.ones(2 * n, 2 * n, dtype=torch.bool)
    far[n // 2 - 4 : 3 * n // 2 + 4, n // 2 - 4 : 3 * n // 2 + 4] = False
    return float(same[far].float().mean())


@pytest.mark.parametrize("periodic", [False, True])
def test_without_border_zero_the_border_is_no_tiling(periodic: bool) -> None:
    torch.manual_seed(1)
    for seed in range(3):
        x = _tileable(seed=seed)
        # (12 candidates: some other copy is valid at every block; with fewer, the zero-shift
        # copy is the last resort where none is)
        tiles = _select(border_zero=True, candidates=12).expand(x, periodic, keep_input=False)
        assert _tiled_share(tiles, x) > 0.5  # (the old choice: mostly the input's tiling)
        out = _select(border_zero=False, candidates=12).expand(x, periodic, keep_input=False)
        assert _tiled_share(out, x) == 0.0
        # still: every output pixel an input pixel, the input itself in the centre box
        vals = {tuple(v) for v in x[0].flatten(1).T.tolist()}
        assert all(tuple(v) in vals for v in out[0].flatten(1).T.tolist())
        assert torch.equal(out[..., 16:48, 16:48], x)


def _breaks(out: torch.Tensor, x: torch.Tensor) -> int:
    """How many horizontally and vertically neighbouring output pixels do not come from
    neighbouring input pixels (``x``'s colours all distinct, ``feather = 0``): the seams'
    length."""
    H, W = x.shape[-2:]
    key = {tuple(v): i for i, v in enumerate(x[0].flatten(1).T.tolist())}
    idx = torch.tensor([key[tuple(v)] for v in out[0].flatten(1).T.tolist()])
    idx = idx.view(out.shape[-2:])
    sy, sx = idx // W, idx % W
    right = (sy[:, 1:] != sy[:, :-1]) | (sx[:, 1:] != (sx[:, :-1] + 1) % W)
    down = (sx[1:] != sx[:-1]) | (sy[1:] != (sy[:-1] + 1) % H)
    return int(right.sum() + down.sum())


def test_stick_makes_larger_pieces_and_keeps_the_input() -> None:
    from texsynth.expander.procedural import texture

    # procedural training textures (cells, noise; colours made distinct by a tiny jitter):
    # with the bonus a copy runs on where another would match only slightly better, so the
    # seams are shorter (per texture the count can go either way: summed over six)
    lengths = {0.0: 0, 2.0: 0, 8.0: 0}
    for fam in ("cells", "noise"):
        for seed in range(3):
            g = torch.Generator().manual_seed(seed)
            x = torch.as_tensor(texture(seed, 64, fam))[None]
            x = x + 1e-4 * torch.rand(x.shape, generator=g)
            for stick in lengths:
                m = _select(
                    border_zero=False, radius=3, refine=1, stick=stick, candidates=8, margin=8
                )
                out = m.expand(x, keep_input=False)
                assert torch.equal(out[..., 32:96, 32:96], x)
                lengths[stick] += _breaks(out, x)  # (every output pixel an input pixel)
    assert lengths[2.0] < lengths[0.0]
    assert lengths[8.0] < 0.93 * lengths[0.0]


def test_new_fields_are_checked_and_files_without_them_load_unchanged(tmp_path: Path) -> None:
    with pytest.raises(TexsynthError, match="stick"):
        ExpanderConfig(stick=-1.0)
    cfg = ExpanderConfig()
    assert cfg.border_zero is True and cfg.stick == 0.0  # the old choice unless a file says
    back = ExpanderConfig.from_json(ExpanderConfig(border_zero=False, stick=2.0).to_json())
    assert back.border_zero is False and back.stick == 2.0
    # a file written before the fields existed loads with the old choice, same output
    m = _select(feather=1, seam=4, refine=1)
    raw = json.loads(m.config.to_json())
    del raw["border_zero"], raw["stick"]
    meta = {"format": "texsynth-expander", "version": "3", "config": json.dumps(raw)}
    atomic_save_file(dict(m.state_dict()), tmp_path / "v3.safetensors", meta, what="expander")
    old = load_expander(tmp_path / "v3.safetensors")
    assert old.config == m.config
    x = torch.rand(1, 3, 24, 24)
    assert torch.equal(old.expand(x), m.expand(x))


def _period_share(out: torch.Tensor, n: int) -> float:
    """Share of the pixels equal to the pixel ``n`` to their right or below (both)."""
    sx = (out[..., :, n:] - out[..., :, :-n]).abs().amax(1) == 0
    sy = (out[..., n:, :] - out[..., :-n, :]).abs().amax(1) == 0
    return float((sx.float().mean() + sy.float().mean()) / 2)


def test_scale_4_without_border_zero_does_not_repeat_the_input() -> None:
    from texsynth.expander.expansion import expand

    old, new = [], []
    for seed in range(5):
        x = _tileable(32, seed=seed)[0]
        tiles = expand(x, scale=4, model=_select(border_zero=True, candidates=12))
        out = expand(x, scale=4, model=_select(border_zero=False, candidates=12))
        assert out.shape == tiles.shape == (1, 3, 128, 128)
        assert torch.allclose(out[0, :, 48:80, 48:80], x)
        old.append(_period_share(tiles, 32))
        new.append(_period_share(out, 32))
    # the old choice: the two passes make a 4 x 4 tiling of the input over half the pixels
    # (0.50-0.65 each); without the zero-shift copy in the border, 0.01-0.20
    assert sum(old) / 5 > 0.45
    assert sum(new) / 5 < 0.15


def test_border_zero_x4_frees_scale_4_only() -> None:
    from texsynth.expander.expansion import expand

    x = _tileable(32, seed=1)[0]
    both = _select(border_zero=True, border_zero_x4=False, candidates=12)
    free = _select(border_zero=False, candidates=12)
    old = _select(border_zero=True, candidates=12)
    assert torch.equal(expand(x, model=both), expand(x, model=old))  # scale 2: as before
    four = expand(x, scale=4, model=both)
    assert torch.equal(four, expand(x, scale=4, model=free))  # scale 4: no tiling
    assert _period_share(four, 32) < 0.1 < 0.45 < _period_share(expand(x, scale=4, model=old), 32)
    assert both.selector.border_zero  # (the model is left as it was)


@pytest.mark.parametrize("periodic", [False, True])
def test_direct_x4_is_one_pass_of_input_pixels_with_the_input_in_the_centre(
    periodic: bool,
) -> None:
    from texsynth.expander.expansion import expand

    g = torch.Generator().manual_seed(7)
    # (sizes whose box is block-aligned: a block straddling the box's edge may take another
    # copy, as at scale 2, and keep_input blends the input back there)
    for h, w in ((32, 32), (24, 40)):
        x = torch.rand(1, 3, h, w, generator=g)  # (all colours distinct)
        m = _select(border_zero=False, candidates=8, feather=0, seam=4, refine=1)
        out = m.expand(x, periodic, keep_input=False, factor=4)
        assert out.shape == (1, 3, 4 * h, 4 * w)
        y0, x0 = 3 * h // 2, 3 * w // 2
        assert torch.equal(out[..., y0 : y0 + h, x0 : x0 + w], x)
        vals = {tuple(v) for v in x[0].flatten(1).T.tolist()}
        assert all(tuple(v) in vals for v in out[0].flatten(1).T.tolist())
        direct = replace(m.config, border_zero=True, border_zero_x4=False, x4_direct=True)
        net = TransposerExpander(direct)
        net.load_state_dict(m.state_dict())
        four = expand(x[0], scale=4, model=net, periodic=periodic)
        assert torch.equal(four, m.expand(x, periodic, factor=4).clamp(0, 1))
    if periodic:  # a tile: the jump across its wrap-around is an ordinary one
        t = out.repeat(1, 1, 2, 2)
        jumps = (t[..., 1:, :] - t[..., :-1, :]).abs().mean((0, 1, 3))
        n = out.shape[-2]
        assert float(jumps[n - 1]) <= 2 * float(jumps[: n - 1].mean())


def test_direct_x4_needs_the_selection_head_and_inference() -> None:
    soft = TransposerExpander(ExpanderConfig(widths=(8, 8, 16), decoder_width=16, head="soft"))
    with pytest.raises(TexsynthError, match="factor"):
        soft.expand(torch.rand(1, 3, 16, 16), factor=4)
    m = _select().train()
    with pytest.raises(TexsynthError, match="2 x canvas"):
        m(torch.rand(1, 3, 16, 16), factor=4)  # training blends every copy: 2 x only


def test_direct_x4_odd_sizes_keep_the_input_inside_the_blend() -> None:
    from texsynth.expander.expansion import expand

    x = torch.rand(3, 21, 27, generator=torch.Generator().manual_seed(8))
    m = _select(border_zero_x4=False, x4_direct=True, candidates=8, feather=1, seam=4)
    out = expand(x, scale=4, model=m)
    assert out.shape == (1, 3, 84, 108)
    y0, x0 = 3 * 21 // 2, 3 * 27 // 2  # the input's box; its outer 4 px blend (keep_input)
    assert torch.allclose(out[0, :, y0 + 4 : y0 + 17, x0 + 4 : x0 + 23], x[:, 4:17, 4:23])
