"""Ensembles: hundreds to millions of realisations of one synthesis job, each in its own file,
on a process pool of this machine or a Dask cluster (docs/ensembles.md).

* :func:`ensemble` (:mod:`.runner`): the entry point; :class:`EnsembleResult`.
* :mod:`.template`: output templates ``out/{i:05d}.npy``.
* :mod:`.manifest`: the JSON-lines record of finished members (resume, checksums).
* :mod:`.tasks`: members packed into batched tasks; :func:`~.tasks.run_task`.
* :mod:`.members`: what makes members (a :class:`~texsynth.io.runs.JobSpec` or a trained
  generator, :class:`ModelSpec`) and writes their files.
* :mod:`.backends`: ``local``, ``dask``, ``serial``, and the seam a SLURM backend plugs into.
* :mod:`.summary`, :mod:`.picture`: the members' statistics against the exemplar's.
"""

from __future__ import annotations

from .members import ModelSpec
from .runner import EnsembleResult, ensemble

__all__ = ["EnsembleResult", "ModelSpec", "ensemble"]
