"""The patch method as :func:`texsynth.synthesize` runs it (``method="patch"``): the
inputs read and checked as for the optimisation methods, then
:func:`texsynth.patches.synthesize_patches`."""

from __future__ import annotations

import torch

from .._checks import as_image_batch, check_mask, parse_size
from ..cancellation import Cancel
from ..errors import TexsynthError
from ..progress import OnProgress
from ..seeds import resolve_seeds
from .engine import SynthesisReport

__all__ = [
    "OPTIMISATION_DEFAULTS",
    "WHOLE_MASK",
    "covers_everything",
    "optimisation_options_given",
    "synthesize_with_patches",
]

#: options of :func:`~texsynth.synthesis.images.synthesize` that only the optimisation
#: methods use, with their defaults: given with ``"auto"`` they select scattering, given
#: with ``"patch"`` they are refused rather than silently ignored
OPTIMISATION_DEFAULTS: dict[str, object] = {
    "loss": None,
    "steps": None,
    "tol": None,
    "levels": None,
    "J": None,
    "L": 4,
    "in_mask": None,
    "reference": None,
    "content": None,
    "to_gaussian": False,
    "layers": None,
    "weights_file": None,
    "features": "vgg19",
    "histogram": 1.0,
    "power_spectrum": None,
    "use_variance": True,
    "cross_channels": True,
    "iso_ang": False,
    "fft_ang": False,
    "callback": None,
}


def optimisation_options_given(**values: object) -> dict[str, object]:
    """The options of :data:`OPTIMISATION_DEFAULTS` among ``values`` that differ from
    their defaults."""
    given = {}
    for name, value in values.items():
        default = OPTIMISATION_DEFAULTS[name]
        if value is default:
            continue
        if isinstance(value, (bool, int, float, str)) and value == default:
            continue
        given[name] = value
    return given


def synthesize_with_patches(
    exemplar: torch.Tensor,
    *,
    size: int | tuple[int, int] | None,
    n: int,
    seed: int | list[int] | None,
    tile: bool,
    mask: torch.Tensor | None,
    init: torch.Tensor | None,
    n_up: int,
    quality: str,
    device: str | torch.device | None,
    dtype: torch.dtype,
    progress: bool,
    cancel: Cancel | None,
    on_progress: OnProgress | None = None,
) -> tuple[torch.Tensor, SynthesisReport]:
    """:func:`~texsynth.synthesis.images.synthesize` with ``method="patch"``: the
    multi-resolution patch method (:func:`texsynth.patches.synthesize_patches`), with the
    inputs read as :func:`~texsynth.synthesis.images.synthesize` reads them."""
    from ..patches import synthesize_patches

    ex = as_image_batch(exemplar, "exemplar")
    if ex.shape[0] != 1:
        raise TexsynthError(f"give one exemplar [C, H, W], got a batch of {ex.shape[0]}")
    dev = torch.device(device) if device is not None else ex.device
    ex = ex.to(dev, dtype)
    if size is None and init is None and mask is None and n_up:
        size = (ex.shape[-2] * 2**n_up, ex.shape[-1] * 2**n_up)
    if size is not None:
        size = parse_size(size, (int(ex.shape[-2]), int(ex.shape[-1])))
    init_t = as_image_batch(init, "init").to(dev, dtype) if init is not None else None
    mask_t = mask.to(dev) if isinstance(mask, torch.Tensor) else mask
    if mask_t is not None and init_t is None and covers_everything(mask_t, ex.shape):
        raise TexsynthError(WHOLE_MASK)
    seeds = None
    if isinstance(n, int) and not isinstance(n, bool) and n >= 1:
        _, seeds = resolve_seeds(seed, n)  # (else synthesize_patches words the error)
    out = synthesize_patches(
        ex,
        size=size,
        n=n,
        seed=seeds,
        tile=tile,
        mask=mask_t,
        init=init_t,
        quality=quality,
        progress=progress,
        cancel=cancel,
        on_progress=on_progress,
    )
    rep = SynthesisReport(method="patch", seeds=seeds or [])
    rep.levels.append(tuple(out.shape[-2:]))
    return out, rep


#: the error for an inpainting mask that leaves no exemplar pixel to learn from
WHOLE_MASK = (
    "the mask covers the whole exemplar (1 = synthesise everywhere): no exemplar pixel is "
    "left to learn the texture from; leave part of the mask black (0 = keep), or give the "
    "image to fill separately (--init / init=)"
)


def covers_everything(mask: torch.Tensor, shape: torch.Size) -> bool:
    """Whether an inpainting ``mask`` asks to synthesise every pixel of an exemplar of
    ``shape`` (a mask that does not fit is left for the patch method to report)."""
    try:
        m = check_mask(mask, shape, "mask")
    except TexsynthError:
        return False
    return bool((m.amax(1) >= 1).all())
