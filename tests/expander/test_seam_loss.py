"""The selection head's seam loss and the packaged training photographs (issue 19)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from texsynth.errors import TexsynthError
from texsynth.expander import photos
from texsynth.expander.model import ExpanderConfig, TransposerExpander
from texsynth.expander.seam_loss import (
    block_seam_costs,
    real_seam_cost,
    scale_free_probs,
    seam_loss,
)
from texsynth.expander.selection import Choices, candidate_copies


def _noise(seed: int, c: int, h: int, w: int) -> torch.Tensor:
    return torch.rand(1, c, h, w, generator=torch.Generator().manual_seed(seed))


def _choices(x: torch.Tensor, shifts: list[tuple[int, int]], label: torch.Tensor) -> Choices:
    """Hard choices ``label [1, hb, wb]`` among copies of ``x`` at ``shifts``, every block
    generated, probabilities one-hot."""
    copies = candidate_copies(x, torch.tensor([shifts]))
    probs = torch.nn.functional.one_hot(label, len(shifts)).to(x.dtype)
    gen = torch.ones(label.shape[-2:], dtype=torch.bool)
    return Choices(label, probs, copies, gen, 10 * probs)


def test_block_costs_equal_a_direct_loop() -> None:
    x = _noise(0, 3, 8, 8)
    shifts = [(0, 0), (3, 5), (6, 1)]
    g = torch.Generator().manual_seed(1)
    label = torch.randint(0, 3, (1, 4, 4), generator=g)
    b, band = 4, 2
    copies = candidate_copies(x, torch.tensor([shifts]))
    got = block_seam_costs(copies, label, b, band)
    Y = X = 16
    want = torch.zeros(1, 3, 4, 4)
    for k in range(3):
        for i in range(4):
            for j in range(4):
                for di, dj in ((0, 1), (0, -1), (1, 0), (-1, 0)):
                    ni, nj = i + di, j + dj
                    if not (0 <= ni < 4 and 0 <= nj < 4):
                        continue
                    other = copies[0, label[0, ni, nj]]
                    mine = copies[0, k]
                    rows = []
                    if dj:  # vertical edge at column x0, rows of block i
                        x0 = max(j, nj) * b
                        for y in range(i * b, i * b + b, 2):
                            cs = [min(max(c, 0), X - 1) for c in range(x0 - band, x0 + band)]
                            rows.append(
                                min(
                                    float((mine[:, y, c] - other[:, y, c]).square().sum())
                                    for c in cs
                                )
                            )
                    else:
                        y0 = max(i, ni) * b
                        for xx in range(j * b, j * b + b, 2):
                            cs = [min(max(c, 0), Y - 1) for c in range(y0 - band, y0 + band)]
                            rows.append(
                                min(
                                    float((mine[:, c, xx] - other[:, c, xx]).square().sum())
                                    for c in cs
                                )
                            )
                    want[0, k, i, j] += sum(rows) / len(rows)
    torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-6)


def test_a_seamless_composite_scores_lower_than_a_seamy_one() -> None:
    # a texture of period 8: the copy shifted by 8 continues it exactly, the one shifted by
    # 5 does not; the same checkerboard of choices is seamless with the first, seamy with
    # the second, and one copy everywhere has no seam at all
    tile = _noise(2, 3, 8, 8)
    x = tile.repeat(1, 1, 4, 4)  # 32 x 32
    target = x.repeat(1, 1, 2, 2)
    checker = (torch.arange(16)[:, None] + torch.arange(16)[None, :]) % 2
    label = checker[None]
    seamless, _ = seam_loss(_choices(x, [(0, 0), (8, 8)], label), target, 4)
    seamy, realised = seam_loss(_choices(x, [(0, 0), (5, 3)], label), target, 4)
    single, _ = seam_loss(_choices(x, [(0, 0), (5, 3)], torch.zeros_like(label)), target, 4)
    assert float(seamless) < 1e-6 and float(single) == 0.0
    assert float(seamy) > 0.5
    assert float(realised) == pytest.approx(float(seamy))  # one-hot: expected = realised
    # on noise (every pixel step as large as a seam) a seam costs about as much as a step
    # would, but the per-row minimum over the band makes it cheaper
    n = _noise(3, 3, 32, 32)
    noisy, _ = seam_loss(_choices(n, [(0, 0), (5, 3)], label), n.repeat(1, 1, 2, 2), 4)
    assert 0.05 < float(noisy) < 1.0


def test_the_expected_cost_follows_the_probabilities() -> None:
    x = _noise(4, 3, 16, 16)
    label = torch.zeros(1, 8, 8, dtype=torch.long)
    ch = _choices(x, [(0, 0), (5, 3)], label)
    lo, _ = seam_loss(ch, x.repeat(1, 1, 2, 2), 4)
    probs = torch.full_like(ch.probs, 0.5)  # half the weight on the copy that makes seams
    hi, _ = seam_loss(ch._replace(probs=probs), x.repeat(1, 1, 2, 2), 4)
    assert float(lo) == 0.0 and float(hi) > 0.1


@pytest.mark.parametrize("scale_free", [False, True])
def test_gradients_reach_every_parameter_of_the_head(scale_free: bool) -> None:
    torch.manual_seed(0)
    m = TransposerExpander(ExpanderConfig()).train()
    g = torch.Generator().manual_seed(5)
    target = torch.rand(2, 3, 64, 64, generator=g)
    out = m(target[..., 16:48, 16:48])
    assert out.shape == (2, 3, 64, 64)
    choices = m.selector.last_choices
    assert choices is not None and choices.copies.shape[-2:] == (64, 64)
    loss, realised = seam_loss(choices, target, m.config.block, scale_free=scale_free)
    loss.backward()
    assert float(loss.detach()) > 0 and float(realised) > 0
    for name, p in m.named_parameters():
        assert p.grad is not None and float(p.grad.abs().sum()) > 0, name
    m.eval()
    with torch.no_grad():
        m(target[..., 16:48, 16:48])
    assert m.selector.last_choices is None  # inference keeps nothing


def test_bad_input_is_refused() -> None:
    x = _noise(0, 3, 8, 8)
    ch = _choices(x, [(0, 0)], torch.zeros(1, 4, 4, dtype=torch.long))
    with pytest.raises(TexsynthError, match="canvas"):
        seam_loss(ch, torch.rand(1, 3, 32, 32), 4)
    with pytest.raises(TexsynthError, match="band"):
        block_seam_costs(ch.copies, ch.label, 4, 0)


def test_real_seam_cost_is_the_mean_squared_step() -> None:
    t = torch.zeros(1, 1, 4, 4)
    t[..., ::2, :] = 1.0  # rows alternate: every vertical step is 1, horizontal 0
    assert float(real_seam_cost(t)) == pytest.approx(0.5)


def test_photos_are_seeded_crops_of_packaged_non_benchmark_images() -> None:
    held = {"gravel", "grass", "brick", "immunohistochemistry", "moon", "hubble_deep_field"}
    assert not held & set(photos.PHOTOS)
    pics = photos.load_photos()
    assert pics and all(p.shape[0] == 3 and p.dtype == np.float32 for p in pics)
    a = photos.crops(pics, 7, 3, 64)
    assert a.shape == (3, 3, 64, 64) and 0 <= a.min() and a.max() <= 1
    assert np.array_equal(a, photos.crops(pics, 7, 3, 64))
    assert not np.array_equal(a, photos.crops(pics, 8, 3, 64))
    with pytest.raises(TexsynthError, match="unknown"):
        photos.load_photos(("gravel",))
    with pytest.raises(TexsynthError, match="at least"):
        photos.crops(pics, 0, 1, 100_000)


def test_scale_free_probabilities_ignore_the_logits_scale() -> None:
    g = torch.Generator().manual_seed(6)
    z = torch.randn(5, 7, generator=g)
    z[:, -1] = -1e4  # an invalid copy keeps probability 0
    p = scale_free_probs(z)
    torch.testing.assert_close(p, scale_free_probs(3.0 * z))
    assert float(p[:, -1].max()) == 0.0
    torch.testing.assert_close(p.sum(-1), torch.ones(5))
    # the loss's gradient along a global scaling of the logits is zero
    s = torch.tensor(1.0, requires_grad=True)
    cost = torch.rand(5, 7, generator=g)
    (scale_free_probs(s * z) * cost).sum().backward()
    assert s.grad is not None and abs(float(s.grad)) < 1e-5
