"""Training a :class:`~.autoencoder.ConvAutoencoder` on random patches of a photo collection.

Adam on an L1 reconstruction loss (L1 rather than L2 keeps edges sharper, as in most
image-restoration work; Zhao et al., "Loss Functions for Image Restoration with Neural
Networks", 2017), batches from a :class:`~texsynth.datasets.PatchSampler` (random crops, flips
and quarter turns). A checkpoint (network, Adam moments, step, CPU seconds, history) is
written atomically every ``checkpoint_every`` steps next to the output
(``NAME.ckpt.safetensors``); :func:`train_features` with ``resume=True`` continues from it and
gives bit-for-bit the network an uninterrupted run gives (the batches are a pure function of
the step; same machine, same thread count). The held-out score is the PSNR (dB) of the
reconstructions of fixed patches of images never trained on. At the end, the methods'
weights are calibrated on crops of the held-out images (:mod:`.calibration`) and the factors
stored in the file.

A wall-clock budget (``minutes``) stops training early, at a checkpoint (so that ``resume``
can go on); ``snapshot_every`` writes, every that many steps, the features file that a run
of exactly that many steps would write (``NAME_step{N}.safetensors``, calibrated), for
training curves and for picking a network by time.
"""

from __future__ import annotations

import copy
import json
import math
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch

from ..datasets import ImageCollection, PatchSampler
from ..errors import TexsynthError
from ..io import write_image
from ..metrics.image import ssim
from ..tensor_files import load_tensors, save_tensors
from ..training_files import checkpoint_path, optimiser_tensors, restore_optimiser
from .autoencoder import ConvAutoencoder
from .calibration import calibrate_features
from .learned import FEATURES_FIX, LearnedFeatures, save_features

__all__ = [
    "TrainResult",
    "TrainSettings",
    "checkpoint_path",
    "LOSSES",
    "heldout_psnr",
    "reconstruction_loss",
    "reconstruction_picture",
    "reconstructions_path",
    "snapshot_path",
    "train_features",
]

CHECKPOINT_FORMAT = "texsynth-features-checkpoint/1"
"""Value of the ``format`` metadata key of the training checkpoints."""

LOSSES = ("l1", "l1+ssim")
"""Reconstruction losses: ``l1`` (mean absolute error) and ``l1+ssim`` (Zhao et al. 2017's
mix, ``0.16 L1 + 0.84 (1 - SSIM)``, with single-scale Gaussian-window SSIM since the patches
are too small for the five scales of MS-SSIM)."""


def reconstruction_loss(y: torch.Tensor, x: torch.Tensor, kind: str = "l1") -> torch.Tensor:
    """The training loss of reconstructions ``y`` of patches ``x`` (:data:`LOSSES`)."""
    l1 = (y - x).abs().mean()
    if kind == "l1":
        return l1
    return 0.16 * l1 + 0.84 * (1 - ssim(y, x, data_range=1.0, gaussian=True).mean())


@dataclass(frozen=True)
class TrainSettings:
    """What a training run computes (a resumed run must have the same, ``steps`` aside)."""

    patch: int = 128
    steps: int = 2000
    width: int = 32
    depth: int = 3
    batch: int = 8
    lr: float = 1e-3
    seed: int = 0
    held_out: float = 0.1
    checkpoint_every: int = 100
    loss: str = "l1"

    def check(self) -> None:
        """Raise a one-line :class:`TexsynthError` for an invalid setting."""
        if self.loss not in LOSSES:
            raise TexsynthError(f"loss must be one of {', '.join(LOSSES)}, got {self.loss!r}")
        for name in ("patch", "steps", "width", "depth", "batch", "checkpoint_every"):
            if int(getattr(self, name)) < 1:
                raise TexsynthError(f"{name} must be at least 1, got {getattr(self, name)}")
        mult = 2 ** (self.depth - 1)
        if self.patch < 2 * mult or self.patch % mult:
            raise TexsynthError(
                f"patch must be a multiple of {mult} and at least {2 * mult} for depth "
                f"{self.depth}, got {self.patch}"
            )
        if not (math.isfinite(self.lr) and self.lr > 0):
            raise TexsynthError(f"lr must be > 0, got {self.lr}")


@dataclass
class TrainResult:
    """What a run produced: the model, its held-out PSNR (dB), the run's history
    (``[step, cpu_seconds, train_loss, heldout_psnr, wall_seconds]`` at every checkpoint),
    the reconstructions picture, the weight calibration (``None`` if skipped), the steps
    done (fewer than asked when the ``minutes`` budget stopped it) and the snapshots
    written."""

    model: ConvAutoencoder
    heldout_psnr: float
    cpu_seconds: float
    history: list[list[float]] = field(default_factory=list)
    picture: Path | None = None
    calibration: dict[str, Any] | None = None
    steps: int = 0
    snapshots: list[Path] = field(default_factory=list)


