"""Minkowski functionals of excursion sets of fields on a pixel grid.

For a threshold ``nu`` (in units of the field's standard deviation), the excursion set is
the set of pixels with ``u >= nu``. Its three Minkowski functionals in two dimensions
(Mecke, Buchert and Wagner 1994; Schmalzing and Gorski 1998, "Minkowski functionals used in
the morphological analysis of cosmic microwave background anisotropy maps") are, per unit
area:

* ``V0`` the area fraction;
* ``V1`` a quarter of the boundary length, estimated with Crofton's formula from the
  number of 4-neighbour pixel pairs that straddle the threshold (a curve of length ``s``
  crosses the rows and columns of a unit grid ``4 s / pi`` times on average);
* ``V2`` the Euler characteristic (components minus holes), counted exactly on the
  excursion set as a cubical complex: pixels as vertices, 4-neighbour pairs as edges, 2x2
  blocks as faces, ``chi = V - E + F`` (Gray 1971).

For a Gaussian random field, ``V0(nu) = erfc(nu / sqrt 2) / 2``, ``V1(nu)`` is proportional
to ``exp(-nu**2 / 2)`` and ``V2(nu)`` to ``nu exp(-nu**2 / 2)`` (Tomita 1986); departures
from these shapes are the classic test of non-Gaussianity. In a bounded window (a HEALPix
base face) the Euler characteristic also counts excursions cut by the window's edge: the
Gaussian kinematic formula (Adler and Taylor 2007) then adds a term proportional to
``exp(-nu**2 / 2)`` (edges) and one to ``V0`` (corners), the same for any field compared in
the same windows.
"""

from __future__ import annotations

import math

import torch

__all__ = ["gaussian_v0", "minkowski_functionals"]


def minkowski_functionals(x: torch.Tensor, nu: torch.Tensor) -> torch.Tensor:
    """``V0``, ``V1``, ``V2`` of the excursion sets ``x >= nu`` of images ``x [..., H, W]``
    (values already in units of sigma), per pixel of area.

    Parameters
    ----------
    x
        Fields ``[..., H, W]`` (a non-periodic window: excursions cut by its edge count as
        they are seen).
    nu
        Thresholds ``[T]``.

    Returns
    -------
    torch.Tensor
        ``[..., 3, T]`` float64: area fraction, boundary length / 4 (pixel units, Crofton
        estimate), Euler characteristic, each divided by the number of pixels ``H W``.
    """
    area = x.shape[-1] * x.shape[-2]
    out = []
    for t in nu.tolist():
        a = x >= t
        right = a[..., :, 1:], a[..., :, :-1]
        down = a[..., 1:, :], a[..., :-1, :]
        vertices = a.sum((-2, -1))
        edges = (right[0] & right[1]).sum((-2, -1)) + (down[0] & down[1]).sum((-2, -1))
        squares = (a[..., 1:, 1:] & a[..., 1:, :-1] & a[..., :-1, 1:] & a[..., :-1, :-1]).sum(
            (-2, -1)
        )
        crossings = (right[0] ^ right[1]).sum((-2, -1)) + (down[0] ^ down[1]).sum((-2, -1))
        v0 = vertices.double()
        v1 = crossings.double() * (math.pi / 16.0)
        v2 = (vertices - edges + squares).double()
        out.append(torch.stack([v0, v1, v2], -1) / area)
    return torch.stack(out, -1)


def gaussian_v0(nu: torch.Tensor) -> torch.Tensor:
    """The area fraction of a Gaussian field above ``nu`` sigma: ``erfc(nu / sqrt 2) / 2``."""
    return torch.special.erfc(nu.double() / math.sqrt(2.0)) / 2
