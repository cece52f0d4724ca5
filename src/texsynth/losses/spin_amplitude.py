"""The scalar scattering loss of a spin-2 sky's polarised amplitude ``|P| = |Q + i U|``.

The spin-2 scattering statistics (:mod:`texsynth.healpix_spin`) take moduli of wavelet
coefficients of the complex field ``P``; they see how much polarised power sits at each
scale and how the scales couple, but not all of how the amplitude ``|P|`` itself is laid
out: on a toy dust sky (``examples/dust_qu.fits``) syntheses on them match them to 1 % and
the E/B spectra to a few per cent, yet ``|P|`` comes out less sparse at the finest scale
(docs/sphere.md, "The polarised amplitude"). ``|P|`` is a scalar map that does not depend on
the pixels' frames, so the scalar statistics of
:class:`~texsynth.losses.healpix.HealpixScatteringLoss` apply to it as they are; this loss
computes them on ``sqrt(Q² + U² + eps²)`` (``eps`` keeps the gradient finite where
``P = 0``).
"""

from __future__ import annotations

from typing import Any

import torch

from .base import TextureLoss
from .healpix import HealpixScatteringLoss, spin_exemplar

__all__ = ["PolarisedAmplitudeLoss", "polarised_amplitude"]

#: ``eps`` of ``sqrt(Q² + U² + eps²)``, relative to the exemplar's RMS of ``|P|``
EPS = 1e-3


def polarised_amplitude(x: torch.Tensor, eps: float) -> torch.Tensor:
    """``[B, 2, npix]`` ``(Q, U)`` -> ``[B, 1, npix]`` ``sqrt(Q² + U² + eps²)``."""
    return (x.pow(2).sum(-2, keepdim=True) + eps * eps).sqrt()


class PolarisedAmplitudeLoss(TextureLoss):
    """:class:`~texsynth.losses.healpix.HealpixScatteringLoss` of ``|Q + i U|``.

    Parameters
    ----------
    exemplar
        ``[2, npix]`` or ``[B, 2, npix]`` ``(Q, U)``, nested, full sky.
    **options
        Those of the scalar :class:`~texsynth.losses.healpix.HealpixScatteringLoss`
        (``J``, ``L``, ``K``, ``use_variance``, ``angular``, ...), applied to the amplitude.
    """

    ndim = 1

    def __init__(self, exemplar: torch.Tensor, **options: Any) -> None:
        super().__init__()
        ex = spin_exemplar(exemplar)
        self.options = dict(options)
        self.eps = EPS * float(ex.pow(2).sum(1).mean().sqrt())
        self.scalar = HealpixScatteringLoss(polarised_amplitude(ex, self.eps), **options)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Losses ``[B]`` of ``(Q, U)`` skies ``x [B, 2, npix]``."""
        return self.scalar(polarised_amplitude(x, self.eps))

    def at(self, exemplar: torch.Tensor, **overrides: Any) -> PolarisedAmplitudeLoss:
        """The same loss built from another ``(Q, U)`` exemplar."""
        return PolarisedAmplitudeLoss(exemplar, **{**self.options, **overrides})
