"""``texsynth ensemble``: thousands of realisations of one exemplar's statistics, each in its
own file, on a process pool, a Dask cluster or a SLURM cluster, resumable
(docs/ensembles.md). Only parses,
builds the job as ``texsynth synth`` does, and calls :func:`texsynth.ensemble`."""

from __future__ import annotations

import argparse
import contextlib
import signal
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..errors import TexsynthError
from ..memory import MAX_L
from .common import (
    J_TYPE,
    L_TYPE,
    add_network_options,
    add_overwrite_option,
    add_run_options,
    count_type,
    device_of,
    positive_int,
    seed_type,
    size_type,
    weight_type,
)
from .skies_spin import add_spin_option, check_full_qu_sky, refuse_spin, spin_of

__all__ = ["add_ensemble_command", "cmd_ensemble"]


def add_ensemble_command(sub: argparse._SubParsersAction[Any]) -> None:
    """Register ``ensemble`` on the ``texsynth`` subparsers."""
    en = sub.add_parser(
        "ensemble",
        help="many realisations (--n 10000), one file each, on a process pool, Dask or SLURM",
        description="Synthesise an ensemble: --n realisations with the exemplar's statistics, "
        "member i written to the -o template with {i} replaced by i. Member i is the same "
        "file whatever the backend, workers or batching; a manifest beside the members "
        "records each one, so rerunning the same command resumes (docs/ensembles.md).",
    )
    en.add_argument(
        "input",
        type=Path,
        help="exemplar (image, field, 1-D signal or HEALPix map); with --model, the "
        "exemplar the summary compares with",
    )
    en.add_argument(
        "-o",
        "--output",
        required=True,
        metavar="TEMPLATE",
        help="output files, e.g. 'out/{i:05d}.npy' (quote it): {i} is the member's index",
    )
    en.add_argument("--n", type=count_type, required=True, help="number of members")
    en.add_argument(
        "--model",
        type=Path,
        default=None,
        metavar="MODEL",
        help="draw the members from a generator trained with texsynth train (fast)",
    )
    en.add_argument(
        "--seed",
        type=seed_type,
        default=None,
        help="base seed: member i uses texsynth.seeds.member_seed(seed, i) (default: a random "
        "one, recorded in the manifest and reused when the command is rerun)",
    )
    en.add_argument(
        "--backend",
        choices=("local", "dask", "slurm", "serial"),
        default="local",
        help="local: processes of this machine; dask: Dask distributed (pip install "
        "'texsynth[cluster]'); slurm: SLURM job arrays (sbatch); serial: this process, one "
        "task after another (debugging)",
    )
    en.add_argument(
        "--sbatch",
        action="append",
        default=None,
        metavar="KEY=VALUE[,...]",
        help="SLURM options of each array task (--backend slurm): cores=N, mem=4G, "
        "time=01:00:00, partition=NAME (or queue=NAME), account=, qos=, max-running=K, "
        "python=PATH; repeatable",
    )
    en.add_argument(
        "--scheduler",
        default=None,
        metavar="ADDRESS",
        help="a running Dask scheduler, e.g. tcp://10.0.0.1:8786 (default: a local cluster)",
    )
    en.add_argument(
        "--workers",
        type=positive_int,
        default=None,
        help="worker processes (default: one per core); with --backend slurm, the most "
        "array tasks running at once (default 64)",
    )
    en.add_argument(
        "--threads",
        type=positive_int,
        default=1,
        help="torch threads per worker (default 1; files are identical for any --workers at "
        "one --threads)",
    )
    en.add_argument(
        "--per-task",
        type=positive_int,
        default=None,
        metavar="B",
        help="members per task (default: at most 1000 tasks, about 4 per worker, up to 8 each)",
    )
    en.add_argument(
        "--report",
        type=Path,
        default=None,
        metavar="PNG",
        help="write the ensemble's statistics against the exemplar's as a picture",
    )
    _synthesis_options(en)
    add_run_options(en)
    add_overwrite_option(en)
    en.set_defaults(func=cmd_ensemble)


