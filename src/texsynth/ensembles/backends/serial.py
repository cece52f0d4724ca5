"""The ``serial`` backend: every task in this process, one after the other.

For debugging (a breakpoint or a profiler sees the task) and for tests that patch the
library; no parallelism. A task runs when :meth:`SerialBackend.as_completed` reaches it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import CancelledError
from typing import Any

from ..tasks import set_stop

__all__ = ["SerialBackend"]


class _Deferred:
    """A call made when its result is first wanted."""

    def __init__(self, fn: Callable[[Any], Any], arg: Any) -> None:
        self._fn, self._arg = fn, arg
        self._done = False
        self._value: Any = None
        self._error: BaseException | None = None
        self.cancelled = False

    def run(self) -> None:
        if self._done:
            return
        self._done = True
        try:
            self._value = self._fn(self._arg)
        except Exception as exc:
            self._error = exc

    def result(self) -> Any:
        if self.cancelled and not self._done:
            raise CancelledError()
        self.run()
        if self._error is not None:
            raise self._error
        return self._value


class SerialBackend:
    """Runs each task in this process when its result is wanted."""

    name = "serial"

    def __init__(self) -> None:
        self._stop = threading.Event()

    @property
    def slots(self) -> int:
        """One task at a time."""
        return 1

    def submit(self, fn: Callable[[Any], Any], arg: Any) -> _Deferred:
        """A deferred call of ``fn(arg)``."""
        return _Deferred(fn, arg)

    def as_completed(self, futures: Iterable[Any]) -> Iterator[Any]:
        """Run the futures one by one, in order (cancelled ones are yielded unrun)."""
        set_stop(self._stop)
        try:
            for f in list(futures):
                if not f.cancelled:
                    f.run()
                yield f
        finally:
            set_stop(None)

    def lost(self, exc: BaseException) -> bool:
        """Nothing is lost in this process."""
        return False

    def cancel(self, futures: Iterable[Any]) -> None:
        """Skip the tasks not run yet."""
        self._stop.set()
        for f in futures:
            f.cancelled = True

    def close(self) -> None:
        """Nothing to release."""
