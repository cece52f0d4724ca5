"""Per-file weight calibration of learned features: stored factors, their effect on the
terms, and files without calibration."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from texsynth.datasets import ImageCollection
from texsynth.errors import TexsynthWarning
from texsynth.features import LearnedFeatures
from texsynth.features.calibration import calibrate_file, crop_pairs
from texsynth.features.learned import read_features_metadata
from texsynth.features.training import TrainSettings, train_features
from texsynth.loss_builder import LossBuilder
from texsynth.losses import GAPLoss
from texsynth.methods import METHODS
from texsynth.tensor_files import load_tensors, save_tensors

TINY = TrainSettings(patch=16, steps=6, width=4, depth=2, batch=2, checkpoint_every=3)


def _photo(seed: int, shape: tuple[int, int] = (48, 96)) -> np.ndarray:
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    waves = 0.5 + 0.3 * np.sin(xx / 3 + yy / 5)[..., None] * np.array([1, 0.6, 0.2])
    noise = 0.08 * rng.standard_normal((*shape, 3))
    return (np.clip(waves + noise, 0, 1) * 255).astype(np.uint8)


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("photos")
    for i in range(4):
        Image.fromarray(_photo(i)).save(folder / f"{i}.png")
    out = tmp_path_factory.mktemp("feat") / "f.safetensors"
    train_features([folder], out, TINY, calibration_pairs=8)
    return folder, out


def test_factors_round_trip(trained: tuple[Path, Path]) -> None:
    _, path = trained
    record = read_features_metadata(path)["calibration"]
    assert set(record["scale"]) == {"gap", "gram", "swd", "gc"}
    for name, scale in record["scale"].items():
        want = record["target"][name] / (METHODS[name].default_weight * record["loss"][name])
        assert scale == pytest.approx(want, rel=1e-4) and scale > 0
    assert LearnedFeatures.from_file(path).calibration == record["scale"]
    builder = LossBuilder("gap+gram", scattering={}, to_image=lambda x: x, features=str(path))
    assert builder.term_scales == {k: record["scale"][k] for k in ("gap", "gram")}


def test_calibrated_gap_term_is_about_one_on_other_crops(trained: tuple[Path, Path]) -> None:
    _, path = trained
    ext = LearnedFeatures.from_file(path)
    record = read_features_metadata(path)["calibration"]
    scale = record["scale"]["gap"]
    # photos never used for the calibration: same material, other noise
    photos = ImageCollection([Path(f"{i}") for i in range(3)], [], [])
    photos.images = [torch.from_numpy(_photo(100 + i)).permute(2, 0, 1) for i in range(3)]
    values = [
        METHODS["gap"].default_weight * scale * float(GAPLoss(a, extractor=ext)(b))
        for a, b in crop_pairs(photos, pairs=9, crop=record["crop"], seed=5)
    ]
    median = float(np.median(values))
    # the stated tolerance: a factor 3 either way (the median over 9 pairs of a tiny net)
    assert 1 / 3 < median < 3, values


def test_uncalibrated_file_loads_warns_and_can_be_calibrated(
    trained: tuple[Path, Path], tmp_path: Path
) -> None:
    folder, path = trained
    tensors, meta = load_tensors(path)
    old = tmp_path / "old.safetensors"
    save_tensors(old, tensors, {k: v for k, v in meta.items() if k != "calibration"})
    ext = LearnedFeatures.from_file(old)
    assert ext.calibration is None
    with pytest.warns(TexsynthWarning, match="features calibrate"):
        b = LossBuilder("gap", scattering={}, to_image=lambda x: x, features=str(old))
    assert b.term_scales == {}
    record = calibrate_file(old, [folder], pairs=4)
    assert LearnedFeatures.from_file(old).calibration == record["scale"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        LossBuilder("gap", scattering={}, to_image=lambda x: x, features=str(old))
    # a damaged record is refused in one line
    bad = tmp_path / "bad.safetensors"
    save_tensors(bad, tensors, {**meta, "calibration": json.dumps({"scale": {"gap": -1}})})
    with pytest.raises(Exception, match="damaged features metadata"):
        LearnedFeatures.from_file(bad)
