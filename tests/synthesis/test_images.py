"""The synthesis engine: options of seed 001's ``synthesis``, on small images."""

from __future__ import annotations

from typing import Any

import pytest
import torch

from texsynth import (
    HistogramLoss,
    ScatteringCovariance,
    ScatteringLoss,
    TexsynthError,
    TextureLoss,
    synthesize,
)


def _exemplar(n: int = 48, C: int = 1, seed: int = 0) -> torch.Tensor:
    """A sparse, oriented, positive test texture ``[C, n, n]`` in [0, 1]."""
    g = torch.Generator().manual_seed(seed)
    z = torch.randn(C, n, n, generator=g)
    k = torch.fft.fftfreq(n)
    ky, kx = k[:, None], k[None, :]
    spec = torch.exp(-((kx - 0.15) ** 2 + ky**2) / 0.003) + torch.exp(-(kx**2 + ky**2) / 0.003)
    y = torch.fft.ifft2(torch.fft.fft2(z) * spec).real
    y = torch.relu(y / y.std() - 0.3)
    return (y / y.max()).clamp(0, 1)


FAST: dict[str, Any] = dict(method="scattering", quality="fast", steps=25, progress=False)


def test_shapes_sizes_and_units() -> None:
    ex = _exemplar() * 10 + 3  # arbitrary units are restored
    out = synthesize(ex, seed=0, **FAST)
    assert out.shape == (1, 1, 48, 48) and out.dtype == torch.float32
    assert abs(float(out.mean()) - float(ex.mean())) < 0.1 * float(ex.std())
    assert synthesize(ex, n=3, seed=0, **FAST).shape == (3, 1, 48, 48)
    assert synthesize(ex, size=(40, 56), seed=0, **FAST).shape == (1, 1, 40, 56)
    assert synthesize(ex, n_up=1, seed=0, **FAST).shape == (1, 1, 96, 96)
    assert synthesize(ex[0], size=33, seed=0, **FAST).shape == (1, 1, 33, 33)


def test_works_under_no_grad_and_inference_mode() -> None:
    ex = _exemplar()
    ref = synthesize(ex, seed=3, **FAST)
    with torch.no_grad():
        assert torch.equal(synthesize(ex, seed=3, **FAST), ref)
    with torch.inference_mode():
        assert torch.equal(synthesize(ex, seed=3, **FAST), ref)


def test_output_smaller_than_exemplar_gets_fewer_scales() -> None:
    """A 64x64 output of a 128x128 exemplar: the largest scales do not fit it, so the
    default J is the output's (this used to fail at the coarse level)."""
    ex = _exemplar(128)
    out, rep = synthesize(ex, size=64, seed=0, report=True, **FAST)
    assert out.shape == (1, 1, 64, 64)
    assert rep.scales[-1] == 4  # max_J(64): the exemplar alone would allow 5
    with pytest.raises(TexsynthError, match="output of 64x64 pixels supports at most J=4"):
        synthesize(ex, size=64, J=5, **FAST)


def test_same_seed_same_result_different_seed_different() -> None:
    ex = _exemplar()
    a = synthesize(ex, seed=7, **FAST)
    b = synthesize(ex, seed=7, **FAST)
    c = synthesize(ex, seed=8, **FAST)
    assert torch.equal(a, b)
    assert float((a - c).abs().mean()) > 0.1 * float(ex.std())


def test_statistics_are_matched_and_loss_decreases() -> None:
    ex = _exemplar(64)
    out, rep = synthesize(ex, method="scattering", seed=1, steps=40, progress=False, report=True)
    assert all(h[-1] < 0.2 * h[0] for h in rep.losses)
    # per statistic group, the sigma-weighted distance to the exemplar is far below noise's
    sc = ScatteringCovariance(J=4)
    t, sigma = sc(ex[None].double(), norm="auto", edge=True, calc_var=True)
    s = sc(out.double(), norm="auto")
    noise = sc(torch.randn(1, 1, 64, 64, dtype=torch.float64) * ex.std() + ex.mean(), norm="auto")
    for name in ("S1", "S2", "S3", "S4"):

        def chi2(a: torch.Tensor, name: str = name) -> float:
            return float(((a - getattr(t, name)).abs() / getattr(sigma, name)).pow(2).mean())

        assert chi2(getattr(s, name)) < 0.1 * chi2(getattr(noise, name)), name
    # the output is not a copy of the exemplar
    assert float((out[0] - ex).abs().mean()) > 0.3 * float(ex.std())


