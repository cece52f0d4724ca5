"""Writing a batch of syntheses in the format of the output files' suffix, keeping the
exemplar's bit depth where the format can hold it (what ``texsynth synth``, ``sample`` and
``ensemble`` write)."""

from __future__ import annotations

from pathlib import Path

import torch

from .images import ImageMeta, write_image

__all__ = ["DEPTHS", "holds_depth", "write_outputs"]


def write_outputs(result: torch.Tensor, meta: ImageMeta, outputs: list[Path], suffix: str) -> str:
    """Write ``result [n, C, H, W]`` (the exemplar's units) to ``outputs``; returns a note
    for the user ("" if none)."""
    out_meta: ImageMeta | None = meta
    note = ""
    if not meta.scaled and suffix in (".png", ".jpg", ".jpeg", ".webp", ".bmp"):
        lo, hi = meta.value_range
        span = hi - lo if hi > lo else 1.0
        result = (result - lo) / span
        out_meta = None
        note = f"float values mapped from the exemplar's range [{lo:g}, {hi:g}] to 8 bits"
    if meta.scaled:
        result = result.clamp(0, 1)
    keep = out_meta if out_meta is not None and holds_depth(suffix, out_meta) else None
    for out, img in zip(outputs, result, strict=True):
        write_image(out, img, keep)
    return note


DEPTHS = {
    8: (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff"),
    16: (".png", ".tif", ".tiff"),
    32: (".tif", ".tiff", ".npy", ".npz", ".fits", ".fit", ".fts"),
}


def holds_depth(suffix: str, meta: ImageMeta) -> bool:
    """Whether an output of this suffix can keep the input's bit depth (else: defaults)."""
    return suffix in DEPTHS.get(meta.bit_depth, ())
