"""``method="auto"``: pick the synthesis method from the exemplar.

The rule (measured on the quality benchmark, ``docs/quality.md``):

* **a photo** (colour in [0, 1], or grey on the 8-bit grid) -> ``"patch"``: the
  multi-resolution patch method keeps local structure (brick joints, whole tesserae, flat
  cells, separate stones) that every statistics-matching method breaks, needs no network
  weights and runs in seconds;
* **a field** (float or 16-bit data, values outside [0, 1], or more than 3 channels) ->
  ``"scattering"``: scientists need the statistics to match, and the scattering
  covariance is the statistic they measure.

The choice and its reason go into :class:`~texsynth.synthesis.SynthesisReport` and the
command line's sidecar, so a user can see why a method was used and pass ``method=``
explicitly to override it.
"""

from __future__ import annotations

import torch

__all__ = ["choose_method", "looks_like_photo"]


def looks_like_photo(exemplar: torch.Tensor) -> bool:
    """Whether ``exemplar`` (``[..., C, H, W]``) looks like a photograph, not a field.

    A photo has 1 or 3 channels, every value in [0, 1], and, when grey, values on the 8-bit
    grid (``k / 255``): float and 16-bit grey data are height maps, densities and other
    fields far more often than photos.
    """
    x = exemplar.detach()
    if x.dim() == 2:  # [H, W]: grey
        x = x[None]
    if x.dim() < 3 or x.shape[-3] not in (1, 3):
        return False
    if float(x.min()) < 0.0 or float(x.max()) > 1.0:
        return False
    if x.shape[-3] == 3:
        return True
    scaled = x.double() * 255.0
    return bool(torch.all((scaled - scaled.round()).abs() < 1e-3))


def choose_method(exemplar: torch.Tensor, *, photo: bool | None = None) -> tuple[str, str]:
    """The method ``"auto"`` stands for, and why.

    Parameters
    ----------
    exemplar
        ``[C, H, W]`` or ``[1, C, H, W]`` exemplar in its own units.
    photo
        What the caller knows of the data (the command line knows the file's bit depth);
        ``None``: decide with :func:`looks_like_photo`.

    Returns
    -------
    (str, str)
        The method string and a one-line reason.
    """
    if photo is None:
        photo = looks_like_photo(exemplar)
    if photo:
        return "patch", (
            "a photo: the patch method keeps edges, joints and whole objects, without "
            "network weights"
        )
    return "scattering", (
        "a field (float or 16-bit values): the scattering covariance statistics are matched"
    )
