"""Fixtures of the web tests: a small exemplar as file bytes, and a server (the FastAPI
test client) on a temporary data folder."""

from __future__ import annotations

import io
import json
import time
import warnings
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from texsynth.web import WebConfig

#: why the web tests cannot run here ("" if they can)
MISSING = ""
try:
    with warnings.catch_warnings():  # newer starlette asks for httpx2; httpx works the same
        warnings.simplefilter("ignore")
        import multipart  # noqa: F401
        from fastapi.testclient import TestClient

        from texsynth.web.server import create_app
except ImportError as exc:  # pragma: no cover - the test extra installs them
    MISSING = f"the web extra is not installed ({exc.name}): pip install -e '.[test]'"

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def png(arr: np.ndarray) -> bytes:
    """``arr`` (uint8 or uint16, H x W (x C)) as PNG bytes."""
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="PNG")
    return buf.getvalue()


def exemplar_png(side: int = 32) -> bytes:
    """A ``side``-pixel crop of the pebbles example, as PNG bytes."""
    arr = np.asarray(Image.open(EXAMPLES / "pebbles.png").convert("RGB"))
    return png(np.ascontiguousarray(arr[:side, :side]))


def events(client: TestClient, job_id: str) -> list[dict]:
    """Every server-sent event of a job, until it ends."""
    out = []
    with client.stream("GET", f"/api/jobs/{job_id}/events") as stream:
        for line in stream.iter_lines():
            if line.startswith("data: "):
                out.append(json.loads(line[6:]))
    return out


def wait_for(client: TestClient, job_id: str, check, timeout: float = 60.0) -> dict:  # noqa: ANN001
    """Poll a job's status until ``check(status)`` holds (fails after ``timeout`` s)."""
    end = time.monotonic() + timeout
    while True:
        st = client.get(f"/api/jobs/{job_id}").json()
        if check(st):
            return st
        assert time.monotonic() < end, f"timed out waiting; last status {st}"
        time.sleep(0.02)


@pytest.fixture()
def make_client(tmp_path: Path) -> Iterator:
    """``make_client(**config)`` -> a test client of a fresh server on ``tmp_path``."""
    if MISSING:
        pytest.skip(MISSING)
    clients = []

    def make(**kw: object) -> TestClient:
        app = create_app(WebConfig(tmp_path / f"data{len(clients)}", **kw))  # type: ignore[arg-type]
        c = TestClient(app)
        c.__enter__()
        clients.append(c)
        return c

    yield make
    for c in clients:
        c.__exit__(None, None, None)


@pytest.fixture()
def client(make_client) -> TestClient:  # noqa: ANN001
    """A server with default settings."""
    return make_client()
