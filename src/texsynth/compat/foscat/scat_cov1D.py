"""foscat's ``scat_cov1D`` module over texsynth: the 1D operator ``funct``.

``import foscat.scat_cov1D as sc`` becomes ``import texsynth.compat.foscat.scat_cov1D as
sc``; ``sc.funct()`` is :class:`texsynth.compat.foscat.scat_cov.funct` with
``use_1D=True``: ``eval`` runs ``texsynth.stats.scattering1d.ScatteringCovariance1D`` and
``synthesis`` runs ``texsynth.synthesis.synthesize_1d`` on ``(N,)`` or ``(B, N)`` signals.
"""

from __future__ import annotations

from typing import Any

from .funct import funct as generic_funct
from .funct import geometry_options
from .statistics import scat_cov

__all__ = ["funct", "scat_cov"]


class funct(generic_funct):  # noqa: N801 (foscat's name)
    """The 1D scattering-covariance operator (``use_1D=True``)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(**geometry_options("use_1D", args, kwargs))
