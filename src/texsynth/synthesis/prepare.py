"""What every optimisation driver does to its inputs before the coarse-to-fine loop, and to
its result after it: the masks (inpainting, ignored exemplar samples, warm start) and the
undoing of the value transforms (:mod:`texsynth.transforms`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

from ..errors import TexsynthError
from ..memory import check_memory, estimate_synthesis_bytes
from ..transforms import Gaussianizer, Standardizer, match_histogram

__all__ = [
    "InputRules",
    "check_synthesis_memory",
    "one_input",
    "undo_transforms",
    "working_masks",
]


@dataclass(frozen=True)
class InputRules:
    """How a driver reads its array inputs: ``as_batch(value, name)`` -> ``[B, C, ...]``,
    ``check_mask(value, shape, name)`` -> a mask that fits ``shape``, ``what`` names the
    exemplar in messages (``"exemplar"``, ``"signal"``), ``whole_mask`` is the error
    for an inpainting mask that leaves nothing to learn from and ``item`` names one input
    (``"image"``, ``"signal"``, ``"map"``)."""

    as_batch: Callable[[Any, str], torch.Tensor]
    check_mask: Callable[[Any, torch.Size, str], torch.Tensor]
    what: str
    whole_mask: str
    item: str


def working_masks(
    ex: torch.Tensor,
    *,
    in_mask: object,
    init: object,
    mask: object,
    rules: InputRules,
) -> tuple[torch.Tensor | None, torch.Tensor | None, torch.Tensor | None]:
    """``(in_mask, init, mask)`` on the exemplar ``ex``'s device and dtype.

    Masks act on whole samples (the synthesis runs on decorrelated channels): a sample is
    valid only if valid in every channel, and synthesised if any channel asks for it. With
    an inpainting ``mask`` and no ``init``, the exemplar itself is filled and its masked
    samples do not shape the target statistics. ``rules`` says how to read the inputs
    and word the errors.
    """
    as_batch, check_mask, what = rules.as_batch, rules.check_mask, rules.what
    dev, dtype = ex.device, ex.dtype
    inm = None
    if in_mask is not None:
        inm = check_mask(in_mask, ex.shape, "in_mask").to(dev, dtype).amin(1, keepdim=True)
    init_t = None
    if init is not None:
        init_t = as_batch(init, "init").to(dev, dtype)
        if init_t.shape[1] != ex.shape[1]:
            raise TexsynthError(f"init has {init_t.shape[1]} channels, the {what} {ex.shape[1]}")
    gmask = None
    if mask is not None:
        if init_t is None:
            if ex.shape[0] != 1:
                raise TexsynthError(
                    f"inpainting (mask) fills one {what}, got a batch of {ex.shape[0]} "
                    f"exemplars; give one {what} or init=... to fill"
                )
            init_t = ex
            if inm is None:  # the hole's content must not shape the target statistics
                inm = (1 - check_mask(mask, ex.shape, "mask")).to(dev, dtype).amin(1, keepdim=True)
                if not bool((inm > 0).any()):
                    raise TexsynthError(rules.whole_mask)
        gmask = check_mask(mask, init_t.shape, "mask").to(dev, dtype).amax(1, keepdim=True)
    return inm, init_t, gmask


def one_input(
    value: object,
    name: str,
    ex: torch.Tensor,
    rules: InputRules,
    *,
    pixels: int | None = None,
) -> torch.Tensor:
    """A second input ``name`` (a cross-synthesis reference, a style-transfer content) as
    one ``[1, C, ...]`` item with the exemplar ``ex``'s channels, on its device and dtype;
    ``pixels``: it must also have that many samples on its last axis."""
    t = rules.as_batch(value, name).to(ex.device, ex.dtype)
    C = ex.shape[1]
    if t.shape[0] != 1 or t.shape[1] != C or (pixels is not None and t.shape[-1] != pixels):
        also = "" if pixels is None else f" and {pixels} pixels"
        raise TexsynthError(
            f"{name} has shape {tuple(t.shape)}; give one {rules.item} with the exemplar's "
            f"{C} channel(s){also}"
        )
    return t


def _same(t: torch.Tensor) -> torch.Tensor:
    return t


def undo_transforms(
    x: torch.Tensor,
    *,
    std: Standardizer,
    gauss: Gaussianizer | None,
    remap_to: tuple[torch.Tensor, torch.Tensor | None] | None,
    init: torch.Tensor | None,
    free: torch.Tensor | None,
    as_image: Callable[[torch.Tensor], torch.Tensor] = _same,
    back: Callable[[torch.Tensor], torch.Tensor] = _same,
) -> torch.Tensor:
    """The synthesised batch ``x`` (in the working space) in the exemplar's units.

    ``remap_to = (reference, valid)``: the values are first rank-remapped onto the
    (transformed) exemplar's -- the loss brings the histogram within a few per cent and the
    remapping makes it exact (Heeger & Bergen 1995) while moving each value by only that
    much. Then the Gaussianisation and the standardisation are undone, and with
    inpainting the kept samples of ``init`` are put back where ``free`` is 0. ``as_image``
    and ``back`` convert to and from the ``[B, C, H, W]`` layout the transforms take (for
    signals, ``[B, C, N] <-> [B, C, 1, N]``).
    """
    if remap_to is not None:
        x = back(match_histogram(as_image(x.detach()), *remap_to))
    if gauss is not None:
        x = back(gauss.inverse(as_image(x)))
    out = back(std.inverse(as_image(x))).detach()
    if free is not None:
        assert init is not None
        out = init * (1 - free) + out * free
    return out


def check_synthesis_memory(
    exemplar: Any,
    *,
    init: Any,
    size: Any,
    n_up: Any,
    n: Any,
    method: str,
    L: int,
    cross_channels: bool,
    max_memory: int | None,
    device: torch.device | None,
) -> None:
    """Refuse, before any work, an image synthesis whose estimated peak memory
    (:func:`texsynth.memory.estimate_synthesis_bytes`) exceeds ``max_memory`` (default: what
    the device has). Runs on the raw arguments, before they are checked: whatever cannot
    be read yet is left to the checks that follow."""
    ex_shape = tuple(getattr(exemplar, "shape", ()))
    out_default = size
    if size is None and init is not None:
        out_default = tuple(getattr(init, "shape", ())[-2:]) or None
    elif size is None and n_up and len(ex_shape) >= 2 and isinstance(n_up, int):
        out_default = (ex_shape[-2] * 2**n_up, ex_shape[-1] * 2**n_up)
    check_memory(
        estimate_synthesis_bytes(
            ex_shape,
            out_default,
            n=n if isinstance(n, int) else 1,
            method=method,
            L=L,
            cross_channels=cross_channels,
        ),
        max_memory,
        device=device if device is not None else getattr(exemplar, "device", None),
        what="synthesize",
        fix="use a smaller size, n or L",
        override="max_memory=",
    )
