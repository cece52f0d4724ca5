"""The L-BFGS direction of the synthesis engine (two-loop recursion), on one tensor.

The engine drives the iterations itself (unit steps, its own safeguards and a backtracking
fallback), so all it needs from L-BFGS is the search direction. It follows the update rules
of ``torch.optim.LBFGS`` (the first step scaled by ``1 / |g|_1``, curvature pairs with
``y.s <= 1e-10`` skipped, the initial Hessian ``y.s / y.y``) but one: while the memory is
empty, each skipped pair makes the next first step ``FIRST_STEP_GROWTH`` times longer. A
``1 / |g|_1`` step on a large map (a restart after a bad step, 200 000 pixels) moves so
little that ``y.s`` is float32 noise, often negative; torch's rule then repeats the same
tiny step for ever (a nside-128 sky's finest level crawled from 5.52 to 5.42 in 22
evaluations, docs/sphere.md, "The V2 decision"). Without the optimiser machinery:
creating a ``torch.optim`` optimiser imports ``torch._dynamo``, which costs about 3 s on the
first synthesis of every process (longer than a whole 256x256 synthesis).
"""

from __future__ import annotations

import torch

__all__ = ["FIRST_STEP_GROWTH", "LBFGSDirection"]

#: factor by which a first (steepest-descent) step grows after each skipped curvature pair
FIRST_STEP_GROWTH = 4.0


def _dot(a: torch.Tensor, b: torch.Tensor) -> float:
    # one kernel, no temporary (``(a * b).sum()`` is two and a full-size temporary)
    return float(torch.dot(a.reshape(-1), b.reshape(-1)))


class LBFGSDirection:
    """Limited-memory BFGS search directions for a tensor variable.

    Parameters
    ----------
    history_size
        Number of curvature pairs ``(s, y)`` kept.

    Examples
    --------
    >>> lb = LBFGSDirection()
    >>> d = lb.direction(g)           # at x, gradient g
    >>> x_new = x + lb.step_size(g) * d
    >>> lb.update(x_new - x, g_new - g)
    """

    def __init__(self, history_size: int = 30) -> None:
        self.history_size = history_size
        self.s: list[torch.Tensor] = []
        self.y: list[torch.Tensor] = []
        self.rho: list[float] = []
        self.h_diag = 1.0
        self.first_scale = 1.0  # grows while pairs are skipped with an empty memory

    @property
    def empty(self) -> bool:
        """True before the first accepted curvature pair."""
        return not self.s

    def step_size(self, g: torch.Tensor) -> float:
        """Step along :meth:`direction`: ``min(1, c / |g|_1)`` with no curvature
        information yet (the raw gradient's scale is arbitrary; ``c`` is 1, times
        :data:`FIRST_STEP_GROWTH` per pair skipped since), else 1."""
        if self.empty:
            return min(1.0, self.first_scale / max(float(g.abs().sum()), 1e-30))
        return 1.0

    def direction(self, g: torch.Tensor) -> torch.Tensor:
        """Search direction ``-H g`` for gradient ``g``."""
        q = -g
        alphas = []
        for s, y, rho in zip(reversed(self.s), reversed(self.y), reversed(self.rho), strict=True):
            a = rho * _dot(s, q)
            alphas.append(a)
            q.add_(y, alpha=-a)  # (q is our own: -g, then updated in place)
        r = q * self.h_diag
        for s, y, rho, a in zip(self.s, self.y, self.rho, reversed(alphas), strict=True):
            b = rho * _dot(y, r)
            r.add_(s, alpha=a - b)
        return r

    def update(self, s: torch.Tensor, y: torch.Tensor) -> None:
        """Record the step ``s = x_new - x`` and gradient change ``y = g_new - g``."""
        ys = _dot(y, s)
        if ys <= 1e-10:  # no positive curvature along s: keep the memory as it is
            if self.empty:  # (and try a longer first step: this one was lost in noise)
                self.first_scale *= FIRST_STEP_GROWTH
            return
        self.first_scale = 1.0
        if len(self.s) == self.history_size:
            self.s.pop(0)
            self.y.pop(0)
            self.rho.pop(0)
        self.s.append(s)
        self.y.append(y)
        self.rho.append(1.0 / ys)
        self.h_diag = ys / _dot(y, y)

    def reset(self) -> None:
        """Forget every curvature pair (a restart)."""
        self.s.clear()
        self.y.clear()
        self.rho.clear()
        self.h_diag = 1.0
        self.first_scale = 1.0
