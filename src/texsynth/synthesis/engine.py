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
from ..losses import TextureLoss, item_losses
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
    seeds: list[int] = field(default_factory=list)  # the seed of each output


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
    exact_members: bool = True,
) -> tuple[torch.Tensor, list[float]]:
    """L-BFGS on the values of every member of the batch ``x0``: ``steps`` loss
    evaluations at most per member.

    Each member (``x0[k]``) is optimised on its own -- its own L-BFGS memory, step
    safeguards and convergence test -- while the loss is evaluated on all the members still
    running at each iteration, item by item
    (:func:`~texsynth.losses.item_losses`), so member ``k`` follows bit for bit the path of
    a run of that member alone (what makes member ``k`` of a batch equal a run with
    ``n = 1`` and the member's seed; :mod:`texsynth.seeds`). ``exact_members=False``
    evaluates the batch in one call instead: faster for small inputs, and the members then
    equal their runs alone only up to rounding (which the optimisation can amplify). A
    member that has converged stops being evaluated.

    Without ``line_search`` a member takes unit steps (one loss evaluation per iteration):
    from a good starting point the quasi-Newton unit step is nearly always good. As a
    safeguard the best iterate is kept, and a step that raises the loss by more than half
    restarts L-BFGS from the best one. A second such step within 5 iterations of a restart
    switches that member to a backtracking (Armijo) line search for the rest of the level
    (far from the optimum, e.g. style transfer starting from the content image, unit steps
    overshoot again and again; a line search everywhere stalls the scattering loss).

    ``callback(level, iteration, loss, x)`` runs after each iteration with the members'
    summed loss and the whole batch; ``True`` ends this level. ``cancel`` (see
    :func:`check_cancelled`) ends the whole run: :class:`Cancelled` is raised at the next
    iteration, and no partial result is returned.

    Returns
    -------
    (x, history)
        The best iterate of every member, and the summed loss after each iteration.
    """
    n = x0.shape[0]
    x0 = x0.detach()

    def compose(t: torch.Tensor, idx: list[int]) -> torch.Tensor:
        if free is None or frozen is None:
            return t
        fz = frozen if frozen.shape[0] == 1 else frozen[idx]
        return fz * (1 - free) + t * free

    def evaluate(points: list[torch.Tensor], idx: list[int]) -> list[tuple[float, torch.Tensor]]:
        with torch.enable_grad():  # (also when called under torch.no_grad())
            v = torch.cat(points).detach().requires_grad_(True)
            chosen = [states[k] for k in idx]
            values = item_losses(loss_fn, compose(v, idx), chosen, batched=not exact_members)
            for k, state in zip(idx, chosen, strict=True):
                states[k] = state
            if values.shape != (len(idx),):
                raise TexsynthError(
                    f"{type(loss_fn).__name__} returned a value of shape "
                    f"{tuple(values.shape)} for a batch of {len(idx)}; a TextureLoss returns "
                    "one value per batch item"
                )
            total = values.sum()
            if not torch.isfinite(total):
                bad = [k for k, v in zip(idx, values.tolist(), strict=True) if not math.isfinite(v)]
                raise TexsynthError(
                    f"synthesis diverged (non-finite loss) at level {level + 1}, output "
                    f"{bad[0] + 1}, evaluation {members[bad[0]].evaluations + 1}; try fewer "
                    "scales (J) or check the exemplar for constant regions"
                )
            (grad,) = torch.autograd.grad(total, v)
        out = []
        for i, (k, value) in enumerate(zip(idx, values.detach().tolist(), strict=True)):
            members[k].evaluations += 1
            out.append((float(value), grad[i : i + 1]))
        return out

    # each member draws the loss's own randomness (if any) from where it would alone
    start_states = [g.get_state() for g in loss_fn.random_generators()]
    states = [list(start_states) for _ in range(n)]
    members = [_Member(x0[k : k + 1].clone(), line_search) for k in range(n)]
    everyone = list(range(n))
    for m, (f, g) in zip(members, evaluate([m.x for m in members], everyone), strict=True):
        m.f, m.g = f, g
    history: list[float] = []

    size = "x".join(str(v) for v in reversed(shape))  # W x H, as the command line writes it
    desc = f"level {level + 1}/{n_levels} {size}"
    # disable=None: tqdm turns itself off when the output is not a terminal (logs, CI)
    bar = tqdm(total=steps, desc=desc, disable=None if progress else True, leave=False)
    try:
        for iteration in range(steps):
            check_cancelled(cancel)
            history.append(math.fsum(m.current for m in members))
            stop = callback is not None and callback(
                level,
                iteration,
                history[-1],
                compose(torch.cat([m.current_x for m in members]), everyone),
            )
            active = [k for k, m in enumerate(members) if not m.done]
            for k in active:
                members[k].keep_best(iteration)
            bar.update(1)
            bar.set_postfix(loss=f"{math.fsum(m.best_f for m in members):.4g}")
            if stop:
                break
            for k in active:
                members[k].check_finished(iteration, tol, steps)
            active = [k for k in active if not members[k].done]
            if not active:
                break
            proposals = {k: members[k].propose() for k in active}
            results = dict(
                zip(active, evaluate([proposals[k] for k in active], active), strict=True)
            )
            # members on a line search backtrack until their loss falls enough (Armijo)
            waiting = [k for k in active if members[k].backtrack(results[k][0], steps)]
            while waiting:
                points = [members[k].shorter_step() for k in waiting]
                results.update(zip(waiting, evaluate(points, waiting), strict=True))
                waiting = [k for k in waiting if members[k].backtrack(results[k][0], steps)]
            for k in active:
                members[k].accept(*results[k])
    finally:
        bar.close()
    for k, m in enumerate(members):
        if m.rejected:
            log.debug(
                "level %d, output %d: %d rejected step(s), line search: %s",
                level + 1,
                k + 1,
                m.rejected,
                m.line_search,
            )
    best = torch.cat([m.best_x for m in members])
    return compose(best, everyone).detach(), history


