"""Test settings: one thread (stable on 2-core CI and under load), fixed seed; the
benchmarks' helper modules (e.g. ``processes1d``) importable."""

import atexit
import os
import shutil
import sys
import tempfile
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

torch.set_num_threads(1)
torch.manual_seed(0)

# HEALPix operators cached on disk (texsynth.healpix_cache) go to a fresh folder per session,
# never to the user's cache; tests of the cache itself point it elsewhere.
if "TEXSYNTH_CACHE" not in os.environ:
    _cache = tempfile.mkdtemp(prefix="texsynth-cache-")
    os.environ["TEXSYNTH_CACHE"] = _cache
    atexit.register(shutil.rmtree, _cache, ignore_errors=True)
