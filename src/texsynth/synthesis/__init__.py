"""Synthesis: the optimisation engine and its drivers for images and signals.

* :mod:`~texsynth.synthesis.engine` -- L-BFGS on any loss, progress, callbacks, whole-run
  cancellation (:class:`Cancelled`) and the :class:`SynthesisReport`;
* :mod:`~texsynth.synthesis.lbfgs` -- the L-BFGS direction it uses;
* :mod:`~texsynth.synthesis.images` -- :func:`synthesize` and :func:`remake` (images and
  2-D fields, every method);
* :mod:`~texsynth.synthesis.signals` -- :func:`synthesize_1d` (1-D signals);
* :mod:`~texsynth.synthesis.random_phase` -- :func:`random_phase_texture` (Galerne et al.'s
  random-phase textures, no optimisation).
"""

from __future__ import annotations

from .engine import Callback, Cancel, Cancelled, SynthesisReport, autograd_enabled, optimise
from .images import remake, synthesize
from .random_phase import random_phase_texture
from .signals import SynthesisReport1D, looks_like_random_walk, synthesize_1d

__all__ = [
    "Callback",
    "Cancel",
    "Cancelled",
    "SynthesisReport",
    "SynthesisReport1D",
    "autograd_enabled",
    "looks_like_random_walk",
    "optimise",
    "random_phase_texture",
    "remake",
    "synthesize",
    "synthesize_1d",
]
