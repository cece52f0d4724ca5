"""Paths in messages and checks on input and output files, shared by every reader and writer."""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path
from typing import Any

from .errors import TexsynthError

__all__ = ["as_path", "check_target", "input_size", "one_line", "quote_path"]


def quote_path(path: Path | str) -> str:
    """Quote a path for a one-line message."""
    return repr(str(path))


def one_line(exc: BaseException) -> str:
    """``TypeName: message`` of an exception, squeezed onto one line."""
    text = " ".join(str(exc).split())
    if isinstance(exc, OSError) and exc.strerror:
        text = exc.strerror
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def as_path(path: Any, name: str) -> Path:
    """``path`` as a :class:`~pathlib.Path`; a one-line error for anything else (e.g. None)."""
    if isinstance(path, Path):
        return path
    if isinstance(path, (str, os.PathLike)) and not isinstance(path, bytes):
        text = os.fspath(path)
        if isinstance(text, str) and text:
            return Path(text)
    raise TexsynthError(
        f"{name} must be a file name (str or os.PathLike), got {type(path).__name__} "
        f"{path!r:.40}; give the path of the file"
    )


def input_size(path: Path, what: str) -> int:
    """Size in bytes of an existing regular input file; one-line errors otherwise."""
    try:
        st = path.stat()
    except FileNotFoundError:
        raise TexsynthError(f"file not found: {quote_path(path)}; check the path") from None
    except NotADirectoryError:
        raise TexsynthError(
            f"file not found: {quote_path(path)} (a part of the path is a file); check the path"
        ) from None
    except OSError as exc:
        if exc.errno == errno.ENAMETOOLONG:
            raise TexsynthError(
                f"file name too long: {str(path)[:40]!r}... ({len(path.name)} characters); "
                "check the path"
            ) from None
        raise TexsynthError(
            f"cannot open {quote_path(path)}: {one_line(exc)}; check the path"
        ) from None
    if stat.S_ISDIR(st.st_mode):
        raise TexsynthError(f"{quote_path(path)} is a directory; give {what}")
    return st.st_size


def check_target(path: Path) -> None:
    """One-line errors for a file that cannot be written: missing folder, a directory."""
    q = quote_path(path)
    if not path.parent.is_dir():
        raise TexsynthError(
            f"cannot write {q}: directory {str(path.parent)!r} does not exist; create it first"
        )
    try:
        is_dir = path.is_dir()
    except OSError as exc:
        raise TexsynthError(f"cannot write {q}: {one_line(exc)}; use a shorter name") from None
    if is_dir:
        raise TexsynthError(f"cannot write {q}: it is a directory; give a file name")
