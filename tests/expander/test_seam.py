"""The selection head's minimum-error seams (image quilting's boundary cut, issue 19)."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from texsynth.errors import TexsynthError
from texsynth.expander.model import ExpanderConfig, TransposerExpander, load_expander
from texsynth.expander.seams import pixel_labels, seam_labels, seam_targets, stitch_pixels
from texsynth.expander.selection import stitch
from texsynth.generators.serialization import atomic_save_file


def _select(seed: int = 0, **kw: int) -> TransposerExpander:
    torch.manual_seed(seed)
    cfg = {"candidates": 6, "block": 4, "radius": 2, "grow": 1, "margin": 4, "feather": 0}
    cfg.update(kw)
    return TransposerExpander(ExpanderConfig(head="select", **cfg))  # type: ignore[arg-type]


def _two_copies(H: int = 16, W: int = 32) -> tuple[torch.Tensor, ...]:
    """A random ``x [1, 3, H, W]``, two copies (columns shifted by 8 and by 20) and the labels
    of a ``2H x 2W`` canvas whose left half holds copy 0 and right half copy 1."""
    g = torch.Generator().manual_seed(0)
    x = torch.rand(1, 3, H, W, generator=g)
    X = torch.arange(2 * W)
    ix = torch.stack([(X + 8) % W, (X + 20) % W])[None]  # [1, 2, 2W]
    iy = (torch.arange(2 * H) % H).expand(1, 2, 2 * H).clone()
    label = torch.zeros(1, 2 * H // 4, 2 * W // 4, dtype=torch.long)
    label[..., W // 4 :] = 1
    return x, iy, ix, label


def test_the_cut_goes_where_the_two_copies_agree() -> None:
    x, iy, ix, label = _two_copies()
    # canvas columns 33 and 34 (4 px right of the edge at 32): copy 1 made equal to copy 0
    for c in (33, 34):
        x[..., ix[0, 1, c]] = x[..., ix[0, 0, c]]
    known = torch.zeros(32, 64, dtype=torch.bool)
    tx, cut = seam_targets(x, iy, ix, label, known, 4, 4)
    e = 32 // 4 - 1  # the edge at column 32 (edges start at block column 1)
    assert (cut[0, :, e] == 34).all()  # pixels 32, 33 take A, 34 on take B: zero cost
    ty = torch.arange(32)[None, :, None] // 4 + torch.zeros_like(tx)  # (own block rows)
    plabel = pixel_labels(label, ty, tx)
    assert (plabel[0, :, :34] == 0).all() and (plabel[0, :, 34:] == 1).all()
    # the other edges separate equal copies: their cuts stay on the block edges
    others = torch.cat([cut[0, :, :e], cut[0, :, e + 1 :]], 1)
    edges = torch.tensor([c for c in range(4, 64, 4) if c != 32])
    assert torch.equal(others, edges.expand(32, 14))


@pytest.mark.parametrize("periodic", [False, True])
def test_the_seam_path_is_connected_in_its_band(periodic: bool) -> None:
    x, iy, ix, label = _two_copies()
    g = torch.Generator().manual_seed(3)
    label = torch.randint(0, 2, label.shape, generator=g)  # many seams
    known = torch.zeros(32, 64, dtype=torch.bool)
    band = 3
    _, cut = seam_targets(x, iy, ix, label, known, 4, band, periodic)
    edges = torch.arange(0 if periodic else 1, 16) * 4
    assert ((cut - edges).abs() <= band).all()
    assert (cut.diff(dim=1).abs() <= 1).all()  # one pixel per row at most: a connected path
    if periodic:  # closed around the torus
        assert ((cut[:, -1] - cut[:, 0]).abs() <= 1).all()
    assert not torch.equal(cut, edges.expand_as(cut))  # it did move somewhere
    # stripes of one block: every row of every edge is a seam (no row pins a closed path)
    stripes = (torch.arange(16) % 2).expand(1, 8, 16).clone()
    _, cut = seam_targets(x, iy, ix, stripes, known, 4, 2, periodic)
    assert ((cut - edges).abs() <= 2).all() and (cut.diff(dim=1).abs() <= 1).all()
    if periodic:
        assert ((cut[:, -1] - cut[:, 0]).abs() <= 1).all()
    assert not torch.equal(cut, edges.expand_as(cut))


@pytest.mark.parametrize("periodic", [False, True])
def test_pixel_stitching_of_block_labels_equals_the_block_stitching(periodic: bool) -> None:
    x, iy, ix, _ = _two_copies()
    g = torch.Generator().manual_seed(5)
    label = torch.randint(0, 2, (1, 8, 16), generator=g)
    ty = torch.arange(32)[None, :, None] // 4 + torch.zeros(1, 32, 64, dtype=torch.long)
    tx = torch.arange(64)[None, None, :] // 4 + torch.zeros(1, 32, 64, dtype=torch.long)
    plabel = pixel_labels(label, ty, tx)
    for f in (0, 1, 2):
        a = stitch(x, iy, ix, label, 4, f, periodic)
        b = stitch_pixels(x, iy, ix, plabel, f, periodic)
        assert torch.allclose(a, b, atol=1e-6)


@pytest.mark.parametrize("periodic", [False, True])
def test_with_seams_every_pixel_is_an_input_pixel_and_the_centre_is_the_input(
    periodic: bool,
) -> None:
    m = _select(refine=1, seam=4)
    g = torch.Generator().manual_seed(1)
    x = torch.rand(1, 3, 24, 32, generator=g)  # (multiples of 8: no padding)
    out = m.expand(x, periodic=periodic, keep_input=False)
    colours = x[0].flatten(1).T  # [N, 3], all distinct
    d = torch.cdist(out[0].flatten(1).T.double(), colours.double()).min(1).values
    assert float(d.max()) < 1e-6
    assert torch.equal(out[..., 12:36, 16:48], x)
    # the seams moved pixels: not the block-edge output
    assert not torch.equal(out, _select(refine=1, seam=0).expand(x, periodic, False))


def test_a_periodic_texture_is_continued_exactly_with_seams() -> None:
    g = torch.Generator().manual_seed(2)
    tile = torch.rand(1, 3, 8, 8, generator=g)
    big = tile.repeat(1, 1, 8, 8)  # 64 x 64, period 8
    out = _select(feather=1, refine=1, seam=4).expand(big[..., 16:48, 16:48])
    assert torch.allclose(out, big, atol=1e-5)


def test_periodic_mode_tiles_with_seams() -> None:
    g = torch.Generator().manual_seed(4)
    x = torch.nn.functional.avg_pool2d(torch.rand(1, 3, 36, 36, generator=g), 5, 1)
    out = _select(feather=1, seam=4).expand(x, periodic=True)
    H, W = out.shape[-2:]
    tiled = out.repeat(1, 1, 2, 2)
    for t in (tiled, tiled.transpose(-1, -2)):
        jumps = (t[..., 1:, :] - t[..., :-1, :]).abs().mean((0, 1, 3))
        assert float(jumps[H - 1]) <= 2 * float(jumps[: H - 1].mean())


def test_bad_seam_is_refused_and_version_2_files_keep_block_edges(tmp_path: Path) -> None:
    with pytest.raises(TexsynthError, match="seam"):
        ExpanderConfig(seam=-1)
    assert ExpanderConfig().seam == 4
    raw = json.loads(ExpanderConfig().to_json())
    del raw["seam"]
    assert ExpanderConfig.from_json(json.dumps(raw), version=2).seam == 0
    # a version-2 file (no seam) loads and expands exactly as the block-edge head
    m = _select(feather=1, seam=0)
    meta = {"format": "texsynth-expander", "version": "2", "config": json.dumps(raw)}
    raw.update({k: getattr(m.config, k) for k in ("candidates", "radius", "grow", "margin")})
    meta["config"] = json.dumps(raw)
    atomic_save_file(dict(m.state_dict()), tmp_path / "v2.safetensors", meta, what="expander")
    back = load_expander(tmp_path / "v2.safetensors")
    assert back.config == m.config
    x = torch.rand(1, 3, 16, 16)
    assert torch.equal(back.expand(x), m.expand(x))


def test_the_shipped_model_cuts_its_seams() -> None:
    import texsynth.expander as pkg

    m = load_expander(Path(pkg.__file__).parent / "models" / "default.safetensors")
    assert m.config.seam == 4 and m.config.feather == 1
    # (scale 4 in one pass without the tiling copy; scale 2 as before: test_choice.py)
    assert m.config.border_zero and not m.config.border_zero_x4 and m.config.x4_direct
    assert m.config.stick == 0
    torch.manual_seed(0)  # the shipped file is the head at its seeded initial weights
    fresh = TransposerExpander(replace(ExpanderConfig(), border_zero_x4=False, x4_direct=True))
    assert fresh.config == m.config
    assert all(
        torch.equal(a, b)
        for a, b in zip(fresh.state_dict().values(), m.state_dict().values(), strict=True)
    )


@pytest.mark.parametrize("periodic", [False, True])
def test_both_directions_in_one_programme_equal_two_separate_ones(periodic: bool) -> None:
    g = torch.Generator().manual_seed(6)
    x = torch.rand(1, 3, 16, 16, generator=g)
    iy = torch.randint(0, 16, (1, 3, 32), generator=g)
    ix = torch.randint(0, 16, (1, 3, 32), generator=g)
    label = torch.randint(0, 3, (1, 8, 8), generator=g)
    known = torch.zeros(32, 32, dtype=torch.bool)
    known[8:24, 8:24] = True
    label[:, 2:6, 2:6] = 0
    tx, _ = seam_targets(x, iy, ix, label, known, 4, 2, periodic)
    tyt, _ = seam_targets(x.transpose(-1, -2), ix, iy, label.mT, known.T, 4, 2, periodic)
    both = seam_labels(x, iy, ix, label, known, 4, 2, periodic)
    assert torch.equal(both, pixel_labels(label, tyt.mT, tx))
    assert (both[0][known] == 0).all()  # the input's pixels keep the input's copy
