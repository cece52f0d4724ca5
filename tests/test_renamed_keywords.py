"""Renamed keywords keep working, deprecated: the statistics' per-call ``Jmax`` is ``J``,
the generators' ``Jmax`` is ``depth`` and ``train_generator``'s ``n_samples`` is ``batch``;
generator files and checkpoints of earlier versions (config key ``"Jmax"``) still load."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file

from texsynth import (
    ScatteringCovariance,
    ScatteringCovariance1D,
    SynthHalfUNet2D,
    TexsynthError,
    generate_samples,
    load_generator,
    save_generator,
    train_generator,
)
from texsynth._deprecation import renamed_keywords
from texsynth.compat.foscat.SynthHalfUNet2D import SynthHalfUNet2D as FoscatSynthHalfUNet2D
from texsynth.generators import read_generator_metadata
from texsynth.generators.network import default_channel_list
from texsynth.memory import estimate_sampling_bytes


def _same(a: object, b: object) -> None:
    if isinstance(a, tuple):
        assert isinstance(b, tuple)
        for x, y in zip(a, b, strict=True):
            _same(x, y)
        return
    for (na, ta), (nb, tb) in zip(a.fields(), b.fields(), strict=True):  # type: ignore[attr-defined]
        assert na == nb and torch.equal(ta, tb)


# ---------------------------------------------------------------------------- statistics
@pytest.mark.parametrize(
    ("front", "x"),
    [
        (lambda: ScatteringCovariance(J=3, L=4), torch.rand(1, 1, 32, 32)),
        (lambda: ScatteringCovariance1D(J=4), torch.rand(1, 1, 128)),
    ],
    ids=["2d", "1d"],
)
def test_statistics_old_jmax_warns_and_gives_the_same_numbers(front, x) -> None:
    sc = front()
    with pytest.warns(DeprecationWarning, match="Jmax= is deprecated, use J=") as record:
        old = sc(x, Jmax=2, calc_var=True)
    # attributed to this line, not to torch's Module.__call__ or texsynth
    assert [Path(w.filename).name for w in record] == [Path(__file__).name]
    new = sc(x, J=2, calc_var=True)
    _same(old, new)
    assert old[0].J == 2
    with pytest.raises(TexsynthError, match="give J= only, not also Jmax="):
        sc(x, J=2, Jmax=2)


def test_resolve_j_old_keyword() -> None:
    sc = ScatteringCovariance(J=4)
    assert sc.resolve_J(64, 64, J=2) == 2
    with pytest.warns(DeprecationWarning, match="use J="):
        assert sc.resolve_J(64, 64, Jmax=2) == 2
    with pytest.raises(TexsynthError, match="not also Jmax="):
        sc.resolve_J(64, 64, 2, Jmax=2)  # J given by position


# ---------------------------------------------------------------------------- generators
def test_network_old_jmax_keyword_and_attribute() -> None:
    torch.manual_seed(0)
    new = SynthHalfUNet2D(depth=2, width=4)
    torch.manual_seed(0)
    with pytest.warns(DeprecationWarning, match="Jmax= is deprecated, use depth="):
        old = SynthHalfUNet2D(Jmax=2, width=4)
    assert old.depth == 2 and old.config == new.config and "Jmax" not in new.config
    z = torch.randn(1, 1, 16, 16)
    assert torch.equal(old(z), new(z))
    with pytest.warns(DeprecationWarning, match="use depth="):
        assert new.Jmax == 2
    for both in (lambda: SynthHalfUNet2D(2, Jmax=2), lambda: SynthHalfUNet2D(depth=2, Jmax=2)):
        with pytest.raises(TexsynthError, match="give depth= only, not also Jmax="):
            both()
    with pytest.warns(DeprecationWarning, match="use depth="):
        assert default_channel_list(Jmax=3) == default_channel_list(3) == [256, 128, 64, 32]


def test_foscat_compat_keeps_jmax_without_warning() -> None:
    model = FoscatSynthHalfUNet2D(None, Jmax=2, width=4)  # filterwarnings=error: no warning
    assert model.Jmax == model.depth == 2


def test_train_generator_old_keywords() -> None:
    ex = torch.rand(1, 16, 16, generator=torch.Generator().manual_seed(0))
    kw = dict(steps=2, size=16, width=2, seed=0, progress=False)
    new = train_generator(ex, depth=2, batch=2, **kw)
    with pytest.warns(DeprecationWarning) as record:
        old = train_generator(ex, Jmax=2, n_samples=2, **kw)
    messages = sorted(str(w.message) for w in record)
    assert len(messages) == 2
    assert "Jmax= is deprecated, use depth=" in messages[0]
    assert "n_samples= is deprecated, use batch=" in messages[1]
    for a, b in zip(old.parameters(), new.parameters(), strict=True):
        assert torch.equal(a, b)
    for both in (dict(depth=2, Jmax=2), dict(batch=2, n_samples=2)):
        with pytest.raises(TexsynthError, match="not also"):
            train_generator(ex, **kw, **both)


def test_renamed_keywords_refuses_an_unknown_new_name() -> None:
    with pytest.raises(TypeError, match="no parameter 'b'"):

        @renamed_keywords(a_old="b")
        def f(a: int) -> int:
            return a


# ---------------------------------------------------------------------------- files
def _with_old_config(path: Path, out: Path) -> None:
    """``path`` rewritten as earlier versions wrote it: config key ``"Jmax"``."""
    with safe_open(str(path), framework="pt") as f:
        header = dict(f.metadata())
    config = json.loads(header["config"])
    config = {("Jmax" if k == "depth" else k): v for k, v in config.items()}
    header["config"] = json.dumps(config)
    save_file(load_file(str(path)), str(out), metadata=header)


def test_generator_files_of_earlier_versions_still_load(tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = SynthHalfUNet2D(depth=2, width=4).eval()
    save_generator(model, tmp_path / "new.safetensors")
    with safe_open(str(tmp_path / "new.safetensors"), framework="pt") as f:
        written = json.loads(f.metadata()["config"])
    assert written["depth"] == 2 and "Jmax" not in written  # the new key is written
    _with_old_config(tmp_path / "new.safetensors", tmp_path / "old.safetensors")
    old = load_generator(tmp_path / "old.safetensors")
    assert old.depth == 2 and old.config == model.config
    assert torch.equal(
        generate_samples(old, 2, 24, 24, seed=1), generate_samples(model, 2, 24, 24, seed=1)
    )
    config = read_generator_metadata(tmp_path / "old.safetensors")["config"]
    assert config["depth"] == 2 and "Jmax" not in config
    old_config = {("Jmax" if k == "depth" else k): v for k, v in config.items()}
    assert estimate_sampling_bytes(old_config, 2, (64, 64)) == estimate_sampling_bytes(
        config, 2, (64, 64)
    )


def test_old_config_with_a_bad_jmax_names_the_files_key(tmp_path: Path) -> None:
    save_generator(SynthHalfUNet2D(depth=2, width=4), tmp_path / "new.safetensors")
    _with_old_config(tmp_path / "new.safetensors", tmp_path / "old.safetensors")
    with safe_open(str(tmp_path / "old.safetensors"), framework="pt") as f:
        header = dict(f.metadata())
    config = json.loads(header["config"])
    config["Jmax"] = 10**6
    header["config"] = json.dumps(config)
    bad = tmp_path / "bad.safetensors"
    save_file(load_file(str(tmp_path / "old.safetensors")), str(bad), metadata=header)
    with pytest.raises(TexsynthError, match="config.Jmax must be an integer"):
        load_generator(bad)


def test_checkpoints_of_earlier_versions_still_resume(tmp_path: Path) -> None:
    ex = torch.rand(1, 16, 16, generator=torch.Generator().manual_seed(0))
    kw = dict(size=16, depth=2, width=2, batch=2, seed=0, progress=False)
    ckpt = tmp_path / "c.safetensors"
    stop_after_two = lambda step, loss, model: step == 1  # noqa: E731
    train_generator(ex, steps=3, checkpoint=ckpt, checkpoint_every=1, callback=stop_after_two, **kw)
    # the checkpoint as an earlier version wrote it: n_samples, and config key "Jmax"
    with safe_open(str(ckpt), framework="pt") as f:
        meta = dict(f.metadata())
    settings = json.loads(meta["settings"])
    settings["n_samples"] = settings.pop("batch")
    settings["config"]["Jmax"] = settings["config"].pop("depth")
    meta["settings"] = json.dumps(settings, sort_keys=True)
    save_file(load_file(str(ckpt)), str(ckpt), metadata=meta)
    resumed, report = train_generator(ex, steps=3, checkpoint=ckpt, resume=True, report=True, **kw)
    assert report.resumed_from == 2 and report.steps == 3
    straight = train_generator(ex, steps=3, **kw)
    for a, b in zip(resumed.parameters(), straight.parameters(), strict=True):
        assert torch.equal(a, b)
