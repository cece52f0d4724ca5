"""Train a small expander on the procedural textures for a fixed time (issue 19).

Usage::

    PYTHONPATH=src .venv/bin/python benchmarks/train_expander.py -o /tmp/expander.safetensors \\
        --size 64 --batch 4 --steps 600 --seconds 2700 --style gram --head select

The selection head's seam loss (docs/expander.md, "Training on seams")::

    PYTHONPATH=src OMP_NUM_THREADS=1 .venv/bin/python benchmarks/train_expander.py \\
        -o /tmp/seam.safetensors --head select --size 64 --batch 4 --steps 600 \\
        --style-weight 0 --content-weight 0 --selection-weight 0 --seam-weight 1 \\
        --seam-scale-free --scalar-lr-factor 0 --photos --save-every 100 --keep-checkpoints

Writes the model (safetensors, configuration and the training record in its metadata) and
prints the loss every 10 steps (with the seam loss, the realised seam cost, ``log_tau`` and
``w_s``); ``--keep-checkpoints`` keeps every ``--save-every`` model for a validation curve.
One torch thread by default: on a machine shared by several
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

from texsynth.errors import TexsynthError  # noqa: E402
from texsynth.expander.distribution_losses import DistributionWeights  # noqa: E402
from texsynth.expander.model import (  # noqa: E402
    ExpanderConfig,
    TransposerExpander,
    load_expander,
    save_expander,
)
from texsynth.expander.training import TrainResult, train_expander  # noqa: E402


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
    ap.add_argument("--frechet-weight", type=float, default=0.0, help="Fréchet term (0: off)")
    ap.add_argument("--adversarial-weight", type=float, default=0.0, help="patch discriminator")
    ap.add_argument("--correspondence-weight", type=float, default=0.0, help="correspondence")
    ap.add_argument("--disc-lr", type=float, default=2e-4, help="the discriminator's Adam rate")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--save-every", type=int, default=50, help="write the model every N steps")
    ap.add_argument("--init", default=None, help="start from this expander file (weights only)")
    ap.add_argument(
        "--seam-weight", type=float, default=0.0, help="selection head: expected seam cost"
    )
    ap.add_argument("--seam-band", type=int, default=4, help="pixels either side of an edge")
    ap.add_argument(
        "--seam-scale-free",
        action="store_true",
        help="seam loss on softmax(z / std z): invariant to the logits' scale",
    )
    ap.add_argument(
        "--scalar-lr-factor",
        type=float,
        default=20.0,
        help="learning rate of tau, w_s (and the soft head's scalars) over --lr; 0: frozen",
    )
    ap.add_argument(
        "--train-cut",
        action="store_true",
        help="selection head: also train w_cut, the cut-aware choice's weight",
    )
    ap.add_argument(
        "--w-cut",
        type=float,
        default=None,
        help="selection head: start w_cut at this value (with --init: overrides the file's)",
    )
    ap.add_argument(
        "--photos", action="store_true", help="every second item: a packaged photograph's crop"
    )
    ap.add_argument(
        "--keep-checkpoints",
        action="store_true",
        help="also write OUTPUT.stepN.safetensors at every --save-every (for a validation curve)",
    )
    a = ap.parse_args(argv)
    extra = DistributionWeights(
        a.frechet_weight, a.adversarial_weight, a.correspondence_weight, a.disc_lr
    )
    try:
        extra.check()
    except TexsynthError as exc:
        ap.error(str(exc))
    if a.encoder != "conv" and a.head != "soft" and not a.init:
        ap.error(f"--encoder {a.encoder} needs --head soft: the selection head has no encoder")
    if a.photos:  # all the packaged photographs, or one line before any work
        from texsynth.expander.photos import require_photos

        try:
            require_photos()
        except TexsynthError as exc:
            ap.error(str(exc))
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    model = (
        load_expander(a.init).train()
        if a.init
        else TransposerExpander(
            ExpanderConfig(encoder=a.encoder, head=a.head, candidates=a.candidates)
        )
    )
    if a.w_cut is not None and a.head == "select":
        with torch.no_grad():
            model.selector.w_cut.fill_(a.w_cut)
    t0 = time.perf_counter()
    watch = TrainResult()

    def log(k: int, loss: float) -> None:
        if k % 10 == 0:
            aux = model.aux_loss
            sel = f" selection {float(aux.detach()):.4f}" if aux is not None else ""
            if watch.seams:
                sel += f" seams {watch.seams[-1]:.4f}"
            if a.head == "select":
                head = model.selector
                sel += f" log_tau {float(head.log_tau.detach()):.3f}"
                sel += f" w_s {float(head.w_sim.detach()):.3f}"
                sel += f" w_cut {float(head.w_cut.detach()):.3f}"
            print(f"step {k} loss {loss:.4f}{sel} t {time.perf_counter() - t0:.0f}s", flush=True)
        done = k + 1
        if a.save_every and done % a.save_every == 0:  # a run cut short still leaves a model
            rec = {
                **vars(a),
                "steps_done": done,
                "seconds_taken": round(time.perf_counter() - t0, 1),
            }
            save_expander(model, a.output, rec)
            if a.keep_checkpoints:
                step_file = Path(a.output).with_suffix(f".step{done}.safetensors")
                save_expander(model, step_file, rec)

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
        result=watch,
        seam_weight=a.seam_weight,
        seam_band=a.seam_band,
        photos=a.photos,
        seam_scale_free=a.seam_scale_free,
        scalar_lr_factor=a.scalar_lr_factor,
        distribution=extra,
        train_cut=a.train_cut,
    )
    record = {
        **vars(a),
        "steps_done": res.steps,
        "seconds_taken": round(res.seconds, 1),
        "losses": [round(v, 4) for v in res.losses],
        "seams": [round(v, 4) for v in res.seams],
    }
    save_expander(model, a.output, record)
    print(json.dumps({k: v for k, v in record.items() if k != "losses"}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
