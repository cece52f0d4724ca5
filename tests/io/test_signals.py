"""1-D signal files (NPY, NPZ, CSV) and ``texsynth synth`` on them."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from texsynth import TexsynthError
from texsynth.cli import main
from texsynth.io import is_signal_file, read_signal, write_signal


def _walk(n: int = 512, seed: int = 0) -> np.ndarray:
    return np.cumsum(np.random.default_rng(seed).standard_normal(n))


@pytest.mark.parametrize("suffix", [".npy", ".npz", ".csv"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_round_trip_is_exact(tmp_path: Path, suffix: str, dtype: type) -> None:
    x = np.random.default_rng(0).standard_normal((2, 40)).astype(dtype) * 1e3
    path = write_signal(tmp_path / f"s{suffix}", x)
    back, meta = read_signal(path)
    assert back.shape == (2, 40) and (meta.channels, meta.length) == (2, 40)
    assert np.array_equal(back.numpy().astype(dtype), x)
    one = write_signal(tmp_path / f"one{suffix}", torch.tensor(x[0]))
    assert read_signal(one)[0].shape == (1, 40)
    if suffix == ".npy":
        assert np.load(one).shape == (40,)  # one channel is written 1-D


def test_csv_layouts_header_delimiters_and_comments(tmp_path: Path) -> None:
    p = tmp_path / "a.csv"
    p.write_text("# logger export\ntemp;pressure\n1.5;1000\n2.5;1001\n\n3.5;999\n")
    x, meta = read_signal(p)
    assert x.tolist() == [[1.5, 2.5, 3.5], [1000, 1001, 999]] and x.dtype == torch.float64
    assert meta.columns == ("temp", "pressure")
    out = write_signal(tmp_path / "b.csv", x, meta)  # header names come back
    assert out.read_text().splitlines()[0] == "temp,pressure"
    row = tmp_path / "row.csv"
    row.write_text("1, 2, 3, 4\n")
    assert read_signal(row)[0].tolist() == [[1, 2, 3, 4]]
    ws = tmp_path / "ws.csv"
    ws.write_text("1 2\n3 4\n5 6\n")
    assert read_signal(ws)[0].tolist() == [[1, 3, 5], [2, 4, 6]]
    nan = tmp_path / "nan.csv"
    nan.write_text("1\n\n2\nnan\n")
    with pytest.raises(TexsynthError, match="1 non-finite"):
        read_signal(nan)
    assert torch.isnan(read_signal(nan, allow_nonfinite=True)[0]).sum() == 1


@pytest.mark.parametrize(
    ("content", "match"),
    [
        ("date,value\n2020-01-01,1\n", "'2020-01-01' is not a number"),
        ("1,2\n3\n", "line 2 has 1 fields, expected 2"),
        ("# nothing\n", "no data rows"),
        ("a,b\n", "header but no data"),
    ],
)
def test_bad_csv_gives_one_line_error(tmp_path: Path, content: str, match: str) -> None:
    p = tmp_path / "bad.csv"
    p.write_text(content)
    with pytest.raises(TexsynthError, match=match) as info:
        read_signal(p)
    assert "\n" not in str(info.value)


def test_npy_layouts_and_detection(tmp_path: Path) -> None:
    np.save(tmp_path / "walk.npy", _walk())
    np.save(tmp_path / "image.npy", np.zeros((32, 32), np.float32))
    np.save(tmp_path / "rows.npy", np.zeros((500, 3)))
    np.savez(tmp_path / "z.npz", signal=_walk(), other=np.zeros(3))
    assert is_signal_file(tmp_path / "walk.npy") and is_signal_file(tmp_path / "z.npz")
    assert not is_signal_file(tmp_path / "image.npy")  # 2-D arrays stay images
    assert read_signal(tmp_path / "image.npy")[0].shape == (32, 32)  # unless asked
    with pytest.raises(TexsynthError, match=r"samples x channels.*array\.T"):
        read_signal(tmp_path / "rows.npy")
    with pytest.raises(TexsynthError, match="unknown file type '.png'"):
        read_signal(tmp_path / "x.png")
    with pytest.raises(TexsynthError, match="does not exist"):
        write_signal(tmp_path / "no" / "x.npy", np.zeros(8))
    with pytest.raises(TexsynthError, match="non-finite"):
        write_signal(tmp_path / "x.csv", np.array([1.0, np.inf]))
    assert not (tmp_path / "x.csv").exists()


def test_cli_synthesises_npy_signal(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = tmp_path / "walk.npy"
    np.save(src, _walk().astype(np.float32))
    out = tmp_path / "out.npy"
    args = ["synth", str(src), "-o", str(out), "--seed", "1", "--steps", "15", "--quiet"]
    assert main(args) == 0
    y = np.load(out)
    assert y.shape == (512,) and y.dtype == np.float32 and np.isfinite(y).all()
    doc = json.loads((tmp_path / "out.json").read_text())
    assert doc["seed"] == 1 and doc["settings"]["signal"] is True
    assert doc["settings"]["length"] == 512 and doc["settings"]["stationary"] is False
    assert doc["settings"]["histogram"] == 0.0  # a random walk: no value histogram
    assert "random walk" in capsys.readouterr().out
    assert main(args[:3] + [str(tmp_path / "again.npy")] + args[4:]) == 0  # same seed
    assert np.array_equal(np.load(tmp_path / "again.npy"), y)


def test_cli_csv_options_mask_and_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src = tmp_path / "flow.csv"
    x = np.exp(np.convolve(np.random.default_rng(0).standard_normal(600), np.ones(9) / 3, "same"))
    np.savetxt(src, x[:, None], header="flow", comments="", fmt="%.6f")
    x = read_signal(src)[0][0].numpy()  # (rounded to 6 decimals)
    pattern = tmp_path / "f_{i}.csv"
    opts = ["--seed", "0", "--steps", "10", "--quiet"]
    assert main(["synth", str(src), "-o", str(pattern), "--n", "2", "--size", "800", *opts]) == 0
    for i in range(2):
        y, meta = read_signal(tmp_path / f"f_{i}.csv")
        assert y.shape == (1, 800) and meta.columns == ("flow",)
        assert float(y.min()) >= x.min()  # exact histogram: positive like the input
    doc = json.loads((tmp_path / "f.json").read_text())
    assert doc["settings"]["stationary"] is True and doc["settings"]["histogram"] == 1.0
    mask = tmp_path / "hole.npy"
    m = np.zeros(600, np.float32)
    m[200:300] = 1
    np.save(mask, m)
    filled = tmp_path / "filled.npy"
    assert main(["synth", str(src), "-o", str(filled), "--mask", str(mask), *opts]) == 0
    y = np.load(filled)
    np.testing.assert_array_equal(y[m == 0], x[m == 0])  # kept (float64 in, float64 out)
    # a 2-D .npy is an image unless --signal says otherwise
    two = tmp_path / "two.npy"
    np.save(two, np.stack([x[:512], x[88:]]))
    assert main(["synth", str(two), "-o", str(tmp_path / "t.npy"), "--signal", *opts]) == 0
    assert np.load(tmp_path / "t.npy").shape == (2, 512)
    capsys.readouterr()
    for extra, message in (
        (["-o", str(tmp_path / "x.png")], "written as .npy, .npz, .csv"),
        (["-o", str(tmp_path / "x.csv"), "--size", "64x32"], "one length"),
        (["-o", str(tmp_path / "x.csv"), "--method", "gram"], "image options"),
    ):
        assert main(["synth", str(src), *extra, *opts]) == 2
        err = capsys.readouterr().err
        assert message in err and err.count("\n") == 1
