"""``texsynth train-expander`` and ``texsynth expand``: the universal expander
(:mod:`texsynth.expander.trainer`, :mod:`texsynth.expander.expansion`). Only parses and
calls the library."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from ..errors import TexsynthError
from .common import (
    add_memory_option,
    add_overwrite_option,
    named_type,
    positive_float,
    positive_int,
    seed_type,
    weight_type,
)

TRAIN_HELP = (
    "Train the universal expander (docs/expander.md) on random crop pairs (input = the "
    "centre crop of side --size, target = the crop twice as large around it, with the 8 "
    "flips and quarter turns) of every image under the DATA_DIRs, interleaved one for one "
    "with procedural textures (noise, cells, bricks, weaves, stripes, scales); --photos: "
    "the crops alternate between the DATA_DIRs and the photographs that scikit-image and "
    "matplotlib ship (never the benchmark's); without DATA_DIR, procedural textures (and "
    "the photographs) only. Writes OUT at the end and a checkpoint "
    "NAME.ckpt.safetensors every --checkpoint-every steps (for --resume, which continues "
    "bit for bit). Several processes: torchrun --nproc-per-node N -m texsynth "
    "train-expander ... (each takes --batch / N pairs of every step; rank 0 writes)."
)


@named_type("channel widths")
def widths_type(text: str) -> tuple[int, int, int]:
    """argparse type: three positive channel counts, ``A,B,C``."""
    try:
        parts = tuple(int(t) for t in text.split(","))
    except ValueError:
        parts = ()
    if len(parts) != 3 or min(parts) < 1:
        raise argparse.ArgumentTypeError(f"give three positive integers A,B,C, got {text!r}")
    return parts[0], parts[1], parts[2]


def add_expander_commands(sub: Any) -> None:
    """Register ``train-expander`` and ``expand``."""
    tr = sub.add_parser(
        "train-expander",
        help="train the universal expander on image folders and procedural textures",
        description=TRAIN_HELP,
    )
    tr.add_argument(
        "folders",
        nargs="*",
        type=Path,
        metavar="DATA_DIR",
        help="folders of images (searched recursively) or image files; none: procedural (and "
        "--photos) only",
    )
    tr.add_argument(
        "-o", "--output", type=Path, required=True, metavar="OUT", help="expander file to write"
    )
    tr.add_argument("--steps", type=positive_int, default=1000, help="training steps")
    tr.add_argument(
        "--batch", type=positive_int, default=4, help="pairs per step, over all processes"
    )
    tr.add_argument(
        "--size", type=positive_int, default=32, help="input side in pixels (targets: twice)"
    )
    tr.add_argument(
        "--style",
        choices=("gram", "swd"),
        default="gram",
        help="style loss: L1 between VGG19 Gram matrices, or sliced Wasserstein",
    )
    tr.add_argument(
        "--content-weight", type=weight_type, default=0.05, help="weight of the content loss"
    )
    for name, what in (
        ("frechet", "Fréchet distance between Gaussians of VGG19 features (border vs real)"),
        ("adversarial", "patch discriminator (PatchGAN, hinge loss, trained alongside)"),
        ("correspondence", "guided correspondence loss (VGG19 patches of the border)"),
    ):
        tr.add_argument(
            f"--{name}-weight",
            type=weight_type,
            default=0.0,
            help=f"weight of the {what}; 0: off (docs/expander.md)",
        )
    tr.add_argument(
        "--lr", type=positive_float, default=2e-3, help="Adam's learning rate (cosine to 0)"
    )
    tr.add_argument("--seed", type=seed_type, default=0, help="seed of the weights and the data")
    tr.add_argument(
        "--procedural",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="interleave procedural textures with the crops (--no-procedural: crops only)",
    )
    tr.add_argument(
        "--photos",
        action="store_true",
        help="also crop the photographs that scikit-image and matplotlib ship (not the "
        "benchmark's; read offline): half of the crops, or all of them without DATA_DIR",
    )
    tr.add_argument(
        "--widths",
        type=widths_type,
        default="32,64,96",
        metavar="A,B,C",
        help="encoder channels at 1/2, 1/4, 1/8 of the input",
    )
    tr.add_argument("--decoder-width", type=positive_int, default=48, help="decoder channels")
    tr.add_argument(
        "--head",
        choices=("select", "soft"),
        default="select",
        help="select: a hard choice among shifted copies of the input (the shipped model's); "
        "soft: the Transposer's weighted copies (docs/expander.md)",
    )
    tr.add_argument(
        "--encoder",
        choices=("conv", "vgg"),
        default="conv",
        help="the soft head's encoder: conv (the paper's, trained from scratch) or vgg (the "
        "frozen normalised VGG19 with trained 1x1 projections); needs --head soft",
    )
    tr.add_argument(
        "--checkpoint-every",
        type=positive_int,
        default=100,
        help="steps between checkpoints and progress lines",
    )
    tr.add_argument(
        "--resume",
        action="store_true",
        help="continue from OUT's checkpoint (same data and options; --steps may grow)",
    )
    tr.add_argument(
        "--stop-after",
        type=positive_int,
        default=None,
        metavar="N",
        help="stop after N steps of this run, keeping the checkpoint (continue with --resume)",
    )
    tr.add_argument("--quiet", action="store_true", help="no progress bar or lines")
    add_overwrite_option(tr)
    tr.set_defaults(func=cmd_train_expander)

    ex = sub.add_parser(
        "expand",
        help="enlarge a texture 2x or 4x in one pass with a trained expander",
        description="Grow a texture into its surroundings: the output is --scale times as "
        "large, with IN in its centre (the universal expander, docs/expander.md). Reads "
        "every image the other commands read (grey or RGB, 8 or 16 bits, float fields: "
        "mapped from their range to [0, 1] and back) and writes OUT and a JSON record "
        "beside it.",
    )
    ex.add_argument("input", type=Path, metavar="IN", help="the texture to enlarge")
    ex.add_argument(
        "-o", "--output", type=Path, required=True, metavar="OUT", help="image to write"
    )
    ex.add_argument(
        "--scale", type=int, choices=(2, 4), default=2, help="2, or 4 (the network twice)"
    )
    ex.add_argument(
        "--model",
        type=Path,
        default=None,
        metavar="FILE",
        help="expander file (texsynth train-expander; default: the packaged model)",
    )
    ex.add_argument("--periodic", action="store_true", help="a tileable output")
    ex.add_argument(
        "--seed",
        type=seed_type,
        default=None,
        help="seed of the network's random draws (the expander as built draws none)",
    )
    add_overwrite_option(ex)
    add_memory_option(ex)
    ex.set_defaults(func=cmd_expand)


def cmd_train_expander(args: argparse.Namespace) -> int:
    """Run ``texsynth train-expander``."""
    from ..atomic import check_output, is_texsynth_safetensors
    from ..expander.model import ExpanderConfig
    from ..expander.trainer import ExpanderTrainSettings, train_expander_file
    from ..training_files import checkpoint_path

    settings = ExpanderTrainSettings(
        size=args.size,
        steps=args.steps,
        batch=args.batch,
        lr=args.lr,
        style=args.style,
        content_weight=args.content_weight,
        seed=args.seed,
        procedural=args.procedural,
        photos=args.photos,
        checkpoint_every=args.checkpoint_every,
        frechet_weight=args.frechet_weight,
        adversarial_weight=args.adversarial_weight,
        correspondence_weight=args.correspondence_weight,
        config=ExpanderConfig(
            encoder=args.encoder,
            widths=args.widths,
            decoder_width=args.decoder_width,
            head=args.head,
        ),
    )
    settings.check()
    if not args.folders and not args.procedural and not args.photos:
        raise TexsynthError(
            "no training data: give DATA_DIR folders of images or --photos, or drop --no-procedural"
        )
    ckpt = checkpoint_path(args.output)
    inputs = [("training data", f) for f in args.folders]
    for option, path, suffixes in (
        ("-o", args.output, (".safetensors",)),
        (f"-o {args.output.name}: its checkpoint", ckpt, None),
    ):
        check_output(
            path,
            option=option,
            suffixes=suffixes,
            inputs=inputs,
            ours=is_texsynth_safetensors,
            overwrite=args.overwrite,
            hint=" (train-expander writes a .safetensors expander file)",
        )
    if args.resume and not ckpt.exists():
        raise TexsynthError(
            f"--resume: there is no checkpoint {str(ckpt)!r}; run without --resume to start "
            "training"
        )

    def say(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    try:
        result = train_expander_file(
            args.folders,
            args.output,
            settings,
            resume=args.resume,
            stop_after=args.stop_after,
            progress=None if args.quiet else say,
            bar=not args.quiet,
        )
    except KeyboardInterrupt:
        if ckpt.exists():
            print("texsynth: training interrupted; run the same command with --resume to go on")
        raise
    if int(os.environ.get("RANK", "0")) != 0:
        return 0
    rate = result.steps_run / result.seconds if result.seconds > 0 else float("nan")
    ran = f"{result.steps_run} steps in {result.seconds:.1f} s ({rate:.2f} steps/s"
    ran += f", {result.world_size} processes)" if result.world_size > 1 else ")"
    if not result.finished:
        print(
            f"stopped at step {result.step}/{args.steps} ({ran}); checkpoint {ckpt}: run the "
            "same command with --resume to go on"
        )
        return 0
    print(
        f"wrote {args.output} (step {result.step}, {ran}; last loss {result.last_loss:.4f}); "
        f"enlarge textures with: texsynth expand IN -o OUT --model {args.output}"
    )
    return 0


def cmd_expand(args: argparse.Namespace) -> int:
    """Run ``texsynth expand``: the image and its JSON record, both or neither."""
    from ..atomic import StagedFiles, atomic_text_write
    from ..expander.expansion import estimate_expand_bytes, resolve_model
    from ..expander.expansion import expand as expand_image
    from ..expander.model import MULTIPLE
    from ..io import SUPPORTED_SUFFIXES, read_image
    from ..io.outputs import write_outputs
    from ..io.runs import record_header
    from .common import check_run_memory, check_set, sidecar_path

    sidecar = sidecar_path(args.output)
    inputs = [("input", args.input), ("model", args.model)]
    check_set([args.output], sidecar, inputs, suffixes=SUPPORTED_SUFFIXES, overwrite=args.overwrite)
    model = resolve_model(args.model)
    image, meta = read_image(args.input)
    H, W = int(image.shape[-2]), int(image.shape[-1])
    if min(H, W) >= MULTIPLE:  # (smaller: the library's one line)
        estimate = estimate_expand_bytes(H, W, args.scale, model.config)
        check_run_memory(args, estimate, None, "expand a smaller image or use --scale 2")
    start = time.perf_counter()
    out = expand_image(
        image,
        scale=args.scale,
        model=model,
        periodic=args.periodic,
        seed=args.seed,
        max_memory=1 << 62,  # checked above, in the command's words
    )
    elapsed = time.perf_counter() - start
    _, C, H, W = out.shape
    record = {
        **record_header("expand"),
        "input": str(args.input),
        "model": str(args.model) if args.model is not None else "default",
        "scale": args.scale,
        "periodic": args.periodic,
        "seed": args.seed,
        "size_hw": [H, W],
        "seconds": round(elapsed, 3),
        "outputs": [str(args.output)],
    }
    with StagedFiles() as stage:
        note = write_outputs(out, meta, [stage.temp(args.output)], args.output.suffix.lower())
        atomic_text_write(stage.temp(sidecar), json.dumps(record, indent=1))
    print(
        f"wrote {args.output} ({W}x{H}, scale {args.scale}) in {elapsed:.2f} s; record in {sidecar}"
    )
    if note:
        print(f"note: {note}")
    return 0
