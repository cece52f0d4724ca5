"""Job specs and run records (texsynth.io.runs, texsynth.synthesis.jobs): a spec runs, its
record is the sidecar, and a record reproduces its run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from texsynth import TexsynthError
from texsynth.io import write_image, write_signal
from texsynth.io.runs import JobSpec, RunRecord, read_record
from texsynth.seeds import member_seed
from texsynth.synthesis.jobs import load_inputs, rerun, run_job


def _image(tmp_path: Path) -> Path:
    g = torch.Generator().manual_seed(0)
    path = tmp_path / "ex.png"
    write_image(path, torch.rand(3, 32, 32, generator=g).cumsum(-1) / 32)
    return path


def test_spec_checks_and_round_trips() -> None:
    spec = JobSpec("synth", inputs={"input": Path("a.png"), "mask": None}, options={"n": 2})
    assert spec.inputs == {"input": "a.png"} and spec.seed is None
    assert JobSpec.from_json(json.loads(json.dumps(spec.to_json()))) == spec
    with pytest.raises(TexsynthError, match="unknown job kind 'paint'"):
        JobSpec("paint")
    with pytest.raises(TexsynthError, match="remake job takes image data"):
        JobSpec("remake", "signal")
    with pytest.raises(TexsynthError, match="unknown input role"):
        JobSpec("synth", inputs={"style": "a.png"})
    with pytest.raises(TexsynthError, match="options.init is a Tensor"):
        JobSpec("synth", options={"init": torch.zeros(2)})
    with pytest.raises(TexsynthError, match="finite numbers"):
        JobSpec("synth", options={"tol": float("nan")})
    with pytest.raises(TexsynthError, match="unknown job spec field"):
        JobSpec.from_json({"kind": "synth", "colour": 1})


def test_run_records_and_reruns_an_image_job(tmp_path: Path) -> None:
    spec = JobSpec(
        "synth",
        inputs={"input": _image(tmp_path)},
        options={"method": "scattering", "n": 2, "steps": 8, "size": [32, 40]},
    )
    with pytest.raises(TexsynthError, match="not options of the job"):
        run_job(JobSpec("synth", options={"device": "cpu"}), load_inputs(spec))
    result, record = run_job(spec, load_inputs(spec), progress=False)
    assert result.shape == (2, 3, 32, 40)
    assert record.seeds == [record.seeds[0], member_seed(record.seeds[0], 1)]
    assert record.method == "scattering" and record.settings["size_hw"] == [32, 40]
    assert [lv["size_hw"] for lv in record.levels][-1] == [32, 40]
    record.outputs = ["o1.png", "o2.png"]
    path = tmp_path / "record.json"
    path.write_text(record.dumps())
    doc = json.loads(path.read_text())
    assert doc["texsynth_file"] == "synth" and doc["input"] == str(tmp_path / "ex.png")
    assert doc["seed"] == record.seeds[0] and doc["spec"]["options"]["n"] == 2
    again = read_record(path)
    assert again.spec == spec and again.seeds == record.seeds
    assert RunRecord.from_json(again.to_json()).to_json() == again.to_json()
    # a record reproduces its run, with the seeds it drew
    result2, record2 = rerun(path, progress=False)
    assert torch.equal(result2, result) and record2.seeds == record.seeds


def test_signal_job_and_bad_records(tmp_path: Path) -> None:
    g = torch.Generator().manual_seed(2)
    path = tmp_path / "s.npy"
    write_signal(path, torch.randn(1, 256, generator=g, dtype=torch.float64))
    spec = JobSpec("synth", "signal", inputs={"input": path}, options={"steps": 5}, seed=3)
    result, record = run_job(spec, load_inputs(spec), progress=False)
    assert result.dtype == torch.float64 and record.settings["length"] == 256
    assert record.seeds == [3] and "length" in record.levels[0]
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(TexsynthError, match="is not JSON"):
        read_record(bad)
    bad.write_text(json.dumps({"texsynth_file": "stats"}))
    with pytest.raises(TexsynthError, match="no job spec"):
        read_record(bad)
    with pytest.raises(TexsynthError, match="no such record"):
        read_record(tmp_path / "missing.json")


def test_cli_sidecar_is_a_run_record(tmp_path: Path) -> None:
    from texsynth.cli.main import main

    out = tmp_path / "out.png"
    ex = _image(tmp_path)
    assert (
        main(
            ["synth", str(ex), "-o", str(out), "--method", "scattering", "--steps", "5", "--quiet"]
        )
        == 0
    )
    record = read_record(tmp_path / "out.json")
    assert record.spec.inputs == {"input": str(ex)} and record.outputs == [str(out)]
    assert record.spec.seed is None and len(record.seeds) == 1
    result, _ = rerun(record, progress=False)
    assert result.shape == (1, 3, 32, 32)
