"""Helpers shared by the foscat-compatible modules (conversions, checks, warnings)."""

from __future__ import annotations

import importlib
import inspect
import numbers
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from ...errors import TexsynthError

__all__ = [
    "FoscatCompatWarning",
    "accepted_options",
    "as_tensor",
    "check_int",
    "device_for",
    "dtype_for",
    "optional_module",
    "to_numpy",
    "warn_compat",
]


class FoscatCompatWarning(UserWarning):
    """A foscat option was accepted, but texsynth does not reproduce its effect."""


def warn_compat(message: str, stacklevel: int = 3) -> None:
    """Emit a :class:`FoscatCompatWarning` pointing at the caller's caller."""
    warnings.warn(message, FoscatCompatWarning, stacklevel=stacklevel)


def check_int(value: Any, name: str, minimum: int) -> int:
    """``value`` as an ``int`` >= ``minimum`` (NumPy integers accepted), else a one-line error."""
    if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < minimum:
        raise TexsynthError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def dtype_for(all_type: str) -> torch.dtype:
    """torch dtype of foscat's ``all_type`` (``'float32'`` or ``'float64'``)."""
    table = {"float32": torch.float32, "float64": torch.float64}
    if all_type not in table:
        raise TexsynthError(f"all_type must be 'float32' or 'float64', got {all_type!r}")
    return table[all_type]


def device_for(gpupos: Any) -> torch.device:
    """foscat's device choice: GPU ``gpupos`` when CUDA is available, else the CPU."""
    if torch.cuda.is_available():
        pos = check_int(gpupos, "gpupos", 0)
        return torch.device("cuda", pos % max(torch.cuda.device_count(), 1))
    return torch.device("cpu")


def as_tensor(x: Any, name: str, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """A NumPy array, torch tensor or nested list as a real floating tensor (keeps autograd)."""
    if isinstance(x, torch.Tensor):
        t = x
    else:
        try:
            t = torch.as_tensor(np.asarray(x))
        except (TypeError, ValueError, RuntimeError):
            raise TexsynthError(
                f"{name} must be an array (NumPy or torch), got {type(x).__name__}"
            ) from None
    if t.is_complex():
        raise TexsynthError(f"{name} must be real-valued, got dtype {t.dtype}")
    if t.numel() == 0:
        raise TexsynthError(f"{name} is empty (shape {tuple(t.shape)}); give a non-empty array")
    return t.to(device=device, dtype=dtype)


def to_numpy(t: torch.Tensor) -> np.ndarray:
    """A detached CPU NumPy copy of ``t``."""
    return t.detach().cpu().numpy()


def optional_module(module: str) -> Any:
    """Import a texsynth module that newer releases have, or raise a one-line error."""
    try:
        return importlib.import_module(module)
    except ImportError:
        raise TexsynthError(
            f"funct(use_1D=True) needs {module}, which this texsynth installation lacks; "
            "upgrade texsynth (pip install -U texsynth)"
        ) from None


def accepted_options(fn: Callable[..., Any], kwargs: dict[str, Any]) -> dict[str, Any]:
    """The entries of ``kwargs`` that ``fn`` accepts (all of them if it takes ``**kwargs``)."""
    params = inspect.signature(fn).parameters
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return kwargs
    return {k: v for k, v in kwargs.items() if k in params}
