"""What the trainers' checkpoints share: where a checkpoint goes and the optimiser's state as
safetensors tensors.

Used by :mod:`texsynth.features.training` (the learned feature networks) and
:mod:`texsynth.expander.trainer` (the universal expander): a checkpoint
``NAME.ckpt.safetensors`` sits next to the output ``NAME.safetensors`` and holds the
network, the optimiser's per-parameter state (``adam.{i}.{key}``, torch's own
``Optimizer.state_dict`` numbering) and metadata; written atomically by
:func:`texsynth.tensor_files.save_tensors`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch

from .errors import TexsynthError

__all__ = ["checkpoint_path", "optimiser_tensors", "restore_optimiser"]


def checkpoint_path(output: str | os.PathLike[str]) -> Path:
    """Where the training checkpoint of ``output`` goes: ``NAME.ckpt.safetensors``."""
    out = Path(output)
    stem = out.name[: -len(".safetensors")] if out.name.endswith(".safetensors") else out.name
    return out.with_name(stem + ".ckpt.safetensors")


def optimiser_tensors(opt: torch.optim.Optimizer, prefix: str = "adam.") -> dict[str, torch.Tensor]:
    """The per-parameter state of ``opt`` (Adam's moments and step counts) as tensors named
    ``{prefix}{i}.{key}`` (scalars become 0-d float tensors)."""
    tensors: dict[str, torch.Tensor] = {}
    for i, state in opt.state_dict()["state"].items():
        for key, value in state.items():
            tensors[f"{prefix}{i}.{key}"] = (
                value if torch.is_tensor(value) else torch.tensor(float(value))
            )
    return tensors


def restore_optimiser(
    opt: torch.optim.Optimizer, tensors: dict[str, torch.Tensor], prefix: str = "adam."
) -> None:
    """Load the state :func:`optimiser_tensors` wrote into ``opt`` (its parameter groups,
    learning rates included, stay those of ``opt``).

    Raises
    ------
    TexsynthError
        If a state does not match the shape of its parameter.
    """
    sd = opt.state_dict()
    state: dict[int, dict[str, Any]] = {}
    for key, value in tensors.items():
        if key.startswith(prefix):
            index, name = key[len(prefix) :].split(".", 1)
            state.setdefault(int(index), {})[name] = value
    params = [p for group in opt.param_groups for p in group["params"]]
    for i, entry in state.items():
        for name, value in entry.items():
            if name != "step" and (i >= len(params) or value.shape != params[i].shape):
                raise TexsynthError(
                    f"optimiser state {i}.{name} has shape {list(value.shape)}, not that of "
                    "its parameter"
                )
    sd["state"] = state
    opt.load_state_dict(sd)
