"""Input checks shared by every public entry point (one ``[B, C, H, W]`` contract)."""

from __future__ import annotations

import numbers
from typing import Any

import torch

from .errors import TexsynthError

__all__ = [
    "MAX_SEED",
    "as_image_batch",
    "check_device",
    "check_finite",
    "check_int_at_least",
    "check_mask",
    "check_seed",
    "is_integer",
    "size_text",
]


def size_text(H: int, W: int) -> str:
    """A 2-D size as messages write it: ``"WxH"``, width first, as the command line's
    ``--size 512x256`` and image viewers do (tensors and ``size=`` are ``(H, W)``)."""
    return f"{int(W)}x{int(H)}"


#: per number of spatial axes: the axis names, what the data is called, a sample's name, and
#: what to say after a wrong shape
_KINDS = {
    1: (("N",), "signal", "sample", "; for images use ScatteringCovariance / synthesize"),
    2: (("H", "W"), "image", "pixel", ""),
}


def as_batch(x: object, ndim: int, name: str, hint: str = "mask=...") -> torch.Tensor:
    """Return ``x`` as a floating ``[B, C, *shape]`` tensor of ``ndim`` spatial axes,
    accepting ``shape`` and ``[C, *shape]`` too.

    Raises
    ------
    TexsynthError
        If ``x`` is not a tensor, has the wrong number of dimensions, is empty, or holds
        NaN/Inf values (``hint`` names the masking option offered).
    """
    axes, what, _, other = _KINDS[ndim]
    x = require_tensor(x, name)
    if x.dim() == ndim:
        x = x[None, None]
    elif x.dim() == ndim + 1:
        x = x[None]
    elif x.dim() != ndim + 2:
        a = ", ".join(axes)
        kind = " (1-D signals)" if ndim == 1 else ""
        raise TexsynthError(
            f"{name} must have shape [{a}], [C, {a}] or [B, C, {a}]{kind}, got "
            f"{tuple(x.shape)}{other}"
        )
    return real_finite(x, name, what, hint)


def as_image_batch(x: object, name: str = "image") -> torch.Tensor:
    """Return ``x`` as a floating ``[B, C, H, W]`` tensor, accepting ``[H, W]`` and ``[C, H, W]``.

    Parameters
    ----------
    x
        Image tensor of 2, 3 or 4 dimensions.
    name
        Name used in error messages.

    Raises
    ------
    TexsynthError
        If ``x`` is not a tensor, has the wrong number of dimensions, is empty, or holds
        NaN/Inf values.
    """
    return as_batch(x, 2, name)


def require_tensor(x: object, name: str) -> torch.Tensor:
    """``x``, or a one-line error unless it is a tensor."""
    if not isinstance(x, torch.Tensor):
        raise TexsynthError(
            f"{name} must be a torch.Tensor, got {type(x).__name__}; "
            "convert with torch.as_tensor(array)"
        )
    return x


def real_finite(x: torch.Tensor, name: str, what: str, hint: str = "mask=...") -> torch.Tensor:
    """``x`` (already of the right shape) as a floating tensor, refusing empty, complex and
    non-finite input with one-line errors (``what``: "image", "signal"...; ``hint``: the
    masking option named in the non-finite error)."""
    if x.numel() == 0:
        raise TexsynthError(f"{name} is empty (shape {tuple(x.shape)}); give a non-empty {what}")
    if x.is_complex():
        raise TexsynthError(f"{name} must be real-valued, got dtype {x.dtype}")
    if not x.is_floating_point():
        x = x.to(torch.get_default_dtype())
    check_finite(x, name, hint)
    return x


def check_finite(x: torch.Tensor, name: str = "image", hint: str = "mask=...") -> None:
    """Raise a one-line error naming how many values of ``x`` are NaN or infinite."""
    bad = ~torch.isfinite(x)
    n_bad = int(bad.sum())
    if n_bad:
        n_nan = int(torch.isnan(x).sum())
        raise TexsynthError(
            f"{name} has {n_bad} non-finite values ({n_nan} NaN, {n_bad - n_nan} Inf) "
            f"out of {x.numel()}; mask them ({hint}) or fill them before use"
        )


