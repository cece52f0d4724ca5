"""``texsynth synth``, ``remake`` and ``methods`` for images and 2-D fields (1-D signals are
handed to :mod:`texsynth.cli.signals`). Only parses and calls the public API."""

from __future__ import annotations

import argparse
from typing import Any

from ..errors import TexsynthError
from ..io import SUPPORTED_SUFFIXES, atomic_text_write, read_image
from ..io.outputs import write_outputs
from .checks import (
    OPTIMISATION_OPTIONS,
    is_photo,
    output_size,
    refuse_network_options,
    refuse_patch_options,
)
from .common import (
    check_run_memory,
    check_set,
    device_of,
    output_paths,
    sidecar_path,
    synth_inputs,
)


def image_job_options(args: argparse.Namespace, method: str) -> dict[str, Any]:
    """The options of an image synthesis job with ``method`` from ``synth``'s flags (``n``
    aside; ``--region`` kept so that a rerun takes the same rectangle); ``texsynth synth``
    and ``texsynth ensemble`` share it."""
    options: dict[str, Any] = dict(
        method=method, quality=args.quality, size=args.size, tile=not args.no_tile
    )
    if getattr(args, "region", None) is not None:
        options["region"] = list(args.region)
    if method != "patch":
        options.update(
            steps=args.steps,
            levels=args.levels,
            J=args.J,
            L=args.L if args.L is not None else 4,
            iso_ang=args.iso,
            to_gaussian=args.to_gaussian,
            cross_channels=not args.no_cross_channels,
            features=args.features or "vgg19",
            weights_file=args.weights,
            layers=args.layers,
            histogram=args.histogram if args.histogram is not None else 1.0,
            power_spectrum=args.power_spectrum,
        )
    return options


def cmd_synth(args: argparse.Namespace) -> int:
    """Run ``texsynth synth`` (signals are handed to :mod:`texsynth.cli.signals`)."""
    from ..atomic import StagedFiles
    from ..features import is_features_file
    from ..features.learned import read_features_metadata
    from ..io.runs import JobSpec
    from ..memory import estimate_synthesis_bytes
    from ..methods import parse_method
    from ..region import crop_region
    from ..synthesis.jobs import prepare_arrays, run_job
    from .signals import synth_signal, wants_signal
    from .skies import synth_sky, wants_sky
    from .skies_spin import refuse_spin

    if args.region is not None and (wants_sky(args) or wants_signal(args)):
        raise TexsynthError(
            "--region selects a rectangle of an image; drop it for HEALPix maps and signals"
        )
    if args.region is not None and args.mask is not None:
        raise TexsynthError(
            "--region selects an exemplar inside a larger image, --mask fills a hole in the "
            "whole image: give one of them"
        )
    if wants_sky(args):
        return synth_sky(args)
    refuse_spin(args, args.input)
    if args.nside is not None:
        raise TexsynthError("--nside is for HEALPix maps; use --size for images and signals")
    if args.no_to_gaussian:
        raise TexsynthError(
            "--no-to-gaussian is for HEALPix maps (images and signals are not Gaussianised "
            "unless --to-gaussian is given)"
        )
    if getattr(args, "spectrum", None) is not None:
        raise TexsynthError(
            "--spectrum weighs the angular power spectrum of HEALPix maps; "
            "use --power-spectrum for images and signals"
        )
    if getattr(args, "amplitude", None) is not None:
        raise TexsynthError(
            "--amplitude weighs the statistics of |Q + iU| of HEALPix polarisation maps "
            "(--spin 2); drop it for images and signals"
        )
    if wants_signal(args):
        return synth_signal(args)
    method = args.method.strip()
    if method not in ("auto", "patch"):
        parse_method(method)  # a bad method fails before any work
        refuse_network_options(args, method, auto=False)
    if is_features_file(args.features):
        read_features_metadata(args.features)  # a wrong file fails before any work
    refuse_patch_options(args, method, chose="")
    device = device_of(args.device)
    early = None
    if args.n > 1000:  # a huge set is refused before its files are named (seconds each 1e5)
        early = read_image(args.input)
        probe = early[0]
        if args.size is not None:
            hw = tuple(args.size)
        elif args.init is not None:
            hw = tuple(read_image(args.init)[0].shape[-2:])
        else:
            hw = tuple(probe.shape[-2:])
        candidates = ("patch", "scattering") if method == "auto" else (method,)
        lower = min(
            estimate_synthesis_bytes(probe.shape, hw, n=args.n, method=m, L=args.L or 4)
            for m in candidates
        )
        check_run_memory(args, lower, device, "use a smaller --size, --n or --L")
    outputs = output_paths(args.output, args.n)
    sidecar = sidecar_path(args.output)
    check_set(  # before reading: a typo in -o costs nothing
        outputs,
        sidecar,
        synth_inputs(args),
        suffixes=SUPPORTED_SUFFIXES,
        overwrite=args.overwrite,
    )
    # its size bounds the run; the decoder bounds it (read already for a huge set)
    image, meta = early if early is not None else read_image(args.input)
    full_image = image
    if args.region is not None:
        image = crop_region(image, args.region)  # the exemplar; the run crops it alike
    reason = "given with --method"
    if method == "auto":
        from ..auto import choose_method

        given = [
            flag for name, flag, default in OPTIMISATION_OPTIONS if getattr(args, name) != default
        ]
        method, reason = choose_method(image, photo=is_photo(image, meta))
        if given and method == "patch":
            method = "scattering"
            reason = f"{', '.join(given)} given: options of the optimisation methods"
        refuse_network_options(args, method, auto=True)
    L = args.L if args.L is not None else 4
    C, He, We = image.shape
    options = {**image_job_options(args, method), "n": args.n}
    spec = JobSpec(
        "synth",
        "image",
        inputs={"input": args.input, "mask": args.mask, "init": args.init},
        options=options,
        seed=args.seed,
    )
    raw = {"input": full_image}
    for role in ("mask", "init"):
        if getattr(args, role) is not None:
            raw[role] = read_image(getattr(args, role))[0]
    arrays = prepare_arrays(spec, raw)
    if "mask" in arrays and not bool(arrays["mask"].any()):
        raise TexsynthError(
            f"--mask {str(args.mask)!r} is black everywhere (black = keep): nothing to "
            "synthesise; paint the region to fill in white"
        )
    H, W, size_note = output_size(args, (He, We), arrays.get("init"))
    estimate = estimate_synthesis_bytes(
        image.shape,
        (H, W),
        n=args.n,
        method=method,
        L=L,
        cross_channels=not args.no_cross_channels,
    )
    check_run_memory(args, estimate, device, "use a smaller --size, --n or --L")
    print(
        f"texsynth: {method} ({reason}), quality {args.quality}, {args.n} x {W}x{H}{size_note}"
        f"{_steps_note(args.steps, method)}; {_eta(method, C, H * W * args.n, args.quality)}",
        flush=True,
    )
    result, run = run_job(
        spec,
        arrays,
        device=device,
        progress=not args.quiet,
        method_reason=reason,
        settings={
            "method_option": args.method,
            "mask": str(args.mask) if args.mask else None,
            "init": str(args.init) if args.init else None,
        },
    )
    result = result.cpu()
    run.outputs = [str(o) for o in outputs]
    seed, elapsed = run.seeds[0], run.seconds
    with StagedFiles() as stage:  # the whole set and its record, or nothing new
        temps = [stage.temp(o) for o in outputs]
        note = write_outputs(result, meta, temps, args.output.suffix.lower())
        atomic_text_write(stage.temp(sidecar), run.dumps())
    names = outputs[0] if len(outputs) == 1 else f"{outputs[0]} ... {outputs[-1]}"
    print(
        f"wrote {names} ({result.shape[-1]}x{result.shape[-2]}, seed {seed}) in "
        f"{elapsed:.1f} s; settings in {sidecar}"
    )
    if note:
        print(f"note: {note}")
    return 0


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


