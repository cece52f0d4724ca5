"""Feed-forward texture generators: trained once per exemplar, then one forward pass per sample.

* :class:`SynthHalfUNet2D`: foscat's decoder-only U-Net over frozen wavelet skips of
  pooled noise, periodic (samples tile) and of any size.
* :func:`train_generator` (and foscat's :func:`train_synth_unet`): train it against any
  :class:`~texsynth.TextureLoss`, with checkpoints and resume.
* :func:`generate_samples`: draw textures; :func:`save_generator` / :func:`load_generator`:
  safetensors files with the configuration in their metadata (no pickles).
"""

from __future__ import annotations

from .network import ConvBlock2D, SynthHalfUNet2D
from .sampling import generate_samples
from .serialization import load_generator, read_generator_metadata, save_generator
from .training import TrainingReport, train_generator, train_synth_unet

__all__ = [
    "ConvBlock2D",
    "SynthHalfUNet2D",
    "TrainingReport",
    "generate_samples",
    "load_generator",
    "read_generator_metadata",
    "save_generator",
    "train_generator",
    "train_synth_unet",
]