def _synthesis_options(p: argparse.ArgumentParser) -> None:
    """The options of ``texsynth synth`` that describe the job (same names, same meaning)."""
    p.add_argument("--size", type=size_type, default=None, metavar="WxH", help="member size")
    p.add_argument(
        "--quality",
        choices=("fast", "default", "best"),
        default="default",
        help="speed/quality preset, as texsynth synth's",
    )
    p.add_argument(
        "--steps",
        type=positive_int,
        default=None,
        help="L-BFGS iterations at the coarsest level (default: the --quality preset's)",
    )
    p.add_argument("--levels", type=positive_int, default=None, help="coarse-to-fine levels")
    p.add_argument(
        "--method",
        default="auto",
        help="as texsynth synth: auto, patch, scattering, gram, 'gram+0.5*spectrum', ...",
    )
    add_network_options(p)
    p.add_argument("--histogram", type=weight_type, default=None, help="histogram weight")
    p.add_argument("--power-spectrum", type=weight_type, default=None, help="power-spectrum weight")
    p.add_argument("--J", type=J_TYPE, default=None, help="number of scales (scattering)")
    p.add_argument(
        "--L", type=L_TYPE, default=None, help=f"orientations (scattering; at most {MAX_L})"
    )
    p.add_argument("--mask", type=Path, default=None, help="inpainting mask (white: synthesise)")
    p.add_argument("--init", type=Path, default=None, help="warm-start image")
    p.add_argument("--no-tile", action="store_true", help="members that do not wrap around")
    p.add_argument("--no-cross-channels", action="store_true", help="per-channel statistics")
    p.add_argument("--iso", action="store_true", help="isotropic statistics (iso_ang)")
    p.add_argument(
        "--signal", "--1d", dest="signal", action="store_true", help="read INPUT as a 1-D signal"
    )
    p.add_argument("--healpix", action="store_true", help="read INPUT as HEALPix maps")
    p.add_argument("--nside", type=positive_int, default=None, help="HEALPix members' nside")
    p.add_argument(
        "--spectrum",
        type=weight_type,
        default=None,
        help="HEALPix maps: C_ell term weight (default 100; 10 for --spin 2's E/B spectra)",
    )
    p.add_argument(
        "--amplitude",
        type=weight_type,
        default=None,
        help="--spin 2: weight of the |Q + iU| statistics (default 1)",
    )
    p.add_argument("--to-gaussian", action="store_true", help="Gaussianise the histogram first")
    add_spin_option(p, "synthesises")


def cmd_ensemble(args: argparse.Namespace) -> int:
    """Run ``texsynth ensemble``."""
    from ..ensembles import ensemble
    from ..ensembles.template import OutputTemplate

    template = OutputTemplate(args.output, args.n)  # a bad template fails first
    if args.scheduler is not None and args.backend != "dask":
        raise TexsynthError("--scheduler is the address of a Dask scheduler; add --backend dask")
    if not args.input.exists():
        raise TexsynthError(f"the exemplar {str(args.input)!r} does not exist; check the path")
    if args.sbatch is not None and args.backend != "slurm":
        raise TexsynthError("--sbatch sets SLURM job options; add --backend slurm")
    sbatch = None
    if args.sbatch is not None:
        from ..ensembles.backends import SbatchOptions
        from ..ensembles.backends.slurm_options import parse_sbatch

        sbatch = parse_sbatch(args.sbatch)
        assert isinstance(sbatch, SbatchOptions)
    spec, what = _model_spec(args) if args.model is not None else _job_spec(args)
    device = str(device_of(args.device))
    stop = threading.Event()
    try:
        with _ctrl_c_cancels(stop):
            result = ensemble(
                spec,
                args.n,
                out=args.output,
                backend=args.backend,
                workers=args.workers,
                per_task=args.per_task,
                scheduler=args.scheduler,
                sbatch=sbatch,
                threads=args.threads,
                device=device,
                overwrite=args.overwrite,
                progress=not args.quiet,
                report=args.report,
                cancel=stop,
            )
    except KeyboardInterrupt:  # a second Ctrl-C, or one before the run started
        result = None
    if result is None or result.cancelled:
        done = f"{result.done} of {result.n} members done; " if result is not None else ""
        print(
            f"texsynth: interrupted; {done}the finished members are recorded in "
            f"{template.manifest}: rerun the same command to resume",
            flush=True,
        )
        return 130
    made = result.done - result.resumed
    how = f", {result.tasks} tasks of up to {result.per_task}" if result.tasks else ""
    resumed = f"; {result.resumed} done before (resumed)" if result.resumed else ""
    redone = f"; {len(result.redone)} missing or changed, redone" if result.redone else ""
    print(
        f"{result.done} of {result.n} members done: {what} in {template} ({made} made in "
        f"{result.seconds:.1f} s on {result.backend}{how}, seed {result.seed}{resumed}"
        f"{redone}); manifest {result.manifest}"
    )
    if result.summary is not None:
        print("\n".join(result.summary.lines()))
    if result.report is not None:
        print(f"wrote {result.report}")
    if result.failed:
        first = min(result.failed)
        print(
            f"texsynth: error: {len(result.failed)} member(s) failed, e.g. member {first}: "
            f"{result.failed[first]}; rerun the same command to retry them"
        )
        return 1
    return 0


