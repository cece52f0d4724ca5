"""The value transforms of an optimisation driver (:mod:`texsynth.transforms`): the
exemplar standardised (and its channels decorrelated by PCA), optionally Gaussianised, and
the other inputs (warm start, content, cross-synthesis reference) mapped into the working
space; :meth:`texsynth.synthesis.drive.Working.undo` maps the result back.

The transforms work on ``[B, C, H, W]`` images. Signals and HEALPix maps, ``[B, C, N]``,
go through them as ``[B, C, 1, N]`` (:data:`SAMPLES`), and a batch of several exemplars of
one process is fitted as one long exemplar.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from ..errors import TexsynthError
from ..transforms import Gaussianizer, Standardizer

__all__ = ["IMAGES", "SAMPLES", "Layout", "ValueTransforms"]

Transform = Callable[[torch.Tensor], torch.Tensor]


def _same(t: torch.Tensor) -> torch.Tensor:
    return t


def _as_image(t: torch.Tensor) -> torch.Tensor:
    """``[B, C, N]`` -> ``[B, C, 1, N]``."""
    return t[..., None, :]


def _from_image(t: torch.Tensor) -> torch.Tensor:
    """``[B, C, 1, N]`` -> ``[B, C, N]``."""
    return t[..., 0, :]


def _pooled(t: torch.Tensor) -> torch.Tensor:
    """``[B, C, N]`` -> ``[1, C, 1, B*N]``: a batch of exemplars as one long one."""
    B, C, N = t.shape
    return t.transpose(0, 1).reshape(1, C, 1, B * N)


@dataclass(frozen=True)
class Layout:
    """How a driver's batches meet the ``[B, C, H, W]`` transforms: ``as_image`` and
    ``back`` convert a batch to and from that layout, ``pooled`` makes a batch of
    exemplars (or of their masks) the one ``[1, C, H, W]`` image the transforms are
    fitted to."""

    as_image: Transform
    back: Transform
    pooled: Transform


#: images and 2-D fields, ``[1, C, H, W]`` already
IMAGES = Layout(_same, _same, _same)
#: 1-D signals and HEALPix maps, ``[B, C, N]``
SAMPLES = Layout(_as_image, _from_image, _pooled)


@dataclass(frozen=True)
class ValueTransforms:
    """The exemplar's value transforms and the exemplar in the working space.

    Attributes
    ----------
    std, gauss
        The fitted :class:`~texsynth.transforms.Standardizer` and, with ``to_gaussian``,
        :class:`~texsynth.transforms.Gaussianizer` (else ``None``).
    exemplar
        The transformed exemplar, in the driver's layout.
    valid
        The pooled mask of the exemplar samples the transforms were fitted to (``None``:
        all).
    layout
        The driver's :class:`Layout`.
    """

    std: Standardizer
    gauss: Gaussianizer | None
    exemplar: torch.Tensor
    valid: torch.Tensor | None
    layout: Layout

    @classmethod
    def fit(
        cls,
        ex: torch.Tensor,
        in_mask: torch.Tensor | None,
        *,
        to_gaussian: bool,
        layout: Layout = IMAGES,
    ) -> ValueTransforms:
        """Standardise ``ex`` (its samples where ``in_mask`` is on), then Gaussianise the
        result if ``to_gaussian`` (foscat's ``to_gaussian``)."""
        as_image, back, pooled = layout.as_image, layout.back, layout.pooled
        valid = None
        if in_mask is not None:
            valid = pooled(in_mask.expand(ex.shape[0], 1, *ex.shape[2:]))
        std = Standardizer.fit(pooled(ex), valid)
        ex_s = back(std.forward(as_image(ex)))
        gauss = Gaussianizer.fit(pooled(ex_s), valid) if to_gaussian else None
        if gauss is not None:
            ex_s = back(gauss.forward(as_image(ex_s)))
        return cls(std, gauss, ex_s, valid, layout)

    def prepare(self, t: torch.Tensor) -> torch.Tensor:
        """``t`` (warm start, content: the exemplar's units) in the working space."""
        t = self.std.forward(self.layout.as_image(t))
        return self.layout.back(self.gauss.forward(t) if self.gauss is not None else t)

    def reference(self, ref: torch.Tensor, *, decorrelate: bool) -> torch.Tensor:
        """The second input of a cross-synthesis standardised on its own (its channels
        rotated onto their principal axes if ``decorrelate``); it must keep as many
        channels as the exemplar once constant ones are dropped."""
        t = self.layout.as_image(ref)
        ref_s = self.layout.back(Standardizer.fit(t, decorrelate=decorrelate).forward(t))
        if ref_s.shape[1] != self.exemplar.shape[1]:
            raise TexsynthError(
                "reference and exemplar have different numbers of non-constant channels; "
                "drop constant channels first"
            )
        return ref_s
