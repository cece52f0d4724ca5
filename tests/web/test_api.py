"""The JSON API of ``texsynth serve`` through the test client: submit, progress events,
results and their record, cancel, limits, bad files, unguessable ids."""

from __future__ import annotations

import io
import json
import struct
import time
import zipfile
import zlib

import numpy as np
import pytest
import torch
from PIL import Image

from texsynth.io import read_image
from texsynth.synthesis.jobs import rerun
from texsynth.web import runner

from .conftest import events, exemplar_png, png, wait_for


def submit(client, image: bytes, name: str = "x.png", mask: bytes | None = None, **form):  # noqa: ANN001, ANN201
    files = {"image": (name, image, "application/octet-stream")}
    if mask is not None:
        files["mask"] = ("mask.png", mask, "image/png")
    data = {"size": "16", "seed": "5", "quality": "fast", **{k: str(v) for k, v in form.items()}}
    return client.post("/api/jobs", files=files, data=data)


def fetch(client, job_id: str, name: str) -> bytes:  # noqa: ANN001
    r = client.get(f"/api/jobs/{job_id}/files/{name}")
    assert r.status_code == 200, r.text
    return r.content


def test_submit_progress_result_and_record_reproduce(client, tmp_path, monkeypatch) -> None:
    r = submit(client, exemplar_png(), n=2)
    assert r.status_code == 202, r.text
    job = r.json()
    assert job["state"] in ("queued", "running") and len(job["id"]) == 32
    seen = events(client, job["id"])
    assert seen[-1]["state"] == "done", seen[-1]
    fractions = [e["progress"]["fraction"] for e in seen if e["progress"].get("level")]
    # the stream samples the job every 50 ms, so a fast job may show few steps (how many
    # updates each method reports is tested without timing in tests/test_progress.py)
    assert fractions and fractions == sorted(fractions) and fractions[-1] == 1.0
    running = [e["progress"] for e in seen if e["state"] == "running" and e["progress"]]
    assert all({"level", "levels", "iteration", "steps", "eta_s"} <= set(p) for p in running)
    outs = seen[-1]["outputs"]
    assert len(outs) == 2 and set(outs[0]) == {"png"}  # a photo: no field formats
    img = Image.open(
        io.BytesIO(client.get(f"/api/jobs/{job['id']}/files/{outs[0]['png']}").content)
    )
    assert img.size == (16, 16) and img.mode == "RGB"
    assert client.get(f"/api/jobs/{job['id']}/preview.png").status_code == 200
    # the zip holds the input, the textures and the record, which reproduces the run
    z = zipfile.ZipFile(io.BytesIO(client.get(f"/api/jobs/{job['id']}/zip").content))
    assert set(z.namelist()) == {"input.png", "record.json", "texture_0.png", "texture_1.png"}
    z.extractall(tmp_path / "unzipped")
    monkeypatch.chdir(tmp_path / "unzipped")
    again, record = rerun("record.json", progress=False)
    assert record.method == "patch"
    for k in range(2):
        saved = read_image(f"texture_{k}.png")[0]
        assert torch.allclose((again[k].clamp(0, 1) * 255).round() / 255, saved, atol=1 / 255)


def test_field_gets_16bit_png_and_npy(client) -> None:
    rng = np.random.default_rng(0)
    field = np.cumsum(rng.standard_normal((24, 24)), axis=1).astype(np.float32) * 3.0
    buf = io.BytesIO()
    np.save(buf, field)
    r = submit(client, buf.getvalue(), name="field.npy", method="patch")
    assert r.status_code == 202, r.text
    done = events(client, r.json()["id"])[-1]
    assert done["state"] == "done", done
    out = done["outputs"][0]
    assert set(out) == {"png", "png16", "npy"}
    arr = np.load(io.BytesIO(client.get(f"/api/jobs/{done['id']}/files/{out['npy']}").content))
    assert arr.dtype == np.float32 and arr.shape[-2:] == (16, 16)
    assert arr.min() >= field.min() - 1e-4 and arr.max() <= field.max() + 1e-4
    assert arr.max() > 1.5  # its own units, not [0, 1]
    im16 = Image.open(
        io.BytesIO(client.get(f"/api/jobs/{done['id']}/files/{out['png16']}").content)
    )
    assert im16.mode.startswith("I;16") or im16.mode == "I"


