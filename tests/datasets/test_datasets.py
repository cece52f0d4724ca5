"""Image collections and patch samplers: errors, determinism, resume, the pair geometry."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from texsynth import TexsynthError
from texsynth.datasets import ImageCollection, PairSampler, PatchSampler

from ..helpers import one_line


def _write(folder: Path, name: str, h: int, w: int, seed: int, grey: bool = False) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    a = (rng.random((h, w) if grey else (h, w, 3)) * 255).astype(np.uint8)
    path = folder / name
    Image.fromarray(a).save(path)
    return path


@pytest.fixture
def photos(tmp_path: Path) -> Path:
    _write(tmp_path / "p", "a.png", 40, 48, 0)
    _write(tmp_path / "p" / "sub", "b.jpg", 36, 36, 1)
    _write(tmp_path / "p", "c.png", 32, 50, 2, grey=True)
    (tmp_path / "p" / "notes.txt").write_text("not an image")
    return tmp_path / "p"


def test_collection_reads_folders_recursively_as_rgb(photos: Path) -> None:
    c = ImageCollection.from_folders([photos], min_size=16)
    assert [p.name for p in c.paths] == ["a.png", "c.png", "b.jpg"]
    assert all(x.shape[0] == 3 and x.dtype == torch.uint8 for x in c.images)
    grey = c.image(1)
    assert torch.equal(grey[0], grey[1]) and grey.max() <= 1
    s = c.summary()
    assert s["images"] == 3 and s["smallest_hw"] == [36, 36] and len(s["sha256"]) == 16


def test_collection_split_holds_out_images(photos: Path) -> None:
    c = ImageCollection.from_folders([photos])
    train, held = c.split(0.5)
    assert len(train) + len(held) == 3 and len(held) >= 1
    assert not set(map(str, train.paths)) & set(map(str, held.paths))


def test_collection_errors_are_one_line(photos: Path, tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(TexsynthError) as e:
        ImageCollection.from_folders([tmp_path / "empty"])
    assert "has no images" in one_line(e)
    with pytest.raises(TexsynthError) as e:
        ImageCollection.from_folders([tmp_path / "missing"])
    assert "does not exist" in one_line(e)
    with pytest.raises(TexsynthError) as e:
        ImageCollection.from_folders([photos], min_size=38)
    msg = one_line(e)
    assert "smaller than the 38-pixel patch" in msg and "b.jpg" in msg and "c.png" in msg
    (photos / "broken.png").write_bytes(b"\x89PNG not really")
    with pytest.raises(TexsynthError) as e:
        ImageCollection.from_folders([photos])
    assert "broken.png" in one_line(e)


def test_patch_sampler_is_deterministic_and_resumes(photos: Path) -> None:
    c = ImageCollection.from_folders([photos])
    a = PatchSampler(c, 16, batch=4, seed=3)
    first = [next(a) for _ in range(5)]
    assert first[0].shape == (4, 3, 16, 16) and 0 <= float(first[0].min())
    assert not torch.equal(first[0], first[1])
    b = PatchSampler(c, 16, batch=4, seed=3)
    for _ in range(2):
        next(b)
    state = b.state_dict()
    resumed = PatchSampler(c, 16, batch=4, seed=3)
    resumed.load_state_dict(state)
    assert all(torch.equal(next(resumed), x) for x in first[2:])
    assert not torch.equal(PatchSampler(c, 16, batch=4, seed=4).batch(0), first[0])
    with pytest.raises(TexsynthError) as e:
        PatchSampler(c, 16, seed=5).load_state_dict(state)
    assert "seed" in one_line(e)


def test_patch_sampler_crops_come_from_the_images(tmp_path: Path) -> None:
    path = _write(tmp_path / "one", "x.png", 24, 24, 7)
    c = ImageCollection.from_folders([path])
    crops = PatchSampler(c, 24, batch=8, seed=0).batch(0)
    img = c.image(0)
    # the whole image: every crop is one of the 8 symmetries of it
    syms = [torch.rot90(img, k, (-2, -1)) for k in range(4)]
    syms += [torch.flip(s, (-1,)) for s in syms]
    assert all(any(torch.equal(x, s) for s in syms) for x in crops)
    assert len({tuple(x.flatten()[:5].tolist()) for x in crops}) > 1  # augmented


def test_pair_sampler_small_is_centre_of_large(photos: Path) -> None:
    c = ImageCollection.from_folders([photos])
    small, large = PairSampler(c, 12, batch=3, seed=1).pair(0)
    assert small.shape == (3, 3, 12, 12) and large.shape == (3, 3, 24, 24)
    assert torch.equal(small, large[..., 6:18, 6:18])
    it = PairSampler(c, 12, batch=3, seed=1)
    first = next(it)
    assert torch.equal(first[0], small) and torch.equal(first[1], large)
    assert it.state_dict() == {"seed": 1, "step": 1}
    with pytest.raises(TexsynthError) as e:
        PairSampler(c, 20)  # needs 40-pixel images
    assert "smaller than the 40-pixel crop" in one_line(e)