@contextlib.contextmanager
def _ctrl_c_cancels(stop: threading.Event) -> Iterator[None]:
    """While inside, a first Ctrl-C sets ``stop`` (the run stops cleanly, the members
    finished are kept); a second one interrupts at once."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: Any) -> None:
        if stop.is_set():
            raise KeyboardInterrupt
        stop.set()
        print("texsynth: stopping (Ctrl-C again to quit at once)", file=sys.stderr, flush=True)

    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


#: synthesis options that do not apply to a generator, with their defaults
_SYNTH_ONLY = (
    ("quality", "--quality", "default"),
    ("steps", "--steps", None),
    ("levels", "--levels", None),
    ("method", "--method", "auto"),
    ("features", "--features", None),
    ("weights", "--weights", None),
    ("layers", "--layers", None),
    ("histogram", "--histogram", None),
    ("power_spectrum", "--power-spectrum", None),
    ("J", "--J", None),
    ("L", "--L", None),
    ("mask", "--mask", None),
    ("init", "--init", None),
    ("no_tile", "--no-tile", False),
    ("no_cross_channels", "--no-cross-channels", False),
    ("iso", "--iso", False),
    ("signal", "--signal", False),
    ("healpix", "--healpix", False),
    ("nside", "--nside", None),
    ("spectrum", "--spectrum", None),
    ("amplitude", "--amplitude", None),
    ("to_gaussian", "--to-gaussian", False),
)


def _model_spec(args: argparse.Namespace) -> tuple[Any, str]:
    from ..ensembles import ModelSpec

    given = [flag for name, flag, default in _SYNTH_ONLY if getattr(args, name) != default]
    if spin_of(args):
        given.append("--spin")
    if given:
        s = "s" * (len(given) > 1)
        raise TexsynthError(
            f"{', '.join(given)}: synthesis option{s}, not used by a trained generator "
            "(--model); drop the option, or drop --model to synthesise each member"
        )
    size = tuple(args.size) if args.size is not None else None
    spec = ModelSpec(str(args.model), size, str(args.input), args.seed)
    return spec, f"samples of generator {args.model.name}"


def _job_spec(args: argparse.Namespace) -> tuple[Any, str]:
    """The synth job ``texsynth synth`` would run for these options (``n`` aside)."""
    from ..io.runs import JobSpec
    from .signals import signal_job_options, wants_signal
    from .skies import sky_job_options, wants_sky

    inputs = {"input": args.input, "mask": args.mask, "init": args.init}
    if wants_sky(args):
        options = sky_job_options(args)
        if spin_of(args):  # (Q, U) by name; full skies only, refused before any member
            check_full_qu_sky(args.input)
            return JobSpec("synth", "sky", inputs, options, args.seed), "HEALPix Q/U maps"
        return JobSpec("synth", "sky", inputs, options, args.seed), "HEALPix maps"
    refuse_spin(args, args.input)
    if args.nside is not None:
        raise TexsynthError("--nside is for HEALPix maps; use --size for images and signals")
    for flag, value in (("--spectrum", args.spectrum), ("--amplitude", args.amplitude)):
        if value is not None:
            raise TexsynthError(
                f"{flag} weighs a term of HEALPix map synthesis; drop it for images and signals"
            )
    if wants_signal(args):
        spec = JobSpec("synth", "signal", inputs, signal_job_options(args), args.seed)
        return spec, "1-D signals"
    return _image_spec(args, inputs)


def _image_spec(args: argparse.Namespace, inputs: dict[str, Any]) -> tuple[Any, str]:
    """An image job, the method chosen as ``texsynth synth`` chooses it."""
    from ..io import read_image
    from ..io.runs import JobSpec
    from ..methods import parse_method
    from .checks import (
        OPTIMISATION_OPTIONS,
        is_photo,
        output_size,
        refuse_network_options,
        refuse_patch_options,
    )
    from .synth import image_job_options

    method = args.method.strip()
    if method not in ("auto", "patch"):
        parse_method(method)
        refuse_network_options(args, method, auto=False)
    refuse_patch_options(args, method, chose="")
    image, meta = read_image(args.input)
    if method == "auto":
        from ..auto import choose_method

        given = [f for name, f, default in OPTIMISATION_OPTIONS if getattr(args, name) != default]
        method, _ = choose_method(image, photo=is_photo(image, meta))
        if given and method == "patch":
            method = "scattering"
        refuse_network_options(args, method, auto=True)
    init = read_image(args.init)[0] if args.init is not None else None
    H, W, _ = output_size(args, (int(image.shape[-2]), int(image.shape[-1])), init)
    spec = JobSpec("synth", "image", inputs, image_job_options(args, method), args.seed)
    return spec, f"{W}x{H} textures ({method}, quality {args.quality})"
