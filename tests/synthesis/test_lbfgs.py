"""The engine's L-BFGS directions: same iterates as torch.optim.LBFGS, and convergence."""

import torch

from texsynth.synthesis.lbfgs import LBFGSDirection


def _rosenbrock(x: torch.Tensor) -> torch.Tensor:
    return ((1 - x[:-1]) ** 2 + 10 * (x[1:] - x[:-1] ** 2) ** 2).sum()


def _grad(fn, x: torch.Tensor) -> tuple[float, torch.Tensor]:
    v = x.detach().requires_grad_(True)
    value = fn(v)
    (g,) = torch.autograd.grad(value, v)
    return float(value.detach()), g


def test_unit_steps_follow_torch_lbfgs():
    """With unit steps and no line search our iterates are torch's, step for step."""
    x0 = torch.linspace(-1.0, 0.5, 6, dtype=torch.float64)
    ref = x0.clone().requires_grad_(True)
    opt = torch.optim.LBFGS(
        [ref], lr=1, max_iter=1, history_size=3, tolerance_grad=0, tolerance_change=0
    )

    def closure():
        opt.zero_grad()
        value = _rosenbrock(ref)
        value.backward()
        return value

    lb = LBFGSDirection(history_size=3)
    x = x0.clone()
    _, g = _grad(_rosenbrock, x)
    for _ in range(12):
        opt.step(closure)
        x_new = x + lb.step_size(g) * lb.direction(g)
        _, g_new = _grad(_rosenbrock, x_new)
        lb.update(x_new - x, g_new - g)
        x, g = x_new, g_new
        torch.testing.assert_close(x, ref.detach(), rtol=1e-10, atol=1e-12)
    assert len(lb.s) == 3  # the memory is capped


def test_quadratic_converges_in_about_n_steps():
    torch.manual_seed(0)
    n = 8
    a = torch.randn(n, n, dtype=torch.float64)
    A = a @ a.T + n * torch.eye(n, dtype=torch.float64)
    b = torch.randn(n, dtype=torch.float64)

    def quad(x):
        return 0.5 * x @ A @ x - b @ x

    lb = LBFGSDirection(history_size=n)
    x = torch.zeros(n, dtype=torch.float64)
    _, g = _grad(quad, x)
    for _ in range(3 * n):
        x_new = x + lb.step_size(g) * lb.direction(g)
        _, g_new = _grad(quad, x_new)
        lb.update(x_new - x, g_new - g)
        x, g = x_new, g_new
    torch.testing.assert_close(x, torch.linalg.solve(A, b), rtol=1e-6, atol=1e-8)


def test_negative_curvature_pairs_are_skipped_and_reset_clears():
    lb = LBFGSDirection(history_size=5)
    s = torch.ones(3)
    lb.update(s, -s)  # y.s < 0: not a valid curvature pair
    assert lb.empty
    lb.update(s, 2 * s)
    assert not lb.empty and lb.h_diag == 0.5
    g = torch.tensor([1.0, 0.0, 0.0])
    assert lb.step_size(g) == 1.0
    lb.reset()
    assert lb.empty and lb.h_diag == 1.0
    assert lb.step_size(torch.full((4,), 2.0)) == 0.125  # 1 / |g|_1
    torch.testing.assert_close(lb.direction(g), -g)


def test_skipped_first_pairs_lengthen_the_first_step():
    """A first step lost in noise (y.s <= 1e-10 with an empty memory) is not repeated as is
    (torch's rule, which crawled on a large sky): the next first step is 4x longer, up to
    1, and an accepted pair or a reset brings the scale back."""
    lb = LBFGSDirection()
    g = torch.full((100,), 1.0)  # |g|_1 = 100
    assert lb.step_size(g) == 0.01
    s = torch.full((100,), 1e-3)
    lb.update(s, -s)
    assert lb.empty and lb.step_size(g) == 0.04
    lb.update(s, -s)
    assert lb.step_size(g) == 0.16
    for _ in range(3):
        lb.update(s, -s)
    assert lb.step_size(g) == 1.0  # capped
    lb.reset()
    assert lb.step_size(g) == 0.01
