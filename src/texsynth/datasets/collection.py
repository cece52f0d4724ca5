"""The images of one or more folders, read once and checked, as a training set."""

from __future__ import annotations

import hashlib
import os
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from ..errors import TexsynthError
from ..io import read_image

__all__ = ["IMAGE_SUFFIXES", "ImageCollection"]

#: suffixes of the photo formats a collection reads (case-insensitive)
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".webp")

#: memory a collection may hold (its images are kept as 8-bit RGB)
DEFAULT_MAX_BYTES = 4 << 30


@dataclass
class ImageCollection:
    """Images as 8-bit ``[3, H, W]`` tensors (grey repeated to RGB), with their paths.

    Build one with :meth:`from_folders`. Images are kept as ``uint8`` (a 12-megapixel photo
    takes 36 MB); :meth:`image` returns one as float32 in [0, 1].
    """

    paths: list[Path]
    images: list[torch.Tensor]
    folders: list[str]

    @classmethod
    def from_folders(
        cls,
        folders: Sequence[str | os.PathLike[str]],
        *,
        min_size: int = 1,
        max_bytes: int = DEFAULT_MAX_BYTES,
        small_fix: str = "use a smaller --patch or remove them",
    ) -> ImageCollection:
        """Read every image under ``folders`` (recursively, sorted by path).

        Parameters
        ----------
        folders
            Folders (or single image files) to read.
        min_size
            Smallest allowed height and width (the patch size).
        max_bytes
            Memory the 8-bit images may take; a larger collection is refused.
        small_fix
            What the error about images under ``min_size`` tells the user to do (the
            option that sets the size differs between commands).

        Raises
        ------
        TexsynthError
            One line each: a folder that does not exist, a folder without images, an
            unreadable image, images smaller than ``min_size``, a collection too large.
        """
        if not folders:
            raise TexsynthError("give at least one folder of images")
        paths: list[Path] = []
        for folder in folders:
            root = Path(folder)
            if root.is_file():
                found = [root]
            elif root.is_dir():
                found = sorted(
                    p
                    for p in root.rglob("*")
                    if p.is_file()
                    and p.suffix.lower() in IMAGE_SUFFIXES
                    and not p.name.startswith(".")
                )
            else:
                raise TexsynthError(f"folder {str(root)!r} does not exist")
            if not found:
                raise TexsynthError(
                    f"folder {str(root)!r} has no images (looked for "
                    f"{', '.join(IMAGE_SUFFIXES)}, in subfolders too)"
                )
            paths += found
        images: list[torch.Tensor] = []
        small: list[str] = []
        total = 0
        for p in paths:
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")  # dropped alpha channels
                    x, _ = read_image(p)
            except TexsynthError as exc:
                if str(p) in str(exc):
                    raise
                raise TexsynthError(f"cannot read image {str(p)!r}: {exc}") from None
            H, W = int(x.shape[-2]), int(x.shape[-1])
            if min(H, W) < min_size:
                small.append(f"{p.name} ({W}x{H})")
                continue
            total += 3 * H * W
            if total > max_bytes:
                raise TexsynthError(
                    f"the images take more than {max_bytes / 2**30:.1f} GiB as 8-bit RGB; "
                    "downscale the photos or train on fewer"
                )
            x = x.clamp(0, 1)
            if x.shape[0] == 1:
                x = x.expand(3, -1, -1)
            images.append((x * 255).round().to(torch.uint8).contiguous())
        if small:
            more = f" and {len(small) - 3} more" if len(small) > 3 else ""
            raise TexsynthError(
                f"{len(small)} image(s) smaller than the {min_size}-pixel patch: "
                f"{', '.join(small[:3])}{more}; {small_fix}"
            )
        return cls(paths=[p for p in paths], images=images, folders=[os.fspath(f) for f in folders])

    def __len__(self) -> int:
        return len(self.images)

    def image(self, i: int) -> torch.Tensor:
        """Image ``i`` as float32 ``[3, H, W]`` in [0, 1]."""
        return self.images[i].float() / 255

    def split(self, held_out: float = 0.1) -> tuple[ImageCollection, ImageCollection]:
        """``(train, held_out)``: every ``round(1 / held_out)``-th image (by path order) is
        held out, at least one when there are two or more images; with one image, both
        parts are that image (a held-out score is then a training score)."""
        if not 0 < held_out < 1:
            raise TexsynthError(f"held_out must be in (0, 1), got {held_out}")
        n = len(self)
        if n < 2:
            return self, self
        every = max(2, round(1 / held_out))
        held = [i for i in range(n) if i % every == every - 1] or [n - 1]
        train = [i for i in range(n) if i not in held]

        def part(idx: list[int]) -> ImageCollection:
            return ImageCollection(
                [self.paths[i] for i in idx], [self.images[i] for i in idx], self.folders
            )

        return part(train), part(held)

    def summary(self) -> dict[str, Any]:
        """What the collection holds, for a features file: folders, image count, pixels,
        smallest and largest size, and a digest of the pixels (same digest = same data)."""
        digest = hashlib.sha256()
        for x in self.images:
            digest.update(str(tuple(x.shape)).encode())
            digest.update(x.numpy().tobytes())
        sizes: list[tuple[int, int]] = [(int(x.shape[-2]), int(x.shape[-1])) for x in self.images]
        areas = [h * w for h, w in sizes]
        return {
            "folders": list(self.folders),
            "images": len(self.images),
            "megapixels": round(sum(h * w for h, w in sizes) / 1e6, 3),
            "smallest_hw": list(sizes[areas.index(min(areas))]),
            "largest_hw": list(sizes[areas.index(max(areas))]),
            "sha256": digest.hexdigest()[:16],
        }
