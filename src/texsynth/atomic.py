"""Safe output files: checks before any work, all-or-nothing sets, stale temporaries.

Every file texsynth writes first goes to a hidden temporary in its own folder,
``.{stem}.tmp-{pid}-{random}{suffix}``, and is renamed over the target only once complete.
:class:`StagedFiles` does this for a whole set (``--n`` images and their JSON sidecar):
nothing is moved until every file is written. A temporary whose process is gone (a
``kill -9``) is removed the next time the same output is checked by :func:`check_output`.

:func:`check_output` refuses, before any work, an output that is one of the run's inputs,
a directory, of an unknown type, in a missing or read-only folder, with a name too long,
or an existing file that texsynth did not write (unless ``overwrite``). Texsynth's JSON
files carry the key :data:`MARKER_KEY`; its images are those listed in their sidecar.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import re
import secrets
import shutil
import struct
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from types import TracebackType
from typing import IO

from .errors import TexsynthError
from .paths import as_path, check_target, one_line, quote_path

__all__ = [
    "MARKER_KEY",
    "StagedFiles",
    "atomic_text_write",
    "atomic_write",
    "check_output",
    "clean_stale_temporaries",
    "is_texsynth_json",
    "is_texsynth_safetensors",
    "listed_in_sidecar",
    "sidecar_outputs",
    "temp_path",
]

#: Key present in every JSON file texsynth writes (its value names the command).
MARKER_KEY = "texsynth_file"
#: Bytes a file name may need for temporaries: ``.``, ``.tmp-``, pid, ``-`` and 8 hex digits,
#: twice (a writer's own atomic temporary of a staged temporary).
_TEMP_EXTRA = 2 * (1 + 5 + 7 + 1 + 8)
#: Temporaries without a process id (older versions) count as stale after this long.
_STALE_SECONDS = 3600.0


def temp_path(path: str | os.PathLike[str]) -> Path:
    """A fresh hidden temporary name next to ``path``, tagged with this process's id."""
    p = Path(path)
    return p.with_name(f".{p.stem}.tmp-{os.getpid()}-{secrets.token_hex(4)}{p.suffix}")


#: When this process loaded the module: a temporary with our pid but older than this was
#: left by an earlier process that had the same pid (common in containers).
_START = time.time()


def _alive(pid: int, mtime: float) -> bool:
    """Whether the process that wrote a temporary (last modified at ``mtime``) may still run."""
    if pid == os.getpid():
        return mtime >= _START - 1.0
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, ValueError):
        return pid > 0  # another user's process (or a pid we cannot ask about)
    return True


_TAGGED = re.compile(
    r"^\.+(.+?)\.tmp-(\d+)-[0-9a-f]+(?:\.tmp-\d+-[0-9a-f]+)?(\.[^.]*)?(?:\.[0-9a-f]{12}\.tmp)?$"
)
_LEGACY = re.compile(r"^\.(?:(.+?)\.tmp-[0-9a-f]{8}(\.[^.]*)?|(.+)\.[0-9a-f]{12}\.tmp)$")


def clean_stale_temporaries(*paths: str | os.PathLike[str]) -> list[Path]:
    """Remove the hidden temporaries of ``paths`` left by killed texsynth processes.

    A temporary is stale when the process named in it is gone; a temporary without a process
    id (written by an older version) when it is more than an hour old. Each folder is listed
    once. Returns the paths removed.
    """
    targets: dict[Path, set[str]] = {}
    for path in paths:
        p = Path(path)
        targets.setdefault(p.parent, set()).add(p.name)
    removed: list[Path] = []
    now = time.time()
    for folder, names in targets.items():
        try:
            hidden = [n for n in os.listdir(folder or ".") if n.startswith(".")]
        except OSError:
            continue
        for name in hidden:
            removed += _remove_if_stale(folder / name, names, now)
    return removed


def _remove_if_stale(cand: Path, targets: set[str], now: float) -> list[Path]:
    """``[cand]`` if it is a stale temporary of one of ``targets`` (names) and was removed."""
    name = cand.name
    m = _TAGGED.match(name)
    lm = None if m else _LEGACY.match(name)
    if m is not None:
        target = m.group(1) + (m.group(3) or "")
    elif lm is not None:
        target = lm.group(3) or (lm.group(1) + (lm.group(2) or ""))
    else:
        return []
    if target not in targets:
        return []
    try:
        if m is not None:
            stale = not _alive(int(m.group(2)), cand.stat().st_mtime)
        else:
            stale = now - cand.stat().st_mtime > _STALE_SECONDS
        if stale and cand.is_file() and not cand.is_symlink():
            cand.unlink()
            return [cand]
    except OSError:
        pass
    return []


