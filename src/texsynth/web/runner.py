"""What a worker does with a job: read its inputs, run it through
:func:`texsynth.synthesis.jobs.run_job` (progress and cancellation for every method), and
write its textures and run record into the job's folder; or draw samples from a trained
generator.

Each texture is written as an 8-bit PNG; a field (16-bit or float input) also as a 16-bit
PNG and a float32 ``.npy`` in its own units. The record (:class:`texsynth.io.runs.RunRecord`)
names the inputs and outputs relative to the job's folder, so that the zip of a job
reproduces it: unpack it and run ``texsynth.synthesis.jobs.rerun("record.json")`` there.
"""

from __future__ import annotations

import contextlib
import io
import json
import re
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import torch

from ..atomic import atomic_text_write
from ..io import ImageMeta, read_image, write_image
from ..io.outputs import write_outputs
from ..io.runs import JobSpec, record_header
from ..progress import Progress
from ..seeds import fresh_seed, member_seeds
from ..synthesis.jobs import prepare_arrays, run_job
from .jobs import Job

__all__ = ["PREVIEW_EVERY_S", "png_bytes", "run_synthesis", "sample_generator", "write_textures"]

#: seconds between two previews of the forming texture (progress itself is sent at
#: every iteration, at most ten times a second)
PREVIEW_EVERY_S = 0.4
_PROGRESS_EVERY_S = 0.1


def png_bytes(image: torch.Tensor, meta: ImageMeta | None = None, max_side: int = 256) -> bytes:
    """An 8-bit PNG of ``image [C, H, W]`` for the page (float fields mapped from their
    range), at most ``max_side`` pixels on a side."""
    from PIL import Image

    x = image.detach().float().cpu()
    if meta is None or not meta.scaled:
        lo, hi = float(x.min()), float(x.max())
        x = (x - lo) / (hi - lo if hi > lo else 1.0)
    arr = (x.clamp(0, 1) * 255 + 0.5).to(torch.uint8).permute(1, 2, 0).numpy()
    im = Image.fromarray(arr[..., 0] if arr.shape[2] == 1 else arr)
    if max(im.size) > max_side:
        im.thumbnail((max_side, max_side))
    buf = io.BytesIO()
    im.save(buf, format="PNG")
    return buf.getvalue()


def is_field(meta: ImageMeta) -> bool:
    """Whether an input is a field rather than an 8-bit picture (16-bit or float)."""
    return meta.bit_depth != 8


def write_textures(
    result: torch.Tensor, meta: ImageMeta, folder: Path, stem: str = "texture"
) -> tuple[list[dict[str, str]], dict[str, Path]]:
    """Write ``result [n, C, H, W]``: ``stem_k.png`` each, and for fields also
    ``stem_k_16bit.png`` and ``stem_k.npy``. Returns the outputs (per texture, its files
    by format) and every file by name."""
    outputs: list[dict[str, str]] = []
    files: dict[str, Path] = {}
    field = is_field(meta)
    lo, hi = meta.value_range if not meta.scaled else (0.0, 1.0)
    for k, img in enumerate(result):
        entry = {"png": f"{stem}_{k}.png"}
        write_outputs(img[None], meta, [folder / entry["png"]], ".png")
        if field:
            entry["png16"] = f"{stem}_{k}_16bit.png"
            entry["npy"] = f"{stem}_{k}.npy"
            span = hi - lo if hi > lo else 1.0
            unit = ((img - lo) / span).clamp(0, 1)
            write_image(folder / entry["png16"], unit, bit_depth=16)
            write_image(folder / entry["npy"], img.float(), bit_depth=32)
        for name in entry.values():
            files[name] = folder / name
        outputs.append(entry)
    return outputs, files


def _reporter(job: Job, meta: ImageMeta) -> Callable[[Progress], None]:
    start = time.perf_counter()
    last = [0.0, 0.0]  # last progress, last preview

    def on_progress(p: Progress) -> None:
        now = time.perf_counter()
        if now - last[0] < _PROGRESS_EVERY_S and p.iteration != p.steps:
            return
        last[0] = now
        elapsed = now - start
        f = p.fraction
        progress = {
            "level": p.level,
            "levels": p.levels,
            "iteration": p.iteration,
            "steps": p.steps,
            "member": p.member + 1,
            "members": p.members,
            "fraction": round(f, 4),
            "elapsed_s": round(elapsed, 2),
            "eta_s": round(elapsed * (1 - f) / f, 1) if f > 0.02 else None,
        }
        if now - last[1] >= PREVIEW_EVERY_S:
            last[1] = now
            job.preview = png_bytes(p.image()[0], meta)
        job.report(progress)

    return on_progress


