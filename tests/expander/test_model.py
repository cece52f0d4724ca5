"""The expander network: Fourier correlations, shapes, gradients, files, tiles (issue 19)."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

from texsynth.errors import TexsynthError
from texsynth.expander.model import (
    LOGIT_SPAN,
    ExpanderConfig,
    Transposer,
    TransposerExpander,
    dilate_shifts,
    load_expander,
    save_expander,
    spread,
)
from texsynth.expander.selfsim import (
    centred_shifts,
    feature_transpose,
    feature_transpose_direct,
    self_similarity,
    self_similarity_direct,
)


def _model(seed: int = 0) -> TransposerExpander:
    """A small model of the soft (Transposer) head."""
    torch.manual_seed(seed)
    return TransposerExpander(ExpanderConfig(widths=(8, 8, 16), decoder_width=16, head="soft"))


def test_fft_self_similarity_equals_the_definition() -> None:
    f = torch.randn(2, 3, 5, 6, dtype=torch.float64)
    s = self_similarity(f)
    assert torch.allclose(s, self_similarity_direct(f), atol=1e-12)
    assert float(s[:, 0, 0].abs().max()) < 1e-12 and float(s.max()) <= 1e-12
    # a texture periodic with period (2, 3) is perfectly self-similar at that shift
    per = torch.randn(1, 2, 2, 3, dtype=torch.float64).repeat(1, 1, 3, 2)
    assert abs(float(self_similarity(per)[0, 2, 3])) < 1e-12


def test_centred_shifts_put_zero_in_the_middle() -> None:
    s = torch.arange(20.0).reshape(1, 4, 5)
    c = centred_shifts(s)
    assert c.shape == (1, 5, 6)
    assert c[0, 2, 2] == s[0, 0, 0]
    assert torch.equal(c[0, 0], c[0, -1])  # shifts -2 and +2 of 4 rows are one shift


def test_fft_transpose_equals_conv_transpose() -> None:
    w = torch.rand(2, 1, 6, 4, dtype=torch.float64)
    f = torch.randn(2, 3, 5, 7, dtype=torch.float64)
    out = feature_transpose(w, f)
    assert out.shape == (2, 3, 10, 10)
    assert torch.allclose(out, feature_transpose_direct(w, f), atol=1e-12)


@pytest.mark.parametrize("size", [(8, 8), (17, 23), (9, 31)])
def test_any_size_doubles_and_keeps_the_input(size: tuple[int, int]) -> None:
    m = _model()
    x = torch.rand(2, 3, *size)
    with torch.no_grad():
        out = m(x)
    h, w = size
    assert out.shape == (2, 3, 2 * h, 2 * w)
    box = out[..., h // 2 : h // 2 + h, w // 2 : w // 2 + w]
    assert torch.allclose(box[..., 4:-4, 4:-4], x[..., 4:-4, 4:-4])


def test_expand_grey_and_bad_input() -> None:
    m = _model()
    assert m.expand(torch.rand(1, 12, 10)).shape == (1, 1, 24, 20)
    with pytest.raises(TexsynthError, match="at least"):
        m(torch.rand(1, 3, 4, 16))
    with pytest.raises(TexsynthError, match="RGB"):
        m(torch.rand(1, 2, 16, 16))
    with pytest.raises(TexsynthError, match="encoder"):
        ExpanderConfig(encoder="resnet")


def test_gradients_reach_every_parameter() -> None:
    m = _model()
    x = torch.rand(2, 3, 16, 16)
    m(x).square().mean().backward()
    for name, p in m.named_parameters():
        assert p.grad is not None and float(p.grad.abs().sum()) > 0, name


def test_save_load_round_trip(tmp_path: Path) -> None:
    m = _model(3)
    with torch.no_grad():  # move the parameters away from their initial values
        for p in m.parameters():
            p.add_(0.01 * torch.randn_like(p))
    path = tmp_path / "e.safetensors"
    save_expander(m, path, {"steps": 5})
    back = load_expander(path)
    assert back.config == m.config
    x = torch.rand(1, 3, 16, 12)
    assert torch.equal(back.expand(x), m.expand(x))
    (tmp_path / "bad.safetensors").write_bytes(b"not a file")
    with pytest.raises(TexsynthError):
        load_expander(tmp_path / "bad.safetensors")
    with pytest.raises(TexsynthError):
        load_expander(tmp_path / "missing.safetensors")


@pytest.mark.parametrize("periodic", [False, True])
def test_anti_correlated_features_keep_the_copies_an_average(periodic: bool) -> None:
    # features whose top half is minus the bottom half: S = -4 at the shifts of 8 rows (the
    # VGG encoder's projections can do this; the first VGG training run blew up on it at
    # step 220: weights of e^-48 at the only shifts covering the border's first rows, below
    # float64 rounding, and outputs of 1e13)
    torch.manual_seed(0)
    t = Transposer(4)
    with torch.no_grad():
        t.beta_logit.fill_(8.0)  # beta = 12 (BETA_MAX) to 3e-4
        t.log_reach.fill_(3.0)
    h = 16
    rows = torch.where(torch.arange(h) < h // 2, 1.0, -1.0)
    f = rows[None, None, :, None].expand(1, 4, h, h).contiguous()
    assert float(self_similarity(f).min()) < -3.99
    with torch.no_grad():
        w = t.weights(f, periodic)
        live = w[w > 0]
        assert float(live.min()) >= float(live.max()) * math.exp(-LOGIT_SPAN) * 0.99
        k = torch.rand(1, 3, h, h)
        img = torch.rand(1, 3, 2 * h, 2 * h)
        for src, wts in ((k, w), (img, dilate_shifts(w, 2, periodic))):
            out = spread(src, wts, periodic)
            # a normalised average of copies stays in the copies' range (up to the rounding
            # of covers of e^-30; without the floor: +-1e13)
            assert float(out.min()) >= -0.01 and float(out.max()) <= 1.01


def _jumps(img: torch.Tensor) -> torch.Tensor:
    """Mean absolute difference between neighbouring rows ``[H - 1]``."""
    return (img[..., 1:, :] - img[..., :-1, :]).abs().mean((0, 1, 3))


def test_periodic_output_tiles_without_a_seam() -> None:
    m = _model(1)
    ramp = torch.linspace(0, 1, 16)
    # an input whose own tiling has strong seams (ramps), so that a seam would show
    x = torch.stack(
        [
            ramp[:, None].expand(16, 16),
            ramp[None, :].expand(16, 16),
            0.5 + 0.3 * torch.sin(7 * ramp[:, None] + 3 * ramp[None, :]),
        ]
    )[None]
    out = m.expand(x, periodic=True)
    H, W = out.shape[-2:]
    tiled = out.repeat(1, 1, 2, 2)
    rows = _jumps(tiled)
    cols = _jumps(tiled.transpose(-1, -2))
    # between the last row (column) of one tile and the first of the next, against the mean
    # jump between neighbouring rows (columns) inside a tile
    assert float(rows[H - 1]) <= float(rows[: H - 1].mean())
    assert float(cols[W - 1]) <= float(cols[: W - 1].mean())
    # the ordinary output's wrap-around is a real seam
    flat = m.expand(x, periodic=False).repeat(1, 1, 2, 2)
    assert float(_jumps(flat)[H - 1]) > 3 * float(rows[H - 1])
