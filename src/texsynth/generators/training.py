"""Training a :class:`SynthHalfUNet2D` on one exemplar (as foscat trains it), with checkpoints.

The generator is trained on fresh noise at every step (Adam, cosine learning-rate schedule)
so that the textures it draws match the exemplar's statistics: any :class:`TextureLoss` of
the library (scattering covariance by default, or a ``method`` string such as ``"gram"``).
It works in the synthesis engine's space (standardised, colour-decorrelated channels); the
inverse transform and the exemplar's histogram are stored in the network, so samples come
out in the exemplar's units.
"""

from __future__ import annotations

import logging
import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from tqdm.auto import tqdm

from .._checks import as_image_batch, check_device, check_mask, parse_size, size_text
from .._deprecation import renamed_keywords
from ..cancellation import Cancel, check_cancelled
from ..errors import TexsynthError
from ..loss_builder import LossBuilder, scattering_options
from ..losses import TextureLoss
from ..methods import DEFAULT_POWER_SPECTRUM
from ..seeds import fresh_seed
from ..synthesis.arguments import count, scales
from ..synthesis.engine import autograd_enabled
from ..synthesis.values import ValueTransforms
from ..transforms import image_transform
from ..wavelets import check_scales, default_J, max_J
from .checkpoints import restore_checkpoint, save_checkpoint
from .network import SynthHalfUNet2D
from .output_transform import quantile_table

__all__ = ["TrainingReport", "train_generator", "train_synth_unet"]

log = logging.getLogger(__name__)

#: ``callback(step, loss, model)`` after each step; return ``True`` to stop training
TrainCallback = Callable[[int, float, SynthHalfUNet2D], Any]

N_QUANTILES = 1024
DEFAULT_TRAIN_SIDE = 128


@dataclass
class TrainingReport:
    """What happened during :func:`train_generator` (``report=True``)."""

    steps: int = 0  # steps done in total (including those before a resume)
    resumed_from: int = 0  # step the run resumed from (0: a fresh start)
    losses: list[float] = field(default_factory=list)  # loss of each step of this run
    last_loss: float = math.nan  # loss of the last step done (also one before a resume)
    size: tuple[int, int] = (0, 0)  # training sample size
    seconds: float = 0.0  # wall time of this run


