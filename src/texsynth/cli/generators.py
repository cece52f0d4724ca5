"""``texsynth train`` and ``texsynth sample``: the generator subcommands of the CLI."""

from __future__ import annotations

import argparse
import dataclasses
import math
import time
from pathlib import Path
from typing import Any

from ..atomic import check_output
from ..errors import TexsynthError
from ..io import SUPPORTED_SUFFIXES, atomic_text_write, read_image
from ..io.outputs import write_outputs
from ..io.runs import versions
from ..memory import MAX_DEPTH, MAX_WIDTH
from .common import (
    add_job_tail,
    add_network_options,
    add_outputs_option,
    bounded_int,
    check_run_memory,
    check_set,
    count_type,
    device_of,
    output_paths,
    positive_float,
    positive_int,
    seed_type,
    sidecar_path,
    size_type,
    weight_type,
)


def add_generator_commands(sub: argparse._SubParsersAction[Any]) -> None:
    """Register ``train`` and ``sample`` on the ``texsynth`` subparsers."""
    tr = sub.add_parser(
        "train",
        help="train a fast generator on an exemplar (then: texsynth sample)",
        description="Train a SynthHalfUNet2D generator so that the textures it draws from "
        "noise have the exemplar's statistics. Saves a safetensors file for `texsynth "
        "sample`. A checkpoint (MODEL.checkpoint.safetensors) is written every 100 steps; "
        "after an interruption, run the same command with --resume.",
    )
    tr.add_argument(
        "input",
        type=Path,
        help="exemplar image (PNG/JPEG/WebP/TIFF/NPY/NPZ/FITS); 1-D signals cannot be trained on",
    )
    tr.add_argument(
        "-o",
        "--output",
        type=Path,
        required=True,
        metavar="MODEL",
        help="generator file to write (.safetensors)",
    )
    tr.add_argument(
        "--size",
        type=size_type,
        default=None,
        metavar="WxH",
        help="size of the samples drawn during training (default: the exemplar's, at most "
        "128 a side)",
    )
    tr.add_argument(
        "--steps",
        type=positive_int,
        default=2000,
        help="training steps (default 2000: about 10 minutes on a 2-core CPU)",
    )
    tr.add_argument(
        "--method",
        default=None,
        help="texture descriptor(s) of the loss, as for synth (default scattering: fast, "
        "good for float fields and stochastic textures; swd learns the shapes in colour "
        "photos of objects, e.g. stones, much better but each step costs about 7x; "
        "gram+spectrum: brick; both need the vgg extra)",
    )
    add_network_options(tr)
    tr.add_argument(
        "--histogram", type=weight_type, default=1.0, help="weight of the pixel-histogram term"
    )
    tr.add_argument(
        "--power-spectrum",
        type=weight_type,
        default=None,
        help="weight of the smoothed power-spectrum term (0: off; default 0.3)",
    )
    tr.add_argument("--batch", type=positive_int, default=4, help="noise samples per step")
    tr.add_argument("--lr", type=positive_float, default=3e-3, help="initial Adam learning rate")
    tr.add_argument(
        "--width",
        type=bounded_int(1, MAX_WIDTH, "wider networks learn nothing more from one exemplar"),
        default=16,
        help="channels of the finest decoder level (doubling per coarser level; default 16, "
        "32 is foscat's network)",
    )
    tr.add_argument(
        "--depth",
        type=bounded_int(1, MAX_DEPTH, "each level halves the size"),
        default=4,
        help="decoder levels (foscat's Jmax; default 4)",
    )
    tr.add_argument(
        "--microcanonical",
        action="store_true",
        help="foscat's microcanonical loss: the batch mean of the statistics, over the "
        "batch spread",
    )
    tr.add_argument("--seed", type=seed_type, default=0, help="seed of the weights and noise")
    tr.add_argument(
        "--resume", action="store_true", help="continue from the checkpoint of an earlier run"
    )
    add_job_tail(tr, _cmd_train)

    sa = sub.add_parser(
        "sample",
        help="draw textures from a generator trained with texsynth train",
        description="Draw new textures from a trained generator: one forward pass each, "
        "any size, tileable.",
    )
    sa.add_argument("model", type=Path, help="generator file written by texsynth train")
    add_outputs_option(sa)
    sa.add_argument("--n", type=count_type, default=1, help="number of textures")
    sa.add_argument(
        "--size",
        type=size_type,
        default=None,
        metavar="WxH",
        help="output size, e.g. 1024x1024 (default: the training exemplar's)",
    )
    sa.add_argument(
        "--seed", type=seed_type, default=None, help="random seed (default: random, in the sidecar)"
    )
    add_job_tail(sa, _cmd_sample)


