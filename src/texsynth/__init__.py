"""texsynth: texture synthesis from one exemplar image or field.

The public API is exactly the names in ``__all__``; everything else is internal.
"""

from __future__ import annotations

import logging

from .errors import TexsynthError
from .io import ImageMeta, TexsynthWarning, read_image, write_image
from .losses import HistogramLoss, ScatteringLoss, TextureLoss, WeightedLoss
from .stats import ScatCov, ScatteringCovariance
from .synthesis import SynthesisReport, synthesize

__version__ = "0.1.0"

__all__ = [
    "HistogramLoss",
    "ImageMeta",
    "ScatCov",
    "ScatteringCovariance",
    "ScatteringLoss",
    "SynthesisReport",
    "TexsynthError",
    "TexsynthWarning",
    "TextureLoss",
    "WeightedLoss",
    "__version__",
    "read_image",
    "synthesize",
    "write_image",
]

logging.getLogger(__name__).addHandler(logging.NullHandler())
