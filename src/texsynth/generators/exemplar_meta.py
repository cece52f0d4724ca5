"""The training exemplar's image metadata recorded in a generator file, so that samples
are written as the exemplar was (bit depth, value range)."""

from __future__ import annotations

import dataclasses
from typing import Any

from ..io.images import ImageMeta
from .network import SynthHalfUNet2D

__all__ = ["exemplar_meta"]


def exemplar_meta(info: dict[str, Any], model: SynthHalfUNet2D) -> ImageMeta:
    """The training exemplar's :class:`ImageMeta` from a generator file's metadata (a
    float field's defaults when the file has none, e.g. one saved from Python)."""
    fields = {f.name for f in dataclasses.fields(ImageMeta)}
    saved = info.get("exemplar_meta")
    if isinstance(saved, dict) and fields <= set(saved):
        saved = dict(saved)
        saved["value_range"] = tuple(saved["value_range"])
        return ImageMeta(**{k: saved[k] for k in fields})
    channels = int(model.config["image_channels"])
    return ImageMeta("", "npy", "float32", channels, (0.0, 1.0), False, False)
