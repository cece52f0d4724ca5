"""Whole-run cancellation: an event or a function stops synthesis at the next iteration,
and nothing is returned."""

from __future__ import annotations

import threading

import pytest
import torch

from texsynth import synthesize
from texsynth.synthesis import Cancelled, synthesize_1d


def _ex(*shape: int) -> torch.Tensor:
    return torch.rand(*shape, generator=torch.Generator().manual_seed(0))


@pytest.mark.parametrize("method", ["scattering", "patch"])
def test_an_event_set_mid_run_cancels_the_whole_run(method: str) -> None:
    """Set from a callback here (as another thread would set it): the level does not just
    end, the whole run stops and raises."""
    event = threading.Event()
    seen: list[int] = []

    def cb(*args: object) -> None:
        seen.append(int(args[0]))  # the level
        event.set()

    kwargs = {"steps": 50} if method == "scattering" else {"quality": "fast"}
    call = dict(method=method, size=32, seed=0, progress=False, cancel=event, **kwargs)
    if method == "scattering":
        call["callback"] = cb
        with pytest.raises(Cancelled, match="cancelled"):
            synthesize(_ex(1, 32, 32), levels=2, **call)
        assert seen == [0]  # one iteration of the first level, then nothing more
    else:
        event.set()
        with pytest.raises(Cancelled):
            synthesize(_ex(1, 32, 32), **call)


def test_a_function_cancels_signals_and_an_unset_event_changes_nothing() -> None:
    calls = {"n": 0}

    def stop() -> bool:
        calls["n"] += 1
        return calls["n"] > 3

    with pytest.raises(Cancelled):
        synthesize_1d(_ex(1, 256), seed=0, progress=False, cancel=stop, steps=20)
    assert calls["n"] == 4
    a = synthesize(_ex(1, 32, 32), method="scattering", size=32, seed=1, steps=5,
                   progress=False, cancel=threading.Event())  # fmt: skip
    b = synthesize(_ex(1, 32, 32), method="scattering", size=32, seed=1, steps=5, progress=False)
    torch.testing.assert_close(a, b)


def test_training_is_cancelled_before_the_next_step() -> None:
    from texsynth.generators import train_generator

    steps: list[int] = []
    with pytest.raises(Cancelled):
        train_generator(
            _ex(1, 32, 32), size=16, steps=10, depth=2, width=2, batch=1, seed=0,
            progress=False, callback=lambda step, *_: steps.append(step),
            cancel=lambda: len(steps) >= 2,
        )  # fmt: skip
    assert steps == [0, 1]
