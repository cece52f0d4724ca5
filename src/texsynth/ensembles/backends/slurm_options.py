"""SLURM job options of the ``slurm`` backend: :class:`SbatchOptions`, checked, and parsed
from the CLI's ``--sbatch key=value[,key=value...]``."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields
from typing import Any

from ...errors import TexsynthError

__all__ = ["SBATCH_KEYS", "SbatchOptions", "parse_sbatch"]

_MEM = re.compile(r"^[1-9][0-9]*[KMGT]?$")
_TIME = re.compile(r"^(?:[0-9]+-)?[0-9]+(?::[0-9]{1,2}){0,2}$")
_NAME = re.compile(r"^[A-Za-z0-9_.,:+=@-]{1,200}$")

#: the keys ``--sbatch`` takes, with what they set
SBATCH_KEYS = {
    "cores": "CPUs per array task (sbatch --cpus-per-task; default: --threads)",
    "mem": "memory per array task, e.g. 4G (sbatch --mem)",
    "time": "walltime per array task, e.g. 01:00:00 or 2-00:00:00 (sbatch --time)",
    "partition": "partition (queue) to run in (sbatch --partition); also 'queue'",
    "account": "account to charge (sbatch --account)",
    "qos": "quality of service (sbatch --qos)",
    "max-running": "most array tasks running at once (sbatch --array=...%K; default 64)",
    "python": "Python interpreter on the compute nodes (default: this one)",
}


@dataclass(frozen=True)
class SbatchOptions:
    """What each SLURM array task asks for, and how many run at once.

    Attributes
    ----------
    cores
        ``--cpus-per-task`` (None: the ensemble's torch threads).
    mem, time, partition, account, qos
        ``--mem``, ``--time``, ``--partition``, ``--account``, ``--qos`` (None: the
        cluster's defaults).
    max_running
        Array tasks running at once (``--array=0-N%K``): what the automatic packing of
        members into tasks aims at.
    python
        The interpreter the tasks run (None: this process's, which must then be visible on
        the compute nodes, as must texsynth, the inputs and the output folder).
    extra
        More ``sbatch`` arguments, passed as they are (e.g. ``("--constraint=skylake",)``).
    """

    cores: int | None = None
    mem: str | None = None
    time: str | None = None
    partition: str | None = None
    account: str | None = None
    qos: str | None = None
    max_running: int = 64
    python: str | None = None
    extra: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for name in ("cores", "max_running"):
            v = getattr(self, name)
            if v is not None and (isinstance(v, bool) or not isinstance(v, int) or v < 1):
                raise TexsynthError(f"sbatch {name} must be a positive integer, got {v!r:.40}")
        if self.mem is not None and not _MEM.match(str(self.mem)):
            raise TexsynthError(
                f"sbatch mem {self.mem!r:.40} is not a SLURM memory size; write e.g. 4G or 500M"
            )
        if self.time is not None and not _TIME.match(str(self.time)):
            raise TexsynthError(
                f"sbatch time {self.time!r:.40} is not a SLURM time; write e.g. 30, 01:00:00 "
                "or 2-00:00:00"
            )
        for name in ("partition", "account", "qos"):
            v = getattr(self, name)
            if v is not None and not _NAME.match(str(v)):
                raise TexsynthError(f"sbatch {name} {v!r:.40} is not a SLURM name")
        if any(not str(a).startswith("-") for a in self.extra):
            raise TexsynthError(
                "sbatch extra arguments are options such as --constraint=skylake, got "
                f"{list(self.extra)!r:.80}"
            )

    @classmethod
    def of(cls, value: SbatchOptions | Mapping[str, Any] | None) -> SbatchOptions:
        """``value`` as options (a mapping of the fields' names; None: the defaults)."""
        if value is None:
            return cls()
        if isinstance(value, SbatchOptions):
            return value
        if not isinstance(value, Mapping):
            raise TexsynthError(
                f"sbatch must be SbatchOptions or a mapping, got {type(value).__name__}"
            )
        names = {f.name for f in fields(cls)}
        kw = {str(k).replace("-", "_"): v for k, v in value.items()}
        if "queue" in kw:
            kw["partition"] = kw.pop("queue")
        unknown = sorted(set(kw) - names)
        if unknown:
            raise TexsynthError(
                f"unknown sbatch option {unknown[0]!r}; choose from {', '.join(sorted(names))}"
            )
        if "extra" in kw:
            kw["extra"] = tuple(kw["extra"])
        return cls(**kw)

    def arguments(self, threads: int) -> list[str]:
        """The ``sbatch`` arguments these options make (the array and files aside)."""
        args = [f"--cpus-per-task={self.cores or threads}"]
        for flag, v in (
            ("--mem", self.mem),
            ("--time", self.time),
            ("--partition", self.partition),
            ("--account", self.account),
            ("--qos", self.qos),
        ):
            if v is not None:
                args.append(f"{flag}={v}")
        return args + list(self.extra)


def parse_sbatch(items: Iterable[str]) -> SbatchOptions:
    """The CLI's ``--sbatch`` values (``cores=2,mem=4G``; repeatable) as options."""
    kw: dict[str, Any] = {}
    for item in items:
        for part in filter(None, (p.strip() for p in item.split(","))):
            key, eq, value = part.partition("=")
            key = key.strip().lower()
            if not eq or not value.strip():
                raise TexsynthError(
                    f"--sbatch {part!r:.60}: write key=value, with key one of "
                    f"{', '.join(SBATCH_KEYS)}"
                )
            if key == "queue":
                key = "partition"
            if key not in SBATCH_KEYS:
                raise TexsynthError(
                    f"--sbatch: unknown key {key!r:.40}; choose one of {', '.join(SBATCH_KEYS)}"
                )
            value = value.strip()
            if key in ("cores", "max-running"):
                if not value.isdigit():
                    raise TexsynthError(f"--sbatch {key} must be a positive integer, not {value!r}")
                kw[key.replace("-", "_")] = int(value)
            else:
                kw[key] = value
    return SbatchOptions(**kw)
