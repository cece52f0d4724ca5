"""``on_progress``: the same progress events for every method (texsynth.progress)."""

from __future__ import annotations

import pytest
import torch

from texsynth import TexsynthError, synthesize
from texsynth.io.runs import JobSpec
from texsynth.progress import Progress, level_weights
from texsynth.synthesis.jobs import run_job


def _photo() -> torch.Tensor:
    g = torch.Generator().manual_seed(0)
    return torch.rand(3, 32, 32, generator=g)


@pytest.mark.parametrize(
    ("method", "extra"), [("patch", {}), ("scattering", {"steps": 4}), ("auto", {})]
)
def test_every_method_reports_progress(method: str, extra: dict) -> None:
    seen: list[Progress] = []
    out, rep = synthesize(
        _photo(),
        method=method,
        size=24,
        n=2,
        seed=1,
        quality="fast",
        progress=False,
        report=True,
        on_progress=seen.append,
        **extra,
    )
    assert seen, method
    if method == "auto":  # a photo: the patch method, still reporting (unlike callback)
        assert rep.method == "patch"
    f = [p.fraction for p in seen]
    assert f == sorted(f) and 0 < f[0] < 0.5 and f[-1] == pytest.approx(1.0)
    assert all(1 <= p.level <= p.levels and 1 <= p.iteration <= p.steps for p in seen)
    assert seen[-1].level == seen[-1].levels
    img = seen[-1].image()
    assert img.shape[-3:] == out.shape[-3:] and img.dtype == out.dtype
    # the preview is in the exemplar's units, near the result
    assert (img.mean() - out.mean()).abs() < 0.2


def test_fraction_weights_levels_by_pixels() -> None:
    assert level_weights(3) == pytest.approx([1 / 21, 4 / 21, 16 / 21])
    p = Progress(2, 2, 5, 10, lambda: torch.zeros(1), member=1, members=2)
    assert p.fraction == pytest.approx((1 + 0.2 + 0.8 * 0.5) / 2)


def test_run_job_passes_progress_and_refuses_it_elsewhere() -> None:
    seen: list[Progress] = []
    spec = JobSpec("synth", "image", {"input": "x.png"}, {"method": "patch", "size": 16}, 3)
    run_job(spec, {"input": _photo()}, progress=False, on_progress=seen.append)
    assert seen and seen[-1].fraction == pytest.approx(1.0)
    sig = JobSpec("synth", "signal", {"input": "x.npy"}, {}, 0)
    with pytest.raises(TexsynthError, match="on_progress"):
        run_job(sig, {"input": torch.randn(1, 64)}, progress=False, on_progress=seen.append)
    with pytest.raises(TexsynthError, match="on_progress"):
        run_job(JobSpec("synth", "image", {}, {"on_progress": 1}), {"input": _photo()})
