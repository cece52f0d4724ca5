"""Bad input and faults on the ``texsynth`` command (issue 17): every refusal is exit status 2,
one line on stderr naming the problem and the fix, no traceback, inputs unchanged and no new
file. Expensive cases are refused before any work, so each takes well under a second."""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import texsynth.generators
import texsynth.io
import texsynth.io.outputs
from texsynth import TexsynthError
from texsynth.atomic import MARKER_KEY, clean_stale_temporaries
from texsynth.cli import main
from texsynth.cli.generators import checkpoint_path
from texsynth.generators import train_generator
from texsynth.io import read_image

QUICK = ["--method", "scattering", "--steps", "1", "--quiet"]
TRAIN = ["--size", "16x16", "--depth", "2", "--width", "2", "--batch", "1", "--quiet"]


def _snapshot(root: Path) -> dict[str, str]:
    """Every file and folder under ``root`` (hidden ones too) with a hash of its bytes."""
    out = {}
    for p in sorted(root.rglob("*")):
        rel = str(p.relative_to(root))
        if p.is_symlink():
            out[rel] = "link:" + os.readlink(p)
        elif p.is_dir():
            out[rel] = "dir"
        else:
            out[rel] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out


def _run(args: list[str]) -> int:
    try:
        return main(args)
    except SystemExit as exc:  # argparse
        return int(exc.code or 0)


@pytest.fixture
def d(tmp_path: Path) -> Path:
    """A folder with a 24x24 exemplar, a mask, an init image and a tiny generator file."""
    rng = np.random.default_rng(0)
    Image.fromarray((rng.random((24, 24)) * 255).astype(np.uint8)).save(tmp_path / "ex.png")
    Image.fromarray((rng.random((24, 24)) * 255).astype(np.uint8)).save(tmp_path / "style.png")
    mask = np.zeros((24, 24), np.uint8)
    mask[8:16, 8:16] = 255
    Image.fromarray(mask).save(tmp_path / "mask.png")
    Image.fromarray((rng.random((24, 24)) * 255).astype(np.uint8)).save(tmp_path / "init.png")
    np.save(tmp_path / "walk.npy", np.cumsum(rng.standard_normal(256)).astype(np.float32))
    model = train_generator(
        torch.rand(1, 16, 16), steps=1, size=16, depth=2, width=2, seed=0, progress=False
    )
    texsynth.generators.save_generator(model, tmp_path / "m.safetensors")
    os.link(tmp_path / "ex.png", tmp_path / "hard.png")
    (tmp_path / "alias.safetensors").symlink_to(tmp_path / "ex.png")
    (tmp_path / "alias.png").symlink_to(tmp_path / "m.safetensors")
    (tmp_path / "sub").mkdir()
    (tmp_path / "photo.png").write_bytes((tmp_path / "init.png").read_bytes())
    (tmp_path / "results.json").write_text('{"mine": 1}')
    (tmp_path / "user.safetensors").write_bytes(b"not a model of texsynth")
    (tmp_path / "user.html").write_text("<html><title>my page</title></html>")
    (tmp_path / "adir.png").mkdir()
    (tmp_path / "blk.json").mkdir()
    # the "should fix (messages)" cases
    Image.fromarray(np.full((24, 24), 255, np.uint8)).save(tmp_path / "white.png")
    Image.fromarray(np.full((24, 24), 128, np.uint8)).save(tmp_path / "const.png")
    Image.fromarray(np.zeros((24, 24), np.uint8)).save(tmp_path / "black.png")
    Image.fromarray(np.full((12, 20), 255, np.uint8)).save(tmp_path / "small_mask.png")
    Image.fromarray((rng.random((2, 2)) * 255).astype(np.uint8)).save(tmp_path / "tiny.png")
    np.save(tmp_path / "wide.npy", rng.random((16, 40)).astype(np.float32))  # W=40, H=16
    nan = rng.random((24, 24)).astype(np.float32)
    nan[3, 4] = np.nan
    np.save(tmp_path / "nan.npy", nan)
    np.savetxt(tmp_path / "sig.csv", rng.standard_normal(64))
    np.savetxt(tmp_path / "tiny.csv", rng.standard_normal(4))
    np.savetxt(tmp_path / "flat.csv", np.full(64, 2.5))
    return tmp_path


LONG = "a" * 300

