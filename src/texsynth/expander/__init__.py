"""A universal texture expander (issue 19; Liu et al. 2020, "Transposer").

* :mod:`texsynth.expander.protocol`: the evaluation protocol (input = centre crop of a real
  2x crop; SSIM over the whole output and over the generated border) and the naive baselines.
* :mod:`texsynth.expander.procedural`: randomised, seeded procedural training textures.
* :mod:`texsynth.expander.selfsim`: self-similarity maps and feature-filter transposed
  convolutions by FFT.
* :mod:`texsynth.expander.selection`: the selection head (a hard per-block choice among
  shifted copies of the input).
* :mod:`texsynth.expander.model`: the network, its configuration and its safetensors files.
* :mod:`texsynth.expander.training`: the seed's losses and a training loop.
* :mod:`texsynth.expander.distribution_losses`: the Fréchet distance, a patch
  discriminator and the correspondence loss, on the border (beyond the seed's losses).
* :mod:`texsynth.expander.trainer`: training on image folders and procedural textures with
  checkpoints, exact resume and ``torchrun`` (``texsynth train-expander``).
* :mod:`texsynth.expander.expansion`: :func:`expand`, one image enlarged 2x or 4x by a
  trained network (``texsynth expand``), and :func:`default_model_path`.

See ``docs/expander.md`` for what is measured and what is missing.
"""

from .expansion import default_model_path, expand

__all__ = ["default_model_path", "expand"]
