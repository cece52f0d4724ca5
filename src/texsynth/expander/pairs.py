"""The expander's training pairs (``texsynth train-expander``): step ``k``'s global batch is a
pure function of ``(seed, k)``, whatever the number of processes that share it.

Each item is a procedural texture (:mod:`~texsynth.expander.procedural`), a crop of the
training folders (:class:`~texsynth.datasets.PairSampler`) or a crop of the photographs that
installed packages ship (:mod:`~texsynth.expander.photos`); its input is the target's centre
crop (:func:`~texsynth.expander.protocol.centre_crop`, the evaluation protocol's).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from ..datasets import ImageCollection, PairSampler
from ..errors import TexsynthError
from . import photos as photo_data
from . import procedural
from .protocol import centre_crop

__all__ = ["PHOTO_ITEM", "ExpanderPairs", "item_seed"]

PHOTO_ITEM = 2**33  # item j's photograph crop is drawn from item PHOTO_ITEM + j's seed


def item_seed(seed: int, step: int, item: int) -> int:
    """A 63-bit seed for item ``item`` of step ``step`` (NumPy's SeedSequence hash)."""
    return int(np.random.SeedSequence([int(seed), int(step), int(item)]).generate_state(1)[0])


class ExpanderPairs:
    """The training pairs: step ``k``'s global batch is a pure function of ``(seed, k)``.

    Item ``j`` of step ``k`` (global index ``i = k * batch + j``) is a procedural texture
    when ``i`` is odd (or always without crops), else a crop; with both a collection and
    photographs the crops alternate between them (crop number ``c = i // 2``, or ``i``
    without procedural textures: the collection's when ``c`` is even). A collection's crop
    is ``PairSampler``'s (uniform over crop positions, with the 8 flips and quarter turns);
    a photograph's is :func:`~texsynth.expander.photos.crops` (a photograph, then a
    position and a symmetry, seeded by the item); the input is the centre crop.

    Parameters
    ----------
    collection
        The images (``None``: none).
    size, batch, seed
        Input side (targets ``2 size``), pairs per step, seed.
    procedural
        Interleave procedural textures with the crops (needs crops when False).
    photos
        The packaged photographs, ``[3, H, W]`` in [0, 1]
        (:func:`~texsynth.expander.photos.require_photos`; ``None``: none).
    """

    def __init__(
        self,
        collection: ImageCollection | None,
        size: int,
        batch: int,
        seed: int,
        procedural: bool = True,
        photos: tuple[np.ndarray, ...] | None = None,
    ) -> None:
        if collection is None and not photos and not procedural:
            raise TexsynthError(
                "no training data: give a folder of images, use the packaged photographs, or "
                "allow the procedural textures"
            )
        self.size, self.batch, self.seed, self.procedural = size, batch, seed, procedural
        self.sampler = (
            PairSampler(collection, size, batch=batch, seed=seed)
            if collection is not None
            else None
        )
        self.photos = tuple(photos) if photos else None
        if self.photos is not None and not any(min(p.shape[-2:]) >= 2 * size for p in self.photos):
            raise TexsynthError(
                f"no packaged photograph is at least {2 * size} pixels on a side (the targets "
                f"are 2 x {size}); use a smaller --size"
            )

    def sources(self, step: int) -> list[str]:
        """For each item of step ``step``: ``"procedural"``, ``"folders"`` or ``"photos"``."""
        crops = [s for s, on in (("folders", self.sampler), ("photos", self.photos)) if on]
        out = []
        for j in range(self.batch):
            i = step * self.batch + j
            if not crops or (self.procedural and i % 2 == 1):
                out.append("procedural")
            else:
                c = i // 2 if self.procedural else i
                out.append(crops[c % len(crops)])
        return out

    def kinds(self, step: int) -> list[bool]:
        """For each item of step ``step``: whether it is procedural."""
        return [s == "procedural" for s in self.sources(step)]

    def targets(self, step: int, items: Sequence[int] | None = None) -> torch.Tensor:
        """The ``[n, 3, 2 size, 2 size]`` targets of step ``step`` (``items``: those of
        them, default all)."""
        idx = list(range(self.batch)) if items is None else list(items)
        sources = self.sources(step)
        crops = None
        if self.sampler is not None and any(sources[j] == "folders" for j in idx):
            crops = self.sampler.crops(step)
        out = []
        for j in idx:
            if sources[j] == "procedural":
                t = procedural.texture(item_seed(self.seed, step, j), 2 * self.size)
                out.append(torch.from_numpy(t))
            elif sources[j] == "photos":
                assert self.photos is not None
                seed = item_seed(self.seed, step, PHOTO_ITEM + j)
                out.append(
                    torch.from_numpy(photo_data.crops(self.photos, seed, 1, 2 * self.size)[0])
                )
            else:
                assert crops is not None
                out.append(crops[j])
        return torch.stack(out)

    def pairs(
        self, step: int, items: Sequence[int] | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``(inputs [n, 3, size, size], targets [n, 3, 2 size, 2 size])`` of step ``step``."""
        target = self.targets(step, items)
        return centre_crop(target).contiguous(), target
