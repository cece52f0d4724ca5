"""Record foscat's output shapes for ``eval(..., spin=2)`` and ``spin=1`` on HEALPix maps (the
regression file ``foscat_spin_shapes.json`` read by ``tests/compat/test_foscat_spin.py``).

foscat builds its spin-2 operators from spherical-harmonic transforms pixel by pixel (a few
seconds at nside 4, minutes at nside 16), too slow for the test suite. Run with foscat
installed (``pip install -e '.[foscat]'``)::

    OMP_NUM_THREADS=1 python tests/compat/data/make_foscat_spin_shapes.py

The inputs are white noise: only the shapes are recorded (and S0's values, to show its
layout). Its operator templates go to a temporary folder, not ``~/.FOSCAT``.
"""

from __future__ import annotations

import importlib.metadata
import json
import re
import sys
import tempfile
import warnings
from pathlib import Path

import foscat.scat_cov as fsc
import numpy as np
import torch

FIELDS = ("S0", "S1", "S2", "S3", "S3P", "S4")
NSIDE = 4


def _shapes(out: object) -> dict[str, list[int] | None]:
    return {
        n: None if getattr(out, n, None) is None else list(getattr(out, n).shape) for n in FIELDS
    }


def main() -> None:
    torch.set_num_threads(1)
    npix = 12 * NSIDE**2
    rng = np.random.default_rng(0)
    qu = rng.standard_normal((3, 2, npix)).astype(np.float32)
    qu2 = rng.standard_normal((3, 2, npix)).astype(np.float32)
    masks = np.ones((2, npix), np.float32)
    masks[1, : npix // 2] = 0
    calls = {
        "one (2, npix)": ((qu[0],), {}),
        "one (2, npix) Jmax=2": ((qu[0],), {"Jmax": 2}),
        "batch (3, 2, npix) Jmax=2": ((qu,), {"Jmax": 2}),
        "cross (2, npix) Jmax=2": ((qu[0], qu2[0]), {"Jmax": 2}),
        "masks (2, npix) Jmax=2": ((qu[0],), {"Jmax": 2, "mask": masks}),
        "calc_var Jmax=2": ((qu[0],), {"Jmax": 2, "calc_var": True}),
    }
    record: dict[str, object] = {
        "foscat": importlib.metadata.version("foscat"),
        "nside": NSIDE,
        "NORIENT": 4,
        "KERNELSZ": 3,
        "spins": {},
    }
    with tempfile.TemporaryDirectory() as tmp, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for spin in (2, 1):
            record["spins"][str(spin)] = _record(calls, spin, tmp)  # type: ignore[index]
    path = Path(__file__).with_name("foscat_spin_shapes.json")
    path.write_text(dump(record))
    print(f"wrote {path}", file=sys.stderr)


def dump(record: dict[str, object]) -> str:
    """``record`` as JSON, each list of numbers on one line."""
    text = json.dumps(record, indent=1)
    flat = re.compile(r"\[\s*([^\[\]{}]*?)\s*\]")
    while True:
        new = flat.sub(lambda m: "[" + " ".join(m.group(1).split()) + "]", text)
        if new == text:
            return text + "\n"
        text = new


def _record(calls: dict[str, tuple[tuple[np.ndarray, ...], dict]], spin: int, tmp: str) -> dict:
    """The shapes of every call with ``spin`` (operators built in ``tmp``)."""
    record: dict[str, object] = {}
    for name, (args, kwargs) in calls.items():
        op = fsc.funct(NORIENT=4, KERNELSZ=3, TEMPLATE_PATH=tmp, silent=True)
        out = op.eval(*args, spin=spin, **kwargs)
        entry: dict[str, object]
        if isinstance(out, tuple):
            entry = {"stats": _shapes(out[0]), "sigma": _shapes(out[1])}
        else:
            entry = {"stats": _shapes(out)}
            if name == "one (2, npix)":
                q, u = args[0]
                entry["S0"] = np.asarray(out.S0).tolist()
                entry["channel_means"] = [float(q.mean()), float(u.mean())]
        record[name] = entry
    return record


if __name__ == "__main__":
    main()
