"""Training generators: loss decreases without NaN, microcanonical loss, checkpoints and
resume, seed 000's trainer, the CLI (train / sample)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from texsynth import ScatteringLoss, TexsynthError
from texsynth.cli import main
from texsynth.generators import (
    SynthHalfUNet2D,
    generate_samples,
    load_generator,
    read_generator_metadata,
    save_generator,
    train_generator,
    train_synth_unet,
)
from texsynth.io import write_image
from texsynth.losses.chi2 import microcanonical_distance as _microcanonical

TINY = dict(size=32, depth=2, width=4, progress=False)


def _exemplar(n: int = 32, C: int = 1, seed: int = 0) -> torch.Tensor:
    """Oriented blobs in [0, 1], ``[C, n, n]``."""
    g = torch.Generator().manual_seed(seed)
    z = torch.randn(C, n, n, generator=g)
    k = torch.fft.fftfreq(n)
    spec = torch.exp(-((k[None, :] - 0.2) ** 2 + k[:, None] ** 2) / 0.004)
    y = torch.fft.ifft2(torch.fft.fft2(z) * spec).real
    y = torch.relu(y / y.std() - 0.2)
    return (y / y.max()).clamp(0, 1)


def test_training_decreases_the_loss_without_nan() -> None:
    model, rep = train_generator(_exemplar(), steps=40, seed=0, report=True, **TINY)
    assert isinstance(model, SynthHalfUNet2D) and not model.training
    assert all(torch.isfinite(torch.tensor(rep.losses)))
    first, last = sum(rep.losses[:5]) / 5, sum(rep.losses[-5:]) / 5
    assert last < 0.5 * first
    samples = generate_samples(model, 2, 40, 24, seed=0)
    assert samples.shape == (2, 1, 40, 24) and torch.isfinite(samples).all()


def test_same_seed_same_network() -> None:
    a = train_generator(_exemplar(), steps=5, seed=3, **TINY)
    b = train_generator(_exemplar(), steps=5, seed=3, **TINY)
    c = train_generator(_exemplar(), steps=5, seed=4, **TINY)
    for (name, p), q in zip(a.state_dict().items(), b.state_dict().values(), strict=True):
        assert torch.equal(p, q), name
    assert any(not torch.equal(p, r) for p, r in zip(a.parameters(), c.parameters(), strict=True))


def test_samples_have_the_exemplars_histogram_and_colour() -> None:
    ex = _exemplar(C=3) * torch.tensor([0.9, 0.5, 0.2])[:, None, None] + 0.05
    model = train_generator(ex, steps=10, seed=0, **TINY)
    s = generate_samples(model, 2, 32, 32, seed=1)
    assert s.shape == (2, 3, 32, 32)
    # colour means follow the exemplar's (the inverse colour transform is in the network)
    torch.testing.assert_close(s.mean((0, 2, 3)), ex.mean((1, 2)), atol=0.03, rtol=0)


def test_microcanonical_loss_is_finite_and_punishes_collapse() -> None:
    ex = _exemplar(64)[None]
    loss = ScatteringLoss(ex, J=3)
    g = torch.Generator().manual_seed(0)
    diverse = (torch.rand(4, 1, 64, 64, generator=g) * 0.5).requires_grad_(True)
    value = loss.batch_loss(diverse, microcanonical=True)
    value.backward()
    assert torch.isfinite(value) and torch.isfinite(diverse.grad).all()
    # coefficients exactly zero for every sample (foscat's NaN: sqrt of a zero variance)
    # keep a finite loss and gradient
    x = diverse.detach().clone().requires_grad_(True)
    stats, target, sigma = loss.describe(x)[0]
    zeroed = stats.map(lambda t: t * 0)
    v0 = _microcanonical(zeroed, target, sigma, True, 1e-6)
    v0.backward()
    assert torch.isfinite(v0) and torch.isfinite(x.grad).all()
    # the same four images as one repeated image: the mean error is the same kind, but the
    # batch spread vanishes, so the loss explodes
    collapsed = diverse.detach()[:1].expand(4, -1, -1, -1)
    assert loss.batch_loss(collapsed, microcanonical=True) > 10 * value.detach()
    for sigma_synth in (True, False):
        assert torch.isfinite(
            loss.batch_loss(diverse, microcanonical=True, sigma_synth=sigma_synth)
        )
    # per-sample form: the mean of the per-image losses
    torch.testing.assert_close(loss.batch_loss(diverse.detach()), loss(diverse.detach()).mean())


def test_microcanonical_training_and_its_errors() -> None:
    model, rep = train_generator(
        _exemplar(), steps=15, seed=0, microcanonical=True, report=True, **TINY
    )
    assert all(torch.isfinite(torch.tensor(rep.losses)))
    with pytest.raises(TexsynthError, match="batch >= 2"):
        train_generator(_exemplar(), steps=2, batch=1, microcanonical=True, **TINY)
    with pytest.raises(TexsynthError, match="microcanonical"):
        train_generator(
            _exemplar(), method="random", steps=2, microcanonical=True, histogram=0, **TINY
        )


def test_any_texture_loss_trains() -> None:
    """A weight-free network loss (random-filter Gram matrices) trains too."""
    _, rep = train_generator(_exemplar(), method="random", steps=25, seed=0, report=True, **TINY)
    assert sum(rep.losses[-5:]) < sum(rep.losses[:5])


@pytest.mark.parametrize(
    "options",
    [
        {},
        # a random loss: fresh sliced-Wasserstein directions every step, so the loss's own
        # generator state must be saved and restored too
        dict(method="swd", features="random", histogram=0, power_spectrum=0),
    ],
    ids=["scattering", "swd"],
)
def test_checkpoint_resume_gives_the_uninterrupted_result(
    tmp_path: Path, options: dict[str, object]
) -> None:
    ex = _exemplar()
    opts = {**TINY, **options}
    straight = train_generator(ex, steps=12, seed=1, **opts)
    ckpt = tmp_path / "run.ckpt.safetensors"

    def stop_after_8(step: int, loss: float, model: SynthHalfUNet2D) -> bool:
        return step + 1 == 8  # interrupted after step 8 (last checkpoint: step 5)

    train_generator(
        ex, steps=12, seed=1, checkpoint=ckpt, checkpoint_every=5, callback=stop_after_8, **opts
    )
    assert ckpt.exists()
    resumed, rep = train_generator(
        ex, steps=12, seed=1, checkpoint=ckpt, resume=True, report=True, **opts
    )
    assert rep.resumed_from == 5 and rep.steps == 12 and len(rep.losses) == 7
    for (name, a), b in zip(
        straight.state_dict().items(), resumed.state_dict().values(), strict=True
    ):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6, msg=name)
    assert not ckpt.exists()  # removed once training completed


def test_resume_checks(tmp_path: Path) -> None:
    ex = _exemplar()
    ckpt = tmp_path / "c.safetensors"
    with pytest.raises(TexsynthError, match="checkpoint file"):
        train_generator(ex, steps=4, resume=True, **TINY)
    train_generator(
        ex,
        steps=4,
        seed=0,
        checkpoint=ckpt,
        checkpoint_every=2,
        callback=lambda s, l, m: s == 2,
        **TINY,
    )
    with pytest.raises(TexsynthError, match="other settings .*lr"):
        train_generator(ex, steps=4, seed=0, lr=0.1, checkpoint=ckpt, resume=True, **TINY)
    with pytest.raises(TexsynthError, match="other settings .*power_spectrum"):
        train_generator(
            ex, steps=4, seed=0, power_spectrum=1.0, checkpoint=ckpt, resume=True, **TINY
        )
    ckpt.write_text("not a checkpoint")
    with pytest.raises(TexsynthError, match="not a readable safetensors"):
        train_generator(ex, steps=4, seed=0, checkpoint=ckpt, resume=True, **TINY)


def test_bad_settings_give_one_line_errors() -> None:
    ex = _exemplar()
    for kw, match in (
        (dict(steps=0), "steps must be"),
        (dict(lr=-1.0), "lr must be"),
        (dict(batch=0), "batch must be"),
        (dict(iso_ang=True, fft_ang=True), "cannot be combined"),
        (dict(method="nope"), "nope"),
        (dict(J=9), "J=9"),
        (dict(size=8, depth=3), "too small for depth=3"),
    ):
        with pytest.raises(TexsynthError, match=match):
            train_generator(ex, **{**TINY, **kw})


def test_train_synth_unet_takes_seed_000s_names() -> None:
    target = _exemplar()[0]  # [H, W], as in the seed's example
    model = train_synth_unet(
        target, None, Jmax=2, n_samples=2, n_epochs=3, channel_list=[8, 8, 4], progress=False
    )
    assert model.config["channel_list"] == [8, 8, 4]
    assert generate_samples(model, n_samples=2, H=32, W=32, seed=0).shape == (2, 1, 32, 32)
    with pytest.raises(TexsynthError, match="out_channels=3"):
        train_synth_unet(target, None, Jmax=2, out_channels=3, n_epochs=1, progress=False)
    with pytest.raises(TexsynthError, match="norm must be 'auto'"):
        train_synth_unet(target, None, Jmax=2, norm="self", n_epochs=1, progress=False)


def test_cli_train_then_sample(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ex_path = tmp_path / "ex.png"
    write_image(ex_path, _exemplar(C=3))
    model_path = tmp_path / "gen.safetensors"
    common = ["--size", "32x32", "--depth", "2", "--width", "4", "--quiet"]
    assert main(["train", str(ex_path), "-o", str(model_path), "--steps", "6", *common]) == 0
    captured = capsys.readouterr()
    assert model_path.exists() and "texsynth sample" in captured.out
    # a colour exemplar with the default loss: a start line pointing to the VGG19 loss (on
    # stdout: stderr is for warnings and errors), nothing on stderr
    assert "--method swd" in captured.out and captured.err == ""
    info = read_generator_metadata(model_path)["metadata"]
    assert info["settings"]["steps"] == 6 and info["exemplar_meta"]["format"] == "png"
    assert info["settings"]["method"] == "scattering"
    # an explicit method (or a grey exemplar) gets no such note
    assert (
        main(
            [
                "train",
                str(ex_path),
                "-o",
                str(model_path),
                "--steps",
                "1",
                "--method",
                "scattering",
                *common,
            ]
        )
        == 0
    )
    assert "--method swd" not in capsys.readouterr().err
    out = tmp_path / "s_{i}.png"
    assert (
        main(
            [
                "sample",
                str(model_path),
                "-o",
                str(out),
                "--n",
                "2",
                "--size",
                "48x40",
                "--seed",
                "5",
            ]
        )
        == 0
    )
    from texsynth.io import read_image

    a, meta = read_image(tmp_path / "s_0.png")
    assert a.shape == (3, 40, 48) and meta.dtype == "uint8"
    side = json.loads((tmp_path / "s.json").read_text())
    assert side["seed"] == 5 and side["settings"]["size_hw"] == [40, 48]
    assert side["spec"]["kind"] == "sample" and side["spec"]["inputs"] == {"model": str(model_path)}
    # same seed, same pixels
    assert (
        main(
            [
                "sample",
                str(model_path),
                "-o",
                str(tmp_path / "t.png"),
                "--n",
                "1",
                "--size",
                "48x40",
                "--seed",
                "5",
            ]
        )
        == 0
    )
    b, _ = read_image(tmp_path / "t.png")
    assert torch.equal(a, b)


def test_cli_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ex_path = tmp_path / "ex.png"
    write_image(ex_path, _exemplar())
    model_path = tmp_path / "gen.safetensors"
    assert main(["train", str(ex_path), "-o", str(model_path), "--resume", "--quiet"]) == 2
    assert "no checkpoint" in capsys.readouterr().err
    bogus = tmp_path / "bogus.safetensors"
    bogus.write_text("hello")
    assert main(["sample", str(bogus), "-o", str(tmp_path / "x.png")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("texsynth: error:") and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "x.png").exists()


def test_saved_python_model_samples_from_the_cli(tmp_path: Path) -> None:
    """A generator saved from Python (no exemplar metadata) still samples, as floats."""
    model = train_generator(_exemplar(), steps=2, seed=0, **TINY)
    path = tmp_path / "m.safetensors"
    save_generator(model, path)
    assert torch.equal(
        generate_samples(load_generator(path), 1, 32, 32, seed=0),
        generate_samples(model, 1, 32, 32, seed=0),
    )
    assert main(["sample", str(path), "-o", str(tmp_path / "o.npy"), "--size", "32"]) == 0
    assert (tmp_path / "o.npy").exists()


def test_training_without_a_seed_leaves_the_global_rng_alone() -> None:
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    train_generator(torch.rand(1, 16, 16, generator=torch.Generator().manual_seed(0)),
                    steps=1, size=16, depth=2, width=2, batch=1, progress=False)  # fmt: skip
    assert torch.equal(torch.rand(3), expected)
