"""Train a small expander on the procedural textures for a fixed time (issue 19).

Usage::

    PYTHONPATH=src .venv/bin/python benchmarks/train_expander.py -o /tmp/expander.safetensors \\
        --size 64 --batch 4 --steps 600 --seconds 2700 --style gram --head select

Writes the model (safetensors, configuration and the training record in its metadata) and
prints the loss every 10 steps. One torch thread by default: on a machine shared by several
processes, more threads were 35x slower (measured under load, 2026-12-05).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

from texsynth.expander.model import (  # noqa: E402
    ExpanderConfig,
    TransposerExpander,
    load_expander,
    save_expander,
)
from texsynth.expander.training import train_expander  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-o", "--output", required=True)
    ap.add_argument("--size", type=int, default=32)
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--steps", type=int, default=2000)
    ap.add_argument("--seconds", type=float, default=None)
    ap.add_argument("--style", default="gram", choices=["gram", "swd"])
    ap.add_argument("--encoder", default="conv", choices=["conv", "vgg"])
    ap.add_argument("--head", default="select", choices=["select", "soft"])
    ap.add_argument("--candidates", type=int, default=16)
    ap.add_argument("--selection-weight", type=float, default=1.0)
    ap.add_argument(
        "--style-weight", type=float, default=1.0, help="0 with --content-weight 0: no VGG"
    )
    ap.add_argument("--content-weight", type=float, default=0.05)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--save-every", type=int, default=50, help="write the model every N steps")
    ap.add_argument("--init", default=None, help="start from this expander file (weights only)")
    a = ap.parse_args(argv)
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    model = (
        load_expander(a.init).train()
        if a.init
        else TransposerExpander(
            ExpanderConfig(encoder=a.encoder, head=a.head, candidates=a.candidates)
        )
    )
    t0 = time.perf_counter()

    def log(k: int, loss: float) -> None:
        if k % 10 == 0:
            aux = model.aux_loss
            sel = f" selection {float(aux.detach()):.4f}" if aux is not None else ""
            print(f"step {k} loss {loss:.4f}{sel} t {time.perf_counter() - t0:.0f}s", flush=True)
        if a.save_every and k and k % a.save_every == 0:  # a run cut short still leaves a model
            save_expander(model, a.output, {**vars(a), "steps_done": k + 1})

    res = train_expander(
        model,
        steps=a.steps,
        size=a.size,
        batch=a.batch,
        lr=a.lr,
        style=a.style,
        selection_weight=a.selection_weight,
        style_weight=a.style_weight,
        content_weight=a.content_weight,
        seed=a.seed,
        seconds=a.seconds,
        log=log,
    )
    record = {
        **vars(a),
        "steps_done": res.steps,
        "seconds_taken": round(res.seconds, 1),
        "losses": [round(v, 4) for v in res.losses],
    }
    save_expander(model, a.output, record)
    print(json.dumps({k: v for k, v in record.items() if k != "losses"}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
