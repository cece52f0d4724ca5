"""Shared inputs of the ensemble tests: a 32x32 field and its job (5 steps: fast)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest
import torch

import texsynth
from texsynth.io.runs import JobSpec
from texsynth.seeds import member_seed

SEED = 11
STEPS = 5


def sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


@pytest.fixture(scope="session")
def field(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("exemplar")
    rng = np.random.default_rng(3)
    x = rng.standard_normal((32, 32)).cumsum(0).astype(np.float32)  # not white: some structure
    np.save(d / "ex.npy", x)
    return d / "ex.npy"


def job(field: Path, seed: int | None = SEED) -> JobSpec:
    return JobSpec(
        "synth", "image", {"input": str(field)}, {"method": "scattering", "steps": STEPS}, seed
    )


@pytest.fixture(scope="session")
def reference(field: Path) -> dict[int, np.ndarray]:
    """Members 0-3 made one at a time with texsynth.synthesize and member_seed."""
    ex = torch.from_numpy(np.load(field))[None]
    out = {}
    for k in range(4):
        x = texsynth.synthesize(
            ex, n=1, seed=member_seed(SEED, k), method="scattering", steps=STEPS, progress=False
        )
        out[k] = x[0, 0].numpy()
    return out