def cmd_methods(args: argparse.Namespace) -> int:
    """Run ``texsynth methods``: every method, one line each, and which to choose."""
    from ..methods import METHODS, method_table

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


def cmd_remake(args: argparse.Namespace) -> int:
    """Run ``texsynth remake``: style transfer of a content image."""
    from ..atomic import StagedFiles
    from ..io.runs import JobSpec
    from ..methods import METHODS, parse_method
    from ..synthesis.jobs import prepare_arrays, run_job

    terms = parse_method(args.method)  # a bad method fails before any work
    if args.layers is not None and not any(METHODS[name].network for _, name in terms):
        raise TexsynthError(
            f"--layers: layers of the style's feature-network terms; method "
            f"{args.method.strip()!r} has none, so they would be ignored (the content loss "
            "takes --content-layers); drop it or pass e.g. --method gram"
        )
    sidecar = sidecar_path(args.output)
    inputs = [("content", args.content), ("style", args.like), ("weights file", args.weights)]
    check_set([args.output], sidecar, inputs, suffixes=SUPPORTED_SUFFIXES, overwrite=args.overwrite)
    device = device_of(args.device)
    content, cmeta = read_image(args.content)
    style, smeta = read_image(args.like)
    from ..memory import estimate_synthesis_bytes

    H, W = args.size if args.size is not None else tuple(content.shape[-2:])
    C = max(content.shape[0], style.shape[0])
    method = args.method.strip()
    estimate = estimate_synthesis_bytes(
        (C, *style.shape[-2:]),
        (H, W),
        method=method + "+gram",  # + the content network
    )
    check_run_memory(args, estimate, device, "use a smaller --size")
    print(
        f"texsynth: remake with {method} (given with --method; remake's default is gram), "
        f"{args.steps} steps, {W}x{H}; {_eta(method, C, H * W, 'default')}",
        flush=True,
    )
    spec = JobSpec(
        "remake",
        inputs={"content": args.content, "style": args.like},
        options=dict(
            method=method,
            content_weight=args.content_weight,
            content_layers=args.content_layers,
            features=args.features or "vgg19",
            weights_file=args.weights,
            layers=args.layers,
            size=args.size,
            steps=args.steps,
        ),
        seed=args.seed,
    )
    arrays = prepare_arrays(spec, {"content": content, "style": style})
    result, run = run_job(
        spec,
        arrays,
        device=device,
        progress=not args.quiet,
        method_reason="given with --method (remake's default is gram)",
    )
    run.outputs = [str(args.output)]
    elapsed = run.seconds
    with StagedFiles() as stage:  # the image and its record, or nothing new
        out = stage.temp(args.output)
        note = write_outputs(result.cpu(), smeta, [out], args.output.suffix.lower())
        atomic_text_write(stage.temp(sidecar), run.dumps())
    print(f"wrote {args.output} (seed {run.seeds[0]}) in {elapsed:.1f} s; settings in {sidecar}")
    if note:
        print(f"note: {note}")
    return 0
