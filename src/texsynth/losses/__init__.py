"""Texture losses: built from an exemplar, they score a batch (one loss per item).

* :mod:`~texsynth.losses.base` -- the contract (:class:`TextureLoss`) and weighted sums;
* :mod:`~texsynth.losses.scattering` -- scattering covariance, for images and signals;
* :mod:`~texsynth.losses.chi2` -- the one chi-square (and its microcanonical batch form);
* :mod:`~texsynth.losses.histogram`, :mod:`~texsynth.losses.spectrum` -- value histograms and
  power spectra;
* :mod:`~texsynth.losses.spectral_constraint` -- the Fourier-modulus constraint (Liu,
  Gousseau & Xia 2016);
* :mod:`~texsynth.losses.defaults` -- the default 1-D composition.

Losses on network features (Gram, GAP, sliced Wasserstein) are in
:mod:`texsynth.feature_losses`.
"""

from __future__ import annotations

from .base import TextureLoss, WeightedLoss, item_losses
from .defaults import build_loss_1d
from .histogram import HistogramLoss, HistogramLoss1D
from .scattering import ScatteringLoss, ScatteringLoss1D
from .spectral_constraint import SpectralConstraintLoss
from .spectrum import SpectrumLoss, SpectrumLoss1D

__all__ = [
    "HistogramLoss",
    "HistogramLoss1D",
    "ScatteringLoss",
    "ScatteringLoss1D",
    "SpectralConstraintLoss",
    "SpectrumLoss",
    "SpectrumLoss1D",
    "TextureLoss",
    "WeightedLoss",
    "item_losses",
    "build_loss_1d",
]
