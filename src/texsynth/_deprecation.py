"""Renamed keywords: the old name keeps working for a while, with a ``DeprecationWarning``.

:func:`renamed_keywords` decorates a function (or method) whose parameter was renamed; a
call with the old keyword warns, naming the new one, and is passed on under the new name.
Giving both names is a :class:`~texsynth.errors.TexsynthError`.
"""

from __future__ import annotations

import functools
import inspect
import sys
import warnings
from collections.abc import Callable
from typing import ParamSpec, TypeVar

from .errors import TexsynthError

__all__ = ["renamed_keywords", "warn_renamed"]

P = ParamSpec("P")
R = TypeVar("R")

#: packages whose frames are skipped when the warning is attributed to its caller (a call
#: through ``torch.nn.Module.__call__`` is the user's call, not torch's)
_INTERNAL = ("texsynth", "torch")


def _user_stacklevel() -> int:
    """``stacklevel`` (for a ``warnings.warn`` in the caller of this function) of the first
    frame outside texsynth and torch: the user's line that used the old name."""
    frame = sys._getframe(1)
    level = 1
    while frame.f_back is not None and (
        str(frame.f_globals.get("__name__", "")).split(".")[0] in _INTERNAL
    ):
        frame = frame.f_back
        level += 1
    return level


def warn_renamed(old: str, new: str, where: str) -> None:
    """Warn that keyword ``old`` of ``where`` is deprecated in favour of ``new``."""
    warnings.warn(
        f"{where}: {old}= is deprecated, use {new}= (same meaning)",
        DeprecationWarning,
        stacklevel=_user_stacklevel(),
    )


def renamed_keywords(**renames: str) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Decorator accepting each ``old=new`` pair's old keyword as a deprecated alias.

    Parameters
    ----------
    renames
        ``old="new"`` for each renamed parameter; ``new`` must be a parameter of the
        decorated function.

    Raises
    ------
    TexsynthError
        At call time, when a call gives both the old and the new name.
    """

    def decorate(fn: Callable[P, R]) -> Callable[P, R]:
        params = list(inspect.signature(fn).parameters.values())
        names = [p.name for p in params]
        # index of each new name among the positional parameters (None: keyword-only)
        position: dict[str, int | None] = {}
        for new in renames.values():
            if new not in names:
                raise TypeError(f"{fn.__qualname__} has no parameter {new!r} to rename to")
            i = names.index(new)
            positional = params[i].kind is inspect.Parameter.POSITIONAL_OR_KEYWORD
            position[new] = i if positional else None
        where = fn.__qualname__.replace(".__init__", "").replace(".forward", "")

        @functools.wraps(fn)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            for old, new in renames.items():
                if old not in kwargs:
                    continue
                i = position[new]
                if new in kwargs or (i is not None and len(args) > i):
                    raise TexsynthError(
                        f"{where}: give {new}= only, not also {old}= (its deprecated old name)"
                    )
                warn_renamed(old, new, where)
                kwargs[new] = kwargs.pop(old)
            return fn(*args, **kwargs)

        return wrapper

    return decorate
