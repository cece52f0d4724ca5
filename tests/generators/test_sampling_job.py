"""Sampling as a job (texsynth.generators.sampling_job): a "sample" spec draws the textures
of generate_samples, its record reruns them (also a record written before sampling was a
job kind), and bad specs give one-line errors."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest
import torch

from texsynth import TexsynthError
from texsynth.cancellation import Cancelled
from texsynth.cli import main
from texsynth.generators import generate_samples, save_generator, train_generator
from texsynth.generators.sampling_job import SampleJob, run_sample_job, sample_spec
from texsynth.io import read_image
from texsynth.io.runs import JobSpec, RunRecord, read_record
from texsynth.seeds import member_seeds
from texsynth.synthesis.jobs import rerun, run_job


@pytest.fixture(scope="module")
def model_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny generator trained for two steps on a 32 x 32 exemplar, saved with metadata."""
    g = torch.Generator().manual_seed(0)
    ex = torch.rand(1, 32, 32, generator=g).cumsum(-1) / 32
    model = train_generator(ex, steps=2, seed=0, size=32, depth=2, width=4, progress=False)
    path = tmp_path_factory.mktemp("gen") / "gen.safetensors"
    save_generator(model, path, metadata={"exemplar_size_hw": [24, 40]})
    return path


def test_a_sample_job_draws_generate_samples_and_records_it(model_file: Path) -> None:
    from texsynth.generators import load_generator

    spec = sample_spec(model_file, n=3, size=(20, 28), seed=7)
    samples, record = run_sample_job(spec)
    expected = generate_samples(load_generator(model_file), 3, 20, 28, seed=7)
    assert samples.shape == (3, 1, 20, 28) and torch.equal(samples, expected)
    assert record.seeds == member_seeds(7, 3)
    assert record.settings["size_hw"] == [20, 28] and record.settings["n"] == 3
    doc = record.to_json()
    assert doc["texsynth_file"] == "sample" and doc["model"] == str(model_file)
    assert "quality" not in doc and doc["seed"] == 7
    # the record reruns the same textures, from the object and from its file
    again, rec2 = rerun(RunRecord.from_json(json.loads(record.dumps())))
    assert torch.equal(again, samples) and rec2.seeds == record.seeds


def test_size_defaults_to_the_exemplars_and_chunks_match(model_file: Path) -> None:
    job = SampleJob.prepare(sample_spec(model_file, n=5, seed=3))
    assert job.size_hw == (24, 40) and job.n == 5
    # one sample per chunk: the same textures as one call
    chunks = list(job.chunks(max_bytes=1))
    assert [first for first, _ in chunks] == [0, 1, 2, 3, 4]
    whole = generate_samples(job.model, 5, 24, 40, seed=3)
    assert torch.equal(torch.cat([c for _, c in chunks]), whole)
    stop = threading.Event()
    stop.set()
    with pytest.raises(Cancelled):
        next(job.chunks(cancel=stop))


def test_a_fresh_seed_is_recorded_and_reruns(model_file: Path) -> None:
    samples, record = run_sample_job(sample_spec(model_file, n=2, size=(16, 16)))
    assert record.spec.seed is None and len(record.seeds) == 2
    again, _ = rerun(record)
    assert torch.equal(again, samples)


def test_cli_sample_record_reruns(model_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "s_{i}.npy"
    assert main(["sample", str(model_file), "-o", str(out), "--n", "2", "--size", "16x24"]) == 0
    files = torch.stack([read_image(tmp_path / f"s_{k}.npy")[0] for k in range(2)])
    record = read_record(tmp_path / "s.json")
    assert record.spec.kind == "sample" and record.outputs[0].endswith("s_0.npy")
    again, _ = rerun(tmp_path / "s.json")
    assert torch.allclose(again.float(), files.float())


def test_a_record_written_before_sampling_was_a_job_reruns(
    model_file: Path, tmp_path: Path
) -> None:
    old = {
        "texsynth_file": "sample",
        "texsynth_version": "0.1.0",
        "model": str(model_file),
        "outputs": [str(tmp_path / "o_0.png"), str(tmp_path / "o_1.png")],
        "seed": 11,
        "seed_rule": "sample k: texsynth.seeds.member_seed(seed, k)",
        "device": "cpu",
        "size_hw": [16, 20],
        "n": 2,
        "seconds": 0.1,
        "training": {"method": "scattering"},
    }
    path = tmp_path / "o.json"
    path.write_text(json.dumps(old))
    record = read_record(path)
    assert record.spec.options == {"n": 2, "size": [16, 20]} and record.spec.seed == 11
    assert record.settings["training"] == {"method": "scattering"}
    samples, _ = rerun(path)
    from texsynth.generators import load_generator

    assert torch.equal(samples, generate_samples(load_generator(model_file), 2, 16, 20, seed=11))
    del old["n"]
    path.write_text(json.dumps(old))
    with pytest.raises(TexsynthError, match="lacks its model, n, size_hw or seed"):
        read_record(path)


def test_bad_sample_jobs_give_one_line_errors(model_file: Path) -> None:
    with pytest.raises(TexsynthError, match="unknown sample job option"):
        run_sample_job(JobSpec("sample", inputs={"model": model_file}, options={"steps": 3}))
    with pytest.raises(TexsynthError, match="n must be an integer >= 1"):
        run_sample_job(sample_spec(model_file, n=0))
    with pytest.raises(TexsynthError, match="size is \\[height, width\\]"):
        run_sample_job(JobSpec("sample", inputs={"model": model_file}, options={"size": [3]}))
    with pytest.raises(TexsynthError, match="'model' input"):
        run_sample_job(JobSpec("sample"))
    with pytest.raises(TexsynthError, match="unknown input role"):
        JobSpec("sample", inputs={"input": "a.png"})
    with pytest.raises(TexsynthError, match="run_sample_job"):
        run_job(sample_spec(model_file), {"model": torch.zeros(1)})
    with pytest.raises(TexsynthError, match="not a sample job"):
        SampleJob.prepare(JobSpec("synth", inputs={"input": "a.png"}))
    with pytest.raises(TexsynthError, match="needs about"):
        run_sample_job(sample_spec(model_file, n=2, size=(64, 64)), max_memory=1000)
