"""The ensemble picture draws every channel of multi-channel members (one row each)."""

from __future__ import annotations

import numpy as np

from texsynth.ensembles.picture import render
from texsynth.ensembles.summary import SummaryAccumulator, SummaryConfig

MEAN = (0xD6, 0x27, 0x28)  # the ensemble mean's colour
EXEMPLAR = (0x1F, 0x77, 0xB4)


def _summary(channels: int):
    cfg = SummaryConfig("image", channels, (1 / 32, 1 / 16, 1 / 8, 1 / 4, 1 / 2), 3, 4)
    rng = np.random.default_rng(0)
    ex = rng.standard_normal(cfg.size)
    acc = SummaryAccumulator(cfg, ex.tolist())
    for _ in range(5):
        acc.add((ex + rng.standard_normal(cfg.size)).tolist())
    return acc.result()


def _has(band: np.ndarray, colour: tuple[int, int, int]) -> bool:
    return bool(np.all(band == np.array(colour, dtype=np.uint8), axis=-1).any())


def test_every_channel_gets_a_row_of_charts():
    one = np.asarray(render(_summary(1), "one channel"))
    three = np.asarray(render(_summary(3), "three channels"))
    assert three.shape[0] - one.shape[0] == 2 * 240  # two more rows of charts
    bands = [three[30 + r * 240 : 30 + (r + 1) * 240 - 4] for r in range(3)]
    for band in bands:  # every row shows the ensemble mean and the exemplar
        assert _has(band, MEAN) and _has(band, EXEMPLAR)
    # the rows draw different numbers (channel c's values, not channel 0's three times)
    assert not np.array_equal(bands[0], bands[1]) and not np.array_equal(bands[1], bands[2])
