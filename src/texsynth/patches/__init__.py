"""Weight-free, non-parametric patch synthesis for structured textures.

Texture optimisation in the line of Kwatra et al. 2005 ("Texture optimization for
example-based synthesis"): coarse to fine over a box pyramid, alternate a nearest-patch
search for output patches on a strided grid with a vote that averages the chosen exemplar
patches. The search is a vectorised PatchMatch (Barnes et al. 2009; coherent candidates as in
Ashikhmin 2001): propagation from grid neighbours, random search at halving radii and a few
global random candidates, all evaluated in parallel. Its cost adds

* an occurrence penalty (Kaspar et al. 2015, "Self-tuning texture optimization"): exemplar
  pixels covered more than their fair share make the patches over them dearer, so the output
  draws on the whole exemplar instead of repeating one region;
* a coherence limit: a patch may not use (nearly) the same source offset as the grid patches a
  fixed distance away, which bounds the size of any region copied verbatim from the exemplar.

The last pass copies, for each output pixel, the exemplar pixel that most of the patches over
it agree on (weighted towards patch centres; no averaging), so the output is a patchwork of
whole coherent pieces and is not blurred; each channel is then moved half-way to the
exemplar's value distribution (histogram specification, as Kaspar et al. 2015 do), which
corrects the colour balance that the occurrence penalty leaves skewed. On an exemplar with a
regular lattice (tiles, grids), every source offset is held to one phase of the lattice, so
pieces are only ever placed where the lattice repeats.

Modules: ``grid`` (patch grid, extraction, voting), ``levels`` (pyramid features, exemplar
patches), ``lattice`` (periods and phase), ``patchmatch`` (the search), ``stitch``,
``histogram``, ``optimisation`` (one output, coarse to fine) and ``driver``
(:func:`synthesize_patches`).
"""

from .driver import synthesize_patches
from .histogram import match_histogram
from .lattice import lattice_periods

__all__ = ["lattice_periods", "match_histogram", "synthesize_patches"]
