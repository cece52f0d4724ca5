"""``texsynth serve`` (its options and warning, without binding a port), the result store,
and trained generators sampled from the page's API."""

from __future__ import annotations

import io
import os
import time

import numpy as np
import pytest
import torch
from PIL import Image

pytest.importorskip("uvicorn", reason="the web extra is not installed")

from texsynth.cli import main as cli_main  # noqa: E402
from texsynth.cli.serve import is_local  # noqa: E402
from texsynth.generators import SynthHalfUNet2D, save_generator  # noqa: E402
from texsynth.web.jobs import new_job_id  # noqa: E402
from texsynth.web.store import ResultStore  # noqa: E402


def test_is_local() -> None:
    assert is_local("127.0.0.1") and is_local("localhost") and is_local("::1")
    assert not is_local("0.0.0.0") and not is_local("192.168.1.5") and not is_local("example")


@pytest.fixture()
def fake_uvicorn(monkeypatch):  # noqa: ANN201
    import uvicorn

    calls = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: calls.append((app, kw)))
    return calls


def test_serve_starts_uvicorn_on_localhost(tmp_path, capsys, fake_uvicorn) -> None:
    data = tmp_path / "d"
    code = cli_main(["serve", "--port", "8123", "--workers", "2", "--data", str(data)])
    assert code == 0 and data.is_dir() and (data / "jobs").is_dir()
    ((app, kw),) = fake_uvicorn
    assert kw["host"] == "127.0.0.1" and kw["port"] == 8123
    assert app.state.config.workers == 2
    out = capsys.readouterr()
    assert "http://localhost:8123/" in out.out and "warning" not in out.err


def test_serve_warns_off_localhost_and_checks_options(tmp_path, capsys, fake_uvicorn) -> None:
    assert cli_main(["serve", "--host", "0.0.0.0", "--data", str(tmp_path)]) == 0
    assert "warning: serving on 0.0.0.0, not localhost" in capsys.readouterr().err
    assert cli_main(["serve", "--workers", "0", "--data", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "--workers must be >= 1" in err and "Traceback" not in err
    assert cli_main(["serve", "--max-upload-mb", "-1", "--data", str(tmp_path)]) == 2


def test_store_expiry_and_cap(tmp_path) -> None:
    store = ResultStore(tmp_path, max_bytes=2500, expiry_s=100)
    ids = [new_job_id() for _ in range(4)]
    now = time.time()
    for k, i in enumerate(ids):
        (store.folder(i) / "t.png").write_bytes(b"x" * 1000)
        os.utime(store.jobs / i, (now - 200 + 60 * k, now - 200 + 60 * k))
    # ids[0] expired (200 s old); then 3000 bytes > 2500: the oldest left (ids[1]) goes,
    # but not a running job's
    removed = store.sweep(keep={ids[1]}, now=now)
    assert removed == [ids[0], ids[2]]
    assert sorted(p.name for p in store.jobs.iterdir()) == sorted([ids[1], ids[3]])
    with pytest.raises(ValueError):
        store.folder("../escape")


def test_generators_are_listed_and_sampled_at_once(make_client, tmp_path) -> None:
    client = make_client()
    gens = client.app.state.config.data / "generators"
    gens.mkdir()
    torch.manual_seed(0)
    save_generator(
        SynthHalfUNet2D(3, width=4),
        gens / "gravel.safetensors",
        metadata={"exemplar_size_hw": [24, 24]},
    )
    (gens / "broken.safetensors").write_bytes(b"nope")
    info = client.get("/api/info").json()
    assert [g["name"] for g in info["generators"]] == ["gravel.safetensors"]
    t0 = time.monotonic()
    r = client.post("/api/generators/gravel.safetensors/sample", data={"n": "2", "seed": "7"})
    assert r.status_code == 200, r.text
    assert time.monotonic() - t0 < 10
    job = r.json()
    assert job["state"] == "done" and len(job["outputs"]) == 2
    img = client.get(f"/api/jobs/{job['id']}/files/{job['outputs'][0]['png']}")
    assert Image.open(io.BytesIO(img.content)).size == (24, 24)
    rec = client.get(f"/api/jobs/{job['id']}/files/record.json").json()
    assert (
        rec["texsynth_file"] == "sample"
        and rec["seed"] == 7
        and rec["model"] == "gravel.safetensors"
    )
    again = client.post("/api/generators/gravel.safetensors/sample", data={"n": "2", "seed": "7"})
    img2 = client.get(f"/api/jobs/{again.json()['id']}/files/{job['outputs'][0]['png']}")
    assert np.array_equal(
        np.asarray(Image.open(io.BytesIO(img.content))),
        np.asarray(Image.open(io.BytesIO(img2.content))),
    )
    for bad in ("nothing.safetensors", "..%2Fx.safetensors", "broken.safetensors"):
        assert client.post(f"/api/generators/{bad}/sample", data={"n": "1"}).status_code == 404
