"""The one exception type texsynth raises for bad input.

Every message is one line that names the problem and how to fix it. The CLI prints it
as ``texsynth: error: <message>`` and exits with status 2, never with a traceback.
"""

from __future__ import annotations

__all__ = ["TexsynthError", "TexsynthWarning"]


class TexsynthError(ValueError):
    """Bad input or settings: the message says what is wrong and how to fix it.

    ``cli``, when given, is the same message in the command line's words (its options
    instead of Python arguments); the ``texsynth`` command prints it instead.
    """

    def __init__(self, message: str = "", *, cli: str | None = None) -> None:
        super().__init__(message)
        self.cli = cli

    def cli_message(self) -> str:
        """The message the ``texsynth`` command prints."""
        return self.cli or str(self)


class TexsynthWarning(UserWarning):
    """Data was read, but something was changed or lost on the way (e.g. an alpha channel)."""