def _seam_ratio(out: torch.Tensor) -> float:
    """Mean wrap-around jump (last row/column to first) over the mean jump between
    neighbouring interior rows/columns, averaged over the batch and both axes."""
    ratios = []
    for o in (out, out.transpose(-1, -2)):
        d = (torch.roll(o, -1, -2) - o).abs().mean((0, 1, 3))
        ratios.append(float(d[-1] / d[:-1].mean()))
    return sum(ratios) / 2


def test_output_tiles_seamlessly() -> None:
    # a sparse texture varies a lot from row to row, hence a batch (a real seam gives 3-5)
    out = synthesize(_exemplar(64), n=6, seed=2, **FAST)
    assert _seam_ratio(out) < 1.6


def test_no_tile_gives_requested_size() -> None:
    out = synthesize(_exemplar(48), tile=False, seed=0, **FAST)
    assert out.shape == (1, 1, 48, 48) and torch.isfinite(out).all()


def test_histogram_is_matched() -> None:
    ex = _exemplar(64)
    out = synthesize(ex, seed=3, **FAST)
    q = torch.sort(ex.flatten()).values
    o = torch.sort(out.flatten()).values
    assert float((q - o).abs().mean()) < 0.05 * float(ex.std())


def test_inpainting_keeps_unmasked_pixels_exactly() -> None:
    ex = _exemplar(64)
    mask = torch.zeros(64, 64)
    mask[20:44, 16:40] = 1
    out = synthesize(ex, mask=mask, seed=0, **FAST)
    keep = mask == 0
    assert torch.equal(out[0, 0][keep], ex[0][keep])
    assert float((out[0, 0][~keep] - ex[0][~keep]).abs().mean()) > 0  # the hole was redone
    # and the filled hole is texture, not a flat fill
    assert float(out[0, 0][~keep].std()) > 0.5 * float(ex.std())


def test_in_mask_excludes_exemplar_pixels() -> None:
    ex = _exemplar(48)
    in_mask = torch.ones(48, 48)
    in_mask[:, :12] = 0
    spoiled = ex.clone()
    spoiled[:, :, :12] = 50.0  # garbage where excluded
    a = synthesize(ex, in_mask=in_mask, seed=4, **FAST)
    b = synthesize(spoiled, in_mask=in_mask, seed=4, **FAST)
    torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)


def test_init_warm_start_starts_close() -> None:
    ex = _exemplar(48)
    _, cold = synthesize(ex, seed=0, report=True, **FAST)
    _, warm = synthesize(ex, init=ex, seed=0, report=True, **FAST)
    assert warm.losses[0][0] < 0.1 * cold.losses[0][0]


def test_to_gaussian_restores_a_skewed_histogram() -> None:
    g = torch.Generator().manual_seed(5)
    ex = torch.exp(2 * torch.randn(1, 48, 48, generator=g))  # log-normal, very skewed
    out = synthesize(ex, to_gaussian=True, seed=0, **FAST)
    assert float(out.min()) >= float(ex.min()) - 1e-4 and float(out.max()) <= float(ex.max()) + 1e-3
    torch.testing.assert_close(out.median(), ex.median(), rtol=0.2, atol=0)


def test_colour_exemplar_keeps_channel_means() -> None:
    ex = torch.stack(
        [_exemplar(48, seed=0)[0], 0.5 * _exemplar(48, seed=1)[0] + 0.2, torch.full((48, 48), 0.3)]
    )
    out = synthesize(ex, seed=0, **FAST)
    assert out.shape == (1, 3, 48, 48)
    torch.testing.assert_close(out.mean((0, 2, 3)), ex.mean((1, 2)), atol=0.03, rtol=0)


def test_reference_cross_synthesis_and_orientation_reductions() -> None:
    ex = _exemplar(48)
    ref = _exemplar(48, seed=9)
    out = synthesize(ex, reference=ref, seed=0, **FAST)
    assert out.shape == (1, 1, 48, 48)
    with pytest.raises(TexsynthError, match="reference"):
        synthesize(ex, reference=ref, size=64, seed=0, **FAST)
    assert synthesize(ex, iso_ang=True, seed=0, **FAST).shape == (1, 1, 48, 48)
    assert synthesize(ex, fft_ang=True, seed=0, **FAST).shape == (1, 1, 48, 48)


def test_callback_is_called_and_can_stop() -> None:
    calls: list[tuple[int, int]] = []

    def cb(level: int, it: int, loss: float, x: torch.Tensor) -> bool:
        calls.append((level, it))
        return it >= 2

    _, rep = synthesize(_exemplar(), seed=0, callback=cb, report=True, **FAST)
    assert calls and all(n == 3 for n in rep.iterations)