def test_inpainting_with_a_mask_keeps_the_rest(client) -> None:
    ex = exemplar_png(32)
    mask = np.zeros((32, 32), np.uint8)
    mask[10:20, 12:22] = 255
    r = submit(client, ex, mask=png(mask))
    assert r.status_code == 202, r.text
    done = events(client, r.json()["id"])[-1]
    assert done["state"] == "done", done
    out = np.asarray(
        Image.open(io.BytesIO(client.get(f"/api/jobs/{done['id']}/files/texture_0.png").content))
    )
    src = np.asarray(Image.open(io.BytesIO(ex)))
    assert out.shape == src.shape  # inpainting keeps the picture's frame
    keep = mask == 0
    assert np.abs(out[keep].astype(int) - src[keep]).max() <= 1
    assert np.abs(out[~keep].astype(int) - src[~keep]).mean() > 5  # the hole was refilled


def test_cancel_running_job_frees_the_worker(client) -> None:
    r = submit(client, exemplar_png(), size=128, method="scattering", quality="best")
    job_id = r.json()["id"]
    queued = submit(client, exemplar_png()).json()
    assert queued["state"] == "queued" and queued["position"] == 1
    wait_for(client, job_id, lambda s: s["state"] == "running" and s["progress"])
    t0 = time.monotonic()
    assert client.post(f"/api/jobs/{job_id}/cancel").status_code == 200
    st = wait_for(client, job_id, lambda s: s["state"] == "cancelled", timeout=10)
    assert time.monotonic() - t0 < 2.0  # (goal: 1 s; a margin for a loaded test machine)
    assert st["outputs"] == [] and client.get(f"/api/jobs/{job_id}/zip").status_code == 409
    # the next job gets the worker and finishes
    assert events(client, queued["id"])[-1]["state"] == "done"


def test_cancel_queued_job(make_client) -> None:
    client = make_client(workers=1)
    first = submit(client, exemplar_png(), size=128, method="scattering", quality="best").json()
    second = submit(client, exemplar_png()).json()
    third = submit(client, exemplar_png()).json()
    assert (second["position"], third["position"]) == (1, 2)
    assert client.post(f"/api/jobs/{second['id']}/cancel").json()["state"] == "cancelled"
    assert client.get(f"/api/jobs/{third['id']}").json()["position"] == 1
    for j in (first, third):
        client.post(f"/api/jobs/{j['id']}/cancel")


