"""Progress of a whole run, the same for every method: :class:`Progress` events.

A caller passes ``on_progress=`` to :func:`texsynth.synthesize` (any method: the
optimisation methods and the patch method alike) and gets a :class:`Progress` after every
iteration: which level of the coarse-to-fine pyramid, which iteration of its budget, and
the image as it forms. A server turns them into a progress bar with the time left
(:attr:`Progress.fraction`); :mod:`texsynth.cancellation` stops the run.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

__all__ = ["OnProgress", "Progress", "level_weights", "with_progress"]


def level_weights(levels: int) -> list[float]:
    """The share of a run's work done at each level, coarse to fine: proportional to the
    level's pixel count (each level doubles the side, so four times the pixels)."""
    raw = [4.0**k for k in range(levels)]
    total = sum(raw)
    return [r / total for r in raw]


@dataclass(frozen=True)
class Progress:
    """One step of a run.

    Attributes
    ----------
    level, levels
        The level (1 = coarsest) and how many there are.
    iteration, steps
        The iteration of this level (1-based) and its budget (a level that converges stops
        before it).
    member, members
        Which output is being made (0-based) and how many, for methods that make them one
        after the other (the patch method); 0 and 1 when they are made together.
    image
        A function returning the current ``[n, C, h, w]`` image in the exemplar's units
        (computed only when called: it is for previews).
    """

    level: int
    levels: int
    iteration: int
    steps: int
    image: Callable[[], torch.Tensor]
    member: int = 0
    members: int = 1

    @property
    def fraction(self) -> float:
        """Estimated fraction of the run done, in [0, 1] (levels weighted by pixel count)."""
        w = level_weights(self.levels)
        k = min(max(self.level, 1), self.levels) - 1
        inside = min(self.iteration / max(self.steps, 1), 1.0)
        run = sum(w[:k]) + w[k] * inside
        return min((self.member + run) / max(self.members, 1), 1.0)


OnProgress = Callable[[Progress], None]
"""``on_progress(event)``, called after every iteration of a run."""


def with_progress(
    callback: Callable[[int, int, float, torch.Tensor], Any] | None,
    on_progress: OnProgress | None,
    levels: int,
    budget: Callable[[int], int],
    to_units: Callable[[torch.Tensor], torch.Tensor],
) -> Callable[[int, int, float, torch.Tensor], Any] | None:
    """An optimisation engine's ``callback(level, iteration, loss, x)`` that also reports
    ``on_progress``: ``budget(k)`` is level ``k``'s iteration budget and ``to_units``
    brings the working-space ``x`` back to the exemplar's units (for the preview)."""
    if on_progress is None:
        return callback

    def report(level: int, iteration: int, loss: float, x: torch.Tensor) -> Any:
        on_progress(Progress(level + 1, levels, iteration + 1, budget(level), lambda: to_units(x)))
        return None if callback is None else callback(level, iteration, loss, x)

    return report