@autograd_enabled
@renamed_keywords(Jmax="depth", n_samples="batch")
def train_generator(
    exemplar: torch.Tensor,
    *,
    method: str = "scattering",
    loss: TextureLoss | None = None,
    features: str = "vgg19",
    weights_file: str | os.PathLike[str] | None = None,
    layers: list[str] | None = None,
    size: int | tuple[int, int] | None = None,
    steps: int = 2000,
    batch: int = 4,
    lr: float = 3e-3,
    depth: int = 4,
    channel_list: list[int] | None = None,
    width: int = 16,
    J: int | None = None,
    L: int = 4,
    use_variance: bool = True,
    cross_channels: bool = True,
    iso_ang: bool = False,
    fft_ang: bool = False,
    fft_nharm: int = 1,
    fft_imaginary: bool = True,
    edge: bool = False,
    in_mask: torch.Tensor | None = None,
    histogram: float = 1.0,
    power_spectrum: float | None = None,
    microcanonical: bool = False,
    sigma_synth: bool = True,
    micro_eps: float = 1e-6,
    tile: bool = True,
    seed: int | None = None,
    device: str | torch.device | None = None,
    progress: bool = True,
    callback: TrainCallback | None = None,
    cancel: Cancel | None = None,
    max_memory: int | None = None,
    log_every: int = 100,
    checkpoint: str | os.PathLike[str] | None = None,
    checkpoint_every: int = 100,
    resume: bool = False,
    keep_checkpoint: bool = False,
    report: bool = False,
) -> SynthHalfUNet2D | tuple[SynthHalfUNet2D, TrainingReport]:
    """Train a generator that turns white noise into new textures like ``exemplar``.

    Parameters
    ----------
    exemplar
        ``[H, W]``, ``[C, H, W]`` or ``[1, C, H, W]`` image or field, in its own units.
    method, features, weights_file, layers
        Texture descriptor(s), as for :func:`texsynth.synthesize` (default the scattering
        covariance; e.g. ``"gram"`` or ``"gram+spectrum"`` with VGG19).
    loss
        A custom :class:`TextureLoss`, built from the standardised exemplar; replaces
        ``method``.
    size
        ``(height, width)`` (or one int) of the samples drawn during training; default the
        exemplar's size, at most 128 pixels a side (the network is fully convolutional:
        it later draws samples of any size). Larger sizes see larger structures but cost
        about 4x per doubling.
    steps
        Training steps (``n_epochs``), each on ``batch`` fresh noise images. About
        0.3 s each at the default size and width on a 2-core CPU (10 minutes for the
        default 2000; the loss still falls slowly after 1000).
    batch
        Noise images per step (foscat's ``n_samples``; that keyword still works here,
        deprecated).
    lr
        Initial Adam learning rate, annealed to 0 along a cosine.
    depth, channel_list, width, tile
        Network shape (:class:`SynthHalfUNet2D`): decoder levels (foscat's ``Jmax``; that
        keyword still works here, deprecated), channels per level (coarsest first; default
        ``min(width * 2**(depth - j), 8 * width)``), circular padding.
        The default ``width=16`` draws a 512x512 sample in about a quarter of a second on a
        2-core CPU; ``width=32`` is foscat's network.
    J, L, use_variance, cross_channels, iso_ang, fft_ang, fft_nharm, fft_imaginary
        Scattering options (``J``: scales, default as many as the training size allows).
    edge
        Score the training samples as non-periodic images.
    in_mask
        Exemplar pixels to ignore (0) in the target statistics.
    histogram
        Weight of the pixel-histogram term; when > 0 the samples' value distribution is
        also made exact, per channel, when they are drawn (the network stores the
        exemplar's quantiles).
    power_spectrum
        Weight of the smoothed power-spectrum term (default 0.3).
    microcanonical, sigma_synth, micro_eps
        foscat's loss: match the batch *mean* of the statistics, each difference divided
        by the batch spread (see :meth:`texsynth.ScatteringLoss.batch_loss`), for the terms
        that have statistics (scattering). Default: every sample matches on its own.
    seed
        Seeds the network's initial weights and the training noise.
    device
        ``"cpu"``, ``"cuda"``, ... (default: the exemplar's device).
    progress, callback, log_every
        Progress bar; ``callback(step, loss, model)`` after each step (return ``True`` to
        stop); log the loss every ``log_every`` steps (``logging`` at INFO).
    max_memory
        Memory limit in bytes (default: what is available); a run whose estimated peak
        exceeds it is refused before any work.
    cancel
        Cancels the run (a ``threading.Event`` or a function returning ``True``, checked
        before every step): :class:`~texsynth.synthesis.Cancelled` is raised and no network
        is returned; a checkpoint already saved is kept, so ``resume=True`` continues.
    checkpoint, checkpoint_every, resume
        Save the network, optimiser and noise generator to ``checkpoint`` (a safetensors
        file) every ``checkpoint_every`` steps; ``resume=True`` continues from it after an
        interruption (the settings must be the same). The checkpoint is deleted when
        training completes.
    keep_checkpoint
        Also checkpoint the last step and keep the file: delete it yourself once the
        network is saved (:func:`~texsynth.generators.save_generator`), so that a failed
        save loses nothing (``resume=True`` then returns the trained network at once).
    report
        Also return a :class:`TrainingReport`.

    Returns
    -------
    SynthHalfUNet2D
        The trained network, in eval mode; draw textures with
        :func:`~texsynth.generators.generate_samples` and save it with
        :func:`~texsynth.generators.save_generator`.
    """
    start_time = time.perf_counter()
    count(steps, "steps")
    count(batch, "batch")
    count(checkpoint_every, "checkpoint_every")
    count(log_every, "log_every")
    if not (isinstance(lr, (int, float)) and math.isfinite(lr) and lr > 0):
        raise TexsynthError(f"lr must be a positive number, got {lr!r}")
    if iso_ang and fft_ang:
        raise TexsynthError("iso_ang and fft_ang cannot be combined; choose one")
    if microcanonical and batch < 2:
        raise TexsynthError(
            "the microcanonical loss needs batch >= 2 (it divides by the batch spread); "
            "raise batch or set microcanonical=False"
        )
    if resume and checkpoint is None:
        raise TexsynthError("resume=True needs the checkpoint file to resume from (checkpoint=)")
    if seed is not None and (
        not isinstance(seed, int) or isinstance(seed, bool) or not 0 <= seed < 2**63
    ):
        raise TexsynthError(f"seed must be an integer from 0 to 2**63-1, got {seed!r:.30}")

    from ..memory import MAX_DEPTH, MAX_WIDTH, check_memory, estimate_training_bytes

    for name, value, top in (("width", width, MAX_WIDTH), ("depth", depth, MAX_DEPTH)):
        if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= top:
            raise TexsynthError(
                f"{name} must be an integer from 1 to {top} (what the generator can use), "
                f"got {value!r:.30}"
            )
    checked_device = check_device(device)
    ex = as_image_batch(exemplar, "exemplar")
    if ex.shape[0] != 1:
        raise TexsynthError(f"give one exemplar [C, H, W], got a batch of {ex.shape[0]}")
    dev = checked_device if checked_device is not None else ex.device
    ex = ex.to(dev, torch.float32)
    C, He, We = ex.shape[1:]
    inm = None
    if in_mask is not None:
        inm = check_mask(in_mask, ex.shape, "in_mask").to(ex).amin(1, keepdim=True)
    shape = parse_size(size, (min(He, DEFAULT_TRAIN_SIDE), min(We, DEFAULT_TRAIN_SIDE)))

    check_memory(
        estimate_training_bytes(
            (He, We), shape, channels=C, batch=batch, width=width, method=method, L=L
        ),
        max_memory,
        device=dev,
        what="train_generator",
        fix="use a smaller size, batch or width",
        override="max_memory=",
    )
    values = ValueTransforms.fit(ex, inm, to_gaussian=False)
    std, ex_s = values.std, values.exemplar
    J = scales(J)
    check_scales(He, We, None, "exemplar", "give a larger exemplar")
    check_scales(*shape, None, "training size", "use a larger size (CLI: --size)")
    J_train = J if J is not None else max(min(default_J(*shape), default_J(He, We)), 1)
    if J_train > min(max_J(*shape), max_J(He, We)):
        raise TexsynthError(
            f"J={J_train} scales do not fit the training size {size_text(*shape)} and the "
            f"exemplar {size_text(He, We)}; use J<={min(max_J(*shape), max_J(He, We))} or a "
            "larger size"
        )
    weights_path = None if weights_file is None else str(weights_file)
    scat_options: dict[str, Any] = dict(
        use_variance=use_variance,
        cross_channels=cross_channels,
        iso_ang=iso_ang,
        fft_ang=fft_ang,
        fft_nharm=fft_nharm,
        fft_imaginary=fft_imaginary,
    )
    if loss is not None:
        loss_fn = loss.to(dev)
    else:
        if power_spectrum is None:
            power_spectrum = DEFAULT_POWER_SPECTRUM
        builder = LossBuilder(
            method,
            scattering=scattering_options(L=L, **scat_options),
            to_image=image_transform(std, None, ex),
            features=features,
            weights_file=weights_path,
            layers=layers,
            periodic=not edge,
            histogram=histogram,
            power_spectrum=power_spectrum,
            seed=seed if seed is not None else 0,
        )
        loss_fn = builder.build(ex_s, J=J_train, in_mask=inm, reference=None, edge=edge)
    if microcanonical and not loss_fn.supports_microcanonical:
        raise TexsynthError(
            "microcanonical=True needs a loss with statistics (scattering); "
            f"method {method!r} has none: use microcanonical=False"
        )

    # without a seed: a fresh one from the OS, never from (or advancing) torch's global RNG
    seed_value = seed if seed is not None else fresh_seed()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed_value)
        model = SynthHalfUNet2D(
            depth,
            channel_list,
            out_channels=ex_s.shape[1],
            L=L,
            width=width,
            tile=tile,
            image_channels=C,
            n_quantiles=min(N_QUANTILES, He * We) if histogram > 0 else 0,
        )
    if not model.min_size_ok(*shape):
        most = max(int(math.log2(max(shape))) - 1, 1)
        raise TexsynthError(
            f"training samples of {size_text(*shape)} pixels are too small for depth={depth} "
            f"decoder levels; use depth<={most} or a larger size",
            cli=f"training samples of {size_text(*shape)} pixels are too small for --depth "
            f"{depth}; use --depth {most} or less, or a larger --size",
        )
    quantiles = quantile_table(ex_s, model.config["n_quantiles"]) if histogram > 0 else None
    model.set_output_transform(std.mean, std.rotation, std.scale, quantiles)
    model.to(dev)
    optimiser = torch.optim.Adam(model.parameters(), lr=lr)
    noise = torch.Generator().manual_seed(seed_value)

    # the loss's options are part of the settings: resuming with another weight would
    # silently change the loss
    loss_options: dict[str, Any] = {}
    if loss is None:
        loss_options = dict(
            features=features,
            weights_file=weights_path,
            layers=None if layers is None else list(layers),
            histogram=histogram,
            power_spectrum=power_spectrum,
            edge=edge,
            **scat_options,
        )
    settings = dict(
        method=method if loss is None else f"custom {type(loss).__name__}",
        **loss_options,
        size=list(shape),
        steps=steps,
        batch=batch,
        lr=lr,
        J=J_train,
        L=L,
        microcanonical=microcanonical,
        exemplar=[int(C), int(He), int(We)],
        exemplar_checksum=float(ex.double().sum()),
        config=model.config,
    )
    done = 0
    ckpt_path = Path(checkpoint) if checkpoint is not None else None
    loss_rngs = loss_fn.random_generators()  # e.g. sliced Wasserstein directions
    last_loss = math.nan
    if resume:
        assert ckpt_path is not None
        done, last_loss = restore_checkpoint(
            ckpt_path, settings, model, optimiser, noise, loss_rngs
        )
        log.info("resuming from step %d of %d (%s)", done, steps, ckpt_path)

    rep = TrainingReport(resumed_from=done, size=shape, steps=done, last_loss=last_loss)
    model.train()
    smoothed = math.nan
    bar = tqdm(total=steps, initial=done, desc="training", disable=None if progress else True)
    try:
        for step in range(done, steps):
            check_cancelled(cancel)
            for group in optimiser.param_groups:  # cosine annealing to 0
                group["lr"] = lr * 0.5 * (1 + math.cos(math.pi * step / steps))
            z = torch.randn(batch, 1, *shape, generator=noise).to(dev)
            step_loss = loss_fn.batch_loss(
                model(z), microcanonical=microcanonical, sigma_synth=sigma_synth, eps=micro_eps
            )
            if not torch.isfinite(step_loss):
                where = f"; the last checkpoint is {ckpt_path}" if ckpt_path else ""
                raise TexsynthError(
                    f"training diverged (non-finite loss) at step {step + 1}; lower lr "
                    f"(now {lr:g}) or use microcanonical=False{where}"
                )
            optimiser.zero_grad(set_to_none=True)
            step_loss.backward()
            optimiser.step()
            v = float(step_loss.detach())
            rep.losses.append(v)
            rep.last_loss = v
            smoothed = v if math.isnan(smoothed) else 0.9 * smoothed + 0.1 * v
            rep.steps = step + 1
            bar.update(1)
            bar.set_postfix(loss=f"{smoothed:.4g}")
            if (step + 1) % log_every == 0:
                log.info("step %d/%d: loss %.4g", step + 1, steps, smoothed)
            last = step + 1 == steps
            if ckpt_path is not None and (
                ((step + 1) % checkpoint_every == 0 and not last) or (last and keep_checkpoint)
            ):
                save_checkpoint(
                    ckpt_path, settings, step + 1, model, optimiser, noise, loss_rngs, v
                )
            if callback is not None and callback(step, v, model):
                break
    finally:
        bar.close()
    model.eval()
    if ckpt_path is not None and rep.steps >= steps and ckpt_path.exists() and not keep_checkpoint:
        ckpt_path.unlink()
    rep.seconds = time.perf_counter() - start_time
    return (model, rep) if report else model


