"""Normalisation of scattering-covariance statistics by a reference power spectrum.

The moments of Cheng, Morel, Allys, Menard and Mallat ("Scattering spectra models for
physics", PNAS Nexus 2024) are compared after division by the reference S2 (the ``norm``
option of :class:`~texsynth.stats.ScatteringCovariance`, as ``foscat``'s): S1 by
``sqrt(S2)``, S2 by S2, S3 by ``sqrt(S2_j2 S2_j3)``, S4 by ``sqrt(S2_j1 S2_j2)``, so that
every coefficient is dimensionless.
"""

from __future__ import annotations

import functools

import torch

from .scatcov import ScatCov, s3_index, s4_index

__all__ = ["NORMS", "apply_norm"]

NORMS = (None, "auto", "self")
"""Accepted values of ``norm``."""


@functools.cache
def _scale_indices(J: int) -> tuple[torch.Tensor, torch.Tensor]:
    """:func:`s3_index` and :func:`s4_index` as tensors (built once per ``J``)."""
    return torch.tensor(s3_index(J)), torch.tensor(s4_index(J))


def apply_norm(s: ScatCov, scale: tuple[torch.Tensor, torch.Tensor]) -> ScatCov:
    """Divide S1..S4 by the normalisation factors built from reference S2 ``(P1, P2)``
    (``[B|1, C, J, L]`` each, of the two inputs of cross statistics)."""
    p1, p2 = scale
    J = s.J
    i3, i4 = (t.to(p1.device) for t in _scale_indices(J))  # (j2, j3) and (j1, j2, j3)
    g = (p1 * p2).sqrt()
    S1 = s.S1 / g.sqrt()
    S2 = s.S2 / g
    # S3[l2, l3] = <c1_j3,l3 conj(|c2_j2,l2| * psi)>: sqrt(P2[j2, l2] P1[j3, l3])
    f3 = (p2[:, :, i3[:, 0], :, None] * p1[:, :, i3[:, 1], None, :]).sqrt()
    S3 = s.S3 / f3
    S3P = None
    if s.S3P is not None:
        S3P = s.S3P / (p1[:, :, i3[:, 0], :, None] * p2[:, :, i3[:, 1], None, :]).sqrt()
    # S4[l1, l2, l3]: sqrt(P1[j1, l1] P2[j2, l2])
    f4 = (p1[:, :, i4[:, 0], :, None, None] * p2[:, :, i4[:, 1], None, :, None]).sqrt()
    S4 = s.S4 / f4
    return ScatCov(S0=s.S0, S1=S1, S2=S2, S3=S3, S4=S4, S3P=S3P, J=J, L=s.L)