def _png_header_only(w: int, h: int) -> bytes:
    """A PNG whose header claims ``w x h`` pixels (a decompression bomb's header)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    ihdr = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b"\0" * 64))
        + chunk(b"IEND", b"")
    )


@pytest.mark.parametrize(
    ("data", "name", "status", "words"),
    [
        (b"", "empty.png", 400, "empty"),
        (b"just some text, not a picture", "notes.png", 415, "not an image"),
        (_png_header_only(100_000, 100_000), "bomb.png", 413, "megapixels"),
        (exemplar_png()[:200], "cut.png", 400, "damaged"),
    ],
)
def test_bad_files_get_a_clear_4xx(client, data, name, status, words) -> None:
    r = submit(client, data, name=name)
    assert r.status_code == status, r.text
    msg = r.json()["error"]
    assert words in msg and "\n" not in msg and "Traceback" not in msg


def test_gif_and_object_npy_are_refused(client) -> None:
    buf = io.BytesIO()
    Image.new("P", (20, 20)).save(buf, format="GIF")
    assert submit(client, buf.getvalue(), name="a.gif").status_code == 415
    obj = io.BytesIO()
    np.save(obj, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    r = submit(client, obj.getvalue(), name="evil.npy")
    assert r.status_code == 400 and "objects" in r.json()["error"]


def test_limits(make_client) -> None:
    client = make_client(max_upload_mb=0.001, max_pixels=32 * 32, max_size=64, max_n=2)
    big = png((np.random.default_rng(0).random((40, 40, 3)) * 255).astype(np.uint8))
    assert submit(client, big).status_code == 413  # over 1 kB
    client = make_client(max_pixels=16 * 16, max_size=64, max_n=2)
    r = submit(client, exemplar_png(32))
    assert r.status_code == 413 and "megapixels" in r.json()["error"]
    client = make_client(max_size=64, max_n=2)
    assert "size" in submit(client, exemplar_png(), size=65).json()["error"]
    assert "variations" in submit(client, exemplar_png(), n=3).json()["error"]
    assert "method" in submit(client, exemplar_png(), method="../../etc").json()["error"]
    assert submit(client, exemplar_png(), quality="ultra").status_code == 400
    r = client.post("/api/jobs", data={"size": "16"})  # no image
    assert r.status_code == 422 and "image" in r.json()["error"]
    r = submit(client, exemplar_png(), size="big")
    assert r.status_code == 422 and "size" in r.json()["error"]
    mask = png(np.zeros((8, 8), np.uint8))
    r = submit(client, exemplar_png(32), mask=mask)
    assert r.status_code == 400 and "mask" in r.json()["error"]


def test_queue_limit(make_client) -> None:
    client = make_client(workers=1, max_waiting=1)
    a = submit(client, exemplar_png(), size=128, method="scattering", quality="best").json()
    wait_for(client, a["id"], lambda s: s["state"] == "running")
    b = submit(client, exemplar_png()).json()
    r = submit(client, exemplar_png())
    assert r.status_code == 429 and "waiting" in r.json()["error"]
    for j in (b, a):
        client.post(f"/api/jobs/{j['id']}/cancel")


def test_ids_cannot_be_guessed_or_abused(client) -> None:
    job = submit(client, exemplar_png()).json()
    done = events(client, job["id"])[-1]
    other = job["id"][:-1] + ("A" if job["id"][-1] != "A" else "B")
    for path in (
        f"/api/jobs/{other}",
        f"/api/jobs/{other}/files/texture_0.png",
        "/api/jobs/..%2F..%2Fetc%2Fpasswd",
        f"/api/jobs/{job['id']}/files/..%2Finput.png",
        f"/api/jobs/{job['id']}/files/%2Fetc%2Fpasswd",
        f"/api/jobs/{job['id']}/files/nothing.png",
        "/static/..%2F__init__.py",
    ):
        r = client.get(path)
        assert r.status_code == 404, path
        assert "error" in r.json()
    assert client.get(f"/api/jobs/{job['id']}/files/texture_0.png").status_code == 200
    ids = {submit(client, exemplar_png()).json()["id"] for _ in range(3)} | {done["id"]}
    assert len(ids) == 4 and all(len(i) == 32 for i in ids)


def test_a_crashed_job_is_reported_and_the_server_goes_on(client, monkeypatch) -> None:
    def crash(*args, **kw):  # noqa: ANN002, ANN003, ANN202
        raise RuntimeError("simulated crash")

    monkeypatch.setattr(runner, "write_textures", crash)
    done = events(client, submit(client, exemplar_png()).json()["id"])[-1]
    assert done["state"] == "failed" and "simulated crash" in done["error"]
    monkeypatch.undo()
    assert events(client, submit(client, exemplar_png()).json()["id"])[-1]["state"] == "done"


def test_page_and_info(client) -> None:
    page = client.get("/")
    assert page.status_code == 200 and "Synthesise" in page.text
    assert "http" not in page.text.replace("http-equiv", "")  # no CDN, no external request
    for name in ("app.js", "style.css"):
        r = client.get(f"/static/{name}")
        assert r.status_code == 200 and "http://" not in r.text and "https://" not in r.text
    info = client.get("/api/info").json()
    names = [m["name"] for m in info["methods"]]
    assert names[:3] == ["auto", "patch", "scattering"] and "spectrum" not in names
    assert all(m["summary"] and "\n" not in m["summary"] for m in info["methods"])
    assert info["generators"] == []


def test_running_job_reports_at_least_twice_a_second(client) -> None:
    job = submit(client, exemplar_png(), size=128, method="scattering", quality="best").json()
    times, etas = [], []
    with client.stream("GET", f"/api/jobs/{job['id']}/events") as stream:
        for line in stream.iter_lines():
            if not line.startswith("data: "):
                continue
            st = json.loads(line[6:])
            if st["state"] == "running" and st["progress"]:
                times.append(time.monotonic())
                etas.append(st["progress"]["elapsed_s"])
                if times[-1] - times[0] > 1.5:
                    client.post(f"/api/jobs/{job['id']}/cancel")
            if st["state"] in ("done", "failed", "cancelled"):
                break
    assert st["state"] == "cancelled"
    assert len(times) >= 3 and max(np.diff(times)) < 1.0  # (0.5 s, with a margin for load)
    assert etas == sorted(etas)  # the elapsed time counts up between events


def test_warnings_become_notes_of_their_own_job(make_client) -> None:
    import warnings

    before = warnings.showwarning
    client = make_client(workers=2)
    rgb = np.asarray(Image.open(io.BytesIO(exemplar_png())))
    rgba = np.concatenate([rgb, np.full((*rgb.shape[:2], 1), 200, np.uint8)], axis=2)
    a = submit(client, png(rgba), size=24).json()  # alpha dropped: a note
    b = submit(client, exemplar_png(), size=24).json()  # nothing to say
    done_a, done_b = events(client, a["id"])[-1], events(client, b["id"])[-1]
    assert done_a["state"] == done_b["state"] == "done"
    assert any("alpha channel of 'input.png'" in n for n in done_a["notes"]), done_a["notes"]
    assert "/" not in " ".join(done_a["notes"])  # no server path shown
    assert done_b["notes"] == []
    assert warnings.showwarning is before
