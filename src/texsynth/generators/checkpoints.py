"""Training checkpoints: the network, Adam's moments and the random generators' states.

A checkpoint is a safetensors file (:func:`~texsynth.generators.serialization.atomic_save_file`)
whose metadata holds ``format`` (``"texsynth-checkpoint/1"``), the run's ``settings`` (JSON),
the ``step`` reached and the last ``loss``. :func:`restore_checkpoint` refuses a file written
with other settings, so that a resumed run is the run that was interrupted.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
from pathlib import Path
from typing import Any

import torch

from ..atomic import temp_path
from ..errors import TexsynthError
from .config import upgrade_config
from .network import SynthHalfUNet2D
from .serialization import atomic_save_file, load_checkpoint_file

__all__ = ["CHECKPOINT_FORMAT", "restore_checkpoint", "save_checkpoint"]

CHECKPOINT_FORMAT = "texsynth-checkpoint/1"
"""Value of the ``format`` metadata key of the checkpoints this version writes and reads."""


def save_checkpoint(
    path: Path,
    settings: dict[str, Any],
    step: int,
    model: SynthHalfUNet2D,
    optimiser: torch.optim.Adam,
    noise: torch.Generator,
    loss_rngs: list[torch.Generator],
    loss: float = math.nan,
) -> None:
    """Network, Adam moments, the noise's and the loss's generator states, atomically (a
    hidden temporary tagged with the process id, renamed over ``path``)."""
    tensors = {f"model.{k}": v for k, v in model.state_dict().items()}
    for i, p in enumerate(model.parameters()):
        state = optimiser.state.get(p, {})
        for key in ("exp_avg", "exp_avg_sq", "step"):
            if key in state:
                t = state[key]
                tensors[f"adam.{i}.{key}"] = t if torch.is_tensor(t) else torch.tensor(float(t))
    tensors["noise_state"] = noise.get_state()
    for i, g in enumerate(loss_rngs):
        tensors[f"loss_rng.{i}"] = g.get_state()
    meta = {
        "format": CHECKPOINT_FORMAT,
        "settings": json.dumps(settings, sort_keys=True),
        "step": str(step),
        "loss": repr(float(loss)),
    }
    tmp = temp_path(path)
    try:
        atomic_save_file(tensors, tmp, meta)
        os.replace(tmp, path)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            tmp.unlink()
        if isinstance(exc, OSError):
            raise TexsynthError(
                f"cannot write checkpoint {str(path)!r}: {exc.strerror or exc}; check the "
                "free space and permissions of its directory"
            ) from None
        raise


def restore_checkpoint(
    path: Path,
    settings: dict[str, Any],
    model: SynthHalfUNet2D,
    optimiser: torch.optim.Adam,
    noise: torch.Generator,
    loss_rngs: list[torch.Generator],
) -> tuple[int, float]:
    """Load a checkpoint written with the same settings; return its step and last loss."""
    tensors, meta = load_checkpoint_file(path)
    if meta.get("format") != CHECKPOINT_FORMAT:
        raise TexsynthError(
            f"{path} is not a texsynth training checkpoint; remove it or start over"
        )
    saved, step = _checkpoint_fields(path, meta)
    saved = _upgrade_settings(saved)
    expected = json.loads(json.dumps(settings, sort_keys=True))
    if saved != expected:
        changed = sorted(k for k in set(saved) | set(expected) if saved.get(k) != expected.get(k))
        raise TexsynthError(
            f"checkpoint {path} was written with other settings ({', '.join(changed)}); "
            "resume with the same exemplar and options, or delete it to start over"
        )
    try:
        model.load_state_dict(
            {k[len("model.") :]: v for k, v in tensors.items() if k.startswith("model.")}
        )
        dev = next(model.parameters()).device
        for i, p in enumerate(model.parameters()):
            if f"adam.{i}.exp_avg" in tensors:
                avg, sq = tensors[f"adam.{i}.exp_avg"], tensors[f"adam.{i}.exp_avg_sq"]
                if avg.shape != p.shape or sq.shape != p.shape:
                    raise ValueError(f"Adam state {i} has shape {list(avg.shape)}")
                optimiser.state[p] = {
                    "step": tensors[f"adam.{i}.step"].to(torch.float32).reshape(()),
                    "exp_avg": avg.to(dev, p.dtype),
                    "exp_avg_sq": sq.to(dev, p.dtype),
                }
        noise.set_state(tensors["noise_state"])
        for i, g in enumerate(loss_rngs):
            if f"loss_rng.{i}" in tensors:
                g.set_state(tensors[f"loss_rng.{i}"])
    except (KeyError, RuntimeError, ValueError, TypeError) as exc:
        text = str(exc).splitlines()[0][:80] if str(exc) else type(exc).__name__
        raise TexsynthError(
            f"checkpoint {path} is damaged ({text}); delete it and train again without --resume"
        ) from None
    try:
        loss = float(meta.get("loss", "nan"))
    except ValueError:
        loss = math.nan
    return step, loss


def _upgrade_settings(saved: dict[str, Any]) -> dict[str, Any]:
    """A checkpoint's settings under this version's names (earlier versions wrote
    ``n_samples`` for ``batch`` and the config key ``Jmax`` for ``depth``), so that a run
    interrupted before an upgrade still resumes."""
    out = dict(saved)
    if "n_samples" in out and "batch" not in out:
        out["batch"] = out.pop("n_samples")
    if isinstance(out.get("config"), dict):
        out["config"] = upgrade_config(out["config"])
    return out


def _checkpoint_fields(path: Path, meta: dict[str, str]) -> tuple[Any, int]:
    """The ``settings`` (a JSON object) and ``step`` (0 ... 10**9) of a checkpoint's
    metadata, checked before anything is restored."""
    try:
        saved = json.loads(meta["settings"])
        step = int(meta["step"])
    except (KeyError, TypeError, ValueError, RecursionError):
        saved, step = None, -1
    if not isinstance(saved, dict) or not 0 <= step <= 10**9:
        raise TexsynthError(
            f"checkpoint {path} has a missing or damaged 'settings' or 'step' entry; delete "
            "it and train again without --resume"
        )
    return saved, step
