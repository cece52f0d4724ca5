"""foscat's ``scat_cov`` module over texsynth: the ``scat_cov`` statistics object and ``funct``.

``import foscat.scat_cov as sc`` becomes ``import texsynth.compat.foscat.scat_cov as sc``.
``funct(...)`` keeps foscat's constructor; ``funct.eval`` computes texsynth's scattering
covariance (:class:`texsynth.ScatteringCovariance`) and returns a :class:`scat_cov` with
foscat's layout (``[B, N_mask, ...]``, foscat's orientation order); ``funct.synthesis`` runs
:func:`texsynth.synthesize` and returns NumPy with foscat's shapes. 2D images
(``use_2D=True``), 1D signals (``use_1D=True``, on ``texsynth.synthesis.signals``) and
HEALPix maps (neither flag, foscat's default: full nested skies, or partial ones through
``cell_ids``, on :mod:`texsynth.stats.healpix` and ``texsynth.synthesis.sphere``) are
supported. See ``docs/foscat-compat.md`` for every difference.

The code lives in :mod:`~texsynth.compat.foscat.statistics` (``scat_cov``),
:mod:`~texsynth.compat.foscat.funct` (``funct``) and
:mod:`~texsynth.compat.foscat.synthesis`; this module keeps foscat's import path.
"""

from __future__ import annotations

from ._common import FoscatCompatWarning
from .funct import funct, geometry_options
from .statistics import scat_cov

__all__ = ["FoscatCompatWarning", "funct", "geometry_options", "scat_cov"]
