"""The FastAPI app of ``texsynth serve``: the page, the JSON API and the progress events.

API (documented in ``docs/web.md``):

* ``GET /api/info`` -- methods (one line each), limits, trained generators;
* ``POST /api/jobs`` -- submit (multipart: ``image``, optional ``mask``, ``size``, ``n``,
  ``method``, ``seed``, ``tile``, ``quality``) -> ``202`` and the job's status;
* ``GET /api/jobs/{id}`` -- status (state, queue position, progress, outputs, error);
* ``GET /api/jobs/{id}/events`` -- the same status as server-sent events, on every change;
* ``GET /api/jobs/{id}/preview.png`` -- the texture as it forms;
* ``GET /api/jobs/{id}/files/{name}`` -- an output (PNG, 16-bit PNG, ``.npy``), the
  record (``record.json``) or an input; ``GET /api/jobs/{id}/zip`` -- all of them;
* ``POST /api/jobs/{id}/cancel`` -- stop a queued or running job;
* ``POST /api/generators/{name}/sample`` -- draw textures from a trained generator at once.

Every error is a JSON ``{"error": "one line"}`` with a 4xx status (5xx only for a server
fault, never with a traceback); a crashed job is reported as ``failed``.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import logging
import re
import time
import zipfile
from collections.abc import AsyncIterator
from importlib import resources
from pathlib import Path
from typing import Any

from fastapi import FastAPI, File, Form, Request, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response, StreamingResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from ..errors import TexsynthError
from ..features import vgg_available
from ..io.runs import JobSpec
from ..methods import METHODS
from ..presets import QUALITY_PRESETS
from .config import WebConfig
from .jobs import FINAL_STATES, Job, JobQueue, QueueFull, new_job_id
from .runner import run_synthesis, sample_generator
from .store import ResultStore
from .uploads import UploadError, check_upload, save_upload

__all__ = ["create_app", "method_choices"]

log = logging.getLogger(__name__)

_STATIC = {
    "index.html": "text/html; charset=utf-8",
    "app.js": "text/javascript; charset=utf-8",
    "style.css": "text/css; charset=utf-8",
}
_GENERATOR_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,100}\.safetensors")
_FILE_NAME = re.compile(r"[A-Za-z0-9_.-]{1,80}")
_NO_STORE = {"Cache-Control": "no-store"}

#: seconds between two events of a running job at most
HEARTBEAT_S = 0.5


def method_choices() -> list[dict[str, str]]:
    """The methods the page offers: ``auto`` first, then ``patch``, then each descriptor
    of :data:`texsynth.methods.METHODS` that can run here (the VGG19 ones only with
    weights; ``spectrum`` only as an addition, so not alone)."""
    rows = [
        {
            "name": "auto",
            "summary": "recommended: patch for photos, scattering for fields (16-bit or float)",
        },
        {
            "name": "patch",
            "summary": "copies and stitches exemplar patches (Kwatra et al. 2005); fast, keeps "
            "edges and whole objects",
        },
    ]
    vgg = vgg_available()
    for m in METHODS.values():
        if m.name == "spectrum" or (m.network == "vgg19" and not vgg):
            continue
        rows.append({"name": m.name, "summary": m.summary})
    return rows


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status, headers=_NO_STORE)


def _static(name: str) -> bytes:
    return resources.files("texsynth.web").joinpath("static").joinpath(name).read_bytes()


def create_app(config: WebConfig) -> FastAPI:
    """The app, with its job queue and result store under ``config.data``."""
    store = ResultStore(Path(config.data), config.max_result_bytes, config.expiry_s)
    generators_dir = Path(config.data) / "generators"
    page = {name: _static(name) for name in _STATIC}

    def on_finish(job: Job) -> None:
        active = {j.id for j in list(queue.jobs.values()) if not j.final}
        for gone in store.sweep(active):
            j = queue.get(gone)
            if j is not None:
                queue.forget(j)

    queue = JobQueue(config.workers, config.max_waiting, on_finish)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        queue.close()

    app = FastAPI(
        title="texsynth", docs_url=None, redoc_url=None, openapi_url=None, lifespan=lifespan
    )
    app.state.queue = queue
    app.state.config = config
    store.sweep(set())

    @app.exception_handler(TexsynthError)
    async def _texsynth_error(request: Request, exc: TexsynthError) -> JSONResponse:
        return _error(getattr(exc, "status", 400), str(exc))

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        parts = []
        for e in exc.errors()[:3]:
            where = ".".join(str(x) for x in e.get("loc", ())[1:]) or "request"
            parts.append(f"{where}: {e.get('msg', 'invalid')}")
        return _error(422, "; ".join(parts) or "malformed request")

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return _error(exc.status_code, str(exc.detail))

    @app.exception_handler(Exception)
    async def _crash(request: Request, exc: Exception) -> JSONResponse:
        log.exception("request %s failed", request.url.path)
        return _error(500, "the server could not answer this request (see its log)")

    @app.get("/")
    def index() -> Response:
        return Response(page["index.html"], media_type=_STATIC["index.html"])

    @app.get("/static/{name}")
    def static(name: str) -> Response:
        if name not in page:
            return _error(404, "no such file")
        return Response(page[name], media_type=_STATIC[name])

    @app.get("/api/info")
    def info() -> dict[str, Any]:
        return {
            "methods": method_choices(),
            "qualities": list(QUALITY_PRESETS),
            "limits": {
                "max_upload_mb": config.max_upload_mb,
                "max_pixels": config.max_pixels,
                "max_size": config.max_size,
                "max_n": config.max_n,
            },
            "generators": _generators(generators_dir),
        }

    def job_or_404(job_id: str) -> Job:
        job = queue.get(job_id)
        if job is None:
            raise UploadError("no such job (finished jobs expire)", status=404)
        return job

    @app.post("/api/jobs", status_code=202)
    async def submit(
        image: UploadFile = File(...),  # noqa: B008 (FastAPI's declaration style)
        mask: UploadFile | None = File(None),  # noqa: B008
        size: int = Form(256),
        n: int = Form(1),
        method: str = Form("auto"),
        seed: int | None = Form(None),
        tile: bool = Form(True),
        quality: str = Form("fast"),
    ) -> JSONResponse:
        if not 8 <= size <= config.max_size:
            raise UploadError(f"size must be between 8 and {config.max_size}, got {size}")
        if not 1 <= n <= config.max_n:
            raise UploadError(f"variations must be between 1 and {config.max_n}, got {n}")
        names = {m["name"] for m in method_choices()}
        if method not in names:
            raise UploadError(f"unknown method {method[:40]!r}; choose one of the list")
        if quality not in QUALITY_PRESETS:
            raise UploadError(f"quality must be one of {', '.join(QUALITY_PRESETS)}")
        if seed is not None and not 0 <= seed < 2**63:
            raise UploadError("seed must be a whole number from 0 to 2**63 - 1")
        limits = dict(max_bytes=config.max_upload_bytes, max_pixels=config.max_pixels)
        up = check_upload(await _read(image, config.max_upload_bytes), what="image", **limits)
        up_mask = None
        if mask is not None and mask.filename:
            up_mask = check_upload(
                await _read(mask, config.max_upload_bytes), what="mask", **limits
            )
            if (up_mask.width, up_mask.height) != (up.width, up.height):
                raise UploadError(
                    f"the mask is {up_mask.width}x{up_mask.height} pixels but the image is "
                    f"{up.width}x{up.height}; draw or upload a mask of the image's size"
                )
        if queue.waiting() >= config.max_waiting:
            raise QueueFull(f"{config.max_waiting} jobs are already waiting; try again soon")
        job_id = new_job_id()
        folder = store.folder(job_id)
        inputs = {"input": save_upload(up, folder, "input").name}
        options: dict[str, Any] = {"method": method, "n": n, "quality": quality}
        if up_mask is not None:
            inputs["mask"] = save_upload(up_mask, folder, "mask", grey=True).name
        else:
            options.update(size=size, tile=tile)
        spec = JobSpec("synth", "image", inputs, options, seed)
        job = Job(job_id, folder, "synth", lambda j: run_synthesis(j, spec))
        queue.submit(job)
        return JSONResponse(job.snapshot(), status_code=202, headers=_NO_STORE)

    @app.get("/api/jobs/{job_id}")
    def status(job_id: str) -> JSONResponse:
        return JSONResponse(job_or_404(job_id).snapshot(), headers=_NO_STORE)

    @app.get("/api/jobs/{job_id}/events")
    async def events(job_id: str, request: Request) -> StreamingResponse:
        job = job_or_404(job_id)

        async def stream() -> AsyncIterator[str]:
            seen = -1
            sent = time.monotonic()
            while True:
                idle = time.monotonic() - sent
                # on every change, and twice a second while running (the time left ticks
                # down between two iterations of a slow level)
                tick = job.state == "running" and idle >= HEARTBEAT_S
                if job.version != seen or tick:
                    seen = job.version
                    sent = time.monotonic()
                    snap = job.snapshot()
                    yield f"data: {json.dumps(snap)}\n\n"
                    if snap["state"] in FINAL_STATES:
                        return
                elif idle >= 15.0:  # a comment keeps proxies from closing the stream
                    sent = time.monotonic()
                    yield ": keep-alive\n\n"
                if await request.is_disconnected():
                    return
                await asyncio.sleep(0.05)

        headers = {**_NO_STORE, "X-Accel-Buffering": "no"}
        return StreamingResponse(stream(), media_type="text/event-stream", headers=headers)

    @app.get("/api/jobs/{job_id}/preview.png")
    def preview(job_id: str) -> Response:
        job = job_or_404(job_id)
        if job.preview is None:
            return _error(404, "no preview yet")
        return Response(job.preview, media_type="image/png", headers=_NO_STORE)

    @app.get("/api/jobs/{job_id}/files/{name}")
    def file(job_id: str, name: str) -> Response:
        job = job_or_404(job_id)
        path = job.files.get(name) if _FILE_NAME.fullmatch(name) else None
        if path is None or not path.is_file():
            return _error(404, "no such file for this job")
        kind = {".png": "image/png", ".json": "application/json"}.get(
            path.suffix, "application/octet-stream"
        )
        return Response(
            path.read_bytes(),
            media_type=kind,
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )

    @app.get("/api/jobs/{job_id}/zip")
    def zip_all(job_id: str) -> Response:
        job = job_or_404(job_id)
        if job.state != "done":
            return _error(409, f"the job is {job.state}; its files come when it is done")
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
            for name, path in sorted(job.files.items()):
                if path.is_file():
                    z.write(path, name)
        return Response(
            buf.getvalue(),
            media_type="application/zip",
            headers={"Content-Disposition": 'attachment; filename="texsynth.zip"'},
        )

    @app.post("/api/jobs/{job_id}/cancel")
    def cancel(job_id: str) -> JSONResponse:
        job = job_or_404(job_id)
        queue.cancel(job)
        return JSONResponse(job.snapshot(), headers=_NO_STORE)

    @app.post("/api/generators/{name}/sample")
    def sample(
        name: str,
        size: int | None = Form(None),
        n: int = Form(1),
        seed: int | None = Form(None),
    ) -> JSONResponse:
        if not _GENERATOR_NAME.fullmatch(name) or name not in {
            g["name"] for g in _generators(generators_dir)
        }:
            raise UploadError("no such generator", status=404)
        if size is not None and not 8 <= size <= config.max_size:
            raise UploadError(f"size must be between 8 and {config.max_size}, got {size}")
        if not 1 <= n <= config.max_n:
            raise UploadError(f"variations must be between 1 and {config.max_n}, got {n}")
        job_id = new_job_id()
        job = Job(job_id, store.folder(job_id), "sample", lambda j: None, state="running")
        sample_generator(
            job, generators_dir / name, None if size is None else (size, size), n, seed
        )
        job.state = "done"
        job.progress = {"fraction": 1.0}
        job.touch()
        queue.add_done(job)
        return JSONResponse(job.snapshot(), headers=_NO_STORE)

    return app


async def _read(upload: UploadFile, max_bytes: int) -> bytes:
    """An upload's bytes, reading at most one byte past the limit."""
    return await upload.read(max_bytes + 1)


def _generators(folder: Path) -> list[dict[str, Any]]:
    """The trained generators (``.safetensors`` files) in ``folder``, with their sizes."""
    from ..generators import read_generator_metadata

    if not folder.is_dir():
        return []
    rows = []
    for path in sorted(folder.glob("*.safetensors")):
        if not _GENERATOR_NAME.fullmatch(path.name):
            continue
        try:
            info = read_generator_metadata(path)["metadata"]
        except TexsynthError:
            continue
        rows.append({"name": path.name, "size_hw": info.get("exemplar_size_hw", [256, 256])})
    return rows
