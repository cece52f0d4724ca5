"""A universal texture expander (issue 19; Liu et al. 2020, "Transposer"), work in progress.

* :mod:`texsynth.expander.protocol`: the evaluation protocol (input = centre crop of a real
  2x crop; SSIM over the whole output and over the generated border) and the naive baselines.
* :mod:`texsynth.expander.procedural`: randomised, seeded procedural training textures.
* :mod:`texsynth.expander.selfsim`: self-similarity maps and feature-filter transposed
  convolutions by FFT.
* :mod:`texsynth.expander.model`: the network, its configuration and its safetensors files.
* :mod:`texsynth.expander.training`: the seed's losses and a training loop.

See ``docs/expander.md`` for what is measured and what is missing.
"""