def reconstructions_path(output: str | os.PathLike[str]) -> Path:
    """Where the reconstructions picture of ``output`` goes: ``NAME_reconstructions.png``."""
    out = Path(output)
    stem = out.name[: -len(".safetensors")] if out.name.endswith(".safetensors") else out.name
    return out.with_name(stem + "_reconstructions.png")


def snapshot_path(output: str | os.PathLike[str], step: int) -> Path:
    """Where the snapshot of ``output`` after ``step`` steps goes:
    ``NAME_step{step}.safetensors``."""
    out = Path(output)
    stem = out.name[: -len(".safetensors")] if out.name.endswith(".safetensors") else out.name
    return out.with_name(f"{stem}_step{int(step)}.safetensors")


def heldout_psnr(model: ConvAutoencoder, patches: torch.Tensor) -> float:
    """PSNR (dB, peak 1) of the reconstructions of ``patches [B, 3, p, p]``."""
    with torch.no_grad():
        mse = float(((model(patches) - patches) ** 2).mean())
    return 10 * math.log10(1 / max(mse, 1e-12))


def _settings_doc(settings: TrainSettings, data: dict[str, Any]) -> str:
    doc = {k: v for k, v in asdict(settings).items() if k != "steps"}
    if doc["loss"] == "l1":  # checkpoints written before the option stay resumable
        del doc["loss"]
    return json.dumps({"settings": doc, "data": data["sha256"]}, sort_keys=True)


def _save_checkpoint(
    path: Path,
    model: ConvAutoencoder,
    opt: torch.optim.Adam,
    step: int,
    cpu: float,
    wall: float,
    history: list[list[float]],
    identity: str,
) -> None:
    tensors = {f"model.{k}": v for k, v in model.state_dict().items()}
    tensors.update(optimiser_tensors(opt))
    meta = {
        "format": CHECKPOINT_FORMAT,
        "identity": identity,
        "step": str(step),
        "cpu_seconds": repr(cpu),
        "wall_seconds": repr(wall),
        "history": json.dumps(history),
    }
    save_tensors(path, tensors, meta)


def _restore(
    path: Path, model: ConvAutoencoder, opt: torch.optim.Adam, identity: str
) -> tuple[int, float, float, list[list[float]]]:
    if not path.is_file():
        raise TexsynthError(
            f"--resume: no checkpoint {str(path)!r} to resume from; run without --resume"
        )
    tensors, meta = load_tensors(path, unreadable_fix=FEATURES_FIX)
    if meta.get("format") != CHECKPOINT_FORMAT:
        raise TexsynthError(f"{str(path)!r} is not a texsynth features training checkpoint")
    if meta.get("identity") != identity:
        raise TexsynthError(
            f"{str(path)!r} was written by a run with other settings or other images; resume "
            "with the same folders and options (only --steps may change), or start afresh "
            "without --resume"
        )
    model.load_state_dict({k[6:]: v for k, v in tensors.items() if k.startswith("model.")})
    restore_optimiser(opt, tensors)
    wall = float(meta.get("wall_seconds", meta["cpu_seconds"]))  # older checkpoints: CPU
    return int(meta["step"]), float(meta["cpu_seconds"]), wall, json.loads(meta["history"])