CASES = [
    # 2: an output that is one of the run's inputs
    (["synth", "{d}/ex.png", "-o", "{d}/ex.png"], "is the exemplar"),
    (["synth", "{d}/ex.png", "-o", "{d}/sub/../ex.png"], "is the exemplar"),
    (["synth", "{d}/ex.png", "-o", "{d}/hard.png"], "is the exemplar"),
    (["synth", "{d}/ex.png", "-o", "{d}/mask.png", "--mask", "{d}/mask.png"], "is the mask"),
    (["synth", "{d}/ex.png", "-o", "{d}/init.png", "--init", "{d}/init.png"], "is the init"),
    (["train", "{d}/ex.png", "-o", "{d}/alias.safetensors"], "is the exemplar"),
    (["remake", "{d}/ex.png", "--like", "{d}/style.png", "-o", "{d}/style.png"], "is the style"),
    (["remake", "{d}/ex.png", "--like", "{d}/style.png", "-o", "{d}/ex.png"], "is the content"),
    (["sample", "{d}/m.safetensors", "-o", "{d}/alias.png"], "is the model"),
    (["eval", "{d}/ex.png", "{d}/style.png", "--report", "{d}/style.png"], "is the sample"),
    (["synth", "{d}/walk.npy", "-o", "{d}/walk.npy"], "is the exemplar"),
    # 2: files texsynth did not write
    (["synth", "{d}/ex.png", "-o", "{d}/photo.png"], "--overwrite"),
    (["synth", "{d}/ex.png", "-o", "{d}/results.png"], "its sidecar"),
    (["stats", "{d}/ex.png", "--json", "{d}/results.json"], "--overwrite"),
    (["train", "{d}/ex.png", "-o", "{d}/user.safetensors"], "--overwrite"),
    (["eval", "{d}/ex.png", "{d}/style.png", "--report", "{d}/user.html"], "--overwrite"),
    (["sample", "{d}/m.safetensors", "-o", "{d}/photo.png"], "--overwrite"),
    # 6: outputs checked before any work
    (["synth", "{d}/ex.png", "-o", "{d}/x.xyz"], "unknown output type '.xyz'"),
    (["synth", "{d}/ex.png", "-o", "{d}/sub"], "/sub' is a directory"),
    (["synth", "{d}/ex.png", "-o", "{d}/adir.png"], "is a directory"),
    (["synth", "{d}/ex.png", "-o", "{d}/blk.png", "--n", "4"], "blk.json' is a directory"),
    (["sample", "{d}/m.safetensors", "-o", "{d}/blk_{i}.png"], "blk.json' is a directory"),
    (["synth", "{d}/ex.png", "-o", "{d}/nodir/x.png", "--steps", "10000"], "does not exist"),
    (["synth", "{d}/ex.png", "-o", "{d}/ex.png/x.png"], "is not a folder"),
    (["remake", "{d}/ex.png", "--like", "{d}/style.png", "-o", "{d}/r.gif"], "'.gif'"),
    (["sample", "{d}/m.safetensors", "-o", "{d}/s.txt"], "unknown output type"),
    (["eval", "{d}/ex.png", "{d}/style.png", "--report", "{d}/x.xyz"], ".html, .htm, .png"),
    (["eval", "{d}/ex.png", "{d}/style.png", "--json", "{d}/nodir/e.json"], "does not exist"),
    (["eval", "{d}/ex.png", "{d}/style.png", "--json", "{d}/e.txt"], "use one of .json"),
    (["stats", "{d}/ex.png", "--json", "{d}/nodir/s.json"], "does not exist"),
    (["train", "{d}/ex.png", "-o", "{d}/m.png", "--steps", "100000"], "use one of .safetensors"),
    (["train", "{d}/ex.png", "-o", "{d}/model"], "(no suffix)"),
    (["train", "{d}/ex.png", "-o", "{d}/nodir/m.safetensors"], "does not exist"),
    (["synth", "{d}/walk.npy", "-o", "{d}/w.png"], "written as .npy, .npz, .csv"),
    # 3: ordinary typos
    (["synth", "{d}/ex.png", "-o", "{d}/o.png", "--seed", "18446744073709551616"], "2**63-1"),
    (["synth", "{d}/ex.png", "-o", "{d}/o.png", "--seed", "-1"], "2**63-1"),
    (["sample", "{d}/m.safetensors", "-o", "{d}/o.png", "--seed", "9223372036854775808"], "2**63"),
    (["train", "{d}/ex.png", "-o", "{d}/n.safetensors", "--seed", "18446744073709551616"], "2**63"),
    (
        ["remake", "{d}/ex.png", "--like", "{d}/style.png", "-o", "{d}/o.png", "--seed", "1e3"],
        "2**63",
    ),
    (["sample", "{d}/m.safetensors", "-o", "{d}/o.png", "--size", "0"], "both >= 1"),
    (["synth", "{d}/ex.png", "-o", "{d}/o.png", "--size=-5x4"], "both >= 1"),
    (["synth", "{d}/ex.png", "-o", "{d}/o.png", "--n", "x"], "positive integer"),
    (["synth", "{d}/" + LONG + ".png", "-o", "{d}/o.png"], "file name too long"),
    (["synth", "{d}/ex.png", "-o", "{d}/" + LONG + ".png"], "use a shorter name"),
    (["stats", "{d}/" + LONG + ".npy"], "file name too long"),
    (["synth", "{d}/ex.png", "-o", "{d}/o.png", "--device", "meta"], "unknown device 'meta'"),
    (["synth", "{d}/ex.png", "-o", "{d}/o.png", "--device", "cpu:3"], "one cpu device"),
    (["sample", "{d}/m.safetensors", "-o", "{d}/o.png", "--device", "nonsense"], "unknown device"),
    # 4: bounds and memory estimates before work
    (["synth", "{d}/ex.png", "-o", "{d}/o.png", "--L", "1000"], "from 1 to 16"),
    (["synth", "{d}/ex.png", "-o", "{d}/o.png", "--J", "40"], "from 1 to 16"),
    (["stats", "{d}/ex.png", "--L", "1000"], "from 1 to 16"),
    (["stats", "{d}/ex.png", "--L", "16", "--max-memory", "1M"], "needs about"),
    (["synth", "{d}/ex.png", "-o", "{d}/o.png", "--size", "10000x10000"], "needs about"),
    (["synth", "{d}/ex.png", "-o", "{d}/o.png", "--size", "10000", "--max-memory", "8G"], "8 GiB"),
    (["synth", "{d}/ex.png", "-o", "{d}/o.png", "--n", "100000", "--max-memory", "4G"], "--n"),
    (["synth", "{d}/ex.png", "-o", "{d}/o.png", "--max-memory", "lots"], "like 64G"),
    (
        ["remake", "{d}/ex.png", "--like", "{d}/style.png", "-o", "{d}/o.png", "--size", "9999"],
        "need",
    ),
    (["train", "{d}/ex.png", "-o", "{d}/n.safetensors", "--width", "100000"], "from 1 to 512"),
    (["train", "{d}/ex.png", "-o", "{d}/n.safetensors", "--depth", "50"], "from 1 to 10"),
    (["train", "{d}/ex.png", "-o", "{d}/n.safetensors", "--size", "5000"], "--batch"),
    (["sample", "{d}/m.safetensors", "-o", "{d}/o.png", "--size", "10000x10000"], "needs about"),
    (
        ["sample", "{d}/m.safetensors", "-o", "{d}/o.png", "--size", "900", "--max-memory", "9M"],
        "9 MiB",
    ),
    # should fix (messages) 1: an all-white mask leaves nothing to learn from
    (
        ["synth", "{d}/ex.png", "-o", "{d}/o.png", "--mask", "{d}/white.png", *QUICK[:2]],
        "the mask covers the whole exemplar",
    ),
    (
        ["synth", "{d}/ex.png", "-o", "{d}/o.png", "--mask", "{d}/white.png", "--method", "patch"],
        "leave part of the mask black (0 = keep), or give the image to fill separately (--init",
    ),
    # 2: too small for any scale: the minimum size, never J=None or "use J<=0"
    (["synth", "{d}/tiny.png", "-o", "{d}/o.png", *QUICK[:2]], "need at least 8x8 pixels"),
    (["stats", "{d}/tiny.png"], "need at least 8x8 pixels"),
    (["train", "{d}/tiny.png", "-o", "{d}/n.safetensors"], "need at least 8x8 pixels"),
    (["synth", "{d}/tiny.csv", "-o", "{d}/o.csv"], "need at least 8 samples"),
    (["stats", "{d}/tiny.csv"], "need at least 8 samples"),
    # 3: sizes as width x height, as --size takes them
    (["synth", "{d}/wide.npy", "-o", "{d}/o.npy", "--J", "4"], "exemplar of 40x16 pixels"),
    (["synth", "{d}/ex.png", "-o", "{d}/o.png", "--init", "{d}/wide.npy", "--size", "24"], "40x16"),
    # 4: train takes images
    (["train", "{d}/sig.csv", "-o", "{d}/n.safetensors"], "train takes an image (.png"),
    (["train", "{d}/walk.npy", "-o", "{d}/n.safetensors"], "is a 1-D signal"),
    # 5: a weight that is not a positive number is a bad weight, not an unknown term
    (["synth", "{d}/ex.png", "-o", "{d}/o.png", "--method", "nan*gram"], "bad weight 'nan'"),
    (["synth", "{d}/ex.png", "-o", "{d}/o.png", "--method", "inf*gram"], "bad weight 'inf'"),
    (["synth", "{d}/ex.png", "-o", "{d}/o.png", "--method=-1*gram"], "bad weight '-1'"),
    # 6: NaN/Inf: what a command-line user can do
    (["synth", "{d}/nan.npy", "-o", "{d}/o.npy"], "mark them white in a --mask"),
    (["stats", "{d}/nan.npy"], "the command line cannot skip them"),
    # 7: statistics of a constant image are undefined
    (["stats", "{d}/const.png"], "const.png' is constant (every pixel is 0.50"),
    (["stats", "{d}/flat.csv"], "is constant (every sample is 2.5)"),
    # 8: --init sets the output size; a different --size is refused
    (
        ["synth", "{d}/ex.png", "-o", "{d}/o.png", "--init", "{d}/wide.npy", "--size", "16x40"],
        "--size 16x40 differs from the size of --init",
    ),
    (
        ["synth", "{d}/ex.png", "-o", "{d}/o.png", "--mask", "{d}/mask.png", "--size", "32"],
        "--mask",
    ),
    # 9: network options with a method that has no network
    (["synth", "{d}/ex.png", "-o", "{d}/o.png", *QUICK[:2], "--layers", "conv1_1"], "not used by"),
    (["synth", "{d}/ex.png", "-o", "{d}/o.png", "--features", "random"], "--method auto chose"),
    (
        [
            "synth",
            "{d}/ex.png",
            "-o",
            "{d}/o.png",
            "--method",
            "spectrum+scattering",
            "--weights",
            "{d}/w",
        ],
        "--weights",
    ),
    (
        [
            "remake",
            "{d}/ex.png",
            "--like",
            "{d}/style.png",
            "-o",
            "{d}/o.png",
            *QUICK[:2],
            "--layers",
            "pool1",
        ],
        "--content-layers",
    ),
    # 10: argument errors name the subcommand's help, never an internal name
    (
        ["synth", "{d}/ex.png", "-o", "{d}/o.png", "--foo"],
        "unrecognized arguments: --foo; see texsynth synth --help",
    ),
    (["stats", "{d}/ex.png", "--bar", "1"], "see texsynth stats --help"),
    (["train", "{d}/ex.png", "-o", "{d}/n.safetensors", "--baz"], "see texsynth train --help"),
    (["sample", "{d}/m.safetensors", "-o", "{d}/o.png", "--qux"], "see texsynth sample --help"),
    (["eval", "{d}/ex.png", "{d}/style.png", "--quux"], "see texsynth eval --help"),
    (["methods", "--all"], "see texsynth methods --help"),
    (["synth", "{d}/ex.png", "-o", "{d}/o.png", "--n", str(10**7)], "at most 1000000"),
    (["sample", "{d}/m.safetensors", "-o", "{d}/o.png", "--n", "9" * 40], "at most 1000000"),
    (["train", "{d}/ex.png", "-o", "{d}/n.safetensors", "--lr", "nan"], "--lr: must be a positive"),
    # issue 15 on the command line: patch takes none of the optimisation options
    (["synth", "{d}/ex.png", "-o", "{d}/o.png", "--method", "patch", "--steps", "5"], "--steps"),
    (["synth", "{d}/ex.png", "-o", "{d}/o.png", "--quality", "ultra"], "invalid choice"),
    # audit of the fixes: a grey mask counts as white from mid-grey up (all white here: the
    # whole-exemplar message, never "excludes every pixel"); an all-black one in CLI words;
    # a mask of another size in WxH and CLI words
    (
        ["synth", "{d}/ex.png", "-o", "{d}/o.png", "--mask", "{d}/const.png", "--method", "patch"],
        "the mask covers the whole exemplar",
    ),
    (["synth", "{d}/ex.png", "-o", "{d}/o.png", "--mask", "{d}/black.png"], "black everywhere"),
    (
        [
            "synth",
            "{d}/ex.png",
            "-o",
            "{d}/o.png",
            "--mask",
            "{d}/small_mask.png",
            "--method",
            "patch",
            "--quality",
            "fast",
        ],  # fmt: skip
        "--mask is 20x12 pixels but the exemplar is 24x24",
    ),
    # a huge --n is refused by its memory before its million file names are checked
    (["synth", "{d}/ex.png", "-o", "{d}/o.png", "--n", "1000000"], "of memory (estimate)"),
]