def checkpoint_path(model_path: Path) -> Path:
    """Where ``texsynth train -o MODEL`` keeps its checkpoint."""
    stem = model_path.name[: -len(model_path.suffix)] if model_path.suffix else model_path.name
    return model_path.with_name(f"{stem}.checkpoint.safetensors")


def _check_train_input(path: Path) -> None:
    """``train`` takes an image: refuse a 1-D signal file (a ``.csv``, a 1-D ``.npy`` or
    ``.npz``) with a line that says so, not "unknown file type"."""
    from ..io import is_signal_file

    if is_signal_file(path):
        raise TexsynthError(
            f"train takes an image ({', '.join(SUPPORTED_SUFFIXES)}); {str(path)!r} is a 1-D "
            "signal, and generators are 2-D only: synthesise signals with texsynth synth"
        )


def _cmd_train(args: argparse.Namespace) -> int:
    from ..atomic import StagedFiles, is_texsynth_safetensors
    from ..generators import save_generator, train_generator
    from ..memory import estimate_training_bytes
    from ..methods import parse_method

    method = args.method or "scattering"
    parse_method(method)  # a bad method fails before any work
    _check_train_input(args.input)
    inputs = [("exemplar", args.input), ("weights file", args.weights)]
    check_output(
        args.output,
        option="-o",
        suffixes=(".safetensors",),
        inputs=inputs,
        ours=is_texsynth_safetensors,
        overwrite=args.overwrite,
        hint=" (train writes a generator file)",
    )
    ckpt = checkpoint_path(args.output)
    check_output(
        ckpt,
        option=f"-o {args.output.name}: its checkpoint",
        suffixes=None,
        inputs=inputs,
        ours=is_texsynth_safetensors,
        overwrite=args.overwrite,
    )
    if args.resume and not ckpt.exists():
        raise TexsynthError(
            f"--resume: there is no checkpoint {str(ckpt)!r} to resume from; run without "
            "--resume to start training"
        )
    image, meta = read_image(args.input)
    device = device_of(args.device)
    C, H, W = image.shape
    size = args.size if args.size is not None else (min(H, 128), min(W, 128))
    estimate = estimate_training_bytes(
        (H, W), size, channels=C, batch=args.batch, width=args.width, method=method
    )
    check_run_memory(args, estimate, device, "use a smaller --size, --batch or --width")
    if args.method is None and image.shape[0] == 3 and not args.resume:
        print(
            "texsynth: training with the scattering loss; for colour photos of objects "
            "(e.g. stones) --method swd learns their shapes much better, at about 7x the "
            "time per step (docs/generators.md)"
        )  # stdout, as every start line: stderr holds only warnings and the error
    start = time.perf_counter()
    try:
        trained = train_generator(
            image,
            max_memory=getattr(args, "max_memory", None) or 1 << 62,  # checked above
            method=method,
            features=args.features or "vgg19",
            weights_file=args.weights,
            layers=args.layers,
            size=args.size,
            steps=args.steps,
            batch=args.batch,
            lr=args.lr,
            depth=args.depth,
            width=args.width,
            histogram=args.histogram,
            power_spectrum=args.power_spectrum,
            microcanonical=args.microcanonical,
            seed=args.seed,
            device=device,
            progress=not args.quiet,
            checkpoint=ckpt,
            resume=args.resume,
            keep_checkpoint=True,  # deleted only once the model file is in place
            report=True,
        )
        assert isinstance(trained, tuple)  # (report=True)
        model, rep = trained
    except KeyboardInterrupt:
        if ckpt.exists():
            print("texsynth: training interrupted; run the same command with --resume to go on")
        raise
    elapsed = time.perf_counter() - start
    C, H, W = image.shape
    info = {
        **versions(),
        "input": str(args.input),
        "exemplar_meta": dataclasses.asdict(meta),
        "exemplar_size_hw": [H, W],
        "settings": {
            "method": method,
            "features": args.features or "vgg19",
            "layers": args.layers,
            "histogram": args.histogram,
            "power_spectrum": args.power_spectrum,
            "size_hw": list(rep.size),
            "steps": args.steps,
            "batch": args.batch,
            "lr": args.lr,
            "width": args.width,
            "depth": args.depth,
            "microcanonical": args.microcanonical,
            "seed": args.seed,
        },
        "final_loss": rep.last_loss if math.isfinite(rep.last_loss) else None,
        "seconds": round(elapsed, 3),
        "resumed_from_step": rep.resumed_from,
        "steps_this_run": rep.steps - rep.resumed_from,
    }
    try:
        with StagedFiles() as stage:
            save_generator(model.cpu(), stage.temp(args.output), metadata=info)
    except TexsynthError as exc:
        raise TexsynthError(
            f"{exc}; the trained network is kept in {str(ckpt)!r}: fix this, then run the "
            "same command with --resume to write it"
        ) from None
    ckpt.unlink(missing_ok=True)
    loss = "n/a" if info["final_loss"] is None else f"{info['final_loss']:.4g}"
    ran = rep.steps - rep.resumed_from
    if rep.resumed_from:
        steps = (
            f"{rep.steps} steps: {ran} in this run ({elapsed:.1f} s), resumed from step "
            f"{rep.resumed_from}"
        )
    else:
        steps = f"{rep.steps} steps in {elapsed:.1f} s"
    print(
        f"wrote {args.output} ({steps}; final loss {loss}); draw textures with: "
        f"texsynth sample {args.output} -o OUT"
    )
    return 0