def train_features(
    folders: Sequence[str | os.PathLike[str]],
    output: str | os.PathLike[str],
    settings: TrainSettings = TrainSettings(),
    *,
    resume: bool = False,
    progress: Callable[[str], None] | None = None,
    collection: ImageCollection | None = None,
    calibration_pairs: int = 16,
    minutes: float | None = None,
    snapshot_every: int = 0,
) -> TrainResult:
    """Train an autoencoder on patches of the images in ``folders`` and write ``output``.

    Parameters
    ----------
    folders
        Folders of images (recursive) or image files.
    output
        The features file to write (``.safetensors``), atomically, at the end; the
        checkpoint (:func:`checkpoint_path`) is kept so that a later ``resume`` may train on.
    settings
        Patch size, steps, network width and depth, batch, learning rate, seed.
    resume
        Continue from the checkpoint up to ``settings.steps``.
    progress
        Called with one line per checkpoint.
    collection
        The images, already read (default: read ``folders``).
    calibration_pairs
        Crop pairs of the held-out images (the training images when none is held out) for
        the weight calibration (:func:`~.calibration.calibrate_features`); 0 skips it
        (calibrate later with :func:`~.calibration.calibrate_file`).
    minutes
        Wall-clock budget of this call (reading the images, training and snapshots): once
        spent, training stops after the current step, writes a checkpoint there (``resume``
        goes on from it) and the file is calibrated and written as usual. ``None``: no
        budget, ``settings.steps`` steps.
    snapshot_every
        Every that many steps, also write :func:`snapshot_path` (calibrated like the final
        file): exactly the file a run of that many steps writes. 0: none.

    Returns
    -------
    TrainResult
    """
    wall0 = time.perf_counter()
    settings.check()
    if minutes is not None and not (math.isfinite(minutes) and minutes > 0):
        raise TexsynthError(f"minutes must be > 0, got {minutes}")
    if snapshot_every < 0:
        raise TexsynthError(f"snapshot_every must be 0 (none) or more, got {snapshot_every}")
    if not os.fspath(output).lower().endswith(".safetensors"):
        raise TexsynthError(f"the features file must end in .safetensors, got {str(output)!r}")
    out = Path(output)
    if not out.parent.is_dir():
        raise TexsynthError(f"folder {str(out.parent)!r} of the output does not exist")
    images = collection or ImageCollection.from_folders(folders, min_size=settings.patch)
    train, held = images.split(settings.held_out)
    data = images.summary()
    identity = _settings_doc(settings, data)
    torch.manual_seed(settings.seed)  # the initial weights
    model = ConvAutoencoder(settings.width, settings.depth)
    opt = torch.optim.Adam(model.parameters(), lr=settings.lr)
    sampler = PatchSampler(train, settings.patch, batch=settings.batch, seed=settings.seed)
    n_held = 16 if len(held) > 1 else 8
    held_patches = PatchSampler(
        held, settings.patch, batch=n_held, seed=settings.seed + 1, augment=False
    ).batch(0)
    ckpt = checkpoint_path(out)
    step, cpu, wall = 0, 0.0, 0.0
    history: list[list[float]] = []
    if resume:
        step, cpu, wall, history = _restore(ckpt, model, opt, identity)
        if step > settings.steps:
            raise TexsynthError(
                f"the checkpoint is at step {step}, past --steps {settings.steps}; give more steps"
            )
    calib_images = held if held is not train else train

    def finish(path: Path, at: int, spent_cpu: float, spent_wall: float) -> TrainResult:
        """Evaluate, calibrate and write the features file of ``model`` as it is now."""
        model.eval()
        psnr = heldout_psnr(model, held_patches)
        training = {
            "data": data,
            "train_images": len(train),
            "held_out_images": len(held) if held is not train else 0,
            "settings": asdict(settings),
            "steps": at,
            "heldout_psnr": round(psnr, 3),
            "cpu_seconds": round(spent_cpu, 1),
            "wall_seconds": round(spent_wall, 1),
            "history": [h for h in history if h[0] <= at],
        }
        calibration = None
        if calibration_pairs > 0:
            if progress is not None:
                progress(f"calibrating the methods' weights on {calibration_pairs} crop pairs")
            calibration = calibrate_features(
                # a copy: the losses freeze their extractor, the model stays trainable
                LearnedFeatures(copy.deepcopy(model), {"config": model.config}),
                calib_images,
                pairs=calibration_pairs,
                seed=settings.seed,
            )
        save_features(model, path, patch=settings.patch, training=training, calibration=calibration)
        model.train()
        return TrainResult(model, psnr, spent_cpu, list(history), None, calibration, at)

    model.train()
    losses: list[float] = []
    snapshots: list[Path] = []
    start, wall_start = time.process_time(), time.perf_counter()
    out_of_time = False
    while step < settings.steps and not out_of_time:
        x = sampler.batch(step)
        loss = reconstruction_loss(model(x), x, settings.loss)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
        step += 1
        now = time.perf_counter()
        out_of_time = minutes is not None and now - wall0 >= 60 * minutes
        snap = snapshot_every > 0 and step % snapshot_every == 0
        if step % settings.checkpoint_every == 0 or step == settings.steps or out_of_time or snap:
            spent = cpu + time.process_time() - start
            spent_wall = wall + now - wall_start
            psnr = heldout_psnr(model, held_patches)
            history.append(
                [step, round(spent, 1), sum(losses) / len(losses), round(psnr, 3),
                 round(spent_wall, 1)]
            )  # fmt: skip
            losses = []
            _save_checkpoint(ckpt, model, opt, step, spent, spent_wall, history, identity)
            if progress is not None:
                progress(
                    f"step {step}/{settings.steps}  loss {history[-1][2]:.4f}  held-out PSNR "
                    f"{psnr:.2f} dB  {spent:.0f} CPU s  {spent_wall / 60:.1f} min"
                )
            if snap and step < settings.steps and not out_of_time:
                snapshots.append(snapshot_path(out, step))
                finish(snapshots[-1], step, spent, spent_wall)
                if progress is not None:
                    progress(f"snapshot {snapshots[-1]}")
            if out_of_time and progress is not None:
                progress(f"the {minutes:g}-minute budget is spent: stopping at step {step}")
    cpu += time.process_time() - start
    wall += time.perf_counter() - wall_start
    result = finish(out, step, cpu, wall)
    picture = reconstructions_path(out)
    model.eval()
    write_image(picture, reconstruction_picture(model, held_patches))
    result.picture, result.snapshots = picture, snapshots
    return result


def reconstruction_picture(model: ConvAutoencoder, patches: torch.Tensor) -> torch.Tensor:
    """``[3, 2p, n p]``: patches on top, their reconstructions below (up to 6)."""
    x = patches[:6]
    with torch.no_grad():
        y = model(x)
    top = torch.cat(list(x), dim=-1)
    bottom = torch.cat(list(y), dim=-1)
    return torch.cat([top, bottom], dim=-2).clamp(0, 1)
