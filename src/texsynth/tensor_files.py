"""Safetensors files (the ``safetensors`` package, no pickles): tensors plus string
metadata, written atomically (:func:`texsynth.atomic.atomic_write`) and read with one-line
errors. The learned-feature files and the generator files are both read through here."""

from __future__ import annotations

import os
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import load_file
from safetensors.torch import save as safetensors_bytes

from .atomic import atomic_write
from .errors import TexsynthError

__all__ = ["load_tensors", "save_tensors"]


def save_tensors(
    path: str | os.PathLike[str], tensors: dict[str, torch.Tensor], metadata: dict[str, str]
) -> None:
    """Write ``tensors`` (detached, on the CPU) and ``metadata`` to ``path`` atomically."""
    cpu = {k: v.detach().to("cpu").contiguous() for k, v in tensors.items()}
    data = safetensors_bytes(cpu, metadata=metadata)
    atomic_write(Path(path), lambda f: f.write(data))


def load_tensors(
    path: str | os.PathLike[str],
    *,
    missing_fix: str = "",
    unreadable_fix: str = "remove it or write it again",
) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """Tensors (CPU) and string metadata of a safetensors file.

    ``missing_fix`` and ``unreadable_fix`` end the error of a missing and of an unreadable
    file (what the caller's user should do).

    Raises
    ------
    TexsynthError
        If the file is missing or is not a safetensors file.
    """
    p = Path(path)
    if not p.is_file():
        tail = f"; {missing_fix}" if missing_fix else ""
        raise TexsynthError(f"{str(p)!r} does not exist or is not a file{tail}")
    try:
        with safe_open(str(p), framework="pt") as f:
            metadata = dict(f.metadata() or {})
        tensors = load_file(str(p), device="cpu")
    except Exception as exc:  # safetensors raises its own error types for bad files
        text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise TexsynthError(
            f"{str(p)!r} is not a readable safetensors file ({text}); {unreadable_fix}"
        ) from None
    return tensors, metadata
