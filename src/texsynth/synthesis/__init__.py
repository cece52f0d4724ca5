"""Synthesis: the optimisation engine and its drivers for images, signals and skies.

* :mod:`~texsynth.synthesis.engine` -- L-BFGS on any loss, progress, callbacks, whole-run
  cancellation (:class:`Cancelled`) and the :class:`SynthesisReport`;
* :mod:`~texsynth.synthesis.lbfgs` -- the L-BFGS direction it uses;
* :mod:`~texsynth.synthesis.levels` -- the coarse-to-fine loop every driver shares, and
  :mod:`~texsynth.synthesis.prepare` -- masks in, value transforms undone;
* :mod:`~texsynth.synthesis.images` -- :func:`synthesize` (images and 2-D fields, every
  method; the patch method through :mod:`~texsynth.synthesis.patch_route`), and
  :mod:`~texsynth.synthesis.style_transfer` -- :func:`remake`;
* :mod:`~texsynth.synthesis.signals` -- :func:`synthesize_1d` (1-D signals), with
  :mod:`~texsynth.synthesis.walks` (random walks: detection, increments);
* :mod:`~texsynth.synthesis.sphere` -- :func:`synthesize_healpix` (HEALPix sky maps), on
  the sphere's pyramid (:mod:`~texsynth.synthesis.resampling`);
* :mod:`~texsynth.synthesis.jobs` -- a :class:`~texsynth.io.runs.JobSpec` run and
  recorded (what the command line runs);
* :mod:`~texsynth.synthesis.random_phase` -- :func:`random_phase_texture` (Galerne et al.'s
  random-phase textures, no optimisation).
"""

from __future__ import annotations

from .engine import Callback, Cancel, Cancelled, SynthesisReport, autograd_enabled, optimise
from .images import synthesize
from .random_phase import random_phase_texture
from .signals import SynthesisReport1D, synthesize_1d
from .sphere import synthesize_healpix
from .style_transfer import remake
from .walks import looks_like_random_walk

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
    "synthesize_healpix",
]
