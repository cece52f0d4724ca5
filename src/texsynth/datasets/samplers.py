"""Seeded patch samplers: every batch is a pure function of ``(seed, step)``.

A training loop that asks for ``sampler.batch(step)`` sees the same batches whether it ran
in one go or was stopped and resumed at any step: there is no sampler state to save beyond
the step count.
"""

from __future__ import annotations

import torch

from ..errors import TexsynthError
from .collection import ImageCollection

__all__ = ["PairSampler", "PatchSampler"]


def _generator(seed: int, step: int) -> torch.Generator:
    return torch.Generator().manual_seed((int(seed) * 1_000_003 + int(step) * 7_919) % (2**63))


def augment(x: torch.Tensor, code: int) -> torch.Tensor:
    """One of the 8 symmetries of the square (``code`` 0-7: quarter turns, then a mirror)."""
    x = torch.rot90(x, code % 4, dims=(-2, -1))
    return torch.flip(x, dims=(-1,)) if code >= 4 else x


class PatchSampler:
    """Random ``patch x patch`` crops of a collection, with flips and quarter turns.

    An image is drawn with probability proportional to its number of crop positions (every
    position of the collection is equally likely), then a position, then a symmetry.

    Parameters
    ----------
    collection
        The images (each at least ``patch`` pixels a side).
    patch
        Crop size in pixels.
    batch
        Crops per batch.
    seed
        Seed of the draws.
    augment
        Apply random flips and quarter turns (texture statistics do not depend on them for
        most materials; turn it off for oriented ones).
    """

    #: crop size relative to ``patch`` (the pair sampler crops twice as large)
    scale = 1

    def __init__(
        self,
        collection: ImageCollection,
        patch: int,
        *,
        batch: int = 8,
        seed: int = 0,
        augment: bool = True,
    ) -> None:
        if len(collection) == 0:
            raise TexsynthError("the collection has no images")
        if int(patch) < 4:
            raise TexsynthError(f"patch must be at least 4 pixels, got {patch}")
        if int(batch) < 1:
            raise TexsynthError(f"batch must be at least 1, got {batch}")
        self.collection = collection
        self.patch = int(patch)
        self.batch_size = int(batch)
        self.seed = int(seed)
        self.augment = bool(augment)
        crop = self.patch * self.scale
        counts = []
        for x in collection.images:
            H, W = int(x.shape[-2]), int(x.shape[-1])
            if min(H, W) < crop:
                raise TexsynthError(
                    f"an image of {W}x{H} pixels is smaller than the {crop}-pixel crop; use a "
                    "smaller patch"
                )
            counts.append((H - crop + 1) * (W - crop + 1))
        self.weights = torch.tensor(counts, dtype=torch.float64)
        self.step = 0

    def crops(self, step: int) -> torch.Tensor:
        """The ``[batch, 3, crop, crop]`` float32 crops of ``step`` (crop = patch x scale)."""
        g = _generator(self.seed, step)
        crop = self.patch * self.scale
        which = torch.multinomial(self.weights, self.batch_size, replacement=True, generator=g)
        out = []
        for i in which.tolist():
            x = self.collection.images[i]
            H, W = int(x.shape[-2]), int(x.shape[-1])
            top = int(torch.randint(0, H - crop + 1, (1,), generator=g))
            left = int(torch.randint(0, W - crop + 1, (1,), generator=g))
            code = int(torch.randint(0, 8, (1,), generator=g))
            c = x[:, top : top + crop, left : left + crop]
            out.append(augment(c, code) if self.augment else c)
        return torch.stack(out).float() / 255

    def batch(self, step: int) -> torch.Tensor:
        """The ``[batch, 3, patch, patch]`` crops of training step ``step`` (float32 in
        [0, 1]); the same for the same ``(seed, step)``."""
        return self.crops(step)

    def __iter__(self) -> PatchSampler:
        return self

    def __next__(self) -> torch.Tensor:
        out = self.batch(self.step)
        self.step += 1
        return out

    def state_dict(self) -> dict[str, int]:
        """What resumes the iteration: the seed and the next step."""
        return {"seed": self.seed, "step": self.step}

    def load_state_dict(self, state: dict[str, int]) -> None:
        """Resume from :meth:`state_dict` (a different seed is refused)."""
        if int(state["seed"]) != self.seed:
            raise TexsynthError(
                f"the saved sampler used seed {state['seed']}, this one {self.seed}; resume "
                "with the same seed"
            )
        self.step = int(state["step"])


class PairSampler(PatchSampler):
    """Pairs ``(small, large)``: a ``patch`` crop and the ``2 * patch`` crop centred on it.

    ``small`` is exactly the centre of ``large`` (``large[..., patch//2 : patch//2 + patch,
    same]``), after the same flip or turn: the input and target of a network that grows a
    texture patch into its surroundings.
    """

    scale = 2

    def pair(self, step: int) -> tuple[torch.Tensor, torch.Tensor]:
        """``(small [B, 3, p, p], large [B, 3, 2p, 2p])`` of step ``step``."""
        large = self.crops(step)
        o = self.patch // 2
        return large[..., o : o + self.patch, o : o + self.patch].contiguous(), large

    def batch(self, step: int) -> torch.Tensor:
        """The large crops of ``step`` (:meth:`pair` gives both)."""
        return self.crops(step)

    def __next__(self) -> tuple[torch.Tensor, torch.Tensor]:  # type: ignore[override]
        out = self.pair(self.step)
        self.step += 1
        return out
