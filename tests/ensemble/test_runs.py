"""texsynth.ensemble: member k is the same file whatever the backend, workers, packing or
resumption; failures stay with their member; the manifest makes runs resumable."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import texsynth
from texsynth.ensembles import ModelSpec
from texsynth.ensembles import members as members_module
from texsynth.errors import TexsynthError
from texsynth.seeds import member_seed

from .conftest import SEED, job, sha256

N = 4


def _files(folder: Path) -> dict[int, str]:
    return {k: sha256(folder / f"m{k:02d}.npy") for k in range(N)}


def _run(field: Path, folder: Path, **kw):
    folder.mkdir(exist_ok=True)
    kw.setdefault("progress", False)
    return texsynth.ensemble(job(field), N, out=folder / "m{i:02d}.npy", **kw)


def test_members_identical_across_backends_workers_and_packing(field, reference, tmp_path):
    runs = {
        "serial per_task 1": dict(backend="serial", per_task=1),
        "serial per_task 3": dict(backend="serial", per_task=3),
        "local 1 worker per_task 3": dict(backend="local", workers=1, per_task=3),
        "local 2 workers per_task 1": dict(backend="local", workers=2, per_task=1),
        "dask LocalCluster of 2 workers": dict(backend="dask", workers=2),
    }
    shas = {}
    for i, (name, kw) in enumerate(runs.items()):
        if kw["backend"] == "dask":
            pytest.importorskip("distributed")
        res = _run(field, tmp_path / f"r{i}", **kw)
        assert res.done == N and not res.failed, (name, res.failed)
        shas[name] = _files(tmp_path / f"r{i}")
        for k in range(N):  # the n=1 run with member k's seed, bit for bit
            assert np.array_equal(np.load(tmp_path / f"r{i}" / f"m{k:02d}.npy"), reference[k])
    first = next(iter(shas.values()))
    assert all(s == first for s in shas.values()), shas
    assert len(set(first.values())) == N  # and the members differ


def test_resume_skips_done_and_redoes_missing_or_corrupt(field, reference, tmp_path):
    folder = tmp_path / "out"
    res = _run(field, folder, backend="serial", per_task=2)
    shas = _files(folder)
    manifest = folder / "m.ensemble.jsonl"
    assert res.manifest == manifest
    lines = [json.loads(t) for t in manifest.read_text().splitlines()]
    assert lines[0]["texsynth_file"] == "ensemble" and lines[0]["ensemble"]["seed"] == SEED
    assert sorted(d["i"] for d in lines[1:]) == list(range(N))
    assert all(d["sha256"] == shas[d["i"]] for d in lines[1:])

    (folder / "m01.npy").unlink()  # missing
    data = bytearray((folder / "m02.npy").read_bytes())
    data[-1] ^= 0xFF  # changed by someone
    (folder / "m02.npy").write_bytes(bytes(data))
    again = _run(field, folder, backend="serial")
    assert again.resumed == 2 and again.redone == [1, 2] and again.done == N
    assert _files(folder) == shas
    assert np.array_equal(np.load(folder / "m02.npy"), reference[2])
    # nothing left to do: a third run makes nothing, the summary comes from the manifest
    third = _run(field, folder, backend="serial")
    assert third.resumed == N and third.tasks == 0
    assert third.summary is not None and third.summary.count == N
    np.testing.assert_allclose(third.summary.mean, again.summary.mean, rtol=1e-6)


def test_resume_without_seed_reuses_the_recorded_one(field, tmp_path):
    folder = tmp_path / "out"
    folder.mkdir()
    spec = job(field, seed=None)
    first = texsynth.ensemble(spec, 2, out=folder / "{i}.npy", backend="serial", progress=False)
    (folder / "1.npy").unlink()
    second = texsynth.ensemble(spec, 2, out=folder / "{i}.npy", backend="serial", progress=False)
    assert second.seed == first.seed and second.redone == [1]


def test_manifest_of_another_ensemble_is_refused(field, tmp_path):
    folder = tmp_path / "out"
    _run(field, folder, backend="serial", per_task=4)
    other = job(field, seed=SEED + 1)
    with pytest.raises(TexsynthError, match="manifest of another ensemble.*seed"):
        texsynth.ensemble(other, N, out=folder / "m{i:02d}.npy", backend="serial")


def test_existing_files_of_no_ensemble_are_refused(field, tmp_path):
    folder = tmp_path / "out"
    folder.mkdir()
    (folder / "m03.npy").write_bytes(b"mine")
    with pytest.raises(TexsynthError, match="1 member file.*--overwrite"):
        _run(field, folder, backend="serial")
    assert not (folder / "m.ensemble.jsonl").exists()
    res = _run(field, folder, backend="serial", overwrite=True)
    assert res.done == N and (folder / "m03.npy").read_bytes() != b"mine"


def test_a_failing_member_is_reported_and_the_others_finish(
    field, reference, tmp_path, monkeypatch
):
    bad = member_seed(SEED, 2)
    real = members_module.Loaded.make

    def make(self, seeds, **kw):
        if bad in seeds:
            raise RuntimeError("synthetic failure of one member")
        return real(self, seeds, **kw)

    monkeypatch.setattr(members_module.Loaded, "make", make)
    folder = tmp_path / "out"
    res = _run(field, folder, backend="serial", per_task=4)  # one batch: retried one by one
    assert set(res.failed) == {2} and "synthetic failure" in res.failed[2]
    assert res.done == N - 1
    for k in (0, 1, 3):
        assert np.array_equal(np.load(folder / f"m{k:02d}.npy"), reference[k])
    assert not (folder / "m02.npy").exists()
    errors = [json.loads(t) for t in (folder / "m.ensemble.jsonl").read_text().splitlines()[1:]]
    assert [d["i"] for d in errors if "error" in d] == [2]

    monkeypatch.setattr(members_module.Loaded, "make", real)
    again = _run(field, folder, backend="serial")
    assert again.failed == {} and again.done == N and again.resumed == N - 1
    assert np.array_equal(np.load(folder / "m02.npy"), reference[2])


def test_summary_and_report(field, tmp_path):
    from PIL import Image

    res = _run(field, tmp_path / "out", backend="serial", report=tmp_path / "ens.png")
    s = res.summary
    assert s is not None and s.count == N
    assert [g.name for g in s.groups] == ["log10 P(f)", "quantiles", "log10 S2", "S1/sqrt(S2)"]
    assert s.mean.shape == s.exemplar.shape == s.std.shape
    assert all(np.isfinite(g.rms_spread) for g in s.groups)
    # the histogram term matches the exemplar's values: the quantiles are unbiased
    assert s.groups[1].rms_spread < 1.0
    with Image.open(tmp_path / "ens.png") as im:
        assert im.format == "PNG" and im.width >= 800


def test_generator_members_equal_single_draws(field, tmp_path):
    import torch

    from texsynth.generators import SynthHalfUNet2D, generate_samples, save_generator

    torch.manual_seed(0)
    model = SynthHalfUNet2D(2, width=2)
    path = tmp_path / "g.safetensors"
    save_generator(model, path)
    folder = tmp_path / "out"
    folder.mkdir()
    spec = ModelSpec(str(path), (16, 16), str(field), seed=5)
    res = texsynth.ensemble(
        spec, 3, out=folder / "{i}.npy", backend="serial", per_task=2, progress=False
    )
    assert res.done == 3 and res.summary is not None
    for k in range(3):
        one = generate_samples(model, 1, 16, 16, seed=member_seed(5, k))
        assert np.array_equal(np.load(folder / f"{k}.npy"), one[0, 0].numpy())


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        (dict(backend="pbs"), "unknown backend 'pbs'"),
        (dict(backend="serial", per_task=0), "per_task must be"),
        (dict(backend="local", scheduler="tcp://x:1"), "add --backend dask"),
    ],
)
def test_bad_arguments(field, tmp_path, kw, message):
    with pytest.raises(TexsynthError, match=message):
        _run(field, tmp_path / "out", **kw)
    assert not (tmp_path / "out" / "m.ensemble.jsonl").exists()


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("out/x.npy", "has no '{i}'"),
        ("out/{j}.npy", r"unknown field\(s\) \{j\}"),
        ("out/{i:.0s}.npy", "format the index as an integer"),
        ("{i}/x.npy", "in the file name, not in the folder"),
        ("out/{i}.wav", "written as"),
    ],
)
def test_bad_templates(field, tmp_path, template, message):
    (tmp_path / "out").mkdir()
    with pytest.raises(TexsynthError, match=message):
        texsynth.ensemble(job(field), 3, out=str(tmp_path / template), backend="serial")


def test_a_lost_worker_s_task_is_submitted_again(field, reference, tmp_path):
    from concurrent.futures.process import BrokenProcessPool

    from texsynth.ensembles.backends.serial import SerialBackend

    class Broken:
        cancelled = False

        def run(self):
            pass

        def result(self):
            raise BrokenProcessPool("a worker died")

    class Flaky(SerialBackend):
        """Loses the first attempt of the task holding member 1."""

        name = "flaky"

        def __init__(self):
            super().__init__()
            self.lost_once = False

        def submit(self, fn, arg):
            if 1 in arg.members and not self.lost_once:
                self.lost_once = True
                return Broken()
            return super().submit(fn, arg)

        def lost(self, exc):
            return isinstance(exc, BrokenProcessPool)

    engine = Flaky()
    res = _run(field, tmp_path / "out", backend=engine, per_task=2)
    assert engine.lost_once and res.done == N and not res.failed
    assert np.array_equal(np.load(tmp_path / "out" / "m01.npy"), reference[1])


def test_local_pool_recovers_from_a_dead_worker():
    import os
    from concurrent.futures.process import BrokenProcessPool

    from texsynth.ensembles.backends.local import LocalBackend

    engine = LocalBackend(workers=1, threads=1)
    try:
        dead = engine.submit(os._exit, 3)  # the worker process ends at once
        with pytest.raises(BrokenProcessPool) as exc:
            dead.result()
        assert engine.lost(exc.value)
        assert engine.submit(abs, -3).result() == 3  # a new pool
    finally:
        engine.close()
