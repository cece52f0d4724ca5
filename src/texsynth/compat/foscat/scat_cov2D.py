"""foscat's ``scat_cov2D`` module over texsynth: the 2D operator ``funct``.

``import foscat.scat_cov2D as sc`` becomes ``import texsynth.compat.foscat.scat_cov2D as
sc``; ``sc.funct(NORIENT=4)`` is :class:`texsynth.compat.foscat.scat_cov.funct` with
``use_2D=True``. Unlike foscat 2026.6.1, ``KERNELSZ`` (default 5, as foscat) and
``use_2D=True`` may be passed: ``funct(NORIENT=4, KERNELSZ=3, use_2D=True)`` works.
"""

from __future__ import annotations

import inspect
from typing import Any

import numpy as np

from ...errors import TexsynthError
from . import scat_cov as _scat_cov
from .scat_cov import scat_cov

__all__ = ["funct", "scat_cov"]

_SIGNATURE = inspect.signature(_scat_cov.funct.__init__)


class funct(_scat_cov.funct):  # noqa: N801 (foscat's name)
    """The 2D scattering-covariance operator (``use_2D=True``, default ``KERNELSZ=5``)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        try:
            bound = _SIGNATURE.bind_partial(None, *args, **kwargs)
        except TypeError as err:
            raise TexsynthError(f"scat_cov2D.funct: {err}") from None
        options = dict(bound.arguments)
        options.pop("self")
        if options.get("use_1D"):
            raise TexsynthError(
                "scat_cov2D.funct is the 2D operator; use scat_cov1D.funct for 1D signals"
            )
        if options.get("use_2D", True) is False:
            raise TexsynthError(
                "scat_cov2D.funct is the 2D operator (use_2D=True); use scat_cov.funct for "
                "other geometries"
            )
        options["use_2D"] = True
        options.setdefault("KERNELSZ", 5)
        super().__init__(**options)

    def spectrum(self, image: Any) -> np.ndarray:
        """Radially averaged power spectrum of a 2D image (as foscat), index = integer radius."""
        a = np.asarray(image, dtype=np.float64)
        if a.ndim != 2:
            raise TexsynthError(f"spectrum expects an (H, W) image, got shape {a.shape}")
        power = np.abs(np.fft.fftshift(np.fft.fft2(a))) ** 2
        y, x = np.indices(power.shape)
        cy, cx = np.array(power.shape) // 2
        r = np.sqrt((x - cx) ** 2 + (y - cy) ** 2).astype(int)
        sums = np.bincount(r.ravel(), weights=power.ravel())
        counts = np.bincount(r.ravel())
        return sums / np.maximum(counts, 1)
