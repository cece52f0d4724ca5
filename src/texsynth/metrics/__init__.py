"""Metrics: how close syntheses are to their exemplar (see ``texsynth.evaluate``).

* :mod:`texsynth.metrics.image`: pixel-aligned comparisons (SSIM, MS-SSIM, PSNR).
* :mod:`texsynth.metrics.texture`: distributional comparisons (power spectrum, histogram,
  autocorrelation, scattering covariance), tileability, diversity.
* :mod:`texsynth.metrics.copying`: copies of the exemplar (nearest-patch distances).
* :mod:`texsynth.metrics.features`: distances through a feature network (Gram, GAP, sliced
  Wasserstein, Fréchet, KID, SIFID).
"""

from .copying import copy_score
from .image import ms_ssim, psnr, ssim
from .texture import (
    autocorrelation_distance,
    diversity,
    histogram_distance,
    power_spectrum,
    scattering_distance,
    seam_score,
    spectrum_distance,
)

__all__ = [
    "autocorrelation_distance",
    "copy_score",
    "diversity",
    "histogram_distance",
    "ms_ssim",
    "power_spectrum",
    "psnr",
    "scattering_distance",
    "seam_score",
    "spectrum_distance",
    "ssim",
]
