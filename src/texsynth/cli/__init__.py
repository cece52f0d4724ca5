"""The ``texsynth`` command line, one module per command group.

* :mod:`~texsynth.cli.main` -- the parser and :func:`main` (the ``texsynth`` entry point);
* :mod:`~texsynth.cli.common` -- argument types, shared options, output checks, records;
* :mod:`~texsynth.cli.synth` -- ``synth``, ``remake``, ``methods``;
* :mod:`~texsynth.cli.analysis` -- ``stats``, ``eval``;
* :mod:`~texsynth.cli.signals` -- the same commands for 1-D signals;
* :mod:`~texsynth.cli.generators` -- ``train``, ``sample``.

Each command parses its arguments and calls the public API; nothing here computes.
"""

from __future__ import annotations

from .main import main

__all__ = ["main"]
