"""Input checks shared by every public entry point (one ``[B, C, H, W]`` contract)."""

from __future__ import annotations

import numbers

import torch

from .errors import TexsynthError

__all__ = [
    "MAX_SEED",
    "as_image_batch",
    "check_device",
    "check_finite",
    "check_mask",
    "check_seed",
    "size_text",
]


def size_text(H: int, W: int) -> str:
    """A 2-D size as messages write it: ``"WxH"``, width first, as the command line's
    ``--size 512x256`` and image viewers do (tensors and ``size=`` are ``(H, W)``)."""
    return f"{int(W)}x{int(H)}"


def as_image_batch(x: torch.Tensor, name: str = "image") -> torch.Tensor:
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
    require_tensor(x, name)
    if x.dim() == 2:
        x = x[None, None]
    elif x.dim() == 3:
        x = x[None]
    elif x.dim() != 4:
        raise TexsynthError(
            f"{name} must have shape [H, W], [C, H, W] or [B, C, H, W], got {tuple(x.shape)}"
        )
    return real_finite(x, name, "image")


def require_tensor(x: object, name: str) -> None:
    """Raise a one-line error unless ``x`` is a tensor."""
    if not isinstance(x, torch.Tensor):
        raise TexsynthError(
            f"{name} must be a torch.Tensor, got {type(x).__name__}; "
            "convert with torch.as_tensor(array)"
        )


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


def check_mask(mask: torch.Tensor, shape: torch.Size, name: str = "mask") -> torch.Tensor:
    """Return ``mask`` as a ``[B|1, C|1, H, W]`` tensor of weights in [0, 1] that broadcasts.

    Raises
    ------
    TexsynthError
        If the mask does not broadcast to ``shape``, has values outside [0, 1], or is all zero.
    """
    if not isinstance(mask, torch.Tensor):
        mask = torch.as_tensor(mask)
    mask = mask.to(torch.get_default_dtype()) if not mask.is_floating_point() else mask
    if mask.dim() == 2:
        mask = mask[None, None]
    elif mask.dim() == 3:
        mask = mask[None]
    B, C, H, W = shape
    if (
        mask.dim() != 4
        or tuple(mask.shape[-2:]) != (H, W)
        or mask.shape[0] not in (1, B)
        or mask.shape[1] not in (1, C)
    ):
        raise TexsynthError(
            f"{name} of shape {tuple(mask.shape)} does not fit images of shape {tuple(shape)}; "
            f"give [H, W] = [{H}, {W}] or [B|1, C|1, {H}, {W}]"
        )
    check_finite(mask, name)
    if bool((mask < 0).any()) or bool((mask > 1).any()):
        raise TexsynthError(f"{name} values must lie in [0, 1] (1 = valid pixel, 0 = excluded)")
    if not bool((mask > 0).any()):
        raise TexsynthError(f"{name} excludes every pixel; at least some pixels must be 1")
    return mask


#: largest seed a torch.Generator takes (a signed 64-bit integer)
MAX_SEED = 2**63 - 1


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
        dev = torch.device(device)  # type: ignore[arg-type]
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
