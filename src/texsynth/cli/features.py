"""``texsynth features train``, ``calibrate`` and ``info``: feature networks learned from
one's own photos (:mod:`texsynth.features.training`, :mod:`texsynth.features.calibration`).
Only parses and calls the library."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from ..errors import TexsynthError
from .common import add_overwrite_option, positive_float, positive_int, seed_type


def add_features_command(sub: Any) -> None:
    """Register ``features train``, ``features calibrate`` and ``features info``."""
    fe = sub.add_parser(
        "features",
        help="learn a feature network from your own photos (for --features FILE)",
        description="Train a fully convolutional autoencoder on patches of your photos; its "
        "encoder then describes textures for the gap, gram, swd and gc methods and for "
        "texsynth eval (--features FILE.safetensors). See docs/own-features.md.",
    )
    fsub = fe.add_subparsers(dest="features_command", metavar="{train,calibrate,info}")
    fsub.required = True
    tr = fsub.add_parser(
        "train",
        help="train on random patches of the images in FOLDER(s)",
        description="Train on random patches (flips and quarter turns) of every image under "
        "the FOLDERs (recursively). Every 10th image is held out to score reconstructions. "
        "Writes OUT (.safetensors), OUT's checkpoint (NAME.ckpt.safetensors, for --resume) "
        "and NAME_reconstructions.png. At the end, the weights of gap, gram, swd and gc are "
        "calibrated on crops of the held-out images and stored in OUT.",
    )
    tr.add_argument("folders", nargs="+", type=Path, metavar="FOLDER", help="image folders")
    tr.add_argument(
        "-o", "--output", type=Path, required=True, metavar="OUT", help="features file to write"
    )
    tr.add_argument("--patch", type=positive_int, default=128, help="patch side (default 128)")
    tr.add_argument(
        "--steps", type=positive_int, default=2000, help="training steps (default 2000)"
    )
    tr.add_argument(
        "--width", type=positive_int, default=32, help="channels of the first stage (default 32)"
    )
    tr.add_argument("--depth", type=positive_int, default=3, help="encoder stages, 1-5 (default 3)")
    tr.add_argument("--batch", type=positive_int, default=8, help="patches per step (default 8)")
    tr.add_argument("--seed", type=seed_type, default=0, help="seed (default 0)")
    tr.add_argument(
        "--loss",
        choices=("l1", "l1+ssim"),
        default="l1",
        help="reconstruction loss: l1 (default) or l1+ssim (0.16 L1 + 0.84 (1 - SSIM))",
    )
    tr.add_argument(
        "--checkpoint-every",
        type=positive_int,
        default=100,
        help="steps between checkpoints and progress lines (default 100)",
    )
    tr.add_argument(
        "--minutes",
        type=positive_float,
        default=None,
        metavar="M",
        help="wall-clock budget: stop training after M minutes (at a checkpoint, so "
        "--resume can go on), then calibrate and write OUT as usual",
    )
    tr.add_argument(
        "--snapshot-every",
        type=positive_int,
        default=None,
        metavar="N",
        help="also write NAME_stepN.safetensors every N steps (calibrated; the network a "
        "run of that many steps gives), to compare training lengths",
    )
    tr.add_argument(
        "--resume",
        action="store_true",
        help="continue from OUT's checkpoint (same folders and options; --steps may grow)",
    )
    tr.add_argument(
        "--calibration-pairs",
        type=positive_int,
        default=16,
        metavar="N",
        help="crop pairs of held-out images for the weight calibration (default 16)",
    )
    tr.add_argument(
        "--no-calibration",
        action="store_true",
        help="skip the weight calibration (run `features calibrate` later)",
    )
    tr.add_argument("--quiet", action="store_true", help="no progress lines")
    add_overwrite_option(tr)
    tr.set_defaults(func=cmd_features_train)
    ca = fsub.add_parser(
        "calibrate",
        help="measure a features file's method weights on photos and store them in it",
        description="For each of gap, gram, swd and gc, measure the median loss between two "
        "crops of the same photo under FOLDER(s) on FILE's features, and store in FILE the "
        "factor that puts a second real crop where the method's default weight expects it "
        "(about 1, as on VGG19). `features train` does this itself; use this on files "
        "trained without it or on other photos of the material. Rewrites FILE atomically.",
    )
    ca.add_argument("file", type=Path, help="a .safetensors features file")
    ca.add_argument("folders", nargs="+", type=Path, metavar="FOLDER", help="image folders")
    ca.add_argument("--pairs", type=positive_int, default=16, help="crop pairs (default 16)")
    ca.add_argument(
        "--held-out-only",
        action="store_true",
        help="only the images training held out (every 10th): for the training folders",
    )
    ca.add_argument("--seed", type=seed_type, default=0, help="seed of the crops (default 0)")
    ca.set_defaults(func=cmd_features_calibrate)
    info = fsub.add_parser("info", help="what a features file records")
    info.add_argument("file", type=Path, help="a .safetensors features file")
    info.set_defaults(func=cmd_features_info)


def cmd_features_train(args: argparse.Namespace) -> int:
    """Run ``texsynth features train``."""
    from ..atomic import check_output, is_texsynth_safetensors
    from ..features.training import (
        TrainSettings,
        checkpoint_path,
        reconstructions_path,
        snapshot_path,
        train_features,
    )

    settings = TrainSettings(
        patch=args.patch,
        steps=args.steps,
        width=args.width,
        depth=args.depth,
        batch=args.batch,
        seed=args.seed,
        checkpoint_every=args.checkpoint_every,
        loss=args.loss,
    )
    settings.check()
    name = args.output.name

    def picture(path: Path) -> bool:  # the reconstructions picture is named after OUT
        return True

    outputs = [
        ("-o", args.output, is_texsynth_safetensors, (".safetensors",)),
        (f"-o {name}: its checkpoint", checkpoint_path(args.output), is_texsynth_safetensors, None),
        (f"-o {name}: its picture", reconstructions_path(args.output), picture, None),
    ]
    if args.snapshot_every:  # snapshots of an earlier run, which this one may replace
        pattern = snapshot_path(args.output, 0).name.replace("_step0.", "_step*.")
        for old in sorted(args.output.parent.glob(pattern)):
            outputs.append((f"-o {name}: its snapshot", old, is_texsynth_safetensors, None))
    for option, path, ours, suffixes in outputs:
        check_output(
            path,
            option=option,
            suffixes=suffixes,
            ours=ours,
            overwrite=args.overwrite,
            hint=" (features train writes a .safetensors features file)",
        )
    if args.resume and not checkpoint_path(args.output).exists():
        raise TexsynthError(
            f"--resume: there is no checkpoint {str(checkpoint_path(args.output))!r}; run "
            "without --resume to start training"
        )

    def say(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    result = train_features(
        args.folders,
        args.output,
        settings,
        resume=args.resume,
        progress=None if args.quiet else say,
        calibration_pairs=0 if args.no_calibration else args.calibration_pairs,
        minutes=args.minutes,
        snapshot_every=args.snapshot_every or 0,
    )
    print(
        f"wrote {args.output} ({result.steps} steps, held-out reconstruction PSNR "
        f"{result.heldout_psnr:.2f} dB, {result.cpu_seconds:.0f} CPU s); reconstructions in "
        f"{result.picture}"
    )
    if result.snapshots:
        print(f"snapshots: {', '.join(str(p) for p in result.snapshots)}")
    if result.calibration is not None:
        print(calibration_line(result.calibration))
    return 0


def calibration_line(record: dict[str, Any]) -> str:
    """One line for a calibration record: each method's weight factor."""
    scales = ", ".join(f"{k} x{v:.3g}" for k, v in record["scale"].items())
    return f"weight calibration ({record['pairs']} crop pairs of {record['crop']} px): {scales}"