class _Member:
    """The L-BFGS state of one member of a batch in :func:`optimise`."""

    def __init__(self, x: torch.Tensor, line_search: bool) -> None:
        self.x = x
        self.f = math.inf
        self.g = torch.zeros_like(x)
        self.lbfgs = LBFGSDirection(history_size=30)
        self.line_search = line_search
        self.evaluations = 0
        self.best_f, self.best_x, self.best_g = math.inf, x, self.g
        self.best_history: list[float] = []  # best loss so far, after each iteration
        self.rejected = 0
        self.restarted_at = -1
        self.done = False
        # the step being tried: direction, slope along it, length, point
        self.d = x
        self.slope = 0.0
        self.t = 0.0
        self.x_new = x

    @property
    def current(self) -> float:
        """The loss at the member's current point (its best once it is done)."""
        return self.best_f if self.done else self.f

    @property
    def current_x(self) -> torch.Tensor:
        return self.best_x if self.done else self.x

    def keep_best(self, iteration: int) -> None:
        """Record a new best point, or go back to the best one after a bad step."""
        if self.f < self.best_f:
            self.best_f, self.best_x, self.best_g = self.f, self.x, self.g
        elif self.f > 1.5 * self.best_f:
            # a bad step: back to the best point with fresh memory; a second one soon
            # after a restart means unit steps overshoot again and again (far from the
            # optimum, e.g. style transfer from the content image): line search from then
            self.f, self.x, self.g = self.best_f, self.best_x, self.best_g
            if self.restarted_at >= 0 and iteration - self.restarted_at <= 5:
                self.line_search = True
            self.rejected += 1
            self.restarted_at = iteration
            self.lbfgs.reset()
        self.best_history.append(self.best_f)

    def check_finished(self, iteration: int, tol: float, steps: int) -> None:
        """Done when converged -- the best loss fell by less than ``tol`` (relative) in 5
        iterations, judged on the best so a rejected step does not end it, and not within
        5 iterations of a restart, whose first steps are short -- or out of evaluations."""
        h = self.best_history
        converged = (
            len(h) > 5
            and iteration - self.restarted_at > 5
            and h[-6] - self.best_f <= tol * self.best_f
        )
        self.done = converged or self.f == 0.0 or self.evaluations >= steps

    def propose(self) -> torch.Tensor:
        """The next point to evaluate: a quasi-Newton step from the current point."""
        g = self.g
        d = self.lbfgs.direction(g)
        slope = float((g * d).sum())
        if slope >= 0:  # not a descent direction (numerical noise): steepest descent
            self.lbfgs.reset()
            d, slope = -g, -float((g * g).sum())
        self.d, self.slope, self.t = d, slope, self.lbfgs.step_size(g)
        self.x_new = self.x + self.t * d
        return self.x_new

    def backtrack(self, f_new: float, steps: int) -> bool:
        """Whether a line-searching member must try a shorter step (Armijo)."""
        return (
            self.line_search
            and f_new > self.f + 1e-4 * self.t * self.slope
            and self.evaluations < steps
        )

    def shorter_step(self) -> torch.Tensor:
        self.t *= 0.5
        self.x_new = self.x + self.t * self.d
        return self.x_new

    def accept(self, f_new: float, g_new: torch.Tensor) -> None:
        """Move to the evaluated point and learn the curvature along the step."""
        self.lbfgs.update(self.x_new - self.x, g_new - self.g)
        self.x, self.f, self.g = self.x_new, f_new, g_new
