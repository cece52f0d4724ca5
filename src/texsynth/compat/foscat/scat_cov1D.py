"""foscat's ``scat_cov1D`` module over texsynth: the 1D operator ``funct``.

``import foscat.scat_cov1D as sc`` becomes ``import texsynth.compat.foscat.scat_cov1D as
sc``; ``sc.funct()`` is :class:`texsynth.compat.foscat.scat_cov.funct` with
``use_1D=True``: ``eval`` runs ``texsynth.stats.scattering1d.ScatteringCovariance1D`` and
``synthesis`` runs ``texsynth.synthesis1d.synthesize_1d`` on ``(N,)`` or ``(B, N)`` signals.
"""

from __future__ import annotations

import inspect
from typing import Any

from ...errors import TexsynthError
from . import scat_cov as _scat_cov
from .scat_cov import scat_cov

__all__ = ["funct", "scat_cov"]

_SIGNATURE = inspect.signature(_scat_cov.funct.__init__)


class funct(_scat_cov.funct):  # noqa: N801 (foscat's name)
    """The 1D scattering-covariance operator (``use_1D=True``)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        try:
            bound = _SIGNATURE.bind_partial(None, *args, **kwargs)
        except TypeError as err:
            raise TexsynthError(f"scat_cov1D.funct: {err}") from None
        options = dict(bound.arguments)
        options.pop("self")
        if options.get("use_2D"):
            raise TexsynthError(
                "scat_cov1D.funct is the 1D operator; use scat_cov2D.funct for images"
            )
        if options.get("use_1D", True) is False:
            raise TexsynthError("scat_cov1D.funct is the 1D operator (use_1D=True)")
        options["use_1D"] = True
        super().__init__(**options)