def check_weight_mask(
    mask: object, shape: torch.Size, ndim: int, name: str = "mask"
) -> torch.Tensor:
    """Return ``mask`` as ``[B|1, C|1, *spatial]`` weights in [0, 1] that broadcast to
    ``shape`` (``[B, C, *spatial]``, ``ndim`` spatial axes); ``spatial`` and
    ``[C|1, *spatial]`` are accepted too.

    Raises
    ------
    TexsynthError
        If the mask does not fit, holds NaN/Inf or values outside [0, 1], or is all zero.
    """
    axes, what, unit, _ = _KINDS[ndim]
    if not isinstance(mask, torch.Tensor):
        mask = torch.as_tensor(mask)
    mask = mask.to(torch.get_default_dtype()) if not mask.is_floating_point() else mask
    if mask.dim() == ndim:
        mask = mask[None, None]
    elif mask.dim() == ndim + 1:
        mask = mask[None]
    B, C = shape[:2]
    spatial = tuple(shape[2:])
    if (
        mask.dim() != ndim + 2
        or tuple(mask.shape[2:]) != spatial
        or mask.shape[0] not in (1, B)
        or mask.shape[1] not in (1, C)
    ):
        sizes = ", ".join(str(n) for n in spatial)
        raise TexsynthError(
            f"{name} of shape {tuple(mask.shape)} does not fit {what}s of shape "
            f"{tuple(shape)}; give [{', '.join(axes)}] = [{sizes}] or [B|1, C|1, {sizes}]"
        )
    check_finite(mask, name)
    if bool((mask < 0).any()) or bool((mask > 1).any()):
        raise TexsynthError(f"{name} values must lie in [0, 1] (1 = valid {unit}, 0 = excluded)")
    if not bool((mask > 0).any()):
        raise TexsynthError(f"{name} excludes every {unit}; at least some {unit}s must be 1")
    return mask


def check_mask(mask: object, shape: torch.Size, name: str = "mask") -> torch.Tensor:
    """Return ``mask`` as a ``[B|1, C|1, H, W]`` tensor of weights in [0, 1] that broadcasts
    to images of ``shape`` (see :func:`check_weight_mask`)."""
    return check_weight_mask(mask, shape, 2, name)


#: largest seed a torch.Generator takes (a signed 64-bit integer)
MAX_SEED = 2**63 - 1


def is_integer(x: Any) -> bool:
    """Whether ``x`` is an integer (Python or NumPy), booleans excluded."""
    return isinstance(x, numbers.Integral) and not isinstance(x, bool)


def check_int_at_least(x: Any, name: str, minimum: int, fix: str) -> int:
    """``x`` as an ``int`` if it is an integer >= ``minimum``; else a one-line error naming
    ``name`` and ending with the ``fix``."""
    if not is_integer(x) or x < minimum:
        raise TexsynthError(f"{name} must be an integer >= {minimum}, got {x!r}; {fix}")
    return int(x)


def check_seed(seed: object, name: str = "seed") -> int | None:
    """``seed`` if it is ``None`` or an integer in ``0 ... 2**63 - 1``; a one-line error
    otherwise (a larger seed would fail deep inside torch with an overflow)."""
    if seed is None:
        return None
    if (
        isinstance(seed, bool)
        or not isinstance(seed, numbers.Integral)
        or not 0 <= int(seed) <= MAX_SEED
    ):
        raise TexsynthError(f"{name} must be an integer from 0 to 2**63-1, got {seed!r:.30}")
    return int(seed)


def check_device(
    device: object, option: str = "device=", choices: str = "cpu, cuda or cuda:N"
) -> torch.device | None:
    """``device`` as a :class:`torch.device` that exists here (``None`` stays ``None``).

    ``option`` is how the caller names the setting in its messages (``"device="`` in
    Python, ``"--device"`` on the command line), ``choices`` what it accepts.
    """
    if device is None:
        return None
    name = str(device)[:30]

    def said(value: str) -> str:
        return f"{option}{value!r}" if option.endswith("=") else f"{option} {value}"

    try:
        dev = torch.device(device)  # type: ignore[call-overload]
    except (RuntimeError, ValueError, TypeError):
        dev = None
    if dev is None or dev.type not in ("cpu", "cuda"):
        raise TexsynthError(f"unknown device {name!r} (not supported here); use {choices}")
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise TexsynthError(f"{said(name)}: no CUDA GPU is available here; use {said('cpu')}")
    count = torch.cuda.device_count() if dev.type == "cuda" else 1
    if dev.type == "cuda" and dev.index is not None and dev.index >= count:
        raise TexsynthError(
            f"{said(name)}: this machine has {count} CUDA GPU(s); use cuda:0 ... cuda:{count - 1}"
        )
    if dev.type == "cpu" and dev.index not in (None, 0):
        raise TexsynthError(f"{said(name)}: there is one cpu device; use {said('cpu')}")
    return dev


def parse_size(size: Any, default: tuple[int, int]) -> tuple[int, int]:
    """An output size given as one int or ``(height, width)`` of ints (``None``:
    ``default``), at least 8x8; a one-line error otherwise."""
    if size is None:
        return default
    if isinstance(size, numbers.Integral) and not isinstance(size, bool):
        size = (int(size), int(size))
    try:
        h, w = size
        if not all(isinstance(v, numbers.Integral) and not isinstance(v, bool) for v in (h, w)):
            raise TypeError
        h, w = int(h), int(w)
    except (TypeError, ValueError):
        raise TexsynthError(
            f"size must be an int or (height, width) of ints, got {size!r:.40}"
        ) from None
    if h < 8 or w < 8:
        raise TexsynthError(f"size must be at least 8x8 pixels, got {size_text(h, w)}")
    return h, w
