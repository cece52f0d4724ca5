"""Domains: everything that knows where the data lives.

A domain owns the operations that depend on the geometry of the samples and on nothing
else: Fourier transforms and Fourier cropping (the pyramid of grids on which the wavelet
scales are computed), weighted means, erosion of masks, filling of masked samples, reflect
padding of non-periodic data and the largest number of dyadic scales a size supports. The
statistics (:mod:`texsynth.stats`) are written once against this interface, so 1-D signals
and 2-D images share one implementation (as torch's ``Conv1d`` and ``Conv2d`` share one
core), and a new domain (the HEALPix sphere) is one more class.

* :class:`PeriodicGrid` -- periodic regular grids of one or two axes (signals, images).
"""

from __future__ import annotations

from .grid import PeriodicGrid, fast_length, max_scales

__all__ = ["PeriodicGrid", "fast_length", "max_scales"]
