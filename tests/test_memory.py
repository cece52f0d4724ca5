"""Memory estimates and the check before work (issue 17, item 4): fast, nothing computed."""

from __future__ import annotations

import pytest

from texsynth import TexsynthError
from texsynth.memory import (
    available_bytes,
    check_memory,
    estimate_sampling_bytes,
    estimate_stats_bytes,
    estimate_synthesis_bytes,
    estimate_training_bytes,
    format_bytes,
    parse_bytes,
)

CONFIG = {"depth": 4, "channel_list": [128, 128, 64, 32, 16], "L": 4, "image_channels": 3}


def test_parse_and_format_sizes() -> None:
    assert parse_bytes("64G") == 64 * 2**30
    assert parse_bytes("512m") == 512 * 2**20
    assert parse_bytes("1.5TiB") == int(1.5 * 2**40)
    assert parse_bytes("4096") == 4096
    for bad in ("lots", "-1G", "0", "", "1e9"):
        with pytest.raises(TexsynthError, match="like 64G"):
            parse_bytes(bad)
    assert format_bytes(3 * 2**30) == "3 GiB" and format_bytes(2**41) == "2 TiB"


def test_estimates_match_the_calibration_and_grow_with_the_settings() -> None:
    grey = estimate_synthesis_bytes((1, 256, 256))
    assert 250e6 < grey < 450e6  # measured 305 MB
    assert estimate_synthesis_bytes((1, 256, 256), L=8) > 2.5 * grey
    assert estimate_synthesis_bytes((3, 256, 256)) > 3 * grey
    assert estimate_synthesis_bytes((1, 256, 256), 512, n=4) > 3 * grey
    assert estimate_synthesis_bytes((256, 256), L=1000) > 2**40  # terabytes: refused
    gram = estimate_synthesis_bytes((3, 128, 128), n=4, method="gram")
    assert 250e6 < gram < 500e6  # measured 325 MB
    assert estimate_synthesis_bytes((3, 128, 128), method="gram+spectrum") >= gram / 4
    assert estimate_synthesis_bytes((3, 256, 256), n=4, method="patch") < 600e6
    assert estimate_synthesis_bytes("bad", 3) == 0  # the run's own checks say what is wrong
    assert 80e6 < estimate_stats_bytes((256, 256), 1, 4) < 150e6  # measured 111 MB
    train = estimate_training_bytes((64, 64), (64, 64), channels=3, batch=4, width=16)
    assert 150e6 < train < 400e6  # measured 254 MB
    sample = estimate_sampling_bytes(CONFIG, 2, (256, 256))
    assert 30e6 < sample < 150e6  # measured 42 MB
    assert estimate_sampling_bytes(CONFIG, 1, (10000, 10000)) > 40 * 2**30


def test_check_memory_refuses_in_one_line_with_the_estimate_and_the_limit() -> None:
    check_memory(10 * 2**20, 2**30)
    with pytest.raises(TexsynthError) as info:
        check_memory(3 * 2**30, 2**30, fix="use a smaller --size", override="--max-memory ")
    text = str(info.value)
    assert "3 GiB" in text and "1 GiB" in text and "--max-memory SIZE" in text
    assert "\n" not in text
    with pytest.raises(TexsynthError, match="available RAM"):
        check_memory(2**62)
    assert available_bytes() > 2**20
