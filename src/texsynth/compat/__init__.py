"""APIs shaped like other libraries', running on texsynth.

* :mod:`texsynth.compat.foscat`: foscat's ``scat_cov`` / ``scat_cov2D`` / ``scat_cov1D`` /
  ``SynthHalfUNet2D`` modules (see ``docs/foscat-compat.md``).
"""
