"""texsynth: texture synthesis from one exemplar image or field.

The public API is listed in ``__all__`` below; everything else is internal.
"""

from __future__ import annotations

import logging

from .errors import TexsynthError

__version__ = "0.1.0"

__all__ = ["TexsynthError", "__version__"]

logging.getLogger(__name__).addHandler(logging.NullHandler())
