"""Where jobs keep their files: one folder per job under ``DATA/jobs``, named by the
job's id, removed when older than the expiry or when the results exceed the size cap
(oldest first)."""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from .jobs import ID_PATTERN

__all__ = ["ResultStore"]


def _size(folder: Path) -> int:
    return sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())


@dataclass
class ResultStore:
    """Job folders under ``root / "jobs"``.

    Parameters
    ----------
    root
        The ``--data`` folder.
    max_bytes
        Size cap of all results; the oldest finished jobs are removed beyond it.
    expiry_s
        Age after which a finished job's files are removed.
    """

    root: Path
    max_bytes: int = 2 << 30
    expiry_s: float = 24 * 3600.0

    def __post_init__(self) -> None:
        self.jobs = self.root / "jobs"
        self.jobs.mkdir(parents=True, exist_ok=True)

    def folder(self, job_id: str) -> Path:
        """A new, empty folder for a job (its id is checked first)."""
        if not ID_PATTERN.fullmatch(job_id):
            raise ValueError(f"not a job id: {job_id!r}")
        path = self.jobs / job_id
        path.mkdir()
        return path

    def sweep(self, keep: set[str], now: float | None = None) -> list[str]:
        """Remove expired job folders, then the oldest until the cap holds; folders of
        the ids in ``keep`` (queued or running jobs) are never removed. Returns the ids
        removed."""
        now = time.time() if now is None else now
        entries = []
        for d in self.jobs.iterdir():
            if d.is_dir() and ID_PATTERN.fullmatch(d.name) and d.name not in keep:
                entries.append((d.stat().st_mtime, d.name, _size(d)))
        entries.sort()
        removed = []
        total = sum(e[2] for e in entries) + sum(
            _size(self.jobs / k) for k in keep if (self.jobs / k).is_dir()
        )
        for mtime, name, size in entries:
            if now - mtime > self.expiry_s or total > self.max_bytes:
                shutil.rmtree(self.jobs / name, ignore_errors=True)
                total -= size
                removed.append(name)
        return removed