@pytest.mark.parametrize(("args", "match"), CASES, ids=[" ".join(a[:1] + a[3:5]) for a, _ in CASES])
def test_refused_before_work_in_one_line(
    args: list[str], match: str, d: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = [a.replace("{d}", str(d)) for a in args]
    before = _snapshot(d)
    assert _run(argv) == 2
    captured = capsys.readouterr()
    err = captured.err
    assert err.startswith("texsynth: error:") and err.count("\n") == 1, err
    assert match in err and "Traceback" not in err
    assert "J=None" not in err and "<=0" not in err and "_positive_int" not in err
    assert _snapshot(d) == before  # inputs unchanged, no new file (hidden ones included)


def test_read_only_folder_is_refused_before_work(
    d: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    ro = d / "ro"
    ro.mkdir()
    if os.geteuid() == 0:  # root writes anywhere: make the folder refuse it
        real_open = os.open

        def refuse(path: str | os.PathLike[str], *args: object, **kw: object) -> int:
            if Path(path).parent == ro:
                raise PermissionError(13, "Permission denied")
            return real_open(path, *args, **kw)  # type: ignore[arg-type]

        monkeypatch.setattr("texsynth.atomic.os.open", refuse)
    else:
        ro.chmod(0o555)
    try:
        before = _snapshot(d)
        assert main(["synth", str(d / "ex.png"), "-o", str(ro / "o.png"), *QUICK]) == 2
        err = capsys.readouterr().err
        assert "cannot write in folder" in err and "Permission denied" in err
        assert err.count("\n") == 1 and _snapshot(d) == before
    finally:
        ro.chmod(0o755)


def test_python_api_bad_arguments() -> None:
    with pytest.raises(TexsynthError, match="must be a file name") as info:
        read_image(None)  # type: ignore[arg-type]
    assert "\n" not in str(info.value)
    with pytest.raises(TexsynthError, match="file name too long"):
        read_image("b" * 300 + ".png")
    with pytest.raises(TexsynthError, match="seed must be an integer from 0 to 2\\*\\*63-1"):
        train_generator(torch.rand(1, 16, 16), steps=1, size=16, depth=2, seed=2**64)


# ----------------------------------------------------------------------------- --overwrite


def test_overwrite_replaces_foreign_files_and_own_outputs_need_nothing(
    d: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    photo = d / "photo.png"
    old = photo.read_bytes()
    assert main(["synth", str(d / "ex.png"), "-o", str(photo), *QUICK, "--overwrite"]) == 0
    assert photo.read_bytes() != old
    side = json.loads((d / "photo.json").read_text())
    assert side[MARKER_KEY] == "synth"
    # texsynth wrote photo.png and photo.json: a second run replaces them without --overwrite
    assert main(["synth", str(d / "ex.png"), "-o", str(photo), *QUICK, "--seed", "4"]) == 0
    assert json.loads((d / "photo.json").read_text())["seed"] == 4
    # the same for stats --json and sidecars of an older version (texsynth_version only)
    js = d / "s.json"
    assert main(["stats", str(d / "ex.png"), "--json", str(js)]) == 0
    assert main(["stats", str(d / "ex.png"), "--json", str(js)]) == 0
    (d / "results.json").write_text(json.dumps({"texsynth_version": "0.1", "outputs": []}))
    assert main(["synth", str(d / "ex.png"), "-o", str(d / "results.png"), *QUICK]) == 0
    # ... but --overwrite never lets an output replace an input
    assert main(["synth", str(d / "ex.png"), "-o", str(d / "ex.png"), "--overwrite"]) == 2
    capsys.readouterr()


# ----------------------------------------------------------------------------- item 1: train


def test_failed_final_save_keeps_the_checkpoint_and_resume_writes_the_model(
    d: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    model = d / "g.safetensors"
    ckpt = checkpoint_path(model)
    real_save = texsynth.generators.save_generator

    def blocked(m: object, path: Path, **kw: object) -> None:
        model.mkdir()  # the output path becomes a directory while training runs
        real_save(m, path, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(texsynth.generators, "save_generator", blocked)
    argv = ["train", str(d / "ex.png"), "-o", str(model), "--steps", "3", *TRAIN]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--resume" in err and ckpt.name in err
    assert ckpt.is_file() and model.is_dir()
    assert not [p for p in d.iterdir() if p.name.startswith(".")]  # no temporaries left
    monkeypatch.setattr(texsynth.generators, "save_generator", real_save)
    model.rmdir()
    assert main([*argv, "--resume"]) == 0
    assert model.is_file() and not ckpt.exists()
    out = capsys.readouterr().out  # nothing left to train: the kept network
    assert "3 steps: 0 in this run" in out and "resumed from step 3" in out
    # the model is the one an uninterrupted run writes
    other = d / "h.safetensors"
    assert main(["train", str(d / "ex.png"), "-o", str(other), "--steps", "3", *TRAIN]) == 0
    a = texsynth.generators.load_generator(model)
    b = texsynth.generators.load_generator(other)
    for (ka, va), (_, vb) in zip(a.state_dict().items(), b.state_dict().items(), strict=True):
        assert torch.equal(va, vb), ka


# ----------------------------------------------------------------------------- item 7: sets


def test_failure_in_the_middle_of_a_set_leaves_nothing_new(
    d: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    argv = ["synth", str(d / "ex.png"), "-o", str(d / "t.png"), "--n", "4", *QUICK, "--seed", "1"]
    assert main(argv) == 0
    before = _snapshot(d)
    real_write = texsynth.io.write_image
    calls = []

    def disk_full(path: Path, *args: object, **kw: object) -> Path:
        calls.append(path)
        if len(calls) == 3:
            raise TexsynthError(f"cannot write {str(path)!r}: No space left on device")
        return real_write(path, *args, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(texsynth.io.outputs, "write_image", disk_full)
    assert main([*argv[:-1], "2"]) == 2
    assert "No space left" in capsys.readouterr().err
    assert _snapshot(d) == before  # the old set and its record, no temporaries

    def interrupted(path: Path, *args: object, **kw: object) -> Path:
        raise KeyboardInterrupt

    monkeypatch.setattr(texsynth.io.outputs, "write_image", interrupted)
    assert main([*argv[:-1], "2"]) == 130
    assert _snapshot(d) == before


def test_sample_set_is_all_or_nothing(
    d: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    before = _snapshot(d)
    real_write = texsynth.io.write_image
    calls = []

    def disk_full(path: Path, *args: object, **kw: object) -> Path:
        calls.append(path)
        if len(calls) == 2:
            raise TexsynthError(f"cannot write {str(path)!r}: No space left on device")
        return real_write(path, *args, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(texsynth.io.outputs, "write_image", disk_full)
    argv = ["sample", str(d / "m.safetensors"), "-o", str(d / "s.png"), "--n", "3"]
    assert main([*argv, "--size", "16", "--seed", "0"]) == 2
    assert capsys.readouterr().err.count("\n") == 1
    assert _snapshot(d) == before
    monkeypatch.setattr(texsynth.io.outputs, "write_image", real_write)
    assert main([*argv, "--size", "16", "--seed", "0"]) == 0
    names = {p.name for p in d.iterdir()} - set(before)
    assert names == {"s_0.png", "s_1.png", "s_2.png", "s.json"}


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_a_kill_during_a_write_leaves_the_old_file_and_its_temporary_is_cleaned_next_time(
    d: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = d / "k.png"
    argv = ["synth", str(d / "ex.png"), "-o", str(out), *QUICK, "--seed", "1"]
    assert main(argv) == 0
    old = out.read_bytes()
    # a kill -9 between writing the temporary and moving it: the temporary stays, hidden
    pid = _dead_pid()
    stale = [
        d / f".k.tmp-{pid}-0badc0de.png",
        d / f"..k.tmp-{pid}-0badc0de.tmp-{pid}-12345678.png",
        d / f".k.tmp-{pid}-0badc0de.json",
    ]
    for s in stale:
        s.write_bytes(b"half a file")
    live = d / f".k.tmp-{os.getpid()}-feedbeef.png"  # a write in progress (this process)
    live.write_bytes(b"being written")
    assert out.read_bytes() == old
    # other commands ignore the temporaries ...
    assert main(["stats", str(out), "--json", str(d / "k_stats.json")]) == 0
    assert all(s.exists() for s in stale)
    # ... and the next write of the same output removes the stale ones
    assert main([*argv[:-1], "2"]) == 0
    assert not any(s.exists() for s in stale) and live.exists()
    assert out.read_bytes() != old
    # a generator checkpoint's temporary (nested in safetensors' own) is recognised too
    ck = d / f"..g.checkpoint.tmp-{pid}-0badc0de.safetensors.0123456789ab.tmp"
    ck.write_bytes(b"x")
    assert clean_stale_temporaries(d / "g.checkpoint.safetensors") == [ck]
    # our own pid, but older than this process: an earlier process had the same pid
    # (containers); a temporary of an older version without a pid: stale after an hour
    mine = d / f".g.tmp-{os.getpid()}-0badc0de.png"
    legacy = d / ".g.tmp-0badc0de.png"
    for p in (mine, legacy):
        p.write_bytes(b"x")
        os.utime(p, (1e9, 1e9))
    assert sorted(clean_stale_temporaries(d / "g.png")) == sorted([mine, legacy])
    capsys.readouterr()


# ----------------------------------------------------------------------------- item 5: crafted


def _crafted(
    d: Path, config: dict | None = None, meta: object = None, raw: dict | None = None
) -> Path:
    """A copy of ``m.safetensors`` with its config and metadata edited (or raw header
    entries replaced), written as a hostile user would."""
    from safetensors import safe_open
    from safetensors.torch import load_file, save_file

    with safe_open(str(d / "m.safetensors"), framework="pt") as f:
        header = dict(f.metadata())
    cfg = json.loads(header["config"])
    cfg.update(config or {})
    header["config"] = json.dumps(cfg)
    if meta is not None:
        header["texsynth.metadata"] = json.dumps(meta)
    header.update(raw or {})
    out = d / "crafted.safetensors"
    save_file(load_file(str(d / "m.safetensors")), str(out), metadata=header)
    return out


CRAFTED = [
    ({"raw": {"config": "[1, 2]"}}, "config must be a JSON object"),
    ({"raw": {"config": "[" * 100000 + "]" * 100000}}, "corrupt 'config'"),
    ({"meta": [1, 2]}, "metadata must be a JSON object"),
    ({"meta": {"exemplar_size_hw": ["a", 5]}}, "exemplar_size_hw[0]"),
    ({"meta": {"exemplar_size_hw": [16, -5]}}, "exemplar_size_hw[1]"),
    ({"meta": {"exemplar_size_hw": [100000, 100000]}}, "exemplar_size_hw[0]"),
    ({"meta": {"exemplar_size_hw": [65536, 65536]}}, "needs about"),
    ({"meta": {"exemplar_size_hw": 16}}, "[height, width]"),
    ({"meta": {"exemplar_meta": {"value_range": "x"}}}, "exemplar_meta.value_range"),
    ({"meta": {"exemplar_meta": {"channels": 2**20}}}, "exemplar_meta.channels"),
    ({"config": {"image_channels": 2**20}}, "config.image_channels"),
    ({"config": {"channel_list": [2**20, 8, 4]}}, "config.channel_list[0]"),
    ({"config": {"channel_list": "16"}}, "config.channel_list"),
    ({"config": {"depth": "2"}}, "config.depth"),
    ({"config": {"depth": 10**6}}, "config.depth"),
    ({"config": {"L": -1}}, "config.L"),
    ({"config": {"n_quantiles": 10**9}}, "config.n_quantiles"),
    ({"config": {"negative_slope": float("nan")}}, "config.negative_slope"),
    ({"config": {"tile": "yes"}}, "config.tile"),
    ({"config": {"out_channels": 3}}, "config.out_channels"),
    ({"config": {"architecture": None}}, "not 'SynthHalfUNet2D'"),
]


@pytest.mark.parametrize(("craft", "match"), CRAFTED, ids=[m for _, m in CRAFTED])
def test_crafted_generator_files_are_refused_in_one_line(
    craft: dict, match: str, d: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = _crafted(d, **craft)
    before = _snapshot(d)
    assert _run(["sample", str(bad), "-o", str(d / "s.png"), "--n", "2"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("texsynth: error:") and err.count("\n") == 1, err
    assert match in err and "Traceback" not in err, err
    assert _snapshot(d) == before
    # a server loading user-supplied models through the API gets a TexsynthError, no crash
    if match != "needs about":
        with pytest.raises(TexsynthError, match=re.escape(match)):
            texsynth.generators.read_generator_metadata(bad)
    if "config" in craft or "raw" in craft:
        with pytest.raises(TexsynthError):
            texsynth.generators.load_generator(bad)


def test_crafted_checkpoint_is_refused_in_one_line(
    d: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from safetensors.torch import save_file

    model = d / "g.safetensors"
    ckpt = checkpoint_path(model)
    argv = ["train", str(d / "ex.png"), "-o", str(model), "--steps", "2", *TRAIN, "--resume"]
    for meta in (
        {"format": "texsynth-checkpoint/1", "settings": "[1]", "step": "1"},
        {"format": "texsynth-checkpoint/1", "settings": "{}", "step": "-4"},
    ):
        save_file({"x": torch.zeros(1)}, str(ckpt), metadata=meta)
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "'settings' or 'step'" in err, err
        assert not model.exists()


# ----------------------------------------------------------------------------- should fix


def test_init_sets_the_output_size_and_the_start_line_says_so(
    d: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = d / "o.png"
    argv = ["synth", str(d / "ex.png"), "-o", str(out), "--init", str(d / "wide.npy"), *QUICK]
    assert main(argv) == 0
    first = capsys.readouterr().out.splitlines()[0]
    assert "1 x 40x16 (the size of --init)" in first, first
    assert read_image(out)[0].shape == (1, 16, 40)
    # the same size given with --size is fine
    assert main([*argv, "--size", "40x16", "--seed", "3"]) == 0
    capsys.readouterr()


def test_stats_of_a_partly_constant_image_says_so_without_nan(
    d: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rgb = (np.random.default_rng(1).random((24, 24, 3)) * 255).astype(np.uint8)
    rgb[..., 2] = 0
    Image.fromarray(rgb).save(d / "rg.png")
    assert main(["stats", str(d / "rg.png"), "--norm", "self", "--json", str(d / "s.json")]) == 0
    out = capsys.readouterr().out
    assert "channel 2: constant (0): no texture statistics" in out and "nan" not in out
    json.loads((d / "s.json").read_text(), parse_constant=lambda c: pytest.fail(c))


def test_help_has_text_and_defaults_for_every_option() -> None:
    import argparse

    from texsynth.cli.main import build_parser

    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    for name, p in sub.choices.items():
        for action in p._actions:
            if not action.option_strings or action.dest == "help":
                continue
            flag = f"{name} {action.option_strings[-1]}"
            assert action.help, flag
            text = p._get_formatter()._get_help_string(action) or ""
            if action.default not in (None, False):
                assert "default" in text.lower(), flag
            type_name = getattr(action.type, "__name__", "")
            assert not type_name.startswith("_"), (flag, type_name)
    synth = sub.choices["synth"].format_help()
    assert "number of textures (default: 1)" in synth and "(default: cpu)" in synth
    remake = sub.choices["remake"].format_help()
    for text in ("output size", "L-BFGS iterations", "random seed"):
        assert text in remake


def test_python_messages_and_sizes() -> None:
    from texsynth import synthesize, synthesize_1d
    from texsynth._checks import size_text
    from texsynth.wavelets import check_J

    assert size_text(16, 40) == "40x16"
    with pytest.raises(TexsynthError, match="whole exemplar.*init="):
        synthesize(torch.rand(1, 24, 24), mask=torch.ones(24, 24), method="scattering", steps=1)
    with pytest.raises(TexsynthError, match="whole exemplar"):
        synthesize(torch.rand(1, 24, 24), mask=torch.ones(24, 24), method="patch")
    with pytest.raises(TexsynthError, match="J \\(number of scales\\) must be a positive"):
        synthesize(torch.rand(1, 24, 24), method="scattering", J=0, steps=1)
    with pytest.raises(TexsynthError, match="exemplar of 6x4 pixels is too small.*8x8") as e:
        synthesize(torch.rand(1, 4, 6), method="scattering", steps=1)
    assert "J=None" not in str(e.value)
    with pytest.raises(TexsynthError, match="an exemplar of 5 samples is too short.*8 samples"):
        synthesize_1d(torch.rand(1, 5), steps=1)
    with pytest.raises(TexsynthError, match="image of 6x4 pixels is too small.*8x8") as e:
        check_J(4, 6, 1)
    assert "<=0" not in str(e.value)
    with pytest.raises(TexsynthError, match="an output of 40x16 pixels supports at most J=2"):
        synthesize(torch.rand(1, 64, 64), size=(16, 40), method="scattering", J=3, steps=1)


def test_nonfinite_message_names_the_python_option_and_the_cli_route(tmp_path: Path) -> None:
    from texsynth.io import read_signal

    a = np.ones((16, 16), np.float32)
    a[0, 0] = np.inf
    np.save(tmp_path / "a.npy", a)
    np.savetxt(tmp_path / "s.csv", [1.0, np.nan, 2.0])
    for read, name in ((read_image, "a.npy"), (read_signal, "s.csv")):
        with pytest.raises(TexsynthError) as e:
            read(tmp_path / name)
        assert f"{read.__name__}(..., allow_nonfinite=True)" in str(e.value)
        assert "--mask" not in str(e.value)
        cli = e.value.cli_message()
        assert "--mask" in cli and "command line cannot skip them" in cli and "\n" not in cli


def test_no_library_warning_or_open_file_reaches_the_user(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    import gc
    import logging
    import warnings

    from texsynth.features._state_dict import load_state_dict_file
    from texsynth.io import is_signal_file, write_image

    rng = np.random.default_rng(0)
    rgb = Image.fromarray((rng.random((16, 16, 3)) * 255).astype(np.uint8))
    exif = rgb.getexif()
    exif[0x0112] = 6  # rotated: read through ImageOps.exif_transpose
    rgb.save(tmp_path / "r.jpg", exif=exif)
    for suffix in (".png", ".tif", ".npy", ".npz", ".bmp", ".webp"):
        write_image(tmp_path / f"x{suffix}", torch.rand(3, 16, 16))
    with open(tmp_path / "zip.npy", "wb") as f:
        np.savez(f, a=np.zeros(3))  # a zip archive named .npy
    torch.save({"w": torch.zeros(2)}, tmp_path / "w.pth")
    (tmp_path / "bad.tif").write_bytes(b"II*\x00" + b"x" * 100)
    with warnings.catch_warnings(), caplog.at_level(logging.WARNING):
        warnings.simplefilter("error")  # ResourceWarning (unclosed file), FutureWarning...
        for p in [tmp_path / "r.jpg", *sorted(tmp_path.glob("x.*"))]:
            assert read_image(p)[0].shape[0] == 3
        assert not is_signal_file(tmp_path / "zip.npy")
        assert load_state_dict_file(tmp_path / "w.pth", "VGG19", "")["w"].shape == (2,)
        with pytest.raises(TexsynthError, match="corrupt or truncated"):
            read_image(tmp_path / "bad.tif")
        gc.collect()
    assert not caplog.records  # tifffile's own log line about the damage is not shown


def test_fits_header_warnings_are_one_texsynth_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import warnings

    fits = pytest.importorskip("astropy.io.fits")
    hdu = fits.PrimaryHDU(np.random.default_rng(0).random((16, 16)).astype(">f4"))
    hdu.header["BLANK"] = 5  # only for integer data: astropy's VerifyWarning on reading
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # (astropy warns on writing it, too)
        hdu.writeto(tmp_path / "f.fits")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        image, _ = read_image(tmp_path / "f.fits")
    assert image.shape == (1, 16, 16)
    assert [w.category for w in caught] == [texsynth.io.TexsynthWarning]
    text = str(caught[0].message)
    assert "does not follow the FITS standard" in text and "BLANK" in text and "\n" not in text
    assert main(["stats", str(tmp_path / "f.fits")]) == 0
    err = capsys.readouterr().err
    assert err.startswith("texsynth: warning:") and err.count("\n") == 1, err


def test_audit_fixes_in_the_api(d: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Seeds, devices, paths, widths and sizes the API refuses in one line before work."""
    from texsynth.generators import generate_samples, load_generator

    model = load_generator(d / "m.safetensors")
    for kwargs, match in (
        ({"seed": 2**64}, "2\\*\\*63-1"),
        ({"device": "meta"}, "unknown device"),
        ({"max_memory": 1 << 20}, "of memory"),
        ({"output": "list"}, "output must be"),
    ):
        with pytest.raises(TexsynthError, match=match):
            generate_samples(model, 1, 2048, 2048, **kwargs)
    with pytest.raises(TexsynthError, match="file name"):
        load_generator(None)  # type: ignore[arg-type]
    with pytest.raises(TexsynthError, match="unknown device"):
        load_generator(d / "m.safetensors", device="meta")
    with pytest.raises(TexsynthError, match="width must be an integer from 1 to 512"):
        train_generator(torch.rand(1, 16, 16), steps=1, size=16, width=100000, progress=False)
    monkeypatch.setattr(os, "access", lambda *a, **k: False)
    with pytest.raises(TexsynthError, match="permission denied"):
        load_generator(d / "m.safetensors")


def test_write_and_read_failures_name_the_cause(d: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A full disk says so (even when the writer only reports a short write) and names the
    user's file, not a hidden temporary; an unreadable file says permission denied."""
    import errno
    import shutil

    from texsynth.atomic import atomic_write, temp_path
    from texsynth.io.formats import unreadable_error

    def full(f: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    staged = temp_path(d / "big.npy")  # as a staged set writes it
    with pytest.raises(TexsynthError, match="'.*/big.npy': no space left on the disk"):
        atomic_write(staged, full)

    def short(f: object) -> None:
        raise OSError("262144 requested and 76768 written")

    monkeypatch.setattr(shutil, "disk_usage", lambda p: shutil._ntuple_diskusage(1, 1, 0))
    with pytest.raises(TexsynthError, match="no space left on the disk"):
        atomic_write(d / "big.npy", short)
    assert not (d / "big.npy").exists() and not [p for p in d.iterdir() if ".tmp-" in p.name]
    err = unreadable_error(d / "ex.png", PermissionError(13, "Permission denied"))
    assert "permission denied" in str(err) and "corrupt" not in str(err)
