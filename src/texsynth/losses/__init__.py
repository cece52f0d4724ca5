"""Texture losses: built from an exemplar, they score a batch (one loss per item).

* :mod:`~texsynth.losses.base` -- the contract (:class:`TextureLoss`) and weighted sums;
* :mod:`~texsynth.losses.scattering` -- scattering covariance, for images and signals;
* :mod:`~texsynth.losses.chi2` -- the one chi-square (and its microcanonical batch form);
* :mod:`~texsynth.losses.histogram`, :mod:`~texsynth.losses.spectrum` -- value histograms and
  power spectra;
* :mod:`~texsynth.losses.spectral_constraint` -- the Fourier-modulus constraint (Liu,
  Gousseau & Xia 2016);
* :mod:`~texsynth.losses.defaults` -- the default 1-D composition;
* :mod:`~texsynth.losses.features` -- losses on network features (Gram, GAP, sliced
  Wasserstein), with the layers' valid positions in :mod:`~texsynth.losses.feature_maps`;
* :mod:`~texsynth.losses.correspondence` -- the guided-correspondence loss (Zhou et al. 2023);
* :mod:`~texsynth.losses.content` -- the content loss of style transfer.
"""

from __future__ import annotations

from .base import TextureLoss, WeightedLoss, item_losses
from .content import ContentLoss
from .correspondence import GuidedCorrespondenceLoss
from .defaults import build_loss_1d
from .features import FeatureLoss, GAPLoss, GramLoss, SlicedWassersteinLoss
from .histogram import HistogramLoss, HistogramLoss1D
from .scattering import ScatteringLoss, ScatteringLoss1D
from .spectral_constraint import SpectralConstraintLoss
from .spectrum import SpectrumLoss, SpectrumLoss1D

__all__ = [
    "ContentLoss",
    "FeatureLoss",
    "GAPLoss",
    "GramLoss",
    "GuidedCorrespondenceLoss",
    "HistogramLoss",
    "HistogramLoss1D",
    "ScatteringLoss",
    "ScatteringLoss1D",
    "SlicedWassersteinLoss",
    "SpectralConstraintLoss",
    "SpectrumLoss",
    "SpectrumLoss1D",
    "TextureLoss",
    "WeightedLoss",
    "item_losses",
    "build_loss_1d",
]
