"""Fourier-spectrum constraint of Liu, Gousseau & Xia (2016), as a texture loss.

The spectrum constraint measures how far an image is from the set of images that have the
exemplar's Fourier modulus::

    L(x) = || x - P(x) ||^2 / (H W sum_c var_c)

where ``P(x)`` is the nearest such image (:func:`texsynth.fourier.spectrum_projection`: for
colour images, one phase shift per frequency shared by all channels, which keeps the
exemplar's colour cross-spectra, as in the random-phase noise of Galerne, Gousseau & Morel).
``||x - P(x)||^2`` is the squared distance to that set, whose gradient is ``2 (x - P(x))``
wherever the nearest point is unique (Danskin's theorem); :class:`SpectralConstraintLoss`
returns ``(x - P(x).detach())^2`` summed, which has exactly that gradient. The exemplar's
spectrum is re-sampled to the size of the scored images
(:func:`texsynth.fourier.exemplar_spectrum`).

Normalisation, mean and masks
-----------------------------
The loss is divided by ``H W sum_c var_c`` (the number of pixels times the exemplar's total
variance), so it is dimensionless and independent of the image size and units: 0 on the
constraint set, about 1-2 for an unrelated image of the exemplar's variance. The mean is
part of the constraint by default: the zero frequency of ``P(x)`` is the exemplar's mean
(not phase-shifted, since the only "phase" of a real mean is a sign flip that would invert
it); ``include_mean=False`` compares zero-mean images and leaves the mean to other losses.
Masked exemplar pixels (``in_mask``) are excluded by a smooth spectral window rather than a
hard mean fill, whose step edges around holes would add broadband power.

References
----------
* G. Liu, Y. Gousseau, G.-S. Xia, "Texture synthesis through convolutional neural networks
  and spectrum constraints", ICPR 2016.
* B. Galerne, Y. Gousseau, J.-M. Morel, "Random phase textures: theory and synthesis",
  IEEE Trans. Image Processing 20(1), 2011.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from ..errors import TexsynthError
from ..fourier import (
    check_spectrum_size,
    fill_with_mean,
    pixel_weights,
    project_half_spectrum,
    resampled_spectrum,
    single_exemplar,
)
from .base import TextureLoss

__all__ = ["SpectralConstraintLoss"]

_CACHE_SIZE = 8


class SpectralConstraintLoss(TextureLoss):
    """Spectrum constraint of Liu, Gousseau & Xia (2016): squared distance to the images
    with the exemplar's Fourier modulus (colour: one phase per frequency for all channels).

    For images ``x [B, C, H, W]`` (any ``H, W >= 8``), with ``y = transform(x)``::

        loss_b = sum_{c, pixels} (y_b - P(y_b))^2 / (H W sum_c var_c)

    with ``P`` the projection of :func:`~texsynth.fourier.spectrum_projection` onto the
    exemplar's spectrum re-sampled to ``H x W`` (:func:`~texsynth.fourier.exemplar_spectrum`,
    cached per size) and ``var_c`` the exemplar's per-channel variance (valid pixels, after
    ``transform``). So the loss is dimensionless: 0 for the exemplar (its periodic component
    if ``periodic``; the raw exemplar then scores a little above 0), any circular shift of
    it, or any image with its modulus and a common random phase
    (:func:`~texsynth.random_phase_texture`); between 0 and 2 for
    an image of the exemplar's mean and variance (``1 + 1 - 2 <y, P(y)> / norm``, with
    ``<y, P(y)> >= 0``; white noise against a low-pass exemplar: about 1.5-1.8) and larger
    when the variance or mean is off. Its gradient is ``2 (y - P(y)) / norm``
    (the gradient of a squared distance to a set), obtained by detaching ``P``.

    Parameters
    ----------
    exemplar
        ``[C, H_e, W_e]`` (or ``[1, C, H_e, W_e]``) exemplar, ``H_e, W_e >= 8``.
    in_mask
        Exemplar pixels to use (1) or ignore (0): the spectrum is that of the exemplar
        seen through a smooth window that is 0 on ignored pixels, divided by the window's
        RMS (see :func:`~texsynth.fourier.exemplar_spectrum`). The mean and variance in the
        normaliser are those of the valid pixels.
    periodic
        Use the exemplar's periodic component (Moisan), default; ``False`` if it tiles.
    transform
        Optional callable applied to the exemplar and to every scored batch first (e.g.
        the inverse of the engine's standardisation, to constrain the spectrum in the
        exemplar's own colour space). It must be differentiable for gradients to flow.
    include_mean
        Include the mean in the constraint (default): ``P(y)`` has the exemplar's mean
        (the zero frequency is fixed, not phase-shifted), so a wrong mean adds
        ``sum_c (mean_c(y) - mean_c)^2 / sum_c var_c``. ``False`` compares zero-mean
        images only (leave the mean to a histogram loss).

    References
    ----------
    G. Liu, Y. Gousseau, G.-S. Xia, "Texture synthesis through convolutional neural
    networks and spectrum constraints", ICPR 2016, 3234-3239.
    """

    options: dict[str, Any]
    filled: torch.Tensor  # buffers
    weights: torch.Tensor
    mean: torch.Tensor

    def __init__(
        self,
        exemplar: torch.Tensor,
        *,
        in_mask: torch.Tensor | None = None,
        periodic: bool = True,
        transform: Callable[[torch.Tensor], torch.Tensor] | None = None,
        include_mean: bool = True,
    ) -> None:
        super().__init__()
        if transform is not None and not callable(transform):
            raise TexsynthError(
                f"transform must be a callable (a tensor -> tensor function), got "
                f"{type(transform).__name__}"
            )
        ex = single_exemplar(exemplar)
        self.options = dict(
            in_mask=in_mask, periodic=periodic, transform=transform, include_mean=include_mean
        )
        weights = pixel_weights(ex, in_mask)
        if transform is not None:
            with torch.no_grad():
                ex = transform(ex)
            if not isinstance(ex, torch.Tensor) or ex.dim() != 4:
                raise TexsynthError(
                    "transform must map [B, C, H, W] images to [B, C', H, W] tensors"
                )
        filled, mean = fill_with_mean(ex.detach(), weights.to(ex))
        var = (((filled - mean) ** 2) * weights.to(ex)).sum((-2, -1)) / weights.sum()
        total_var = float(var.sum())
        if not total_var > 0:
            raise TexsynthError(
                "exemplar has zero variance (a constant image); the spectrum constraint "
                "needs a textured exemplar"
            )
        self.register_buffer("filled", filled)
        self.register_buffer("weights", weights.to(ex))
        self.register_buffer("mean", mean)
        self.total_var = total_var
        self._cache: dict[tuple[Any, ...], torch.Tensor] = {}

    @property
    def channels(self) -> int:
        """Number of channels the scored images have (after ``transform``)."""
        return int(self.filled.shape[1])

    def at(self, exemplar: torch.Tensor, **overrides: Any) -> SpectralConstraintLoss:
        """The same loss from another exemplar; ``overrides`` replace construction options
        (``in_mask``, ``periodic``, ``transform``, ``include_mean``; other keys are ignored)."""
        kw = {k: v for k, v in {**self.options, **overrides}.items() if k in self.options}
        return SpectralConstraintLoss(exemplar, **kw)

    def target(
        self,
        size: tuple[int, int],
        dtype: torch.dtype | None = None,
        device: torch.device | str | None = None,
    ) -> torch.Tensor:
        """The complex ``[1, C, H, W]`` target spectrum for ``size`` (cached)."""
        dtype = dtype or self.filled.dtype
        device = torch.device(device) if device is not None else self.filled.device
        key = (tuple(size), dtype, device, self.filled.device, self.filled.dtype)
        spec = self._cache.get(key)
        if spec is None:
            check_spectrum_size(tuple(size), "images")  # type: ignore[arg-type]
            with torch.no_grad():
                spec = resampled_spectrum(
                    self.filled,
                    self.weights,
                    self.mean,
                    tuple(size),  # type: ignore[arg-type]
                    bool(self.options["periodic"]),
                    bool(self.options["include_mean"]),
                )
            cdtype = torch.complex128 if dtype == torch.float64 else torch.complex64
            spec = spec.to(device, cdtype)
            if len(self._cache) >= _CACHE_SIZE:
                self._cache.pop(next(iter(self._cache)))
            self._cache[key] = spec
        return spec

    def project(self, x: torch.Tensor) -> torch.Tensor:
        """``P(transform(x))``: the nearest image (in the transformed space) with the
        exemplar's spectrum; no gradient."""
        with torch.no_grad():
            y = self._prepare(x)
            return project_half_spectrum(y, self._half(y))

    def _prepare(self, x: torch.Tensor) -> torch.Tensor:
        if not isinstance(x, torch.Tensor):
            raise TexsynthError(f"images must be a torch.Tensor, got {type(x).__name__}")
        if x.dim() == 2:
            x = x[None, None]
        elif x.dim() == 3:
            x = x[None]
        elif x.dim() != 4:
            raise TexsynthError(
                f"images must have shape [B, C, H, W] (or [C, H, W], [H, W]), got {tuple(x.shape)}"
            )
        check_spectrum_size(tuple(x.shape[-2:]), "images")  # type: ignore[arg-type]
        y = self.options["transform"](x) if self.options["transform"] is not None else x
        if y.shape[1] != self.channels:
            raise TexsynthError(
                f"images have {y.shape[1]} channels (after transform), the exemplar "
                f"{self.channels}; give images with the exemplar's channels"
            )
        if not bool(self.options["include_mean"]):
            y = y - y.mean((-2, -1), keepdim=True)
        return y

    def _half(self, y: torch.Tensor) -> torch.Tensor:
        H, W = y.shape[-2:]
        return self.target((H, W), y.dtype, y.device)[..., : W // 2 + 1]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Losses ``[B]`` of images ``x [B, C, H, W]`` (``loss_b`` of the class notes)."""
        y = self._prepare(x)
        with torch.no_grad():
            p = project_half_spectrum(y.detach(), self._half(y))
        H, W = y.shape[-2:]
        return ((y - p) ** 2).sum((1, 2, 3)) / (H * W * self.total_var)
