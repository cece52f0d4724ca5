"""Ensembles: hundreds to millions of realisations of one synthesis job, each in its own file,
on a process pool of this machine, a Dask cluster or SLURM job arrays (docs/ensembles.md).

* :func:`ensemble` (:mod:`.runner`): the entry point; :class:`EnsembleResult`
  (:mod:`.result`).
* :mod:`.checks`: argument checks; :mod:`.identity`: what the manifest's header records.
* :mod:`.execute`: the run loop (tasks out, outcomes in, retries, cancellation).
* :mod:`.template`: output templates ``out/{i:05d}.npy``.
* :mod:`.manifest`: the JSON-lines record of finished members (resume, checksums).
* :mod:`.tasks`: members packed into batched tasks; :func:`~.tasks.run_task`.
* :mod:`.members`: what makes members (a :class:`~texsynth.io.runs.JobSpec` or a trained
  generator, :class:`ModelSpec`) and writes their files.
* :mod:`.backends`: ``local``, ``dask``, ``slurm``, ``serial``, and the seam they share.
* :mod:`.summary`, :mod:`.picture`: the members' statistics against the exemplar's.
"""

from __future__ import annotations

from .members import ModelSpec
from .runner import EnsembleResult, ensemble

__all__ = ["EnsembleResult", "ModelSpec", "ensemble"]
