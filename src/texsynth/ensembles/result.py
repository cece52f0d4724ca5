""":class:`EnsembleResult`: what :func:`texsynth.ensemble` did."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from .summary import EnsembleSummary
from .template import OutputTemplate

__all__ = ["EnsembleResult"]


@dataclass
class EnsembleResult:
    """What :func:`texsynth.ensemble` did.

    Attributes
    ----------
    n, seed
        Members and the base seed (member ``k``'s seed is ``member_seed(seed, k)``).
    template, manifest
        The output template and the manifest beside the members.
    done
        Members done (this run and earlier ones).
    resumed
        Members found done, with their files intact, when the run started.
    redone
        Members recorded as done whose file was missing or changed: made again.
    failed
        One-line error of each member that failed in this run.
    cancelled
        The run was cancelled (``cancel=`` set, or Ctrl-C in the CLI): the members not done
        are neither done nor failed; the same call resumes.
    seconds
        Wall time of this run.
    tasks, per_task, backend
        How the work was cut and where it ran.
    summary
        The members' statistics against the exemplar's (None without an exemplar).
    report
        The PNG report written, if any.
    """

    n: int
    seed: int
    template: str
    manifest: Path
    done: int = 0
    resumed: int = 0
    redone: list[int] = field(default_factory=list)
    failed: dict[int, str] = field(default_factory=dict)
    cancelled: bool = False
    seconds: float = 0.0
    tasks: int = 0
    per_task: int = 0
    backend: str = ""
    summary: EnsembleSummary | None = None
    report: Path | None = None

    def path(self, k: int) -> Path:
        """The file of member ``k``."""
        return OutputTemplate(self.template, self.n).path(k)
