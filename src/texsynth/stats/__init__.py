"""Texture descriptors: differentiable modules mapping image batches to statistics."""

from .scatcov import ScatCov, s3_index, s4_index
from .scattering import ScatteringCovariance

__all__ = ["ScatCov", "ScatteringCovariance", "s3_index", "s4_index"]
