"""Whole-run cancellation, shared by every long computation (synthesis, training).

A caller passes ``cancel=``: a :class:`threading.Event` that another thread sets (a server's
Cancel button, an ensemble runner stopping a run) or a function returning ``True``. The
computation calls :func:`check_cancelled` at every iteration and stops by raising
:class:`Cancelled`, so that nothing partial is returned or written.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from .errors import TexsynthError

__all__ = ["Cancel", "Cancelled", "check_cancelled"]

Cancel = threading.Event | Callable[[], bool]
"""What cancels a whole run: an event that is set, or a function that returns ``True``."""


class Cancelled(TexsynthError):
    """A run was cancelled (``cancel`` set, or raised by a callback); nothing is returned."""

    def __init__(self, message: str = "the run was cancelled; nothing was written") -> None:
        super().__init__(message)


def check_cancelled(cancel: Cancel | None) -> None:
    """Raise :class:`Cancelled` if ``cancel`` (an event or a function) says so."""
    if cancel is None:
        return
    done = cancel.is_set() if isinstance(cancel, threading.Event) else bool(cancel())
    if done:
        raise Cancelled()
