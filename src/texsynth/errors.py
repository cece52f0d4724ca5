"""The one exception type texsynth raises for bad input.

Every message is one line that names the problem and how to fix it. The CLI prints it
as ``texsynth: error: <message>`` and exits with status 2, never with a traceback.
"""

from __future__ import annotations

__all__ = ["TexsynthError"]


class TexsynthError(ValueError):
    """Bad input or settings: the message says what is wrong and how to fix it."""
