"""Argument checks several commands share: options refused for a data kind or a method
(a one-line :class:`~texsynth.errors.TexsynthError` instead of an option silently ignored),
the output size of ``synth``, and whether an image is a photo. ``texsynth synth`` and
``texsynth ensemble`` build the same jobs, so both call these before any work."""

from __future__ import annotations

import argparse

import torch

from .._checks import size_text
from ..errors import TexsynthError
from ..io import ImageMeta

__all__ = [
    "NETWORK_OPTIONS",
    "OPTIMISATION_OPTIONS",
    "check_signal_options",
    "given_options",
    "is_photo",
    "output_size",
    "refuse_network_options",
    "refuse_patch_options",
    "refuse_sky_options",
    "signal_length",
]

#: options of the optimisation methods, which the patch method does not use:
#: ``(attribute, flag, default)``
OPTIMISATION_OPTIONS: tuple[tuple[str, str, object], ...] = (
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

#: options of the feature-network methods only (VGG19 or random filters):
#: ``(attribute, flag)``
NETWORK_OPTIONS: tuple[tuple[str, str], ...] = (
    ("features", "--features"),
    ("weights", "--weights"),
    ("layers", "--layers"),
)


def given_options(
    args: argparse.Namespace, options: tuple[tuple[str, str, object], ...]
) -> list[str]:
    """The flags of ``options`` (``(attribute, flag, default)``) given on the command line:
    those whose value differs from the default."""
    return [flag for name, flag, default in options if getattr(args, name) != default]


def refuse_patch_options(args: argparse.Namespace, method: str, chose: str) -> None:
    """A one-line error for options of the optimisation methods given with ``patch``.

    ``chose`` starts the message (e.g. why ``auto`` chose the patch method), or is empty.
    """
    if method != "patch":
        return
    given = given_options(args, OPTIMISATION_OPTIONS)
    if given:
        s = "s" * (len(given) > 1)
        raise TexsynthError(
            f"{chose}{', '.join(given)}: option{s} of the optimisation methods, not used by the "
            "patch method; drop the option or pass --method scattering (or another "
            "optimisation method) to use it"
        )


def refuse_network_options(args: argparse.Namespace, method: str, *, auto: bool) -> None:
    """A one-line error for ``--features``, ``--weights`` or ``--layers`` given with a
    method that has no feature-network term (they would be silently ignored).

    ``auto`` says the method was chosen by ``--method auto`` (the message says so).
    """
    from ..methods import METHODS, parse_method

    given = [flag for name, flag in NETWORK_OPTIONS if getattr(args, name, None) is not None]
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


def output_size(
    args: argparse.Namespace, exemplar_hw: tuple[int, int], init: torch.Tensor | None
) -> tuple[int, int, str]:
    """``(H, W, note)`` of synth's output: ``--init``'s size (it is the start of the
    output), else ``--size``, else the exemplar's; a one-line error, before any work, when
    ``--size`` contradicts the image being filled."""
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


def is_photo(image: torch.Tensor, meta: ImageMeta) -> bool:
    """What the file says: 8-bit (or 1-bit) data, or colour in [0, 1], is a photo; float
    and 16-bit grey data are fields."""
    if meta.dtype in ("uint8", "bool"):
        return True
    return image.shape[0] == 3 and float(image.min()) >= 0.0 and float(image.max()) <= 1.0


def signal_length(size: tuple[int, int] | None) -> int | None:
    """``--size`` (parsed as ``(h, w)``) as a signal length: ``N``, ``NxN``, ``Nx1``, ``1xN``."""
    if size is None:
        return None
    h, w = size
    if h == w or h == 1 or w == 1:
        return max(h, w)
    raise TexsynthError(f"--size for a 1-D signal is one length, e.g. --size 8192 (got {w}x{h})")


def check_signal_options(args: argparse.Namespace) -> None:
    """Refuse the image-only options of ``synth`` for a 1-D signal instead of silently
    ignoring them."""
    bad = []
    if args.method not in ("auto", "scattering"):
        bad.append(f"--method {args.method}")
    if args.quality != "default":
        bad.append(f"--quality {args.quality}")
    if args.L is not None:
        bad.append("--L")
    if args.iso:
        bad.append("--iso")
    if args.weights is not None or args.layers is not None or args.features is not None:
        bad.append("--weights/--layers/--features")
    if bad:
        raise TexsynthError(
            f"{', '.join(bad)}: image options; 1-D signals use the scattering statistics "
            "with one orientation (drop the option)"
        )


def refuse_sky_options(args: argparse.Namespace, names: list[tuple[str, bool]]) -> None:
    """A one-line error naming every ``(flag, given)`` of ``names`` that was given: image
    options a HEALPix map does not take."""
    bad = [flag for flag, given in names if given]
    if bad:
        raise TexsynthError(
            f"{', '.join(bad)}: image option{'s' * (len(bad) > 1)}, not available for HEALPix "
            "maps (drop the option; --nside sets the output's resolution)"
        )
