"""NumPy arrays and Pillow images in, the same kind out (texsynth.arrays)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from texsynth import (
    ScatteringCovariance,
    ScatteringCovariance1D,
    TexsynthError,
    evaluate,
    synthesize,
    synthesize_1d,
)
from texsynth.arrays import from_user, to_user


def _rgb(h: int = 32, w: int = 32, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).random((h, w, 3)).astype(np.float32)


def test_round_trips_keep_layout_dtype_and_values() -> None:
    a = _rgb(10, 12)
    t, kind = from_user(a, "x")
    assert tuple(t.shape) == (3, 10, 12)
    assert np.array_equal(to_user(t[None], kind)[0], a)
    u8 = (np.random.default_rng(1).random((3, 10, 12)) * 255).astype(np.uint8)
    t, kind = from_user(u8, "x", channel_axis=0)
    assert float(t.max()) <= 1.0 and tuple(t.shape) == (3, 10, 12)
    back = to_user(t[None], kind)
    assert back.dtype == np.uint8 and back.shape == (1, 3, 10, 12) and np.array_equal(back[0], u8)
    grey = np.random.default_rng(2).random((10, 12))
    t, kind = from_user(grey, "x")
    assert tuple(t.shape) == (1, 10, 12) and t.dtype == torch.float64
    assert to_user(t.expand(2, 1, 10, 12), kind).shape == (2, 10, 12)
    for mode in ("L", "RGB", "RGBA", "I;16"):
        size = {"L": 1, "RGB": 3, "RGBA": 4, "I;16": 1}[mode]
        img = Image.fromarray(
            (np.random.default_rng(3).random((9, 7, size)) * 255).astype(np.uint8).squeeze()
        ).convert(mode)
        t, kind = from_user(img, "x")
        assert t.shape[0] == size and float(t.max()) <= 1.0
        out = to_user(t[None], kind)
        assert out.mode == mode and np.array_equal(np.asarray(out), np.asarray(img))


def test_bad_arrays_get_one_line_errors() -> None:
    with pytest.raises(TexsynthError, match="channel_axis"):
        from_user(_rgb(), "exemplar", channel_axis=5)
    with pytest.raises(TexsynthError, match="channels"):
        from_user(np.zeros((100, 100, 100)), "exemplar")
    with pytest.raises(TexsynthError, match="complex"):
        from_user(np.zeros((8, 8), dtype=complex), "exemplar")
    with pytest.raises(TexsynthError, match="differ in size"):
        from_user([np.zeros((8, 8)), np.zeros((9, 9))], "samples")


def test_synthesize_gives_back_the_kind_it_was_given() -> None:
    a = _rgb()
    out = synthesize(a, method="patch", quality="fast", seed=0, n=2, progress=False)
    assert isinstance(out, np.ndarray) and out.shape == (2, 32, 32, 3) and out.dtype == np.float32
    ref = synthesize(torch.from_numpy(a).permute(2, 0, 1), method="patch", quality="fast",
                     seed=0, n=2, progress=False)  # fmt: skip
    np.testing.assert_allclose(out, ref.permute(0, 2, 3, 1).numpy())
    img = Image.fromarray((a * 255).astype(np.uint8))
    one = synthesize(img, method="patch", quality="fast", seed=0, progress=False)
    assert isinstance(one, Image.Image) and one.size == (32, 32) and one.mode == "RGB"
    two, rep = synthesize(img, method="patch", quality="fast", seed=0, n=2, progress=False,
                          report=True)  # fmt: skip
    assert isinstance(two, list) and len(two) == 2 and rep.method == "patch"
    first = synthesize(np.moveaxis(a, -1, 0), channel_axis=0, method="patch", quality="fast",
                       seed=0, progress=False)  # fmt: skip
    assert first.shape == (1, 3, 32, 32)
    # masks as boolean arrays
    hole = np.zeros((32, 32), dtype=bool)
    hole[8:16, 8:16] = True
    filled = synthesize(a, mask=hole, method="patch", quality="fast", seed=0, progress=False)
    assert np.array_equal(filled[0][~hole], a[~hole])


def test_signals_statistics_and_evaluation_take_arrays() -> None:
    s = np.random.default_rng(0).standard_normal(256)
    out = synthesize_1d(s, steps=3, seed=0, progress=False, n=2)
    assert isinstance(out, np.ndarray) and out.shape == (2, 256) and out.dtype == np.float64
    a = _rgb(32, 32)
    st = ScatteringCovariance(J=2, L=2)(a)
    ref = ScatteringCovariance(J=2, L=2)(torch.from_numpy(a).permute(2, 0, 1))
    torch.testing.assert_close(st.S2, ref.S2)
    assert ScatteringCovariance1D(J=3)(s).S2.shape == (1, 1, 3, 1)
    grey = np.random.default_rng(1).random((64, 64))
    samples = np.random.default_rng(2).random((2, 32, 32))  # N x H x W, grey
    rep = evaluate(grey, samples, features="none")
    assert rep.metric("spectrum").values and len(rep.metric("spectrum").values) == 2


def test_generators_sample_numpy_and_pil() -> None:
    from texsynth.generators import SynthHalfUNet2D, generate_samples

    model = SynthHalfUNet2D(depth=2, width=2, out_channels=3)
    arr = generate_samples(model, 2, 16, 16, seed=0, output="numpy")
    assert isinstance(arr, np.ndarray) and arr.shape == (2, 16, 16, 3)
    img = generate_samples(model, 1, 16, 16, seed=0, output="pil")
    assert isinstance(img, Image.Image) and img.mode == "RGB"
    t = generate_samples(model, 2, 16, 16, seed=0)
    np.testing.assert_allclose(arr, t.permute(0, 2, 3, 1).numpy(), rtol=1e-6)
    with pytest.raises(TexsynthError, match="output must be"):
        generate_samples(model, 1, 16, 16, output="list")