def test_custom_loss_and_weighted_sum() -> None:
    ex = _exemplar(48)[None]
    a, b = ScatteringLoss(ex, J=3), HistogramLoss(ex)
    x = torch.rand(2, 1, 48, 48)
    torch.testing.assert_close((2.0 * a + b)(x), 2 * a(x) + b(x))
    assert (a + b).at(ex[..., :32, :32], J=2)(x[..., :32, :32]).shape == (2,)
    out = synthesize(ex[0], loss=a + 0.5 * b, seed=0, **FAST)
    assert out.shape == (1, 1, 48, 48)


class _NaNLoss(TextureLoss):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.mean((1, 2, 3)) * float("nan")

    def at(self, exemplar: torch.Tensor, **overrides: Any) -> TextureLoss:
        return self


def test_nan_loss_stops_with_a_clear_error() -> None:
    with pytest.raises(TexsynthError, match="diverged"):
        synthesize(_exemplar(), loss=_NaNLoss(), seed=0, **FAST)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (dict(method="nope"), "unknown method"),
        (dict(n=0), "n must be"),
        (dict(steps=0), "steps must be"),
        (dict(size=4), "at least 8x8"),
        (dict(size="big"), "size must be"),
        (dict(levels=9), "levels"),
        (dict(J=9), "at most J="),
        (dict(iso_ang=True, fft_ang=True), "cannot be combined"),
        (dict(mask=torch.ones(10, 10)), "does not fit"),
        (dict(init=torch.rand(3, 48, 48)), "channels"),
        (dict(in_mask=torch.zeros(48, 48)), "excludes every"),
    ],
)
def test_bad_arguments(kwargs: dict[str, Any], match: str) -> None:
    with pytest.raises(TexsynthError, match=match) as info:
        synthesize(_exemplar(), seed=0, **{**FAST, **kwargs})
    assert "\n" not in str(info.value)


def test_nan_exemplar_is_refused() -> None:
    ex = _exemplar()
    ex[0, 3, 4] = float("nan")
    with pytest.raises(TexsynthError, match="1 non-finite"):
        synthesize(ex, seed=0, **FAST)


def test_use_variance_off_explicit_scales_and_float64() -> None:
    ex = _exemplar(64).double()
    out, rep = synthesize(
        ex, use_variance=False, J=3, levels=2, seed=0, dtype=torch.float64, report=True, **FAST
    )
    assert out.dtype == torch.float64 and rep.scales == [2, 3] and len(rep.levels) == 2
    assert rep.losses[-1][-1] < rep.losses[-1][0]


def _two_colour_texture(n: int = 48) -> torch.Tensor:
    """Colour texture whose channels share structure: blobs of two distinct colours."""
    mask = _exemplar(n, seed=4)[0] > 0.05
    red = torch.tensor([0.9, 0.2, 0.1])[:, None, None]
    blue = torch.tensor([0.1, 0.3, 0.9])[:, None, None]
    return torch.where(mask, red, blue) + 0.02 * torch.randn(
        3, n, n, generator=torch.Generator().manual_seed(0)
    )


def test_histogram_loss_directions_see_the_joint_colour_distribution() -> None:
    ex = _two_colour_texture()[None]
    # same per-channel values, but each channel's pixels shuffled independently: the
    # marginals are identical, the joint colours (red/blue pairs) are destroyed
    g = torch.Generator().manual_seed(1)
    shuffled = torch.stack(
        [c.flatten()[torch.randperm(c.numel(), generator=g)].reshape(c.shape) for c in ex[0]]
    )[None]
    marginal = HistogramLoss(ex, directions=0)
    joint = HistogramLoss(ex)  # default: 2 C extra directions
    assert float(marginal(shuffled)) < 1e-6
    assert float(joint(shuffled)) > 10.0 and float(joint(ex)) < 1e-6


def test_cross_channel_statistics_tie_channels_together() -> None:
    ex = _two_colour_texture()[None]
    ex = ex - ex.mean((2, 3), keepdim=True)
    per_channel = ScatteringLoss(ex, J=3, cross_channels=False)
    crossed = ScatteringLoss(ex, J=3)
    # shift one channel: each channel keeps its own statistics, their alignment is lost
    moved = ex.clone()
    moved[:, 2] = torch.roll(moved[:, 2], (11, 17), (-2, -1))
    assert float(per_channel(moved)) < 2.0 * float(per_channel(ex)) + 0.5
    assert float(crossed(moved)) > 5.0 * (float(crossed(ex)) + 0.5)
