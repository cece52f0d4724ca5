"""The coarse-to-fine run of an optimisation driver (images, signals, skies), from its
inputs in the working space to the result in the exemplar's units: the loop of
:func:`~texsynth.synthesis.levels.run_levels`, the crop of a non-periodic output's margin
and the undoing of the value transforms (:mod:`texsynth.synthesis.values`)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch

from ..cancellation import Cancel
from .engine import Callback, SynthesisReport
from .levels import LossFactory, Shape, Start, cropped, run_levels
from .prepare import undo_transforms
from .values import ValueTransforms

__all__ = ["RunControl", "Working", "optimise_levels"]


@dataclass(frozen=True)
class RunControl:
    """How a run is seeded, stopped and watched: one seed per member
    (:mod:`texsynth.seeds`), the convergence tolerance, the progress bar, the
    per-iteration callback, the whole-run cancellation, and whether the members are
    evaluated one by one (as :func:`~texsynth.synthesis.levels.run_levels`)."""

    seeds: Sequence[int]
    tol: float
    progress: bool
    callback: Callback | None
    cancel: Cancel | None
    exact_members: bool


@dataclass(frozen=True)
class Working:
    """A driver's inputs, checked: the value transforms (whose ``exemplar`` is the
    transformed exemplar), the exemplar samples that shape the statistics (``in_mask``),
    the warm start or inpainted input in the exemplar's units (``init``) and in the
    working space (``start``), and the samples inpainting synthesises (``free``)."""

    values: ValueTransforms
    in_mask: torch.Tensor | None
    init: torch.Tensor | None
    free: torch.Tensor | None
    start: torch.Tensor | None

    @classmethod
    def of(
        cls,
        values: ValueTransforms,
        in_mask: torch.Tensor | None,
        init: torch.Tensor | None,
        free: torch.Tensor | None,
    ) -> Working:
        """The inputs, with ``init`` mapped into the working space."""
        start = values.prepare(init) if init is not None else None
        return cls(values, in_mask, init, free, start)

    def undo(self, x: torch.Tensor, *, remap: bool) -> torch.Tensor:
        """The synthesised batch ``x`` in the exemplar's units
        (:func:`~texsynth.synthesis.prepare.undo_transforms`): with ``remap``, its values
        first made exactly the transformed exemplar's; with inpainting, the kept samples
        of ``init`` put back."""
        values, layout = self.values, self.values.layout
        return undo_transforms(
            x,
            std=values.std,
            gauss=values.gauss,
            remap_to=(layout.pooled(values.exemplar), values.valid) if remap else None,
            init=self.init,
            free=self.free,
            as_image=layout.as_image,
            back=layout.back,
        )


def optimise_levels(
    work: Working,
    control: RunControl,
    *,
    canvas: Shape,
    levels: tuple[int, int],
    build_loss: LossFactory,
    start: Start,
    budget: Callable[[int], int],
    report: SynthesisReport,
    remap: bool,
    crop: tuple[int, Shape] = (0, ()),
    **options: Any,
) -> torch.Tensor:
    """Synthesise a batch coarse to fine and return it in the exemplar's units.

    ``canvas``, ``build_loss``, ``start``, ``budget`` and ``report`` are those of
    :func:`~texsynth.synthesis.levels.run_levels`, ``levels`` is its ``(n_levels, J)``
    and ``options`` its domain's (``mirror``, ``resampling``); ``crop = (margin,
    shape)`` cuts a non-periodic output out of its canvas, and ``remap`` makes its values
    exactly the exemplar's (:meth:`Working.undo`).
    """
    n_levels, J = levels
    x = run_levels(
        exemplar=work.values.exemplar,
        in_mask=work.in_mask,
        canvas=canvas,
        n_levels=n_levels,
        J=J,
        build_loss=build_loss,
        start=start,
        seeds=control.seeds,
        budget=budget,
        tol=control.tol,
        frozen=work.start if work.free is not None else None,
        free=work.free,
        progress=control.progress,
        callback=control.callback,
        cancel=control.cancel,
        report=report,
        exact_members=control.exact_members,
        **options,
    )
    x = cropped(x, *crop)
    return work.undo(x, remap=remap)
