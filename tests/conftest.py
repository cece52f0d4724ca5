"""Test settings: one thread (stable on 2-core CI and under load), fixed seed; the
benchmarks' helper modules (e.g. ``processes1d``) importable."""

import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

torch.set_num_threads(1)
torch.manual_seed(0)
