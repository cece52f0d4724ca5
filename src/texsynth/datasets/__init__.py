"""Image collections and patch samplers for networks trained on a user's own photos.

* :class:`ImageCollection` -- the images of one or more folders (searched recursively),
  read once, checked (readable, not smaller than the patch), summarised and split into
  training and held-out images;
* :class:`PatchSampler` -- seeded random crops with flips and quarter turns, a pure function
  of ``(seed, step)`` so that a resumed training run sees exactly the batches it would have;
* :class:`PairSampler` -- a crop and the crop twice its size around it (input and target of
  a texture *expander*, which learns to grow a patch into its surroundings).

Used by :mod:`texsynth.features.training` (the learned feature networks) and
:mod:`texsynth.expander.trainer` (the universal expander).
"""

from .collection import IMAGE_SUFFIXES, ImageCollection
from .samplers import PairSampler, PatchSampler

__all__ = ["IMAGE_SUFFIXES", "ImageCollection", "PairSampler", "PatchSampler"]
