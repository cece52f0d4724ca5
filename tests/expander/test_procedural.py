"""Procedural training textures of the expander (issue 19)."""

from __future__ import annotations

import numpy as np
import pytest

from texsynth.errors import TexsynthError
from texsynth.expander import procedural as pr


@pytest.mark.parametrize("family", list(pr.FAMILIES))
def test_every_family_is_a_seeded_colour_texture(family: str) -> None:
    a = pr.texture(3, 48, family)
    assert a.shape == (3, 48, 48) and a.dtype == np.float32
    assert 0.0 <= float(a.min()) and float(a.max()) <= 1.0
    assert np.array_equal(a, pr.texture(3, 48, family))  # same seed, same texture
    assert not np.array_equal(a, pr.texture(4, 48, family))  # another seed, another one
    # a texture, not a flat image: structure at several places
    assert float(a.std()) > 0.02
    quarters = [a[:, :24, :24], a[:, 24:, 24:], a[:, :24, 24:]]
    assert all(float(q.std()) > 0.01 for q in quarters)


def test_families_differ_in_their_spectra() -> None:
    # mean power in the top-frequency half of each family, over a few seeds
    def hf(family: str) -> float:
        vals = []
        for s in range(3):
            g = pr.texture(s, 64, family).mean(0)
            p = np.abs(np.fft.fft2(g - g.mean())) ** 2
            f = np.hypot(*np.meshgrid(np.fft.fftfreq(64), np.fft.fftfreq(64)))
            vals.append(p[f > 0.25].sum() / p.sum())
        return float(np.mean(vals))

    ratios = {f: hf(f) for f in pr.FAMILIES}
    assert max(ratios.values()) > 3 * min(ratios.values())


def test_batch_is_reproducible_and_cycles_families() -> None:
    b = pr.batch(7, 4, 32, ["cells", "stripes"])
    assert b.shape == (4, 3, 32, 32)
    assert np.array_equal(b, pr.batch(7, 4, 32, ["cells", "stripes"]))
    assert np.array_equal(b[1], pr.texture(7 * 1_000_003 + 1, 32, "stripes"))
    assert not np.array_equal(pr.batch(8, 4, 32)[0], pr.batch(7, 4, 32)[0])


def test_bad_arguments() -> None:
    with pytest.raises(TexsynthError, match="family"):
        pr.texture(0, 32, "marble")
    with pytest.raises(TexsynthError, match="size"):
        pr.texture(0, 4)
