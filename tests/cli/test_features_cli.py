"""``texsynth features train/info``, ``--features FILE`` and ``--region`` on the command line."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from texsynth.cli import main
from texsynth.io import read_image
from texsynth.synthesis.jobs import rerun

TRAIN = ["--patch", "16", "--width", "4", "--depth", "2", "--batch", "2"]


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("cli")
    (root / "photos").mkdir()
    for i in range(3):
        a = (np.random.default_rng(i).random((40, 64, 3)) * 255).astype(np.uint8)
        Image.fromarray(a).save(root / "photos" / f"p{i}.png")
    out = root / "f.safetensors"
    assert main(["features", "train", str(root / "photos"), "-o", str(out), *TRAIN,
                 "--steps", "2", "--quiet"]) == 0  # fmt: skip
    return root, out


def test_train_resume_and_info(setup: tuple[Path, Path], capsys: pytest.CaptureFixture) -> None:
    root, out = setup
    assert out.is_file() and (root / "f_reconstructions.png").is_file()
    assert main(["features", "train", str(root / "photos"), "-o", str(out), *TRAIN,
                 "--steps", "4", "--resume"]) == 0  # fmt: skip
    captured = capsys.readouterr()
    assert "step 4/4" in captured.err and "held-out reconstruction PSNR" in captured.out
    assert main(["features", "info", str(out)]) == 0
    text = capsys.readouterr().out
    assert "patch 16" in text and "4 steps" in text and "conv2_2" in text
    assert "weight calibration" in text and "gap x" in text
    assert main(["methods"]) == 0
    listing = capsys.readouterr().out
    assert listing.count("--features FILE.safetensors") == 4  # gram, swd, gap, gc


def test_synth_with_features_and_region_is_recorded(
    setup: tuple[Path, Path], capsys: pytest.CaptureFixture
) -> None:
    root, features = setup
    out = root / "o.png"
    args = ["synth", str(root / "photos" / "p0.png"), "-o", str(out), "--method", "gap",
            "--features", str(features), "--region", "8,4,32,32", "--steps", "3",
            "--seed", "1", "--quiet"]  # fmt: skip
    assert main(args) == 0
    written, _ = read_image(out)
    assert tuple(written.shape) == (3, 32, 32)
    record = json.loads(out.with_suffix(".json").read_text())
    assert record["spec"]["options"]["region"] == [8, 4, 32, 32]
    assert record["settings"]["features"] == str(features)
    again, _ = rerun(out.with_suffix(".json"), progress=False)
    assert float((again[0].clamp(0, 1) - written).abs().max()) <= 1 / 255  # same output


def test_eval_with_features(setup: tuple[Path, Path], capsys: pytest.CaptureFixture) -> None:
    root, features = setup
    p = root / "photos"
    assert main(["eval", str(p / "p0.png"), str(p / "p1.png"), "--features", str(features)]) == 0
    assert "LearnedFeatures" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("args", "match"),
    [
        (["features", "train", "{tmp}/empty", "-o", "{tmp}/x.safetensors"], "has no images"),
        (
            ["features", "train", "{photos}", "-o", "{tmp}/x.safetensors", "--patch", "64"],
            "smaller than the 64-pixel patch",
        ),  # fmt: skip
        (["features", "train", "{photos}", "-o", "{tmp}/x.pt"], "unknown output type"),
        (
            ["features", "train", "{photos}", "-o", "{tmp}/x.safetensors", "--resume"],
            "no checkpoint",
        ),  # fmt: skip
        (
            [
                "features",
                "train",
                "{photos}",
                "-o",
                "{tmp}/x.safetensors",
                "--depth",
                "4",
                "--patch",
                "12",
            ],
            "multiple of 8",
        ),  # fmt: skip
        (["features", "info", "{photos}/p0.png"], "not a readable safetensors file"),
        (
            [
                "synth",
                "{photos}/p0.png",
                "-o",
                "{tmp}/x.png",
                "--method",
                "gap",
                "--features",
                "{ckpt}",
            ],
            "not a texsynth features file",
        ),  # fmt: skip
        (
            ["synth", "{photos}/p0.png", "-o", "{tmp}/x.png", "--features", "x.pt"],
            "a .safetensors features file",
        ),  # fmt: skip
        (["synth", "{photos}/p0.png", "-o", "{tmp}/x.png", "--region", "1,2"], "x,y,w,h"),
        (
            ["synth", "{photos}/p0.png", "-o", "{tmp}/x.png", "--region", "50,0,20,20"],
            "reaches outside",
        ),  # fmt: skip
        (
            ["eval", "{photos}/p0.png", "{photos}/p1.png", "--features", "{ckpt}"],
            "not a texsynth features file",
        ),  # fmt: skip
    ],
)
def test_bad_input_is_one_line(
    args: list[str],
    match: str,
    setup: tuple[Path, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture,
) -> None:
    root, features = setup
    (tmp_path / "empty").mkdir()
    ckpt = root / "f.ckpt.safetensors"
    args = [
        a.replace("{tmp}", str(tmp_path))
        .replace("{photos}", str(root / "photos"))
        .replace("{ckpt}", str(ckpt))
        for a in args
    ]
    try:
        code = main(args)
    except SystemExit as exc:  # argparse
        code = exc.code
    assert code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("texsynth: error:") and match in err and "\n" not in err
    assert not (tmp_path / "x.png").exists() and not (tmp_path / "x.safetensors").exists()


def test_calibrate_command(
    setup: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    root, _ = setup
    out = tmp_path / "raw.safetensors"
    assert main(["features", "train", str(root / "photos"), "-o", str(out), *TRAIN,
                 "--steps", "2", "--quiet", "--no-calibration"]) == 0  # fmt: skip
    capsys.readouterr()
    assert main(["features", "info", str(out)]) == 0
    assert "no weight calibration" in capsys.readouterr().out
    assert main(["features", "calibrate", str(out), str(root / "photos"), "--pairs", "3"]) == 0
    text = capsys.readouterr().out
    assert "calibrated" in text and "gc x" in text
    assert main(["features", "info", str(out)]) == 0
    assert "3 crop pairs" in capsys.readouterr().out
    assert main(["features", "calibrate", str(out), str(tmp_path / "nope")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_minutes_budget_and_snapshots(
    setup: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    root, _ = setup
    out = tmp_path / "s.safetensors"
    foreign = tmp_path / "s_step2.safetensors"
    foreign.write_bytes(b"not ours")
    args = ["features", "train", str(root / "photos"), "-o", str(out), *TRAIN, "--steps", "4",
            "--snapshot-every", "2", "--calibration-pairs", "2"]  # fmt: skip
    assert main(args) == 2  # a file texsynth did not write is not replaced
    err = capsys.readouterr().err
    assert "s_step2.safetensors" in err and "\n" not in err.strip()
    assert foreign.read_bytes() == b"not ours" and not out.exists()
    foreign.unlink()
    assert main(args) == 0
    text = capsys.readouterr().out
    assert "4 steps" in text and "snapshots:" in text and "s_step2.safetensors" in text
    assert (tmp_path / "s_step2.safetensors").is_file()
    assert not (tmp_path / "s_step4.safetensors").exists()  # the final file is OUT
    # a budget smaller than a step: one step, then the file is written as usual
    quick = tmp_path / "q.safetensors"
    quick_args = ["features", "train", str(root / "photos"), "-o", str(quick), *TRAIN,
                  "--steps", "50", "--calibration-pairs", "2"]  # fmt: skip
    assert main([*quick_args, "--minutes", "0.00001"]) == 0
    captured = capsys.readouterr()
    assert "budget is spent: stopping at step 1" in captured.err and "1 steps" in captured.out
    assert main(["features", "info", str(quick)]) == 0
    assert "; 1 steps" in capsys.readouterr().out
    with pytest.raises(SystemExit):  # argparse
        main([*quick_args, "--minutes", "0"])
    assert "must be" in capsys.readouterr().err
