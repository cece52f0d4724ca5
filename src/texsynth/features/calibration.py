"""Per-file weight calibration of learned features: the scale of each feature-network term.

The default weights of the ``gap``, ``gram`` and ``swd`` methods (:data:`texsynth.methods.
METHODS`) were calibrated on VGG19 so that a second real crop of the same texture scores
about 1 (the scale of the scattering chi-square, :func:`texsynth.methods.parse_method`); the
``gc`` weight was set by eye on VGG19, where a second real crop scores about 3.5, i.e. a
weighted term of about 35. A network learned from one's own photos puts real crops much
closer (45-100x on the procedural ground photos of docs/own-features.md), so at the default
weight its term is too weak against the pixel-histogram and spectrum terms.

:func:`calibrate_features` measures, for each method, the median loss between two crops of
the same photo (held-out photos at the end of ``texsynth features train``) and returns the
factor that brings ``default_weight x factor x loss`` to the value the default weight
assumes (:data:`CROP_TARGETS`). The factors are stored in the features file's metadata
(``calibration``) and :class:`~texsynth.loss_builder.LossBuilder` multiplies each term's
weight by its factor.
"""

from __future__ import annotations

import math
import os
import statistics
from collections.abc import Callable
from typing import Any

import torch

from ..datasets import ImageCollection
from ..errors import TexsynthError
from ..losses import GAPLoss, GramLoss, GuidedCorrespondenceLoss, SlicedWassersteinLoss
from ..losses.base import TextureLoss
from ..methods import METHODS
from .learned import LearnedFeatures, load_features_file, save_features_file

__all__ = [
    "CALIBRATION_VERSION",
    "CROP_TARGETS",
    "calibrate_features",
    "calibrate_file",
    "crop_pairs",
]

CALIBRATION_VERSION = 1
"""Version of the ``calibration`` record (bumped if the protocol changes)."""

CROP_TARGETS: dict[str, float] = {"gap": 1.0, "gram": 1.0, "swd": 1.0, "gc": 35.0}
"""The weighted term (``default_weight x loss``) that each method's default weight assumes
for a second real crop of the same texture: 1 for ``gap``, ``gram`` and ``swd`` (calibrated
on VGG19 to the scattering chi-square's scale), 35 for ``gc`` (its weight 10 was set by eye
on VGG19, whose real-crop loss is about 3.5)."""

_LOSSES: dict[str, Callable[..., TextureLoss]] = {
    "gap": lambda ex, **kw: GAPLoss(ex, **kw),
    "gram": lambda ex, **kw: GramLoss(ex, **kw),
    "swd": lambda ex, **kw: SlicedWassersteinLoss(ex, seed=0, **kw),
    "gc": lambda ex, **kw: GuidedCorrespondenceLoss(ex, seed=0, **kw),
}


def crop_pairs(
    images: ImageCollection, *, pairs: int, crop: int, seed: int = 0
) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """``pairs`` pairs of ``crop x crop`` crops ``([1, 3, c, c], [1, 3, c, c])``, both of
    one photo and not overlapping (the photos taken in turn, positions seeded)."""
    gen = torch.Generator().manual_seed(seed)
    out = []
    for k in range(pairs):
        img = images.image(k % len(images))
        H, W = int(img.shape[-2]), int(img.shape[-1])
        if max(H, W) < 2 * crop or min(H, W) < crop:
            raise TexsynthError(
                f"image {str(images.paths[k % len(images)])!r} ({W}x{H}) is too small for "
                f"two {crop}-pixel crops; give larger photos"
            )
        for _ in range(100):  # rejection sampling of a non-overlapping second crop
            y0, y1 = (int(v) for v in torch.randint(0, H - crop + 1, (2,), generator=gen))
            x0, x1 = (int(v) for v in torch.randint(0, W - crop + 1, (2,), generator=gen))
            if abs(y0 - y1) >= crop or abs(x0 - x1) >= crop:
                break
        else:  # the two crops at opposite ends of the longer side
            y0, x0 = 0, 0
            y1, x1 = (H - crop, 0) if H >= W else (0, W - crop)
        a = img[:, y0 : y0 + crop, x0 : x0 + crop]
        b = img[:, y1 : y1 + crop, x1 : x1 + crop]
        out.append((a[None], b[None]))
    return out


