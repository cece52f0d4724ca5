"""Safetensors files of the learned features: tensors plus string metadata, written
atomically (:func:`texsynth.atomic.atomic_write`), read with one-line errors. No pickles."""

from __future__ import annotations

import os
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import load_file
from safetensors.torch import save as safetensors_bytes

from ..atomic import atomic_write
from ..errors import TexsynthError

__all__ = ["load_tensors", "save_tensors"]


def save_tensors(
    path: str | os.PathLike[str], tensors: dict[str, torch.Tensor], metadata: dict[str, str]
) -> None:
    """Write ``tensors`` (detached, on the CPU) and ``metadata`` to ``path`` atomically."""
    cpu = {k: v.detach().to("cpu").contiguous() for k, v in tensors.items()}
    data = safetensors_bytes(cpu, metadata=metadata)
    atomic_write(Path(path), lambda f: f.write(data))


def load_tensors(path: str | os.PathLike[str]) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """Tensors (CPU) and string metadata of a safetensors file.

    Raises
    ------
    TexsynthError
        If the file is missing or is not a safetensors file.
    """
    p = Path(path)
    if not p.is_file():
        raise TexsynthError(f"{str(p)!r} does not exist or is not a file")
    try:
        with safe_open(str(p), framework="pt") as f:
            metadata = dict(f.metadata() or {})
        tensors = load_file(str(p), device="cpu")
    except Exception as exc:  # safetensors raises its own error types for bad files
        text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise TexsynthError(
            f"{str(p)!r} is not a readable safetensors file ({text}); give a features file "
            "from `texsynth features train`"
        ) from None
    return tensors, metadata