def cmd_features_calibrate(args: argparse.Namespace) -> int:
    """Run ``texsynth features calibrate``."""
    from ..features.calibration import calibrate_file

    record = calibrate_file(
        args.file, args.folders, pairs=args.pairs, seed=args.seed, held_out_only=args.held_out_only
    )
    print(f"calibrated {args.file}")
    print(calibration_line(record))
    return 0


def cmd_features_info(args: argparse.Namespace) -> int:
    """Run ``texsynth features info``."""
    from ..features.learned import read_features_metadata

    info = read_features_metadata(args.file)
    t = info["training"]
    data = t.get("data", {})
    print(f"{args.file}: learned features, {info['config']}, patch {info['patch']}")
    print(f"layers: {', '.join(info['layers'])}")
    print(
        f"trained on {data.get('images')} images ({data.get('megapixels')} Mpx) from "
        f"{', '.join(data.get('folders', []))}; "
        f"{t.get('steps', t.get('settings', {}).get('steps'))} steps, "
        f"{t.get('cpu_seconds')} CPU s; held-out PSNR {t.get('heldout_psnr')} dB"
    )
    if info["calibration"] is None:
        print(f"no weight calibration: run `texsynth features calibrate {args.file} FOLDER`")
    else:
        print(calibration_line(info["calibration"]))
    return 0
