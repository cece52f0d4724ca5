"""Quality presets of the optimisation engine: how long each pyramid level may run.

``quality="fast" | "default" | "best"`` (``--quality`` on the command line) sets the
L-BFGS budget of every coarse-to-fine level and the convergence tolerance; an explicit
``steps`` or ``tol`` overrides the preset's. The budgets were chosen by measured
convergence (see ``docs/quality.md``): version 0.1 gave the finest level a ninth of the
coarsest level's iterations (11 of 100), which stopped it at about ten times the loss it
reaches when left to converge; that schedule survives as ``fast``.
"""

from __future__ import annotations

from dataclasses import dataclass

from .errors import TexsynthError

__all__ = ["GC_PRESETS", "QUALITY_PRESETS", "QualityPreset", "level_budget", "quality_preset"]


@dataclass(frozen=True)
class QualityPreset:
    """Iteration budget of the coarse-to-fine optimisation.

    Attributes
    ----------
    steps
        Maximum L-BFGS iterations at the coarsest level.
    decay
        Each finer level gets ``1 / decay`` of the previous level's budget (at least
        ``min(steps, 10)``): 3 spends little at the costly fine levels, 1 lets every level
        converge.
    tol
        A level stops once its loss fell by less than this fraction over 5 iterations.
    summary
        One line for ``--help`` and the docs.
    """

    steps: int
    decay: int
    tol: float
    summary: str


QUALITY_PRESETS: dict[str, QualityPreset] = {
    "fast": QualityPreset(
        100, 3, 1e-2, "version 0.1's schedule: the finest level stops early (about 3 s grey 256²)"
    ),
    "default": QualityPreset(
        200, 1, 1e-3, "every level converges (about 3x the time of fast, grey 256²)"
    ),
    "best": QualityPreset(
        500, 1, 1e-4, "every level runs to a tight tolerance (1.5-3x default's time)"
    ),
}


#: the presets of methods with a ``gc`` (guided correspondence) term. Its structure is set at
#: the coarse levels, so it keeps the decaying schedule; but its loss never nears 0 (a patch
#: is near its match, not equal), so the relative stopping test of ``tol=1e-2`` fired early
#: (brick: the coarsest level stopped after 28 iterations, the bricks broken). Measured at
#: 256^2 colour on 2 idle cores: fast about 15 s, default about 30 s.
GC_PRESETS: dict[str, QualityPreset] = {
    "fast": QualityPreset(100, 3, 1e-3, "coarse levels converge, fine levels short"),
    "default": QualityPreset(200, 3, 1e-3, "coarse levels converge, fine levels short"),
    "best": QualityPreset(200, 1, 1e-3, "every level converges (2-4x default's time)"),
}


def quality_preset(quality: str, terms: list[str] | tuple[str, ...] = ()) -> QualityPreset:
    """The preset named ``quality`` for a method with these ``terms`` (``gc`` has its own
    budgets, :data:`GC_PRESETS`); a one-line error for any other name."""
    if not isinstance(quality, str) or quality not in QUALITY_PRESETS:
        raise TexsynthError(f"quality must be one of {', '.join(QUALITY_PRESETS)}, got {quality!r}")
    if "gc" in terms:
        return GC_PRESETS[quality]
    return QUALITY_PRESETS[quality]


def level_budget(steps: int, decay: int, level: int) -> int:
    """Iterations allowed at pyramid ``level`` (0 = coarsest)."""
    return max(steps // decay**level, min(steps, 10))
