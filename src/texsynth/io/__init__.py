"""Reading and writing data files: images and fields (:mod:`~texsynth.io.images`, their
formats in :mod:`~texsynth.io.formats`) and 1-D signals (:mod:`~texsynth.io.signals`), with
the checks both share in :mod:`~texsynth.io.checks`. Writes are atomic
(:mod:`texsynth.atomic`)."""

from __future__ import annotations

from ..atomic import atomic_text_write
from ..errors import TexsynthWarning
from .checks import nonfinite_error, real_array
from .formats import SUPPORTED_SUFFIXES, fits_module
from .images import ImageMeta, read_image, write_image
from .signals import SIGNAL_SUFFIXES, SignalMeta, is_signal_file, read_signal, write_signal

__all__ = [
    "SIGNAL_SUFFIXES",
    "SUPPORTED_SUFFIXES",
    "ImageMeta",
    "SignalMeta",
    "TexsynthWarning",
    "atomic_text_write",
    "fits_module",
    "is_signal_file",
    "nonfinite_error",
    "read_image",
    "read_signal",
    "real_array",
    "write_image",
    "write_signal",
]
