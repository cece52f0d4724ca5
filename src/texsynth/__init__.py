"""texsynth: texture synthesis from one exemplar image or field.

The public API is exactly the names in ``__all__``; everything else is internal.
"""

from __future__ import annotations

import logging

from .cancellation import Cancelled
from .ensembles import ensemble
from .errors import TexsynthError
from .evaluation import evaluate
from .evaluation1d import evaluate_1d
from .evaluation_healpix import evaluate_healpix
from .evaluation_report import EvaluationReport, MetricResult
from .expander import expand
from .generators import (
    SynthHalfUNet2D,
    generate_samples,
    load_generator,
    save_generator,
    train_generator,
)
from .io import ImageMeta, TexsynthWarning, read_image, write_image
from .io.healpix_maps import HealpixMap, read_healpix_map, write_healpix_map
from .losses import (
    GAPLoss,
    GramLoss,
    GuidedCorrespondenceLoss,
    HistogramLoss,
    ScatteringLoss,
    SlicedWassersteinLoss,
    SpectralConstraintLoss,
    SpectrumLoss,
    TextureLoss,
    WeightedLoss,
)
from .patches import synthesize_patches
from .report import write_report
from .stats import ScatCov, ScatteringCovariance
from .stats.healpix import HealpixScatteringCovariance
from .stats.scattering1d import ScatteringCovariance1D
from .synthesis import (
    SynthesisReport,
    random_phase_texture,
    remake,
    synthesize,
    synthesize_1d,
    synthesize_healpix,
)
from .version import __version__

__all__ = [
    "Cancelled",
    "EvaluationReport",
    "GAPLoss",
    "GramLoss",
    "GuidedCorrespondenceLoss",
    "HealpixMap",
    "HealpixScatteringCovariance",
    "HistogramLoss",
    "ImageMeta",
    "MetricResult",
    "ScatCov",
    "ScatteringCovariance",
    "ScatteringCovariance1D",
    "ScatteringLoss",
    "SlicedWassersteinLoss",
    "SpectralConstraintLoss",
    "SpectrumLoss",
    "SynthHalfUNet2D",
    "SynthesisReport",
    "TexsynthError",
    "TexsynthWarning",
    "TextureLoss",
    "WeightedLoss",
    "__version__",
    "ensemble",
    "evaluate",
    "evaluate_1d",
    "evaluate_healpix",
    "expand",
    "generate_samples",
    "load_generator",
    "random_phase_texture",
    "read_healpix_map",
    "read_image",
    "remake",
    "save_generator",
    "synthesize",
    "synthesize_1d",
    "synthesize_healpix",
    "synthesize_patches",
    "train_generator",
    "write_healpix_map",
    "write_image",
    "write_report",
]

logging.getLogger(__name__).addHandler(logging.NullHandler())
