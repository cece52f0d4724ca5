"""``python -m texsynth``: the ``texsynth`` command (also what ``torchrun -m texsynth``
starts in every process)."""

import sys

from .cli import main

if __name__ == "__main__":  # pragma: no cover (run as a module)
    sys.exit(main())