def is_texsynth_json(path: str | os.PathLike[str], max_bytes: int = 1 << 28) -> bool:
    """Whether ``path`` is a JSON object written by texsynth (it has :data:`MARKER_KEY`,
    or ``texsynth_version`` for files of older versions)."""
    p = Path(path)
    try:
        if p.stat().st_size > max_bytes:
            return False
        doc = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(doc, dict) and (MARKER_KEY in doc or "texsynth_version" in doc)


def sidecar_outputs(sidecar: str | os.PathLike[str]) -> set[str]:
    """File names a texsynth sidecar lists in ``outputs`` (empty if it is not texsynth's)."""
    s = Path(sidecar)
    if not is_texsynth_json(s):
        return set()
    try:
        outputs = json.loads(s.read_text(encoding="utf-8")).get("outputs", [])
    except (OSError, ValueError):
        return set()
    if not isinstance(outputs, list):
        return set()
    return {Path(o).name for o in outputs if isinstance(o, str)}


def listed_in_sidecar(path: str | os.PathLike[str], sidecar: str | os.PathLike[str]) -> bool:
    """Whether the texsynth sidecar ``sidecar`` lists ``path`` (same folder) as an output."""
    return Path(path).name in sidecar_outputs(sidecar)


def is_texsynth_safetensors(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` is a texsynth generator, features file, expander file or training
    checkpoint (header only)."""
    try:
        with open(path, "rb") as f:
            head = f.read(8)
            if len(head) != 8:
                return False
            (n,) = struct.unpack("<Q", head)
            if n > 1 << 24:
                return False
            header = json.loads(f.read(n).decode("utf-8"))
    except (OSError, ValueError, UnicodeDecodeError):
        return False
    meta = header.get("__metadata__") if isinstance(header, dict) else None
    fmt = meta.get("format", "") if isinstance(meta, dict) else ""
    return isinstance(fmt, str) and fmt.startswith(
        ("texsynth-generator/", "texsynth-checkpoint/", "texsynth-features", "texsynth-expander")
    )


def _same_file(a: Path, b: Path) -> bool:
    try:
        if a.resolve() == b.resolve():
            return True
        return a.exists() and b.exists() and os.path.samefile(a, b)
    except (OSError, RuntimeError):
        return False


def _name_max(folder: Path) -> int:
    try:
        return int(os.pathconf(folder, "PC_NAME_MAX"))
    except (OSError, ValueError, AttributeError):
        return 255


def check_output(
    path: Path,
    *,
    option: str,
    suffixes: Sequence[str] | None,
    inputs: Iterable[tuple[str, Path | None]] = (),
    ours: Callable[[Path], bool] | None = None,
    overwrite: bool = False,
    hint: str = "",
    probe: bool = True,
) -> None:
    """Refuse an output path before any work; raise a one-line :class:`TexsynthError`.

    Parameters
    ----------
    path
        The file to be written.
    option
        How the user gave it, for messages (``"-o"``, ``"--json"``, ...).
    suffixes
        Allowed suffixes (lower case), or ``None`` for any.
    inputs
        ``(name, path)`` of the run's inputs (``None`` paths are skipped): never overwritten.
    ours
        Whether an existing file was written by texsynth (may be replaced without
        ``overwrite``); default: never.
    overwrite
        Replace an existing file texsynth did not write.
    hint
        Appended to the unknown-suffix message (e.g. what the suffix selects).
    probe
        Create and remove a temporary to prove the folder writable, then remove stale
        temporaries of ``path`` (``False``: the caller did it for this folder already).
    """
    folder = path.parent
    name_bytes = len(os.fsencode(path.name))
    limit = _name_max(folder if folder.is_dir() else Path("."))
    if name_bytes + _TEMP_EXTRA > limit:
        raise TexsynthError(
            f"{option}: file name {path.name[:20]}... is {name_bytes} bytes long, texsynth "
            f"allows {limit - _TEMP_EXTRA} here (its temporary files need "
            f"{_TEMP_EXTRA} more); use a shorter name"
        )
    if path.is_dir():
        example = f", e.g. {quote_path(path / ('out' + suffixes[0]))}" if suffixes else ""
        raise TexsynthError(
            f"{option} {quote_path(path)} is a directory; choose another name{example}"
        )
    suffix = path.suffix.lower()
    if suffixes is not None and suffix not in suffixes:
        raise TexsynthError(
            f"{option} {quote_path(path)}: unknown output type {path.suffix or '(no suffix)'!r}; "
            f"use one of {', '.join(suffixes)}{hint}"
        )
    if not folder.is_dir():
        what = "is not a folder" if folder.exists() else "does not exist"
        raise TexsynthError(
            f"{option} {quote_path(path)}: output folder {quote_path(folder)} {what}; create it "
            "first or choose another folder"
        )
    for name, inp in inputs:
        if inp is not None and _same_file(path, inp):
            raise TexsynthError(
                f"{option} {quote_path(path)} is the {name} of this run; choose another output "
                "name (texsynth never overwrites its inputs)"
            )
    if (path.exists() or path.is_symlink()) and not path.is_file():
        raise TexsynthError(
            f"{option} {quote_path(path)} exists and is not a regular file; choose another name"
        )
    if path.is_file() and not overwrite and (ours is None or not ours(path)):
        raise TexsynthError(
            f"{option} {quote_path(path)} exists and was not written by texsynth; pass "
            "--overwrite to replace it, or choose another name"
        )
    if not probe:
        return
    tmp = temp_path(path)
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        if exc.errno == errno.ENAMETOOLONG:
            raise TexsynthError(
                f"{option}: file name {path.name[:20]}... is too long for folder "
                f"{quote_path(folder)}; use a shorter name"
            ) from None
        raise TexsynthError(
            f"{option} {quote_path(path)}: cannot write in folder {quote_path(folder)} ({reason}); "
            "choose a writable folder"
        ) from None
    os.close(fd)
    with contextlib.suppress(OSError):
        os.unlink(tmp)
    clean_stale_temporaries(path)


class StagedFiles:
    """Write several files to hidden temporaries, then move them all into place.

    Use as a context manager: ``stage.temp(final)`` gives the temporary to write ``final``
    to; on leaving the block without an error every temporary is renamed over its target
    (in the order given: put the sidecar last), on an error (or Ctrl-C) they are all
    removed, and nothing new is left.
    """

    def __init__(self) -> None:
        self._pairs: list[tuple[Path, Path]] = []

    def temp(self, path: str | os.PathLike[str]) -> Path:
        """The temporary to write for ``path``."""
        tmp = temp_path(path)
        self._pairs.append((tmp, Path(path)))
        return tmp

    def __enter__(self) -> StagedFiles:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if kind is None:
            self.commit()
        else:
            self.discard()

    def discard(self) -> None:
        """Remove every temporary written so far."""
        for tmp, _ in self._pairs:
            with contextlib.suppress(OSError):
                tmp.unlink()
        self._pairs.clear()

    def commit(self) -> None:
        """Rename every temporary over its target (all are complete by now)."""
        try:
            for i, (tmp, final) in enumerate(self._pairs):
                try:
                    os.replace(tmp, final)
                except OSError as exc:
                    self._pairs = self._pairs[i:]
                    raise TexsynthError(
                        f"cannot move the finished file into place as {quote_path(final)} "
                        f"({exc.strerror or type(exc).__name__}); check the folder and "
                        "run again"
                    ) from None
            self._pairs.clear()
        finally:
            self.discard()


def atomic_write(path: Path, write: Callable[[IO[bytes]], object]) -> None:
    """Run ``write`` on a temporary file next to ``path``, then rename it over ``path``."""
    tmp = temp_path(path)  # hidden, tagged with the process id (stale ones are cleaned)
    done = False
    try:
        with open(tmp, "xb"):  # claim the name; permissions follow the umask
            pass
        with open(tmp, "wb") as f:  # "wb", not "xb": astropy only knows the usual modes
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        done = True
    except OSError as exc:
        raise _write_error(path, exc) from None
    finally:
        if not done:
            with contextlib.suppress(OSError):
                tmp.unlink()


def _user_name(path: Path) -> Path:
    """The output a (staged) temporary stands for: ``.out.tmp-123-ab12.png`` -> ``out.png``."""
    m = _TAGGED.match(path.name)
    return path.with_name(m[1] + (m[3] or "")) if m else path


def _write_error(path: Path, exc: OSError) -> TexsynthError:
    """A one-line write error naming the user's output (not a hidden temporary) and the
    cause in plain words: a full disk says so even when the writer only reports a short
    write ("262144 requested and 76768 written")."""
    name = quote_path(_user_name(path))
    full = exc.errno in (errno.ENOSPC, errno.EDQUOT)
    if not full and exc.errno is None:
        with contextlib.suppress(OSError):
            full = shutil.disk_usage(path.parent).free < (1 << 20)
    if full:
        return TexsynthError(
            f"cannot write {name}: no space left on the disk; free some space or write "
            "elsewhere (nothing was left behind)"
        )
    if isinstance(exc, PermissionError):
        return TexsynthError(f"cannot write {name}: permission denied; write elsewhere")
    return TexsynthError(f"cannot write {name}: {one_line(exc)}")


def atomic_text_write(path: str | os.PathLike[str], text: str) -> Path:
    """Write UTF-8 ``text`` to ``path`` atomically (temporary file, then rename)."""
    path = as_path(path, "path")
    check_target(path)
    atomic_write(path, lambda f: f.write(text.encode("utf-8")))
    return path
