"""The on-disk cache of HEALPix stencil operators (texsynth.healpix_cache)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

pytest.importorskip("healpy")

from texsynth import healpix_cache  # noqa: E402
from texsynth.errors import TexsynthWarning  # noqa: E402
from texsynth.healpix_cache import cache_folder, operator_cache, operator_path  # noqa: E402
from texsynth.healpix_wavelets import build_stencil_operator, stencil_operator  # noqa: E402


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("TEXSYNTH_CACHE", str(tmp_path))
    return tmp_path / "healpix"


def test_a_cached_operator_is_the_built_one_bit_for_bit(cache: Path) -> None:
    nb, w = stencil_operator(4, 3, 2)
    (entry,) = cache.iterdir()
    assert entry == operator_path("stencil", 4, 3, 2)
    assert "nside4-K3-L2" in entry.name and "standard" in entry.name
    assert not [p for p in cache.iterdir() if p.name.startswith(".")]  # no temporaries left
    again_nb, again_w = stencil_operator(4, 3, 2)  # read back
    ref_nb, ref_w = build_stencil_operator(4, 3, 2)
    assert torch.equal(again_nb, ref_nb) and torch.equal(again_w, ref_w)
    assert torch.equal(nb, ref_nb) and again_nb.dtype == torch.int64


def test_the_cache_is_read_not_rebuilt(cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    stencil_operator(4, 3, 2)

    def fail(*args: object) -> None:
        raise AssertionError("rebuilt")

    monkeypatch.setattr("texsynth.healpix_wavelets.build_stencil_operator", fail)
    stencil_operator(4, 3, 2)  # from the file
    with pytest.raises(AssertionError, match="rebuilt"):
        stencil_operator(4, 3, 3)  # another key


@pytest.mark.parametrize("damage", ["truncate", "garbage", "wrong_shape"])
def test_a_corrupted_entry_is_rebuilt_with_a_warning(cache: Path, damage: str) -> None:
    ref_nb, ref_w = stencil_operator(2, 3, 2)
    path = operator_path("stencil", 2, 3, 2)
    assert path is not None
    if damage == "truncate":
        path.write_bytes(path.read_bytes()[:300])
    elif damage == "garbage":
        path.write_bytes(b"not a numpy file")
    else:
        import numpy as np

        np.savez(path, neighbours=np.zeros((3, 3), np.int32), weights=np.zeros(3, complex))
    with pytest.warns(TexsynthWarning, match="corrupted.*rebuilding"):
        nb, w = stencil_operator(2, 3, 2)
    assert torch.equal(nb, ref_nb) and torch.equal(w, ref_w)
    nb2, _ = stencil_operator(2, 3, 2)  # rewritten: read again without a warning
    assert torch.equal(nb2, ref_nb)


@pytest.mark.parametrize("value", ["off", "0", "none", ""])
def test_turned_off_by_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("TEXSYNTH_CACHE", value)
    assert cache_folder() is None and operator_path("stencil", 2, 3, 2) is None
    stencil_operator(2, 3, 2)
    assert not list(tmp_path.iterdir())


def test_turned_off_in_a_block(cache: Path) -> None:
    with operator_cache(False):
        assert cache_folder() is None
        stencil_operator(2, 3, 2)
    assert not cache.exists()
    assert cache_folder() == cache


def test_platform_folder_without_the_variable(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("TEXSYNTH_CACHE")
    monkeypatch.setattr(healpix_cache.sys, "platform", "linux")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert cache_folder() == tmp_path / "texsynth" / "healpix"


def test_an_unwritable_folder_warns_and_still_builds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    monkeypatch.setenv("TEXSYNTH_CACHE", str(blocker))  # a file: no folder can be made in it
    with pytest.warns(TexsynthWarning, match="cannot cache"):
        nb, _ = stencil_operator(2, 3, 2)
    assert nb.shape[0] == 48


def test_entries_are_complex64_within_float32_rounding_of_the_float64_build(cache: Path) -> None:
    from texsynth.healpix_cache import OPERATOR_VERSION

    assert (
        OPERATOR_VERSION >= 2 and f"-v{OPERATOR_VERSION}-" in operator_path("stencil", 8, 5, 4).name
    )
    nb, w = stencil_operator(8, 5, 4)
    assert w.dtype == torch.complex64
    nb64, w64 = build_stencil_operator(8, 5, 4, dtype=torch.complex128)
    assert torch.equal(nb, nb64)
    err = (w.to(torch.complex128) - w64).abs().max() / w64.abs().max()
    assert 0 < float(err) < 1e-7  # float32 rounding (the bank applies the taps in float32)
    (entry,) = cache.iterdir()
    # 12 nside**2 M (4 + 8 L) bytes and a few hundred of the archive's own
    assert entry.stat().st_size < 12 * 8**2 * nb.shape[1] * (4 + 8 * 4) + 1024
