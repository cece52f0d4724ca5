"""SynthHalfUNet2D generator, sampling and generator files (fast: small nets, small images)."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file

from texsynth.errors import TexsynthError
from texsynth.generators import network
from texsynth.generators.network import ConvBlock2D, SynthHalfUNet2D, default_channel_list
from texsynth.generators.output_transform import quantile_table
from texsynth.generators.sampling import generate_samples
from texsynth.generators.serialization import (
    FORMAT,
    atomic_save_file,
    load_checkpoint_file,
    load_generator,
    read_generator_metadata,
    save_generator,
)
from texsynth.generators.upsampling import periodic_upsample


def small(**kw) -> SynthHalfUNet2D:
    """A narrow net (fast); a fixed init so tests are reproducible."""
    torch.manual_seed(kw.pop("init_seed", 0))
    kw.setdefault("width", 4)
    return SynthHalfUNet2D(kw.pop("depth", 3), **kw)


def noise(shape, seed=0) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


# ------------------------------------------------------------------ architecture


@pytest.mark.parametrize("size", [(32, 32), (40, 24), (37, 53), (100, 100), (9, 9), (8, 9)])
def test_output_shapes_any_size(size):
    m = small()
    y = m(noise((2, 1, *size)))
    assert y.shape == (2, 1, *size)
    assert torch.isfinite(y).all()
    assert y.std() > 0.01  # not collapsed to a constant


def test_colour_output_and_level_sizes():
    m = small(out_channels=3)
    assert m(noise((1, 1, 37, 20))).shape == (1, 3, 37, 20)
    assert m.level_sizes(37, 20) == [(37, 20), (19, 10), (10, 5), (5, 3)]
    # the noise pyramid has those sizes and unit variance at every level
    levels = m.noise_pyramid(noise((64, 1, 37, 53)))
    assert [tuple(z.shape[-2:]) for z in levels] == m.level_sizes(37, 53)
    for z in levels:
        assert abs(float(z.var()) - 1) < 0.12


def test_default_channel_list_follows_seed_formula():
    assert SynthHalfUNet2D(3).channel_list == [256, 128, 64, 32]
    for depth, width in [(1, 32), (5, 32), (4, 16)]:
        expected = [min(width * 2 ** (depth - j), 8 * width) for j in range(depth + 1)]
        assert default_channel_list(depth, width) == expected
    m = SynthHalfUNet2D(2, width=8, L=3)
    assert m.channel_list == [32, 16, 8]
    # the layers have those widths: 2L + 1 = 7 skip channels enter every block
    assert m.init_block.block[0].weight.shape == (32, 7, 3, 3)
    assert m.decoder_blocks[0].block[0].weight.shape == (16, 32 + 7, 3, 3)
    assert m.decoder_blocks[1].block[0].weight.shape == (8, 16 + 7, 3, 3)
    assert m.output_conv.weight.shape == (1, 8, 1, 1)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"depth": 0}, "depth"),
        ({"depth": 2.5}, "depth"),
        ({"depth": 2, "channel_list": [8, 4]}, "depth \\+ 1 = 3"),
        ({"depth": 2, "channel_list": [8, 0, 4]}, "positive integers"),
        ({"depth": 2, "channel_list": "abc"}, "channel_list"),
        ({"out_channels": 0}, "out_channels"),
        ({"L": 0}, "orientations"),
        ({"n_quantiles": 1}, "n_quantiles"),
        ({"negative_slope": float("nan")}, "negative_slope"),
    ],
)
def test_bad_settings_raise_one_line(kwargs, match):
    with pytest.raises(TexsynthError, match=match) as info:
        SynthHalfUNet2D(**kwargs)
    assert "\n" not in str(info.value)


def test_bad_noise_raises():
    m = small()
    with pytest.raises(TexsynthError, match=r"\[N, 1, H, W\]"):
        m(noise((1, 2, 32, 32)))
    with pytest.raises(TexsynthError, match=r"\[N, 1, H, W\]"):
        m(noise((32, 32)))
    # 8 x 8 with depth=3: a 1 x 1 coarsest level, where InstanceNorm has nothing to normalise
    with pytest.raises(TexsynthError, match="too small for depth=3"):
        m(noise((1, 1, 8, 8)))


def test_wavelet_filters_are_not_parameters_and_skips_have_unit_variance():
    m = small(L=4)
    params = {n for n, _ in m.named_parameters()}
    buffers = {"output_mean", "output_rotation", "output_scale", "output_quantiles"}
    assert set(m.state_dict()) == params | buffers
    m(noise((1, 1, 32, 48)))
    assert len(m._skip_cache) == 4  # one entry per level grid, computed on first use
    assert set(m.state_dict()) == params | buffers
    assert all(not isinstance(v, torch.nn.Parameter) for v in m._skip_cache.values())
    s = m.skips(noise((16, 1, 32, 32)))
    assert s.shape == (16, 9, 32, 32)
    var = s.var((0, 2, 3))
    assert torch.all((var - 1).abs() < 0.1), var
    # Re and Im of an oriented wavelet: each pair is in quadrature (uncorrelated) and the
    # orientations differ from one another
    assert float((s[:, 0] * s[:, 4]).mean()).__abs__() < 0.05
    assert not torch.allclose(s[:, 0], s[:, 2], atol=0.1)


@pytest.mark.parametrize("size", [(16, 16), (9, 13)])
def test_skips_are_real_and_imaginary_parts_of_the_wavelet_transform(size):
    from texsynth.wavelets import wavelet_spectra

    m = small(L=3)
    z = noise((2, 1, *size), seed=4).double()
    psi = wavelet_spectra(*size, 1, 3)[0]
    direct = torch.fft.ifft2(torch.fft.fft2(z) * psi)  # [2, 3, h, w] complex
    s = m.skips(z)
    # one unit-variance factor per orientation, the same for the real and imaginary parts
    gain = (s[:, :3].std((0, 2, 3)) / direct.real.std((0, 2, 3)))[:, None, None]
    torch.testing.assert_close(s[:, :3], gain * direct.real, atol=1e-9, rtol=0)
    torch.testing.assert_close(s[:, 3:6], gain * direct.imag, atol=1e-9, rtol=0)
    torch.testing.assert_close(s[:, 6:], z)


def test_gradients_reach_every_parameter():
    m = small(out_channels=2)
    y = m(noise((2, 1, 24, 40)))
    (y * noise(y.shape, seed=5)).sum().backward()
    for name, p in m.named_parameters():
        assert p.grad is not None, name
        assert torch.isfinite(p.grad).all(), name
        assert p.grad.abs().sum() > 0, name


@pytest.mark.parametrize("polyphase", [False, True])
@pytest.mark.parametrize("size", [(32, 48), (37, 53)])
def test_inference_fast_path_equals_autograd_path(size, polyphase, monkeypatch):
    # polyphase: every 2x level uses ConvBlock2D.forward_upsampled (normally only large ones)
    monkeypatch.setattr(network, "POLYPHASE_MIN_PIXELS", 1 if polyphase else 2**40)
    m = small()
    z = noise((2, 1, *size))
    y_grad = m(z)
    with torch.inference_mode():
        y_fast = m(z)
    torch.testing.assert_close(y_fast, y_grad.detach(), atol=1e-5, rtol=0)


def test_polyphase_block_equals_upsample_then_block():
    block = ConvBlock2D(6, 5)
    x, skip = noise((2, 6 - 3, 5, 7)), noise((2, 3, 10, 14), seed=1)
    expected = block(torch.cat([periodic_upsample(x, (10, 14)), skip], 1))
    torch.testing.assert_close(block.forward_upsampled(x, skip), expected, atol=1e-5, rtol=0)


def test_convblock_padding_modes():
    x = noise((1, 3, 12, 12))
    torch.manual_seed(0)
    tiled = ConvBlock2D(3, 4)
    torch.manual_seed(0)
    zero = ConvBlock2D(3, 4, tile=False)
    roll = (5, 7)
    y = tiled(torch.roll(x, roll, (-2, -1)))
    torch.testing.assert_close(y, torch.roll(tiled(x), roll, (-2, -1)), atol=1e-5, rtol=0)
    assert (
        zero(torch.roll(x, roll, (-2, -1))) - torch.roll(zero(x), roll, (-2, -1))
    ).abs().max() > 0.1
    assert tiled.block[0].bias is None  # cancelled by InstanceNorm anyway


# ------------------------------------------------------------------ periodicity


def tile3(x: torch.Tensor) -> torch.Tensor:
    return x.repeat(1, 1, 3, 3)


@pytest.mark.parametrize(("src", "dst"), [((5, 7), (10, 14)), ((5, 7), (9, 13)), ((4, 7), (8, 13))])
def test_periodic_upsample_is_bilinear_of_the_periodic_extension(src, dst):
    x = noise((2, 3, *src))
    up = periodic_upsample(x, dst)
    # the reference: ordinary bilinear on a 3 x 3 tiling, central tile
    ref = F.interpolate(tile3(x), size=(3 * dst[0], 3 * dst[1]), mode="bilinear")
    ref = ref[..., dst[0] : 2 * dst[0], dst[1] : 2 * dst[1]]
    torch.testing.assert_close(up, ref, atol=1e-5, rtol=0)


def test_tiled_output_rolls_with_noise_and_zero_padding_does_not():
    z = noise((2, 1, 32, 48))
    shift = (8, 16)  # multiples of 2**depth
    for tile in (True, False):
        m = small(tile=tile, width=8)
        with torch.no_grad():
            y = m(z)
            y_rolled = m(torch.roll(z, shift, (-2, -1)))
        err = (y_rolled - torch.roll(y, shift, (-2, -1))).abs().max()
        if tile:
            assert err < 1e-5
        else:
            assert err > 1e-2 * y.std()


def _seam_ratios(y: torch.Tensor) -> tuple[float, float]:
    """Mean |difference| across the wrap-around seam / between interior neighbours."""
    rows = (y[..., 0, :] - y[..., -1, :]).abs().mean() / (
        y[..., 1:, :] - y[..., :-1, :]
    ).abs().mean()
    cols = (y[..., :, 0] - y[..., :, -1]).abs().mean() / (
        y[..., :, 1:] - y[..., :, :-1]
    ).abs().mean()
    return float(rows), float(cols)


def test_wrap_seam_is_as_smooth_as_interior_for_odd_sizes():
    """Train a few steps towards smooth outputs (interior differences only): the tiled net
    is smooth across the wrap-around seam as well, the zero-padded one is not."""
    size = (37, 53)  # not multiples of 2**depth

    def smoothness(y):
        d = (y[..., 1:, :] - y[..., :-1, :]).pow(2).mean((-2, -1))
        d = d + (y[..., :, 1:] - y[..., :, :-1]).pow(2).mean((-2, -1))
        return (d / y.var((-2, -1))).mean()

    ratios = {}
    for tile in (True, False):
        m = small(tile=tile, width=8)
        opt = torch.optim.Adam(m.parameters(), lr=1e-2)
        g = torch.Generator().manual_seed(1)
        for _ in range(10):
            loss = smoothness(m(torch.randn(4, 1, *size, generator=g)))
            opt.zero_grad()
            loss.backward()
            opt.step()
        with torch.no_grad():
            y = m(torch.randn(16, 1, *size, generator=g))
        assert smoothness(y) < 0.3  # the training did make the outputs smooth
        ratios[tile] = _seam_ratios(y)
    assert max(ratios[True]) < 1.5 and min(ratios[True]) > 0.5, ratios
    assert max(ratios[False]) > 3, ratios


# ------------------------------------------------------------------ output transform


def _exemplar_transform(m: SynthHalfUNet2D, seed=3):
    """A rotation [3, 2], mean, scale and a quantile table of a skewed 'exemplar'."""
    g = torch.Generator().manual_seed(seed)
    q, _ = torch.linalg.qr(torch.randn(3, 3, generator=g))
    rotation = q[:, :2].contiguous()
    mean = torch.tensor([0.3, -1.0, 2.0])
    scale = torch.tensor([2.0, 0.5])
    exemplar = torch.randn(1, 2, 20, 20, generator=g).exp()  # log-normal: skewed
    table = quantile_table(exemplar, m.n_quantiles)
    m.set_output_transform(mean, rotation, scale, table)
    return mean, rotation, scale, table


def test_to_output_matches_histogram_then_unstandardises():
    m = small(out_channels=2, image_channels=3, n_quantiles=16)
    mean, rotation, scale, table = _exemplar_transform(m)
    raw = generate_samples(m, 2, 32, 32, seed=1, raw=True)
    x = generate_samples(m, 2, 32, 32, seed=1)
    plain = generate_samples(m, 2, 32, 32, seed=1, match_histogram=False)
    assert raw.shape == (2, 2, 32, 32) and x.shape == (2, 3, 32, 32)
    # without histogram matching: exactly x = R (y * scale) + mean
    expected = torch.einsum("bdhw,cd->bchw", raw * scale[:, None, None], rotation)
    torch.testing.assert_close(plain, expected + mean[:, None, None], atol=1e-5, rtol=0)
    # undo mean/rotation/scale (R has orthonormal columns): the histogram-matched values
    y = torch.einsum("bchw,cd->bdhw", x - mean[:, None, None], rotation) / scale[:, None, None]
    n = 32 * 32
    ranks = (np.arange(n) + 0.5) / n
    probs = (np.arange(16) + 0.5) / 16
    for b in range(2):
        for c in range(2):
            target = np.interp(ranks, probs, table[c].numpy())
            got = np.sort(y[b, c].flatten().numpy())
            np.testing.assert_allclose(got, target, atol=1e-5)
            # the remapping keeps the order of the raw pixels (ties at the clamped ends)
            in_raw_order = y[b, c].flatten()[torch.argsort(raw[b, c].flatten())]
            assert torch.all(in_raw_order[1:] >= in_raw_order[:-1] - 1e-5)


def test_quantile_table():
    y = noise((1, 2, 8, 8))
    sorted_pix = torch.sort(y[0].reshape(2, -1), dim=1).values
    torch.testing.assert_close(quantile_table(y, 64), sorted_pix)  # n = N: the pixels
    t = quantile_table(y, 5)
    assert t.shape == (2, 5) and torch.all(t[:, 1:] >= t[:, :-1])
    # median entry of an odd table is the exemplar's median (N even: mean of the middle two)
    torch.testing.assert_close(t[:, 2], sorted_pix[:, 31:33].mean(1))
    mask = torch.zeros(8, 8)
    mask[:, :4] = 1
    torch.testing.assert_close(
        quantile_table(y, 32, mask=mask),
        torch.sort(y[0, :, :, :4].reshape(2, -1), dim=1).values,
    )
    with pytest.raises(TexsynthError, match="quantiles"):
        quantile_table(y, 1)


def test_set_output_transform_checks_shapes():
    m = small(out_channels=2, image_channels=3, n_quantiles=4)
    with pytest.raises(TexsynthError, match=r"rotation must have shape \[3, 2\]"):
        m.set_output_transform(torch.zeros(3), torch.eye(3), torch.ones(2))
    with pytest.raises(TexsynthError, match="quantiles must have shape"):
        m.set_output_transform(torch.zeros(3), torch.eye(3, 2), torch.ones(2), torch.zeros(2, 5))
    with pytest.raises(TexsynthError, match="sorted"):
        m.set_output_transform(
            torch.zeros(3), torch.eye(3, 2), torch.ones(2), torch.tensor([[0.0, 1, 2, 1]] * 2)
        )
    with pytest.raises(TexsynthError, match="positive"):
        m.set_output_transform(torch.zeros(3), torch.eye(3, 2), torch.tensor([1.0, 0.0]))


# ------------------------------------------------------------------ generate_samples


def test_generate_samples_seeding_batching_and_shapes():
    m = small(out_channels=3)
    m.train()
    state = torch.get_rng_state()
    a = generate_samples(m, 3, 25, 37, seed=7)
    b = generate_samples(m, 3, 25, 37, seed=7, batch_size=1)
    c = generate_samples(m, 3, 25, 37, seed=8)
    d = generate_samples(m, 3, 25, 37)
    e = generate_samples(m, 3, 25, 37)
    assert torch.equal(torch.get_rng_state(), state)  # the global RNG is never used
    assert m.training  # mode restored
    assert a.shape == (3, 3, 25, 37) and a.dtype == torch.float32
    assert not a.is_inference()
    generate_samples(m, 1, 25, 37, seed=1).clamp_(0, 1)  # in-place edits are allowed
    torch.testing.assert_close(a, b, atol=1e-5, rtol=0)  # batching does not matter
    assert torch.equal(a, generate_samples(m, 3, 25, 37, seed=7))
    assert (a - c).abs().max() > 0.1
    assert (d - e).abs().max() > 0.1  # seed=None: fresh noise each call
    # the samples of a batch are different textures
    assert (a[0] - a[1]).abs().mean() > 0.1
    # the first samples do not depend on how many are drawn; sample k is the one of its
    # member seed, as output k of a synthesis
    torch.testing.assert_close(generate_samples(m, 1, 25, 37, seed=7), a[:1], atol=1e-5, rtol=0)
    from texsynth.seeds import member_seed

    third = generate_samples(m, 1, 25, 37, seed=member_seed(7, 2))
    torch.testing.assert_close(third, a[2:], atol=1e-5, rtol=0)
    listed = generate_samples(m, 2, 25, 37, seed=[member_seed(7, 1), member_seed(7, 2)])
    torch.testing.assert_close(listed, a[1:], atol=1e-5, rtol=0)


def test_generate_samples_from_a_generator_continue_one_sequence():
    m = small()
    whole = generate_samples(m, 3, 24, 24, generator=torch.Generator().manual_seed(5))
    g = torch.Generator().manual_seed(5)
    parts = torch.cat(
        [generate_samples(m, 2, 24, 24, generator=g), generate_samples(m, 1, 24, 24, generator=g)]
    )
    torch.testing.assert_close(parts, whole, atol=1e-5, rtol=0)
    with pytest.raises(TexsynthError, match="not both"):
        generate_samples(m, 1, 24, 24, seed=1, generator=torch.Generator())
    with pytest.raises(TexsynthError, match="CPU torch.Generator"):
        generate_samples(m, 1, 24, 24, generator=5)


def test_generate_samples_double_model():
    m = small().double()
    x = generate_samples(m, 1, 16, 16, seed=0)
    assert x.dtype == torch.float64
    torch.testing.assert_close(
        x.float(), generate_samples(small(), 1, 16, 16, seed=0), atol=1e-4, rtol=0
    )


@pytest.mark.parametrize(
    ("args", "match"),
    [((0, 32, 32), "n_samples"), ((1, 8, 8), "too small"), ((1, 0, 32), "H"), ((1, 32, 32.0), "W")],
)
def test_generate_samples_bad_input(args, match):
    with pytest.raises(TexsynthError, match=match):
        generate_samples(small(), *args)


# ------------------------------------------------------------------ generator files


def test_save_load_round_trip(tmp_path):
    m = small(out_channels=2, image_channels=3, n_quantiles=8)
    _exemplar_transform(m)
    path = tmp_path / "gen.safetensors"
    save_generator(m, path, metadata={"exemplar": "gravel.png", "steps": 10})
    assert sorted(os.listdir(tmp_path)) == ["gen.safetensors"]  # no temporary file left
    meta = read_generator_metadata(path)
    assert meta["config"] == m.config
    assert meta["metadata"] == {"exemplar": "gravel.png", "steps": 10}
    assert meta["texsynth"] and meta["torch"] == torch.__version__
    loaded = load_generator(path)
    assert not loaded.training
    assert loaded.config == m.config
    for k, v in m.state_dict().items():
        assert torch.equal(loaded.state_dict()[k], v), k
    torch.testing.assert_close(
        generate_samples(loaded, 2, 24, 24, seed=3),
        generate_samples(m, 2, 24, 24, seed=3),
        atol=0,
        rtol=0,
    )
    stored = load_file(str(path))
    assert set(stored) == set(m.state_dict())  # no wavelet filters in the file
    # overwriting an existing file works too
    save_generator(m, path)
    assert read_generator_metadata(path)["metadata"] == {}


def test_config_round_trip_and_errors():
    m = small(depth=2, L=3, tile=False, negative_slope=0.1)
    cfg = json.loads(json.dumps(m.config))
    assert SynthHalfUNet2D.from_config(cfg).config == m.config
    with pytest.raises(TexsynthError, match="architecture"):
        SynthHalfUNet2D.from_config({**cfg, "architecture": "Other"})
    with pytest.raises(TexsynthError, match="unknown keys \\['width'\\]"):
        SynthHalfUNet2D.from_config({**cfg, "width": 3})
    # earlier versions' key for depth: read alone, refused next to the new one
    old = {("Jmax" if k == "depth" else k): v for k, v in cfg.items()}
    assert SynthHalfUNet2D.from_config(old).config == m.config
    with pytest.raises(TexsynthError, match="unknown keys \\['Jmax'\\]"):
        SynthHalfUNet2D.from_config({**cfg, "Jmax": 2})
    with pytest.raises(TexsynthError, match="missing keys \\['L'\\]"):
        SynthHalfUNet2D.from_config({k: v for k, v in cfg.items() if k != "L"})


def test_load_mismatched_architecture_raises(tmp_path):
    """Tensors of one channel_list under the config of another (a file from another
    architecture or version): a one-line error naming the file and the mismatch."""
    path = tmp_path / "a.safetensors"
    save_generator(small(channel_list=[16, 8, 4, 4]), path)
    header = {"format": FORMAT, "config": json.dumps(small(channel_list=[16, 8, 8, 4]).config)}
    save_file(load_file(str(path)), str(path), metadata=header)
    with pytest.raises(TexsynthError, match="does not match its architecture") as info:
        load_generator(path)
    msg = str(info.value)
    assert "a.safetensors" in msg and "re-train" in msg and "\n" not in msg
    assert "decoder_blocks.1.block.0.weight" in msg


def test_load_rejects_foreign_files(tmp_path):
    plain = tmp_path / "plain.safetensors"
    save_file({"w": torch.zeros(2)}, str(plain))
    with pytest.raises(TexsynthError, match="not a texsynth generator"):
        load_generator(plain)
    other = tmp_path / "other.safetensors"
    save_file({"w": torch.zeros(2)}, str(other), metadata={"format": "pt"})
    with pytest.raises(TexsynthError, match="not a texsynth generator"):
        read_generator_metadata(other)
    text = tmp_path / "notes.txt"
    text.write_text("hello, this is not a tensor file\n")
    with pytest.raises(TexsynthError, match="not a safetensors file"):
        load_generator(text)
    with pytest.raises(TexsynthError, match="does not exist"):
        load_generator(tmp_path / "missing.safetensors")
    newer = tmp_path / "newer.safetensors"
    save_file({"w": torch.zeros(2)}, str(newer), metadata={"format": "texsynth-generator/2"})
    with pytest.raises(TexsynthError, match="texsynth version that wrote it"):
        load_generator(newer)


def test_failed_save_leaves_nothing(tmp_path, monkeypatch):
    m = small()
    with pytest.raises(TexsynthError, match="cannot write generator file"):
        save_generator(m, tmp_path / "no" / "such" / "dir" / "g.safetensors")
    assert os.listdir(tmp_path) == []
    with pytest.raises(TexsynthError, match="JSON"):
        save_generator(m, tmp_path / "g.safetensors", metadata={"bad": object()})
    assert os.listdir(tmp_path) == []
    # an error at the final rename: the temporary file is removed, the old file kept
    path = tmp_path / "g.safetensors"
    save_generator(m, path, metadata={"v": 1})

    def fail(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", fail)
    with pytest.raises(TexsynthError, match="(?i)no space left"):
        save_generator(m, path, metadata={"v": 2})
    monkeypatch.undo()
    assert os.listdir(tmp_path) == ["g.safetensors"]
    assert read_generator_metadata(path)["metadata"] == {"v": 1}


def test_checkpoint_file_helpers(tmp_path):
    path = tmp_path / "ckpt.safetensors"
    g = torch.Generator().manual_seed(3)
    tensors = {
        "a": torch.arange(6.0).reshape(2, 3).t(),
        "noise": g.get_state(),
        "s": torch.tensor(2.0),
    }
    atomic_save_file(tensors, path, {"format": "x/1", "step": "5"})
    assert os.listdir(tmp_path) == ["ckpt.safetensors"]
    back, meta = load_checkpoint_file(path)
    assert meta == {"format": "x/1", "step": "5"}
    assert set(back) == set(tensors)
    for k, v in tensors.items():
        assert torch.equal(back[k], v), k
    text = tmp_path / "t.txt"
    text.write_text("not tensors")
    with pytest.raises(TexsynthError, match="not a readable safetensors file"):
        load_checkpoint_file(text)
    with pytest.raises(TexsynthError, match="does not exist"):
        load_checkpoint_file(tmp_path / "nope.safetensors")