def run_synthesis(job: Job, spec: JobSpec) -> None:
    """Run a synthesis job whose inputs (named relative to ``job.folder``) are there;
    the library's warnings become the job's notes."""
    with _NOTES.collect() as caught:
        _run_synthesis(job, spec)
    job.notes = list(dict.fromkeys(_note(m) for m in caught))


class _WarningsToNotes:
    """Warnings raised in a worker thread become notes of that thread's job.

    ``warnings.catch_warnings`` is process-wide state, so workers running at once must not
    each enter and leave their own: the first to start installs one (every warning shown,
    through :meth:`_show`) and the last to finish restores the previous state. Warnings of
    threads that run no job go to the previous ``showwarning``.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._depth = 0
        self._saved: warnings.catch_warnings | None = None
        self._previous: Callable[..., object] = warnings.showwarning
        self._local = threading.local()

    def _show(self, message: Warning | str, *args: Any, **kw: Any) -> None:
        notes = getattr(self._local, "notes", None)
        if notes is None:
            self._previous(message, *args, **kw)
        else:
            notes.append(str(message))

    @contextlib.contextmanager
    def collect(self) -> Iterator[list[str]]:
        """The messages of the warnings this thread raises inside the block."""
        with self._lock:
            if self._depth == 0:
                self._saved = warnings.catch_warnings()
                self._saved.__enter__()
                self._previous = warnings.showwarning
                warnings.simplefilter("always")
                warnings.showwarning = self._show
            self._depth += 1
        notes: list[str] = []
        self._local.notes = notes
        try:
            yield notes
        finally:
            self._local.notes = None
            with self._lock:
                self._depth -= 1
                if self._depth == 0 and self._saved is not None:
                    self._saved.__exit__(None, None, None)
                    self._saved = None


_NOTES = _WarningsToNotes()


def _note(message: Warning | str) -> str:
    """A warning as a note for the page (the server's paths left out)."""
    return re.sub(r"'[^']*/(jobs/[^/']+/)?([^/']+)'", r"'\2'", str(message))


def _run_synthesis(job: Job, spec: JobSpec) -> None:
    raw: dict[str, torch.Tensor] = {}
    meta: ImageMeta | None = None
    for role, name in spec.inputs.items():
        data, m = read_image(job.folder / name)
        raw[role] = data
        if role == "input":
            meta = m
    assert meta is not None
    arrays = prepare_arrays(spec, raw)
    result, record = run_job(
        spec, arrays, progress=False, cancel=job.cancel, on_progress=_reporter(job, meta)
    )
    result = result.detach().cpu()
    outputs, files = write_textures(result, meta, job.folder)
    record.outputs = [o["png"] for o in outputs]
    if is_field(meta):
        record.settings["field_outputs"] = [o["npy"] for o in outputs]
    atomic_text_write(job.folder / "record.json", record.dumps())
    files["record.json"] = job.folder / "record.json"
    for name in spec.inputs.values():
        files[name] = job.folder / name
    job.preview = png_bytes(result[0], meta)
    job.progress = {**job.progress, "fraction": 1.0, "eta_s": 0.0}
    job.outputs, job.files = outputs, files


def sample_generator(
    job: Job, model_path: Path, size: tuple[int, int] | None, n: int, seed: int | None
) -> dict[str, Any]:
    """Draw ``n`` textures from the trained generator at ``model_path`` into the job's
    folder, with a record as ``texsynth sample`` writes it; returns the record."""
    from ..generators import generate_samples, load_generator, read_generator_metadata
    from ..generators.exemplar_meta import exemplar_meta

    header = read_generator_metadata(model_path)
    info = header["metadata"]
    H, W = size or tuple(info.get("exemplar_size_hw", (256, 256)))
    model = load_generator(model_path)
    meta = exemplar_meta(info, model)
    seed = fresh_seed() if seed is None else seed
    start = time.perf_counter()
    result = generate_samples(model, n, H, W, seed=member_seeds(seed, n)).cpu()
    outputs, files = write_textures(result, meta, job.folder, stem="sample")
    doc = {
        **record_header("sample"),
        "model": model_path.name,
        "outputs": [o["png"] for o in outputs],
        "seed": seed,
        "seed_rule": "sample k: texsynth.seeds.member_seed(seed, k)",
        "device": "cpu",
        "size_hw": [H, W],
        "n": n,
        "seconds": round(time.perf_counter() - start, 3),
        "training": info.get("settings"),
    }
    atomic_text_write(job.folder / "record.json", json.dumps(doc, indent=1))
    files["record.json"] = job.folder / "record.json"
    job.outputs, job.files = outputs, files
    job.preview = png_bytes(result[0], meta)
    return doc
