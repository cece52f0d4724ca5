"""The expander's training checkpoints (``texsynth train-expander``): the network, Adam's
state, the patch discriminator's (if any) and the run's identity, written atomically
(:func:`~texsynth.tensor_files.save_tensors`) so that a resumed run continues bit for bit;
reading refuses a missing, damaged or foreign file, or one of a run with other settings,
in one line."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch

from ..errors import TexsynthError
from ..tensor_files import load_tensors, save_tensors
from ..training_files import optimiser_tensors, restore_optimiser
from .distribution_losses import DistributionLosses
from .model import TransposerExpander

__all__ = ["CHECKPOINT_FORMAT", "restore_training_checkpoint", "save_training_checkpoint"]

CHECKPOINT_FORMAT = "texsynth-expander-checkpoint/1"


def save_training_checkpoint(
    path: Path,
    model: TransposerExpander,
    opt: torch.optim.Optimizer,
    step: int,
    seconds: float,
    history: list[list[float]],
    identity: dict[str, Any],
    extra: DistributionLosses | None = None,
) -> None:
    """Write the checkpoint ``path`` atomically: the network (``model.*``), Adam's state,
    the discriminator's (``disc.*``, if any), and the step, seconds, loss history and the
    run's identity (its settings and data) as metadata."""
    tensors = {f"model.{k}": v for k, v in model.state_dict().items()}
    tensors.update(optimiser_tensors(opt))
    if extra is not None and extra.adversarial is not None:
        tensors.update(extra.adversarial.state_tensors())
    meta = {
        "format": CHECKPOINT_FORMAT,
        "identity": json.dumps(identity, sort_keys=True),
        "step": str(step),
        "seconds": repr(seconds),
        "history": json.dumps(history),
    }
    try:
        save_tensors(path, tensors, meta)
    except OSError as exc:
        raise TexsynthError(
            f"cannot write checkpoint {str(path)!r}: {exc.strerror or exc}; check the free "
            "space and permissions of its folder"
        ) from None


def _changed(a: Any, b: Any, prefix: str = "") -> list[str]:
    """The keys whose values differ between the settings ``a`` and ``b``, sorted; within a
    nested dictionary (the network's ``config``) the keys below it (``config.encoder``)."""
    if not isinstance(a, dict) or not isinstance(b, dict):
        return [prefix.rstrip(".") or "unknown"] if a != b else []
    out: list[str] = []
    for k in sorted(set(a) | set(b)):
        x, y = a.get(k), b.get(k)
        if x == y:
            continue
        if isinstance(x, dict) and isinstance(y, dict):
            out.extend(_changed(x, y, f"{prefix}{k}."))
        else:
            out.append(f"{prefix}{k}")
    return out


def restore_training_checkpoint(
    path: Path,
    model: TransposerExpander,
    opt: torch.optim.Optimizer,
    identity: dict[str, Any],
    extra: DistributionLosses | None = None,
) -> tuple[int, float, list[list[float]]]:
    """Load the checkpoint ``path`` into ``model``, ``opt`` (and the discriminator);
    ``(step, seconds, history)``. A one-line :class:`TexsynthError` for a missing, damaged
    or foreign file, or one written with other settings than ``identity``."""
    if not path.is_file():
        raise TexsynthError(
            f"--resume: no checkpoint {str(path)!r} to resume from; run without --resume"
        )
    tensors, meta = load_tensors(path, unreadable_fix="delete it and train without --resume")
    if meta.get("format") != CHECKPOINT_FORMAT:
        raise TexsynthError(
            f"{str(path)!r} is not a texsynth expander training checkpoint (format "
            f"{meta.get('format')!r}); delete it or train without --resume"
        )
    try:
        saved = json.loads(meta["identity"])
        step, seconds = int(meta["step"]), float(meta["seconds"])
        history = json.loads(meta["history"])
    except (KeyError, ValueError, TypeError):
        raise TexsynthError(
            f"checkpoint {str(path)!r} has damaged metadata; delete it and train without --resume"
        ) from None
    if saved != identity:
        changed = _changed(saved.get("settings", {}), identity["settings"])
        if saved.get("data") != identity["data"]:
            changed.append("the training images")
        raise TexsynthError(
            f"checkpoint {str(path)!r} was written by a run with other settings "
            f"({', '.join(changed) or 'unknown'}); resume with the same folders and options "
            "(only --steps and --checkpoint-every may change), or train without --resume"
        )
    try:
        model.load_state_dict({k[6:]: v for k, v in tensors.items() if k.startswith("model.")})
        restore_optimiser(opt, tensors)
        if extra is not None and extra.adversarial is not None:
            extra.adversarial.load_state_tensors(tensors)
    except (RuntimeError, ValueError, KeyError, TexsynthError) as exc:
        text = str(exc).splitlines()[0][:100] if str(exc) else type(exc).__name__
        raise TexsynthError(
            f"checkpoint {str(path)!r} is damaged ({text}); delete it and train without --resume"
        ) from None
    return step, seconds, history
