"""The ``texsynth`` command line: the parser of every command, and :func:`main`, the only
place where logging and warnings are configured."""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..errors import TexsynthError
from ..memory import MAX_L
from ..version import __version__
from .analysis import cmd_eval, cmd_stats
from .common import (
    J_TYPE,
    L_TYPE,
    Parser,
    add_job_tail,
    add_network_options,
    add_outputs_option,
    add_overwrite_option,
    count_type,
    features_type,
    layer_list,
    positive_int,
    region_type,
    seed_type,
    size_type,
    weight_type,
)
from .skies_spin import add_spin_option, spin_type
from .synth import cmd_methods, cmd_remake, cmd_synth


def build_parser() -> argparse.ArgumentParser:
    """The ``texsynth`` command's argument parser, every subcommand included."""
    parser = Parser(
        prog="texsynth",
        description="Texture synthesis from one exemplar image or field.",
    )
    parser.add_argument("--version", action="version", version=f"texsynth {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    st = sub.add_parser(
        "stats",
        help="print scattering-covariance statistics of an image; write them all to JSON",
        description="Scattering-covariance statistics of an image or field: S1/S2 per scale "
        "and orientation on screen, every labelled coefficient in JSON.",
    )
    st.add_argument(
        "image",
        type=Path,
        help="PNG/JPEG/WebP/TIFF/NPY/NPZ/FITS file, or a 1-D signal (.csv, 1-D .npy/.npz)",
    )
    st.add_argument(
        "--J",
        type=J_TYPE,
        default=None,
        help="number of scales (default: as many as the image size allows)",
    )
    st.add_argument(
        "--L", type=L_TYPE, default=4, help=f"number of orientations (default 4, at most {MAX_L})"
    )
    st.add_argument("--iso", action="store_true", help="average over orientations (iso_mean)")
    st.add_argument(
        "--norm",
        choices=["none", "self"],
        default="none",
        help="normalise S1..S4 by the image's own S2 (default: raw)",
    )
    st.add_argument("--edge", action="store_true", help="treat the image as non-periodic")
    st.add_argument(
        "--json",
        type=Path,
        default=None,
        metavar="FILE",
        help="write every labelled coefficient to this JSON file",
    )
    st.add_argument(
        "--signal",
        "--1d",
        dest="signal",
        action="store_true",
        help="read the file as a 1-D signal (time series) [C, N]; automatic for .csv and 1-D "
        ".npy/.npz (docs/signals-1d.md)",
    )
    st.add_argument(
        "--healpix",
        action="store_true",
        help="read the file as HEALPix maps (nested [npix] or [C, npix] .npy); automatic for "
        "FITS files in the HEALPix layout (docs/sphere.md)",
    )
    add_spin_option(st, "measures")
    add_job_tail(st, cmd_stats, run_options=False)

    sy = sub.add_parser(
        "synth",
        help="synthesise new textures from an exemplar",
        description="Synthesise new textures with the statistics of an exemplar image or "
        "field. Outputs tile seamlessly unless --no-tile. With --mask, fills the white "
        "pixels of the mask in the input image (inpainting).",
    )
    sy.add_argument(
        "input", type=Path, help="exemplar (PNG/JPEG/WebP/TIFF/NPY/NPZ/FITS, or a HEALPix map)"
    )
    add_outputs_option(sy)
    sy.add_argument(
        "--size",
        type=size_type,
        default=None,
        metavar="WxH",
        help="output size, e.g. 512x512 or 512 (default: the exemplar's)",
    )
    sy.add_argument(
        "--region",
        type=region_type,
        default=None,
        metavar="X,Y,W,H",
        help="use this rectangle of INPUT (pixels from the top-left) as the exemplar: a "
        "patch of material inside a larger photo",
    )
    sy.add_argument("--n", type=count_type, default=1, help="number of textures")
    sy.add_argument(
        "--seed",
        type=seed_type,
        default=None,
        help="random seed (default: a random one, recorded in the JSON sidecar)",
    )
    sy.add_argument(
        "--quality",
        choices=("fast", "default", "best"),
        default="default",
        help="speed/quality preset (default: default). fast: version 0.1's schedule (about "
        "a third of default's time, rougher); default: every level converges; best: a tight "
        "tolerance (1.5-3x default's time)",
    )
    sy.add_argument(
        "--steps",
        type=positive_int,
        default=None,
        help="L-BFGS iterations at the coarsest level (default: the --quality preset's: "
        "fast 100, default 200, best 500; optimisation methods only)",
    )
    sy.add_argument(
        "--levels",
        type=positive_int,
        default=None,
        help="coarse-to-fine levels (default: from the size)",
    )
    sy.add_argument(
        "--method",
        default="auto",
        help="auto (default: patch for photos, scattering for float/16-bit fields), patch, "
        "or texture descriptor(s) to optimise, e.g. scattering, gram, gram+spectrum, swd, "
        "gap, random, or weighted: 'gram+0.5*spectrum' (list them with `texsynth methods`)",
    )
    add_network_options(sy)
    sy.add_argument(
        "--histogram",
        type=weight_type,
        default=None,
        help="weight of the pixel-histogram term (0: off; default 1; signals: 0 for random walks)",
    )
    sy.add_argument(
        "--power-spectrum",
        type=weight_type,
        default=None,
        help="weight of the smoothed power-spectrum term (0: off; default 0.3)",
    )
    sy.add_argument(
        "--spectrum",
        type=weight_type,
        default=None,
        help="HEALPix maps: weight of the C_ell term (0: off; default 100, and 10 for the "
        "E/B spectra of --spin 2)",
    )
    sy.add_argument(
        "--amplitude",
        type=weight_type,
        default=None,
        help="--spin 2: weight of the statistics of the polarised amplitude |Q + iU| "
        "(0: off, faster; default 1)",
    )
    sy.add_argument(
        "--J",
        type=J_TYPE,
        default=None,
        help="number of scales (scattering; default: as many as the exemplar and output allow)",
    )
    sy.add_argument(
        "--L",
        type=L_TYPE,
        default=None,
        help=f"number of orientations (scattering; default 4, at most {MAX_L})",
    )
    sy.add_argument(
        "--mask",
        type=Path,
        default=None,
        help="inpainting mask image: white = synthesise, black = keep the input",
    )
    sy.add_argument(
        "--init",
        type=Path,
        default=None,
        help="warm-start image: the optimisation starts from it (default: from noise); the "
        "output takes its size, so --size, if given, must equal it",
    )
    sy.add_argument(
        "--no-tile",
        action="store_true",
        help="output that does not wrap around (default: seamless tiling)",
    )
    sy.add_argument(
        "--no-cross-channels",
        action="store_true",
        help="colour with scattering: per-channel statistics only (about 2x faster, colours "
        "less tied to shapes)",
    )
    sy.add_argument("--iso", action="store_true", help="isotropic statistics (iso_ang)")
    sy.add_argument(
        "--signal",
        "--1d",
        dest="signal",
        action="store_true",
        help="read INPUT as a 1-D signal (time series) [C, N]; automatic for .csv and 1-D "
        ".npy/.npz (docs/signals-1d.md)",
    )
    sy.add_argument(
        "--healpix",
        action="store_true",
        help="read INPUT, --mask and --init as HEALPix maps (nested [npix] or [C, npix] "
        ".npy); automatic for FITS files in the HEALPix layout (docs/sphere.md)",
    )
    sy.add_argument(
        "--nside",
        type=positive_int,
        default=None,
        help="HEALPix maps: the output's nside, a power of two (default: the exemplar's)",
    )
    sy.add_argument(
        "--to-gaussian",
        action="store_true",
        help="Gaussianise the histogram before synthesis, invert after (HEALPix maps: the default)",
    )
    sy.add_argument(
        "--no-to-gaussian",
        action="store_true",
        help="HEALPix maps: synthesise the standardised values as they are",
    )
    add_spin_option(sy, "synthesises")
    add_job_tail(sy, cmd_synth)

    from .generators import add_generator_commands

    add_generator_commands(sub)

    from .ensemble import add_ensemble_command

    add_ensemble_command(sub)

    from .serve import add_serve_command

    add_serve_command(sub)

    from .features import add_features_command

    add_features_command(sub)

    from .expander import add_expander_commands

    add_expander_commands(sub)

    rm = sub.add_parser(
        "remake",
        help="style transfer: the layout of CONTENT in the texture of --like STYLE",
        description="Remake an image in the texture of a style exemplar: keeps CONTENT's "
        "layout (network features) and takes STYLE's texture statistics (default: VGG19 Gram "
        "matrices).",
    )
    rm.add_argument("content", type=Path, help="image whose layout is kept")
    rm.add_argument("--like", type=Path, required=True, metavar="STYLE", help="style exemplar")
    rm.add_argument(
        "-o",
        "--output",
        type=Path,
        required=True,
        metavar="OUT",
        help="output image; its suffix sets the format",
    )
    rm.add_argument("--method", default="gram", help="style descriptor(s) (default gram)")
    rm.add_argument(
        "--content-weight",
        type=weight_type,
        default=1.0,
        help="weight of the content loss (larger keeps more of the content; default 1)",
    )
    rm.add_argument(
        "--content-layers",
        type=layer_list,
        default=None,
        help="network layers of the content loss (default conv4_2)",
    )
    add_network_options(rm)
    rm.add_argument(
        "--size",
        type=size_type,
        default=None,
        metavar="WxH",
        help="output size (default CONTENT's)",
    )
    rm.add_argument(
        "--steps", type=positive_int, default=100, help="L-BFGS iterations (default 100)"
    )
    rm.add_argument(
        "--seed", type=seed_type, default=None, help="random seed (default: random, in the sidecar)"
    )
    add_job_tail(rm, cmd_remake)

    me = sub.add_parser(
        "methods",
        help="list the synthesis methods and whether their weights are installed",
        description="The texture descriptors usable with `texsynth synth --method`, one line "
        "each. Combine them with '+', optionally weighted: --method 'gram+0.5*spectrum'.",
    )
    me.set_defaults(func=cmd_methods)

    ev = sub.add_parser(
        "eval",
        help="measure how well samples reproduce an exemplar (table, JSON, report)",
        description="Compare samples with their exemplar. Every distance is shown next to the "
        "distance between two real halves of the exemplar, so 1.0 means 'as close as real'.",
    )
    ev.add_argument("exemplar", type=Path, help="the exemplar image or field")
    ev.add_argument("samples", type=Path, nargs="+", help="one or more synthesised files")
    ev.add_argument(
        "--json",
        type=Path,
        default=None,
        metavar="FILE",
        help="write all numbers to this JSON file",
    )
    ev.add_argument(
        "--report",
        type=Path,
        default=None,
        metavar="FILE",
        help="write a report: FILE.html (self-contained page) or FILE.png",
    )
    ev.add_argument(
        "--reference",
        type=Path,
        default=None,
        help="pixel-aligned ground truth (adds SSIM, MS-SSIM, PSNR)",
    )
    ev.add_argument(
        "--features",
        type=features_type("auto", "vgg19", "random", "inception", "none"),
        default="auto",
        metavar="{auto,vgg19,random,inception,none,FILE.safetensors}",
        help="feature network for Gram/GAP/sliced-Wasserstein distances (auto: "
        "VGG19 if installed, random filters otherwise; FILE.safetensors: learned features)",
    )
    ev.add_argument(
        "--weights",
        type=Path,
        default=None,
        help="torchvision-format VGG19 state-dict file, or with --features inception a "
        "torchvision inception_v3 state-dict file (nothing is ever downloaded)",
    )
    ev.add_argument(
        "--seed", type=seed_type, default=0, help="seed for sampled patches/projections"
    )
    ev.add_argument(
        "--signal",
        "--1d",
        dest="signal",
        action="store_true",
        help="read all files as 1-D signals [C, N]; automatic for .csv and 1-D .npy/.npz "
        "(uses texsynth.evaluate_1d; docs/signals-1d.md)",
    )
    ev.add_argument(
        "--healpix",
        action="store_true",
        help="read all files as HEALPix maps (nested [npix] or [C, npix] .npy); automatic for "
        "FITS files in the HEALPix layout (docs/sphere.md)",
    )
    ev.add_argument(
        "--spin",
        type=spin_type,
        default=0,
        metavar="{0,2}",
        help="HEALPix maps: 2 is refused (no spin-2 grading yet: compare `texsynth stats "
        "--spin 2 --json` outputs); 0 (the default) grades every column as a scalar map",
    )
    add_overwrite_option(ev)
    ev.set_defaults(func=cmd_eval)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``texsynth`` command; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("always")
            warnings.showwarning = _show_warning
            code = int(args.func(args))
            sys.stdout.flush()  # (inside the try: a closed pipe raises here, not at exit)
            return code
    except BrokenPipeError:
        # the reader of the output went away (``texsynth stats ... | head``): stop quietly,
        # and keep Python's exit-time flush of stdout from reporting it again
        with contextlib.suppress(OSError, ValueError):  # (stdout may have no descriptor)
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except TexsynthError as exc:
        print(f"texsynth: error: {exc.cli_message()}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("texsynth: interrupted", file=sys.stderr)
        return 130


def _show_warning(message: Warning | str, category: type[Warning], *args: Any, **kw: Any) -> None:
    print(f"texsynth: warning: {message}", file=sys.stderr)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
