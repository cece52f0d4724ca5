"""Learned features: the autoencoder, training with exact resume, the features file, and
its use by every feature method, the evaluation and --region."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import save_file

import texsynth
from texsynth import TexsynthError
from texsynth.features import ConvAutoencoder, LearnedFeatures, feature_extractor
from texsynth.features.learned import load_features_file, read_features_metadata
from texsynth.features.training import (
    TrainSettings,
    checkpoint_path,
    reconstruction_loss,
    snapshot_path,
    train_features,
)

from ..helpers import one_line

TINY = TrainSettings(patch=16, steps=4, width=4, depth=2, batch=2, checkpoint_every=2)


@pytest.fixture(scope="module")
def photos(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("photos")
    for i in range(3):
        rng = np.random.default_rng(i)
        yy, xx = np.mgrid[:40, :48]
        waves = 0.5 + 0.3 * np.sin(xx / (2 + i) + yy / 5)[..., None] * np.array([1, 0.6, 0.2])
        a = (np.clip(waves + 0.05 * rng.standard_normal((40, 48, 3)), 0, 1) * 255).astype(np.uint8)
        Image.fromarray(a).save(folder / f"{i}.png")
    return folder


@pytest.fixture(scope="module")
def features_file(photos: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("feat") / "features.safetensors"
    train_features([photos], out, TINY)
    return out


def test_autoencoder_shapes_and_layers() -> None:
    m = ConvAutoencoder(width=4, depth=3)
    x = torch.rand(2, 3, 16, 20)
    with torch.no_grad():
        y = m(x)
        f = m.features(x)
    assert y.shape == x.shape and 0 <= float(y.min()) and float(y.max()) <= 1
    assert list(f) == ["conv1_1", "conv1_2", "conv2_1", "conv2_2", "conv3_1", "conv3_2"]
    assert f["conv3_2"].shape == (2, 16, 4, 5)
    grey = m.features(torch.rand(1, 1, 16, 16), "conv1_1")
    assert list(grey) == ["conv1_1"] and grey["conv1_1"].shape == (1, 4, 16, 16)
    with pytest.raises(TexsynthError) as e:
        m(torch.rand(1, 3, 18, 16))
    assert "multiples of 4" in one_line(e)
    with pytest.raises(TexsynthError) as e:
        m.features(x, ["conv9_1"])
    assert "unknown learned-feature layer" in one_line(e)


def test_training_writes_file_picture_and_checkpoint(features_file: Path) -> None:
    info = read_features_metadata(features_file)
    assert info["patch"] == 16 and info["config"] == {"width": 4, "depth": 2}
    assert info["layers"] == ["conv1_1", "conv1_2", "conv2_1", "conv2_2"]
    t = info["training"]
    assert t["data"]["images"] == 3 and t["held_out_images"] == 1 and t["train_images"] == 2
    assert [h[0] for h in t["history"]] == [2, 4] and np.isfinite(t["heldout_psnr"])
    assert features_file.with_name("features_reconstructions.png").is_file()
    assert checkpoint_path(features_file).is_file()


def test_resume_is_exact(photos: Path, tmp_path: Path) -> None:
    whole = train_features([photos], tmp_path / "whole.safetensors", TINY)
    half = TrainSettings(**{**TINY.__dict__, "steps": 2})
    out = tmp_path / "parts.safetensors"
    train_features([photos], out, half)
    resumed = train_features([photos], out, TINY, resume=True)
    a, b = whole.model.state_dict(), resumed.model.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    # the same steps, losses and held-out scores (CPU seconds differ)
    assert [(h[0], h[2], h[3]) for h in resumed.history] == [
        (h[0], h[2], h[3]) for h in whole.history
    ]
    other = TrainSettings(**{**TINY.__dict__, "width": 8})
    with pytest.raises(TexsynthError) as e:
        train_features([photos], out, other, resume=True)
    assert "other settings" in one_line(e)


def test_training_learns(photos: Path, tmp_path: Path) -> None:
    s = TrainSettings(patch=16, steps=60, width=8, depth=2, batch=4, checkpoint_every=30, lr=3e-3)
    r = train_features([photos], tmp_path / "f.safetensors", s)
    assert r.history[-1][2] < 0.8 * r.history[0][2]  # the L1 loss fell


def test_loading_and_wrong_kind_refused(features_file: Path, tmp_path: Path) -> None:
    f = LearnedFeatures.from_file(features_file, padding="circular")
    assert f.padding == "circular" and f.correspondence_layers == ("conv1_2", "conv2_2")
    ex, layers = feature_extractor(str(features_file))
    assert isinstance(ex, LearnedFeatures) and layers == list(f.layer_names)
    other = tmp_path / "other.safetensors"
    save_file({"w": torch.zeros(2)}, str(other))
    for bad, words in (
        (other, "without texsynth metadata"),
        (checkpoint_path(features_file), "texsynth-features-checkpoint"),
        (tmp_path / "missing.safetensors", "not found"),
    ):
        with pytest.raises(TexsynthError) as e:
            LearnedFeatures.from_file(bad)
        assert words in one_line(e)
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"\x00" * 20)
    with pytest.raises(TexsynthError) as e:
        feature_extractor(str(junk))
    assert "not a readable safetensors file" in one_line(e)


@pytest.mark.parametrize("method", ["gap", "gram", "swd", "gc"])
def test_every_feature_method_takes_the_file(features_file: Path, method: str) -> None:
    ex = torch.rand(3, 32, 32, generator=torch.Generator().manual_seed(0))
    out, rep = texsynth.synthesize(
        ex,
        method=method,
        features=str(features_file),
        size=32,
        steps=12,
        levels=1,
        seed=1,
        progress=False,
        report=True,
    )
    assert out.shape == (1, 3, 32, 32) and torch.isfinite(out).all()
    assert min(rep.losses[-1][1:]) < rep.losses[-1][0]


def test_region_crops_the_exemplar() -> None:
    big = torch.zeros(3, 60, 80)
    big[:, 10:42, 20:52] = torch.rand(3, 32, 32, generator=torch.Generator().manual_seed(2))
    out = texsynth.synthesize(
        big, method="scattering", region=(20, 10, 32, 32), steps=2, progress=False, seed=0
    )
    assert out.shape[-2:] == (32, 32)
    with pytest.raises(TexsynthError) as e:
        texsynth.synthesize(big, region=(70, 0, 20, 20), progress=False)
    assert "reaches outside the 80x60 image" in one_line(e)
    with pytest.raises(TexsynthError) as e:
        texsynth.synthesize(big, region=(0, 0, 8, 8), mask=torch.ones(60, 80), progress=False)
    assert "give one of them" in one_line(e)


def test_evaluate_with_learned_features(features_file: Path) -> None:
    g = torch.Generator().manual_seed(3)
    ex, xs = torch.rand(3, 64, 64, generator=g), torch.rand(2, 3, 64, 64, generator=g)
    rep = texsynth.evaluate(ex, xs, features=str(features_file))
    names = [m.name for m in rep.metrics]
    assert "gap (LearnedFeatures)" in names and "gram (LearnedFeatures)" in names
    flat = torch.full_like(xs, 0.5)
    gap = {m.name: m for m in texsynth.evaluate(ex, flat, features=str(features_file)).metrics}
    assert min(gap["gap (LearnedFeatures)"].values) > max(
        next(m for m in rep.metrics if m.name == "gap (LearnedFeatures)").values
    )


def test_snapshot_is_the_shorter_run(photos: Path, tmp_path: Path) -> None:
    short = TrainSettings(**{**TINY.__dict__, "steps": 2})
    train_features([photos], tmp_path / "short.safetensors", short, calibration_pairs=2)
    r = train_features(
        [photos], tmp_path / "long.safetensors", TINY, calibration_pairs=2, snapshot_every=2
    )
    assert r.snapshots == [snapshot_path(tmp_path / "long.safetensors", 2)] and r.steps == 4
    a, meta_a = load_features_file(tmp_path / "short.safetensors")
    b, meta_b = load_features_file(r.snapshots[0])
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert json.loads(meta_a["calibration"]) == json.loads(meta_b["calibration"])
    assert json.loads(meta_b["training"])["steps"] == 2
    # the history records wall seconds as its fifth field
    assert all(len(h) == 5 and h[4] >= 0 for h in r.history)


def test_minutes_budget_stops_at_a_checkpoint_and_resumes_exactly(
    photos: Path, tmp_path: Path
) -> None:
    whole = train_features([photos], tmp_path / "whole.safetensors", TINY, calibration_pairs=0)
    out = tmp_path / "budget.safetensors"
    cut = train_features([photos], out, TINY, calibration_pairs=0, minutes=1e-9)
    assert cut.steps == 1 and read_features_metadata(out)["training"]["steps"] == 1
    resumed = train_features([photos], out, TINY, calibration_pairs=0, resume=True)
    assert resumed.steps == TINY.steps
    a, b = whole.model.state_dict(), resumed.model.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    with pytest.raises(TexsynthError) as e:
        train_features([photos], out, TINY, minutes=-1.0)
    assert "minutes must be > 0" in one_line(e)


def test_ssim_loss() -> None:
    x = torch.rand(2, 3, 16, 16)
    assert float(reconstruction_loss(x, x, "l1+ssim")) == pytest.approx(0.0, abs=1e-6)
    y = (x + 0.2 * torch.randn_like(x)).clamp(0, 1).requires_grad_(True)
    value = reconstruction_loss(y, x, "l1+ssim")
    assert float(value.detach()) > float(reconstruction_loss(y, x, "l1").detach()) * 0.16
    value.backward()
    assert y.grad is not None and float(y.grad.abs().sum()) > 0
    with pytest.raises(TexsynthError) as e:
        TrainSettings(loss="l2").check()
    assert "loss must be one of" in one_line(e)


def test_ssim_training_learns(photos: Path, tmp_path: Path) -> None:
    s = TrainSettings(patch=16, steps=60, width=8, depth=2, batch=4, checkpoint_every=30,
                      lr=3e-3, loss="l1+ssim")  # fmt: skip
    r = train_features([photos], tmp_path / "f.safetensors", s, calibration_pairs=0)
    assert r.history[-1][2] < 0.8 * r.history[0][2]
    assert read_features_metadata(tmp_path / "f.safetensors")["training"]["settings"]["loss"] == (
        "l1+ssim"
    )