def calibration_crop(images: ImageCollection, depth: int, largest: int = 128) -> int:
    """The crop side: at most ``largest``, two crops fitting along every photo's longer side,
    a multiple of the network's downsampling ``2 ** (depth - 1)``."""
    mult = 2 ** (depth - 1)
    fit = min(min(max(x.shape[-2:]) // 2, min(x.shape[-2:])) for x in images.images)
    side = min(largest, int(fit)) // mult * mult
    if side < 2 * mult:
        raise TexsynthError(
            f"the photos are too small to calibrate (two crops of at least {2 * mult} pixels "
            "must fit in each); give larger photos"
        )
    return side


def calibrate_features(
    extractor: LearnedFeatures,
    images: ImageCollection,
    *,
    pairs: int = 16,
    crop: int | None = None,
    methods: tuple[str, ...] = ("gap", "gram", "swd", "gc"),
    seed: int = 0,
) -> dict[str, Any]:
    """Measure each method's real-crop loss on ``extractor`` and its weight factor.

    Parameters
    ----------
    extractor
        The learned features (default layers, reflect padding as in training).
    images
        Photos of the material, ideally not trained on (the held-out photos).
    pairs
        Number of crop pairs (:func:`crop_pairs`); the median loss over them is used.
    crop
        Crop side (default :func:`calibration_crop`: up to 128).
    methods
        The methods to calibrate.
    seed
        Seed of the crop positions.

    Returns
    -------
    dict
        The ``calibration`` record: ``version``, ``crop``, ``pairs``, ``images``, and per
        method ``loss`` (median real-crop loss), ``target`` (:data:`CROP_TARGETS`) and
        ``scale`` (``target / (default_weight x loss)``, the weight factor).
    """
    if pairs < 1:
        raise TexsynthError(f"pairs must be at least 1, got {pairs}")
    unknown = [m for m in methods if m not in _LOSSES]
    if unknown:
        raise TexsynthError(f"cannot calibrate {unknown[0]!r}; choose from {', '.join(_LOSSES)}")
    depth = int(extractor.info["config"]["depth"])
    side = crop if crop is not None else calibration_crop(images, depth)
    crops = crop_pairs(images, pairs=pairs, crop=side, seed=seed)
    record: dict[str, Any] = {
        "version": CALIBRATION_VERSION,
        "crop": side,
        "pairs": pairs,
        "images": len(images),
        "loss": {},
        "target": {},
        "scale": {},
    }
    with torch.no_grad():
        for name in methods:
            values = []
            for a, b in crops:
                loss = _LOSSES[name](a, extractor=extractor)
                values.append(float(loss(b).mean()))
            typical = statistics.median(values)
            if not (math.isfinite(typical) and typical > 0):
                raise TexsynthError(
                    f"the {name} loss between two real crops is {typical:g}; the features "
                    "cannot be calibrated on these photos (all alike?)"
                )
            target = CROP_TARGETS[name]
            record["loss"][name] = float(f"{typical:.6g}")
            record["target"][name] = target
            record["scale"][name] = float(
                f"{target / (METHODS[name].default_weight * typical):.6g}"
            )
    return record


def calibrate_file(
    path: str | os.PathLike[str],
    folders: list[str | os.PathLike[str]],
    *,
    pairs: int = 16,
    seed: int = 0,
    held_out_only: bool = False,
) -> dict[str, Any]:
    """Calibrate an existing features file on photos of ``folders`` and rewrite it
    (atomically, same tensors, ``calibration`` metadata added or replaced).

    ``held_out_only`` uses only the photos that training would hold out (every 10th, for a
    file trained on these same folders); by default all the photos are used.
    """
    tensors, meta = load_features_file(path)
    extractor = LearnedFeatures.from_file(path)
    images = ImageCollection.from_folders(folders)
    if held_out_only:
        images = images.split(0.1)[1]
    record = calibrate_features(extractor, images, pairs=pairs, seed=seed)
    save_features_file(path, tensors, meta, calibration=record)
    return record
