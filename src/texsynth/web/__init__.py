"""``texsynth serve``: a web page for people who do not use a terminal.

* :mod:`~texsynth.web.uploads` -- uploads checked before decoding (size, pixel count,
  decompression bombs, formats);
* :mod:`~texsynth.web.jobs` -- the job queue (fixed workers, queue positions, unguessable
  ids, cancellation);
* :mod:`~texsynth.web.store` -- the results under ``--data`` (size cap, expiry);
* :mod:`~texsynth.web.runner` -- running a job and writing its textures and record;
* :mod:`~texsynth.web.server` -- the FastAPI app: the JSON API, server-sent progress
  events and the page (``static/``: plain HTML, CSS and JavaScript, no CDN).

Needs the ``web`` extra: ``pip install 'texsynth[web]'``.
"""

from __future__ import annotations

from .config import WebConfig

__all__ = ["WebConfig"]
