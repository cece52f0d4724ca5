"""A live ``texsynth serve`` (uvicorn in a thread) and headless Chromium driven by
Playwright, for the end-to-end tests and the web benchmark.

Playwright drives Debian's ``chromium`` through its executable path (no browser
download); the tests skip with the reason when it is missing.
"""

from __future__ import annotations

import shutil
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import uvicorn

from texsynth.web import WebConfig
from texsynth.web.server import create_app

__all__ = ["CHROMIUM", "live_server"]


def _find_chromium() -> str | None:
    for name in ("chromium", "chromium-browser"):
        path = shutil.which(name)
        if path:
            return path
    return None


#: Debian's chromium, or None
CHROMIUM = _find_chromium()


@contextmanager
def live_server(data: Path, **config: object) -> Iterator[str]:
    """Serve a fresh app on a free localhost port; yields its base URL."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    app = create_app(WebConfig(data, **config))  # type: ignore[arg-type]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    end = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > end or not thread.is_alive():
            raise RuntimeError("the test server did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
