"""Training throughput of ``texsynth train-expander`` with 1 and with 2 processes
(``torchrun``, gloo on the CPU, one torch thread each), same global batch (issue 19).

Runs the command itself (procedural textures only, the default network) and reads the
steps per second it prints (the training loop's wall time, after the network and VGG19 are
built)::

    PYTHONPATH=src python benchmarks/bench_expander_torchrun.py --steps 20 --size 32 --batch 4
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time


def run(procs: int, steps: int, size: int, batch: int, folder: str) -> tuple[float, float]:
    """(steps/s of the loop, wall seconds of the whole command)."""
    out = os.path.join(folder, f"p{procs}.safetensors")
    args = ["train-expander", "-o", out, "--steps", str(steps), "--size", str(size),
            "--batch", str(batch), "--checkpoint-every", str(steps), "--quiet",
            "--overwrite"]  # fmt: skip
    if procs == 1:
        cmd = [sys.executable, "-m", "texsynth", *args]
    else:
        cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone",
               "--nproc-per-node", str(procs), "-m", "texsynth", *args]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    t0 = time.perf_counter()
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True)
    wall = time.perf_counter() - t0
    m = re.search(r"\(([0-9.]+) steps/s", done.stdout)
    if m is None:
        raise RuntimeError(done.stdout + done.stderr)
    return float(m.group(1)), wall


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--size", type=int, default=32)
    p.add_argument("--batch", type=int, default=4)
    p.add_argument("--repeat", type=int, default=2)
    a = p.parse_args()
    print(f"load average before: {os.getloadavg()}")
    with tempfile.TemporaryDirectory() as folder:
        for r in range(a.repeat):
            for procs in (1, 2):
                rate, wall = run(procs, a.steps, a.size, a.batch, folder)
                load = os.getloadavg()[0]
                print(f"run {r} processes {procs}: {rate:.3f} steps/s "
                      f"(command {wall:.1f} s, load {load:.1f})", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
