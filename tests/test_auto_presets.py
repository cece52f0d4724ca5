"""``method="auto"`` (the choice and its reason) and the quality presets of the engine."""

from __future__ import annotations

import pytest
import torch

from texsynth import TexsynthError, synthesize
from texsynth.auto import choose_method, looks_like_photo
from texsynth.presets import QUALITY_PRESETS, level_budget, quality_preset


def _field(size: int = 48, seed: int = 0) -> torch.Tensor:
    """A smooth float field in its own units (not in [0, 1])."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(1, 1, size, size, generator=g)
    x = torch.nn.functional.avg_pool2d(x, 5, 1, 2, count_include_pad=False)
    return 100.0 + 40.0 * x[0]


def _photo(size: int = 48, seed: int = 0) -> torch.Tensor:
    """A colour image on the 8-bit grid: stripes plus noise."""
    g = torch.Generator().manual_seed(seed)
    yy = torch.arange(size).float()[:, None].expand(size, size)
    base = 0.5 + 0.4 * torch.sin(yy * 2 * torch.pi / 8)
    x = (base[None] + 0.05 * torch.randn(3, size, size, generator=g)).clamp(0, 1)
    return (x * 255).round() / 255


def test_photo_detection() -> None:
    assert looks_like_photo(_photo())
    grey8 = _photo()[:1]
    assert looks_like_photo(grey8)
    assert not looks_like_photo(grey8 + 0.5 / 65535)  # 16-bit grey: a height map
    assert not looks_like_photo(_field())  # outside [0, 1]
    assert not looks_like_photo(torch.rand(4, 16, 16))  # 4 channels


def test_choose_method_and_override() -> None:
    assert choose_method(_photo())[0] == "patch"
    method, reason = choose_method(_field())
    assert method == "scattering" and "field" in reason
    assert choose_method(_photo(), photo=False)[0] == "scattering"
    assert choose_method(_field(), photo=True)[0] == "patch"


def test_auto_records_choice_in_report() -> None:
    _, rep = synthesize(_field(), seed=0, quality="fast", steps=10, progress=False, report=True)
    assert rep.method == "scattering" and rep.reason
    out, rep = synthesize(_photo(), seed=0, quality="fast", progress=False, report=True)
    assert rep.method == "patch" and "photo" in rep.reason
    assert out.shape == (1, 3, 48, 48)
    _, rep = synthesize(_field(), method="scattering", steps=5, progress=False, report=True)
    assert rep.method == "scattering" and rep.reason == ""


def test_patch_method_refuses_optimisation_options() -> None:
    with pytest.raises(TexsynthError, match="steps.*patch method"):
        synthesize(_photo(), method="patch", steps=10, progress=False)
    with pytest.raises(TexsynthError, match="J.*patch method"):
        synthesize(_photo(), method="patch", J=2, progress=False)
    for kwargs in (dict(L=8), dict(histogram=0.5), dict(callback=lambda *a: None)):
        with pytest.raises(TexsynthError, match="patch method"):
            synthesize(_photo(), method="patch", progress=False, **kwargs)
    with pytest.raises(TexsynthError, match="loss.*patch method"):
        from texsynth import HistogramLoss

        synthesize(_photo(), method="patch", loss=HistogramLoss(_photo()[None]), progress=False)


def test_auto_with_an_optimisation_option_picks_scattering() -> None:
    _, rep = synthesize(_photo(), steps=3, quality="fast", seed=0, progress=False, report=True)
    assert rep.method == "scattering" and "steps" in rep.reason
    assert choose_method(_photo()[0])[0] == "patch"  # [H, W] grey photo


def test_patch_accepts_numpy_integers_and_n_up() -> None:
    import numpy as np

    out = synthesize(
        _photo(32), method="patch", size=np.int64(40), seed=np.int64(3), progress=False
    )
    assert out.shape == (1, 3, 40, 40)
    assert synthesize(_photo(32), method="patch", n_up=1, progress=False).shape[-1] == 64
    mask = torch.zeros(1, 32, 32)
    mask[:, 8:16, 8:16] = 1
    out = synthesize(_photo(32), method="patch", n_up=1, mask=mask, seed=0, progress=False)
    assert out.shape == (1, 3, 32, 32)


def test_presets() -> None:
    assert set(QUALITY_PRESETS) == {"fast", "default", "best"}
    with pytest.raises(TexsynthError, match="quality must be one of"):
        quality_preset("ultra")
    with pytest.raises(TexsynthError, match="quality must be one of"):
        synthesize(_field(), method="scattering", quality="ultra", progress=False)
    # fast: version 0.1's schedule, a third per finer level; default: every level the same
    assert [level_budget(100, 3, k) for k in range(3)] == [100, 33, 11]
    assert [level_budget(200, 1, k) for k in range(3)] == [200, 200, 200]
    assert level_budget(12, 3, 4) == 10  # at least min(steps, 10)
    with pytest.raises(TexsynthError, match="tol must be"):
        synthesize(_field(), method="scattering", tol=2.0, progress=False)


def test_default_preset_converges_further_than_fast_at_the_finest_level() -> None:
    ex = _field(64, seed=1)
    kw = dict(method="scattering", seed=0, progress=False, report=True, steps=30)
    _, fast = synthesize(ex, quality="fast", **kw)
    _, default = synthesize(ex, quality="default", **kw)
    assert len(fast.levels) == len(default.levels) >= 2
    assert fast.iterations[-1] <= 10 < default.iterations[-1]
    assert default.losses[-1][-1] < fast.losses[-1][-1]


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (dict(seed=2**64), "seed must be an integer from 0 to 2\\*\\*63-1"),
        (dict(seed=-1), "seed must be"),
        (dict(seed=1.5), "seed must be"),
        (dict(size=32.5), "size must be an int"),
        (dict(size=(32, "40")), "size must be an int"),
        (dict(device="meta"), "not supported"),
        (dict(device="nonsense"), "unknown device"),
    ],
)
def test_api_refuses_bad_numbers_before_work(kwargs: dict, match: str) -> None:
    with pytest.raises(TexsynthError, match=match):
        synthesize(_field(), method="scattering", steps=2, progress=False, **kwargs)


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the no-GPU message")
def test_api_refuses_cuda_without_gpu() -> None:
    with pytest.raises(TexsynthError, match="no CUDA GPU"):
        synthesize(_field(), method="scattering", device="cuda", steps=2, progress=False)


def test_api_refuses_a_run_that_will_not_fit_before_work() -> None:
    with pytest.raises(TexsynthError, match="max_memory="):
        synthesize(_field(), method="scattering", size=4096, n=64, progress=False)
    with pytest.raises(TexsynthError, match="max_memory="):
        synthesize(_field(), method="scattering", steps=1, progress=False, max_memory=1000)


def test_gc_keeps_the_decaying_schedule_with_a_tight_tolerance() -> None:
    from texsynth.presets import GC_PRESETS

    assert quality_preset("default", ["gc", "spectrum"]) is GC_PRESETS["default"]
    assert quality_preset("default", ["scattering"]) is QUALITY_PRESETS["default"]
    assert all(p.tol <= 1e-3 for p in GC_PRESETS.values())
    assert GC_PRESETS["default"].decay == 3 and GC_PRESETS["best"].decay == 1
