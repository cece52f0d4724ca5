"""foscat's ``scat_cov2D`` module over texsynth: the 2D operator ``funct``.

``import foscat.scat_cov2D as sc`` becomes ``import texsynth.compat.foscat.scat_cov2D as
sc``; ``sc.funct(NORIENT=4)`` is :class:`texsynth.compat.foscat.scat_cov.funct` with
``use_2D=True``. Unlike foscat 2026.6.1, ``KERNELSZ`` (default 5, as foscat) and
``use_2D=True`` may be passed: ``funct(NORIENT=4, KERNELSZ=3, use_2D=True)`` works.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ...errors import TexsynthError
from .funct import funct as generic_funct
from .funct import geometry_options
from .statistics import scat_cov

__all__ = ["funct", "scat_cov"]


class funct(generic_funct):  # noqa: N801 (foscat's name)
    """The 2D scattering-covariance operator (``use_2D=True``, default ``KERNELSZ=5``)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        options = geometry_options("use_2D", args, kwargs)
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
