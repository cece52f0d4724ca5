"""foscat-shaped API over texsynth: change only the import lines of a foscat script.

Replace ``foscat`` by ``texsynth.compat.foscat`` in the imports::

    import foscat.scat_cov2D as sc
    from foscat.SynthHalfUNet2D import SynthHalfUNet2D, train_synth_unet, generate_samples

become::

    import texsynth.compat.foscat.scat_cov2D as sc
    from texsynth.compat.foscat.SynthHalfUNet2D import (
        SynthHalfUNet2D, train_synth_unet, generate_samples
    )

Parameters keep foscat's names and meanings; results keep foscat's types and shapes
(``synthesis`` returns NumPy, ``eval`` a :class:`~texsynth.compat.foscat.scat_cov.scat_cov`
object). The numbers come from texsynth's statistics and engine, which differ from foscat
2026.6.1's on purpose where foscat is wrong; ``docs/foscat-compat.md`` lists every
difference. HEALPix maps (foscat's default geometry) run on texsynth's sphere
(:mod:`texsynth.stats.healpix`, :func:`texsynth.synthesis.sphere.synthesize_healpix`).
"""

from __future__ import annotations

from ._common import FoscatCompatWarning

__all__ = ["FoscatCompatWarning"]
