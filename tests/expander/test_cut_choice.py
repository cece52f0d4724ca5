"""The selection head's cut-aware choice (issue 19): ``w_cut`` times each copy's minimum-error
cut cost against the chosen neighbours in the logits."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from texsynth.errors import TexsynthError
from texsynth.expander import selection
from texsynth.expander.cut_choice import cut_costs
from texsynth.expander.model import (
    ExpanderConfig,
    TransposerExpander,
    load_expander,
    save_expander,
)
from texsynth.expander.seam_loss import block_seam_costs, seam_loss
from texsynth.expander.selection import candidate_copies
from texsynth.generators.serialization import atomic_save_file


def _copies_index(shifts: torch.Tensor, n: int, size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``iy, ix`` of :func:`candidate_copies` (source rows / columns on the ``2 size`` canvas)."""
    y = torch.arange(2 * size)
    iy = torch.remainder(y[None, None] - size // 2 - shifts[..., 0, None], n)
    ix = torch.remainder(y[None, None] - size // 2 - shifts[..., 1, None], n)
    return iy, ix


def _texture(seed: int, side: int = 16) -> torch.Tensor:
    x = torch.rand(1, 3, side, side, generator=torch.Generator().manual_seed(seed))
    return torch.nn.functional.avg_pool2d(
        torch.nn.functional.pad(x, (1, 1, 1, 1), mode="circular"), 3, 1
    )


@pytest.mark.parametrize("block", [4, 3])
def test_cut_costs_are_the_seam_loss_costs_per_neighbour(block: int) -> None:
    # with every block chosen, the cut cost of each copy is block_seam_costs (summed over the
    # neighbours) divided by the number of neighbours: one definition of a pair's cut
    side = 4 * block
    x = _texture(0, side)
    shifts = torch.tensor([[(0, 0), (3, 5), (6, 1), (2, 9)]])
    label = torch.randint(0, 4, (1, 8, 8), generator=torch.Generator().manual_seed(2))
    iy, ix = _copies_index(shifts, side, side)
    copies = candidate_copies(x, shifts)
    assert torch.equal(
        copies[0, 2], x[0][:, iy[0, 2]][:, :, ix[0, 2]]
    )  # (the helper's indices are the copies')
    band = 2
    want = block_seam_costs(copies, label, block, band)[0]  # [K, hb, wb]
    bi, yi, xi = torch.ones_like(label, dtype=torch.bool).nonzero(as_tuple=True)
    done = torch.ones_like(label, dtype=torch.bool)
    got = cut_costs(x, iy, ix, label, done, (bi, yi, xi), block, band)  # [N, K]
    i, j = torch.arange(8), torch.arange(8)
    nb = 4 - (i == 0).float()[:, None] - (i == 7).float()[:, None]
    nb = nb - (j == 0).float()[None, :] - (j == 7).float()[None, :]
    torch.testing.assert_close(got.T.reshape(4, 8, 8) * nb, want)


def test_a_cut_aware_choice_prefers_the_copy_with_the_cheaper_cut() -> None:
    # a horizontal ramp; the left neighbour of block (2, 3) holds copy 0: copy 2, shifted
    # by one column, continues it with a step of 1/16, copy 1 (half a period) jumps by 1/2
    side = 16
    x = (torch.arange(side, dtype=torch.float32) / side).expand(1, 3, side, side).clone()
    shifts = torch.tensor([[(0, 0), (0, 8), (0, 1)]])
    iy, ix = _copies_index(shifts, side, side)
    label = torch.zeros(1, 8, 8, dtype=torch.long)
    done = torch.zeros(1, 8, 8, dtype=torch.bool)
    done[0, 2, 2] = True  # only the left neighbour is chosen
    at = (torch.tensor([0]), torch.tensor([2]), torch.tensor([3]))
    cost = cut_costs(x, iy, ix, label, done, at, 4, 2)[0]
    assert float(cost[0]) == 0.0  # the neighbour's own copy: no seam
    # directly: the band is canvas columns 10..13 around the edge at 12, rows 8, 10
    c0, c1, c2 = (x[0][:, iy[0, k, 8:12:2]][:, :, ix[0, k, 10:14]] for k in range(3))
    for k, ck in ((1, c1), (2, c2)):
        torch.testing.assert_close(cost[k], (ck - c0).square().sum(0).amin(-1).mean())
    assert float(cost[2]) < 0.05 < 0.5 < float(cost[1])
    # the head's term -w_cut * cost / tau ranks the cheaper cut first
    assert int((-3.0 * cost[1:] / 0.01).argmax()) == 1


def _select(**kw: object) -> TransposerExpander:
    torch.manual_seed(0)
    return TransposerExpander(ExpanderConfig(candidates=6, **kw))  # type: ignore[arg-type]


def test_w_cut_zero_never_computes_the_cut_and_a_weight_changes_the_choice(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    x = _texture(3, 32)
    ref = _select().expand(x)
    plain = _select(w_cut=1.0)
    changed = plain.expand(x)

    def refuse(*args: object, **kw: object) -> torch.Tensor:
        raise AssertionError("cut_costs called at w_cut = 0")

    monkeypatch.setattr(selection, "cut_costs", refuse)
    assert torch.equal(_select().expand(x), ref)  # (the term is skipped, not added as 0)
    assert torch.equal(_select().expand(x, factor=4), _select().expand(x, factor=4))
    assert not torch.equal(changed, ref)
    with pytest.raises(AssertionError, match="w_cut = 0"):
        plain.expand(x)


def test_gradients_reach_w_cut_through_the_seam_loss() -> None:
    m = _select(w_cut=0.5).train()
    target = _texture(5, 32)
    x = target[..., 8:24, 8:24]
    m(x, target=target)
    choices = m.selector.last_choices
    assert choices is not None
    loss, _ = seam_loss(choices, target, m.config.block)
    loss.backward()
    g = m.selector.w_cut.grad
    assert g is not None and torch.isfinite(g) and float(g) != 0.0
    # also from 0 (training can start there)
    m0 = _select().train()
    m0(x, target=target)
    assert m0.selector.last_choices is not None
    seam_loss(m0.selector.last_choices, target, 4)[0].backward()
    assert m0.selector.w_cut.grad is not None and float(m0.selector.w_cut.grad) != 0.0


def test_w_cut_is_checked_saved_and_old_files_load_with_zero(tmp_path: Path) -> None:
    with pytest.raises(TexsynthError, match="w_cut"):
        ExpanderConfig(w_cut=1e4)
    m = _select(w_cut=0.7)
    assert float(m.selector.w_cut.detach()) == pytest.approx(0.7)
    with torch.no_grad():  # a trained weight lives in the file, beside the starting value
        m.selector.w_cut.fill_(1.25)
    save_expander(m, tmp_path / "cut.safetensors")
    assert float(load_expander(tmp_path / "cut.safetensors").selector.w_cut.detach()) == 1.25
    # a version-3 file (no field, no weight) loads with w_cut = 0 and expands unchanged
    old = _select()
    raw = json.loads(old.config.to_json())
    del raw["w_cut"]
    state = {k: v for k, v in old.state_dict().items() if k != "selector.w_cut"}
    meta = {"format": "texsynth-expander", "version": "3", "config": json.dumps(raw)}
    atomic_save_file(state, tmp_path / "v3.safetensors", meta, what="expander")
    back = load_expander(tmp_path / "v3.safetensors")
    assert back.config.w_cut == 0.0 and float(back.selector.w_cut.detach()) == 0.0
    x = _texture(4, 24)
    assert torch.equal(back.expand(x), old.expand(x))
