"""The manifest of an ensemble: JSON lines beside its members, what makes a run resumable.

The first line is the header: texsynth's marker, the software versions and the ensemble's
identity (its job, ``n``, the output template's file name, the base seed, the texsynth
version). Every further line is one member's outcome, appended by the process that
collects the results (never by a worker), flushed and ``fsync``-ed once per task::

    {"i": 17, "file": "00017.npy", "sha256": "...", "seconds": 1.9, "seed": ..., "stats": [...]}
    {"i": 18, "error": "TexsynthError: ..."}

The last line about a member wins. On resume a member counts as done only if its file is
there with the recorded checksum (member files are written atomically, so a file is either
complete or absent; a file changed since is redone). A last line cut short by a kill is
ignored (and ended before anything is appended).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from ..atomic import MARKER_KEY, atomic_text_write
from ..errors import TexsynthError
from ..io.runs import record_header
from ..paths import quote_path

__all__ = [
    "KIND",
    "Failure",
    "Manifest",
    "MemberDone",
    "check_identity",
    "file_sha256",
    "read_header",
]

#: the marker value of an ensemble manifest's header
KIND = "ensemble"


@dataclass
class MemberDone:
    """A finished member: its index, file name (in the manifest's folder), checksum, the
    seconds its task spent on it, its seed and its summary statistics."""

    index: int
    file: str
    sha256: str
    seconds: float
    seed: int
    stats: list[float] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """The manifest line."""
        return {
            "i": self.index,
            "file": self.file,
            "sha256": self.sha256,
            "seconds": round(self.seconds, 4),
            "seed": self.seed,
            "stats": self.stats,  # (rounded to 7 digits by the summary)
        }


@dataclass
class Failure:
    """A member that failed, with its one-line error."""

    index: int
    error: str

    def to_json(self) -> dict[str, Any]:
        """The manifest line."""
        return {"i": self.index, "error": self.error}


def file_sha256(path: str | os.PathLike[str]) -> str:
    """The SHA-256 of a file's bytes, as hex."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def read_header(path: Path) -> dict[str, Any] | None:
    """The header of the manifest at ``path`` (None if there is no file); a one-line error
    if the file is not an ensemble manifest."""
    try:
        with open(path, encoding="utf-8") as f:
            first = f.readline()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise TexsynthError(
            f"cannot read the manifest {quote_path(path)} ({exc.strerror}); check the folder"
        ) from None
    try:
        doc = json.loads(first)
    except ValueError:
        doc = None
    if not isinstance(doc, dict) or doc.get(MARKER_KEY) != KIND or "ensemble" not in doc:
        raise TexsynthError(
            f"{quote_path(path)} exists and is not a texsynth ensemble manifest; move it away "
            "or write the ensemble to another folder"
        )
    return doc


def check_identity(path: Path, theirs: object, ours: dict[str, Any]) -> None:
    """A one-line error if the manifest at ``path``, of identity ``theirs``, is not that of
    the ensemble ``ours``."""
    if not isinstance(theirs, dict):
        theirs = {}
    differ = [k for k in ours if theirs.get(k) != ours[k]]
    if differ:
        raise TexsynthError(
            f"{quote_path(path)} is the manifest of another ensemble (its "
            f"{', '.join(differ)} differ{'s' * (len(differ) == 1)}); rerun the command that "
            "started it to resume it, or write this ensemble to another folder"
        )


class Manifest:
    """An ensemble's manifest, opened for appending (see the module's description).

    Parameters
    ----------
    path
        The ``.jsonl`` file.
    identity
        What makes the ensemble itself (job, ``n``, template, seed, version): a manifest at
        ``path`` with another identity is refused with a one-line error.
    """

    def __init__(self, path: Path, identity: dict[str, Any]) -> None:
        self.path = path
        self.identity = identity
        self.done: dict[int, MemberDone] = {}
        self.failed: dict[int, str] = {}
        self._file: IO[str] | None = None
        header = read_header(path)
        if header is None:
            doc = {**record_header(KIND), "ensemble": identity}
            atomic_text_write(path, json.dumps(doc, separators=(",", ":")) + "\n")
        else:
            self._check_identity(header["ensemble"])
            self._load()

    def _check_identity(self, theirs: object) -> None:
        check_identity(self.path, theirs, self.identity)

    def _load(self) -> None:
        with open(self.path, encoding="utf-8") as f:
            lines = f.read().split("\n")
        for line in lines[1:]:
            try:
                doc = json.loads(line)
            except ValueError:
                continue  # an empty line, or the last one cut short by a kill
            if not isinstance(doc, dict) or not isinstance(doc.get("i"), int):
                continue
            k = int(doc["i"])
            if "error" in doc:
                self.failed[k] = str(doc["error"])
                self.done.pop(k, None)
                continue
            try:
                entry = MemberDone(
                    k,
                    str(doc["file"]),
                    str(doc["sha256"]),
                    float(doc.get("seconds", 0.0)),
                    int(doc.get("seed", 0)),
                    [float(v) for v in doc.get("stats", [])],
                )
            except (KeyError, TypeError, ValueError):
                continue
            self.done[k] = entry
            self.failed.pop(k, None)

    def verify(self) -> list[int]:
        """Drop the done members whose file is missing or changed; returns their indices."""
        folder = self.path.parent
        redo = []
        for k, entry in list(self.done.items()):
            p = folder / entry.file
            try:
                ok = p.is_file() and file_sha256(p) == entry.sha256
            except OSError:
                ok = False
            if not ok:
                redo.append(k)
                del self.done[k]
        return sorted(redo)

    def record(self, outcomes: list[MemberDone | Failure]) -> None:
        """Append the outcomes of one task, then flush and ``fsync`` the file."""
        if not outcomes:
            return
        f = self._open()
        for o in outcomes:
            f.write(json.dumps(o.to_json(), separators=(",", ":")) + "\n")
            if isinstance(o, MemberDone):
                self.done[o.index] = o
                self.failed.pop(o.index, None)
            else:
                self.failed[o.index] = o.error
                self.done.pop(o.index, None)
        f.flush()
        os.fsync(f.fileno())

    def _open(self) -> IO[str]:
        if self._file is None:
            try:
                with open(self.path, "rb") as r:
                    r.seek(0, os.SEEK_END)
                    ends = r.tell() == 0
                    if not ends:
                        r.seek(-1, os.SEEK_END)
                        ends = r.read(1) == b"\n"
                self._file = open(self.path, "a", encoding="utf-8")  # noqa: SIM115 (close())
            except OSError as exc:
                raise TexsynthError(
                    f"cannot append to the manifest {quote_path(self.path)} "
                    f"({exc.strerror}); check the folder"
                ) from None
            if not ends:
                self._file.write("\n")  # end a line a kill cut short
        return self._file

    def close(self) -> None:
        """Close the file (the manifest stays as written)."""
        if self._file is not None:
            with contextlib.suppress(OSError):
                self._file.close()
            self._file = None