def train_synth_unet(
    target_image: torch.Tensor,
    scat_op: Any = None,
    Jmax: int = 3,
    n_samples: int = 4,
    channel_list: list[int] | None = None,
    out_channels: int = 1,
    lr: float = 0.001,
    n_epochs: int = 2000,
    eval_frequency: int = 100,
    norm: str = "auto",
    Jmax_scat: int | None = None,
    edge: bool = False,
    iso_ang: bool = False,
    fft_ang: bool = False,
    fft_nharm: int = 1,
    fft_imaginary: bool = True,
    microcanonical: bool = True,
    sigma_synth: bool = True,
    micro_eps: float = 1e-06,
    device: str | None = None,
    **options: Any,
) -> SynthHalfUNet2D:
    """foscat's trainer, with its parameter names, on :func:`train_generator`.

    ``scat_op`` only gives the number of orientations (an object with ``L`` or ``NORIENT``;
    ``None``: 4). The samples are drawn at the target's size and the network is foscat's
    (``width=32``). ``norm`` must be ``"auto"`` (statistics normalised by the exemplar's
    S2: foscat's ``"auto"`` divides the target by itself, see ``docs/generators.md``).
    ``Jmax`` is :func:`train_generator`'s ``depth`` (decoder levels), ``n_samples`` its
    ``batch`` and ``Jmax_scat`` its ``J`` (scattering scales); ``eval_frequency`` is the logging
    period; ``options`` go to :func:`train_generator` (``seed``, ``progress``, ...).
    """
    if norm != "auto":
        raise TexsynthError(
            f"norm must be 'auto' (statistics normalised by the target), got {norm!r}"
        )
    target = as_image_batch(target_image, "target_image")
    if target.shape[1] != out_channels:
        raise TexsynthError(
            f"out_channels={out_channels} but the target has {target.shape[1]} channel(s); "
            "they must agree"
        )
    L = int(getattr(scat_op, "L", getattr(scat_op, "NORIENT", 4)) or 4)
    options.setdefault("size", tuple(target.shape[-2:]))
    options.setdefault("width", 32)
    result = train_generator(
        target,
        depth=Jmax,
        batch=n_samples,
        channel_list=channel_list,
        lr=lr,
        steps=n_epochs,
        log_every=eval_frequency,
        J=Jmax_scat,
        L=L,
        edge=edge,
        iso_ang=iso_ang,
        fft_ang=fft_ang,
        fft_nharm=fft_nharm,
        fft_imaginary=fft_imaginary,
        microcanonical=microcanonical,
        sigma_synth=sigma_synth,
        micro_eps=micro_eps,
        device=device,
        **options,
    )
    assert isinstance(result, SynthHalfUNet2D)
    return result
