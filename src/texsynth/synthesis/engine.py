"""The optimisation engine shared by every optimisation method and domain.

:func:`optimise` runs L-BFGS (:class:`~texsynth.synthesis.lbfgs.LBFGSDirection`) on the
values of a batch against any :class:`~texsynth.losses.TextureLoss`, with a frozen/free
split for inpainting, a progress bar, a per-iteration callback and whole-run cancellation
(:class:`Cancelled`). Images (:mod:`texsynth.synthesis.images`), signals
(:mod:`texsynth.synthesis.signals`) and the compatibility layer drive it level by level,
coarse to fine, and record what happened in a :class:`SynthesisReport`.
"""

from __future__ import annotations

import functools
import logging
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ParamSpec, TypeVar

import torch
from tqdm.auto import tqdm

from ..cancellation import Cancel, Cancelled, check_cancelled
from ..errors import TexsynthError
from ..losses import TextureLoss
from .lbfgs import LBFGSDirection

__all__ = [
    "Callback",
    "Cancel",
    "Cancelled",
    "SynthesisReport",
    "autograd_enabled",
    "check_cancelled",
    "optimise",
]

log = logging.getLogger(__name__)

Callback = Callable[[int, int, float, torch.Tensor], Any]
"""``callback(level, iteration, loss, x)``, called after each iteration."""

P = ParamSpec("P")
R = TypeVar("R")


@dataclass
class SynthesisReport:
    """What happened during a synthesis (``report=True``)."""

    levels: list[tuple[int, ...]] = field(default_factory=list)  # output size per level
    scales: list[int] = field(default_factory=list)  # J per level
    iterations: list[int] = field(default_factory=list)
    losses: list[list[float]] = field(default_factory=list)  # loss history per level
    seconds: float = 0.0
    method: str = ""  # the method that ran (what "auto" chose)
    reason: str = ""  # why "auto" chose it ("" when the method was given)


def autograd_enabled(fn: Callable[P, R]) -> Callable[P, R]:
    """Run ``fn`` with autograd on, even when called under ``torch.no_grad()`` or
    ``torch.inference_mode()`` (synthesis and training need gradients internally)."""

    @functools.wraps(fn)
    def inner(*args: P.args, **kwargs: P.kwargs) -> R:
        with torch.inference_mode(False), torch.enable_grad():
            return fn(*args, **kwargs)

    return inner


def optimise(
    x0: torch.Tensor,
    loss_fn: TextureLoss,
    frozen: torch.Tensor | None,
    free: torch.Tensor | None,
    steps: int,
    tol: float,
    progress: bool,
    callback: Callback | None,
    level: int,
    n_levels: int,
    shape: tuple[int, ...],
    line_search: bool = False,
    cancel: Cancel | None = None,
) -> tuple[torch.Tensor, list[float]]:
    """L-BFGS on the pixels: ``steps`` loss evaluations at most.

    Without ``line_search`` it takes unit steps (one loss evaluation per iteration): from a
    good starting point the quasi-Newton unit step is nearly always good. As a safeguard
    the best iterate is kept, and a step that raises the loss by more than half restarts
    L-BFGS from the best one. A second such step within 5 iterations of a restart switches
    to a backtracking (Armijo) line search for the rest of the level (far from the
    optimum, e.g. style transfer starting from the content image, unit steps overshoot
    again and again; a line search everywhere stalls the scattering loss).

    ``callback(level, iteration, loss, x)`` runs after each iteration; ``True`` ends this
    level. ``cancel`` (see :func:`check_cancelled`) ends the whole run: :class:`Cancelled`
    is raised at the next iteration, and no partial result is returned.
    """

    def compose(t: torch.Tensor) -> torch.Tensor:
        if free is None or frozen is None:
            return t
        return frozen * (1 - free) + t * free

    evaluations = 0

    def evaluate(t: torch.Tensor) -> tuple[float, torch.Tensor]:
        nonlocal evaluations
        evaluations += 1
        with torch.enable_grad():  # (also when called under torch.no_grad())
            v = t.detach().requires_grad_(True)
            value = loss_fn(compose(v)).sum()
            if not torch.isfinite(value):
                raise TexsynthError(
                    f"synthesis diverged (non-finite loss) at level {level + 1}, evaluation "
                    f"{evaluations}; try fewer scales (J) or check the exemplar for constant "
                    "regions"
                )
            (grad,) = torch.autograd.grad(value, v)
        return float(value.detach()), grad

    lbfgs = LBFGSDirection(history_size=30)
    x = x0.detach().clone()
    f, g = evaluate(x)
    history: list[float] = []
    best_history: list[float] = []  # best loss so far, after each iteration
    best = (math.inf, x, g)
    rejected, restarted_at = 0, -1

    size = "x".join(str(v) for v in reversed(shape))  # W x H, as the command line writes it
    desc = f"level {level + 1}/{n_levels} {size}"
    # disable=None: tqdm turns itself off when the output is not a terminal (logs, CI)
    bar = tqdm(total=steps, desc=desc, disable=None if progress else True, leave=False)
    try:
        for iteration in range(steps):
            check_cancelled(cancel)
            history.append(f)
            stop = callback is not None and callback(level, iteration, f, compose(x))
            if f < best[0]:
                best = (f, x, g)
            elif f > 1.5 * best[0]:
                # a bad step: back to the best point with fresh memory; a second one soon
                # after a restart means unit steps overshoot again and again (far from the
                # optimum, e.g. style transfer from the content image): line search from then
                f, x, g = best
                if restarted_at >= 0 and iteration - restarted_at <= 5:
                    line_search = True
                rejected += 1
                restarted_at = iteration
                lbfgs.reset()
            best_history.append(best[0])
            bar.update(1)
            bar.set_postfix(loss=f"{best[0]:.4g}")
            if stop:
                break
            # converged: the best loss fell by less than ``tol`` (relative) in 5 iterations
            # (judged on the best, so a rejected step does not end the level)
            # (and not within 5 iterations of a restart, whose first steps are short)
            if (
                len(best_history) > 5
                and iteration - restarted_at > 5
                and best_history[-6] - best[0] <= tol * best[0]
            ):
                break
            if f == 0.0 or evaluations >= steps:
                break
            d = lbfgs.direction(g)
            slope = float((g * d).sum())
            if slope >= 0:  # not a descent direction (numerical noise): steepest descent
                lbfgs.reset()
                d, slope = -g, -float((g * g).sum())
            t = lbfgs.step_size(g)
            x_new = x + t * d
            f_new, g_new = evaluate(x_new)
            if line_search:  # backtrack until the loss falls enough (Armijo)
                while f_new > f + 1e-4 * t * slope and evaluations < steps:
                    t *= 0.5
                    x_new = x + t * d
                    f_new, g_new = evaluate(x_new)
            lbfgs.update(x_new - x, g_new - g)
            x, f, g = x_new, f_new, g_new
    finally:
        bar.close()
    if rejected:
        log.debug(
            "level %d: %d rejected step(s), line search: %s", level + 1, rejected, line_search
        )
    return compose(best[1]).detach(), history