def _cmd_sample(args: argparse.Namespace) -> int:
    """Run ``texsynth sample``: a ``"sample"`` job
    (:mod:`texsynth.generators.sampling_job`), its files written a chunk at a time and its
    record beside them."""
    from ..atomic import StagedFiles
    from ..generators import load_generator, read_generator_metadata
    from ..generators.sampling_job import SampleJob, sample_size, sample_spec
    from ..memory import estimate_sampling_bytes

    device = device_of(args.device)
    header = read_generator_metadata(args.model)  # every field checked against its schema
    spec = sample_spec(args.model, n=args.n, size=args.size, seed=args.seed)
    H, W = sample_size(spec, header["metadata"])
    estimate = estimate_sampling_bytes(header["config"], args.n, (H, W))
    check_run_memory(args, estimate, device, "use a smaller --size")
    outputs = output_paths(args.output, args.n)
    sidecar = sidecar_path(args.output)
    check_set(
        outputs,
        sidecar,
        [("model", args.model)],
        suffixes=SUPPORTED_SUFFIXES,
        overwrite=args.overwrite,
    )
    model = load_generator(args.model, device=device)
    job = SampleJob.prepare(spec, model=model, metadata=header["metadata"])
    meta, seed = job.meta, job.seeds[0]  # (no --seed: a fresh one, recorded)
    start = time.perf_counter()
    # a chunk at a time (thousands of samples need not fit in memory); sample k from its
    # own member seed, so the files are those of one generate_samples(model, n, H, W,
    # seed=seed) call, and sample k is the same whatever --n
    note = ""
    stage = StagedFiles()  # the whole set and its record, or nothing new
    try:
        temps = [stage.temp(o) for o in outputs]
        for first, result in job.chunks():
            paths = temps[first : first + len(result)]
            note = write_outputs(result.cpu(), meta, paths, args.output.suffix.lower())
    except BaseException:
        stage.discard()
        raise
    elapsed = time.perf_counter() - start
    run = job.record(elapsed)
    run.outputs = [str(o) for o in outputs]
    with stage:
        atomic_text_write(stage.temp(sidecar), run.dumps())
    names = outputs[0] if len(outputs) == 1 else f"{outputs[0]} ... {outputs[-1]}"
    print(f"wrote {names} ({W}x{H}, seed {seed}) in {elapsed:.2f} s; settings in {sidecar}")
    if note:
        print(f"note: {note}")
    return 0
