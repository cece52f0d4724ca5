"""foscat's ``funct.synthesis`` over texsynth's engine, for images, signals and HEALPix maps.

foscat's options become :func:`texsynth.synthesize`'s (``nstep`` -> ``levels``,
``NUM_EPOCHS`` -> ``steps``, ``grd_mask`` -> ``mask``, ...; see ``funct.synthesis``); a
batch ``(B, H, W)`` of targets is matched, as foscat, through the mean of their statistics
(:class:`_BatchTargetLoss`); progress lines are printed as foscat prints them
(:class:`ProgressPrinter`).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from ..._checks import size_text
from ...errors import TexsynthError
from ...loss_builder import scattering_options
from ...losses import HistogramLoss, ScatteringLoss, SpectrumLoss, TextureLoss
from ...methods import DEFAULT_POWER_SPECTRUM
from ...pyramid import downsample, level_shape
from ...synthesis import synthesize
from ...synthesis.sphere import synthesize_healpix
from ...transforms import Gaussianizer, Standardizer, match_histogram
from ...wavelets import max_J
from ._common import accepted_options, check_int, optional_module, to_numpy, warn_compat
from .inputs import as_batch, as_init, as_plane
from .sky import sky_layout

__all__ = ["ProgressPrinter", "synthesize_images", "synthesize_signals", "synthesize_skies"]

log = logging.getLogger(__name__)


class ProgressPrinter:
    """foscat-style progress lines through :func:`texsynth.synthesize`'s ``callback``."""

    def __init__(self, every: int) -> None:
        self.every = every
        self.level = -1
        self.tic = time.perf_counter()

    def __call__(self, level: int, iteration: int, loss: float, x: torch.Tensor) -> bool:
        """Print the size of a new level and every ``every``-th loss; never stop the run."""
        if self.every <= 0:
            return False
        if level != self.level:
            self.level = level
            size = " x ".join(str(s) for s in x.shape[2:])
            print(f"Synthesis scale [ {size} ]")
        if iteration % self.every == 0:
            now = time.perf_counter()
            print(f"Itt {iteration:6d} L={loss:10.3g} {now - self.tic:.3f}s")
            self.tic = now
        return False


def _levels(nstep: int, n_up: int, J: int) -> int:
    """Pyramid levels for foscat's ``nstep`` (+ ``n_up``), capped to the ``J`` scales."""
    levels = max(1, min(nstep + n_up, J))
    if levels != nstep + n_up:
        log.info("nstep=%d (n_up=%d) capped to %d levels (J=%d scales)", nstep, n_up, levels, J)
    return levels


@dataclass
class _Inputs:
    """What every domain's ``synthesis`` reads from foscat's arguments."""

    J: int
    in_mask: torch.Tensor | None
    grd_mask: torch.Tensor | None
    init: torch.Tensor | None
    reference: torch.Tensor | None


def _inputs(
    target: torch.Tensor,
    plane: tuple[int, ...],
    *,
    init_plane: tuple[int, ...],
    jm: int,
    too_small: str,
    describe: str,
    keep_target: bool,
    Jmax: int | None,
    n: int,
    n_up: int,
    reference: Any,
    grd_mask: Any,
    in_mask: Any,
    input_image: Any,
    dtype: torch.dtype,
    device: torch.device,
) -> _Inputs:
    """foscat's ``synthesis`` arguments checked and converted, one rule for every domain:
    ``Jmax`` against the ``jm`` scales the target supports (``too_small`` when none,
    ``describe`` names the target in the message), the masks and the reference as planes of
    ``plane`` samples, the warm start of ``init_plane``; inpainting (``grd_mask``) and
    cross-synthesis (``reference``) need one target and ``n_up=0``. With ``grd_mask`` the
    kept samples are the target's (``keep_target``: passed as ``init``; else the driver
    keeps the exemplar's own)."""
    if jm < 1:
        raise TexsynthError(too_small)
    J = jm if Jmax is None else check_int(Jmax, "Jmax", 1)
    if J > jm:
        raise TexsynthError(f"Jmax={J} is more scales than {describe} supports; use Jmax<={jm}")
    B = target.shape[0]
    inm = as_plane(in_mask, "in_mask", plane, B, dtype, device)
    gmask = as_plane(grd_mask, "grd_mask", plane, 1, dtype, device)
    init = as_init(input_image, init_plane, n, dtype, device)
    ref = as_plane(reference, "reference", plane, 1, dtype, device)
    if gmask is not None:
        if B > 1 or n_up > 0:
            raise TexsynthError(
                f"grd_mask (inpainting) needs a single image_target and n_up=0, got a batch "
                f"of {B} and n_up={n_up}"
            )
        if init is not None:
            warn_compat(
                "with grd_mask, input_image is not used: the free pixels start from noise "
                "and the others keep image_target's values"
            )
        init = target[None] if keep_target else None  # kept: image_target's values, exactly
    if ref is not None and (n_up > 0 or B > 1):
        raise TexsynthError(
            "reference (cross-synthesis) needs a single image_target of the reference's size "
            "and n_up=0"
        )
    return _Inputs(J, inm, gmask, init, ref)


def synthesize_images(
    image_target: Any,
    *,
    reference: Any,
    nstep: int,
    seed: int | None,
    Jmax: int | None,
    edge: bool,
    to_gaussian: bool,
    use_variance: bool,
    n: int,
    input_image: Any,
    grd_mask: Any,
    in_mask: Any,
    iso_ang: bool,
    fft_ang: bool,
    fft_nharm: int,
    fft_imaginary: bool,
    steps: int,
    n_up: int,
    printer: ProgressPrinter,
    L: int,
    dtype: torch.dtype,
    device: torch.device,
) -> np.ndarray:
    """foscat's ``synthesis`` of images (``use_2D``): the target(s) ``(H, W)`` or
    ``(B, H, W)``, through :func:`texsynth.synthesize` (a batch of targets: through the mean
    of their statistics); ``L`` orientations.
    """
    target, single = as_batch(image_target, "image_target", "2D", dtype, device)
    B, H, W = target.shape
    io = _inputs(
        target,
        (H, W),
        init_plane=(H, W),
        jm=max_J(H, W),
        too_small=f"image_target of {size_text(H, W)} pixels is too small: synthesis needs "
        "at least 8x8 pixels",
        describe=f"a {size_text(H, W)} image_target",
        keep_target=True,
        Jmax=Jmax,
        n=n,
        n_up=n_up,
        reference=reference,
        grd_mask=grd_mask,
        in_mask=in_mask,
        input_image=input_image,
        dtype=dtype,
        device=device,
    )
    J, inm, gmask, init, ref = io.J, io.in_mask, io.grd_mask, io.init, io.reference
    levels = _levels(nstep, n_up, J)
    size = (H * 2**n_up, W * 2**n_up)
    options: dict[str, Any] = dict(
        method="scattering",
        size=size,
        n=n,
        seed=seed,
        steps=steps,
        quality="fast",  # foscat's schedule: NUM_EPOCHS at the coarsest level, fewer below
        levels=levels,
        # (cross statistics align the output with the reference pixel by pixel)
        tile=ref is not None or not (edge or inm is not None),
        mask=gmask,
        in_mask=inm,
        init=init,
        J=J,
        L=L,
        use_variance=bool(use_variance),
        iso_ang=bool(iso_ang),
        fft_ang=bool(fft_ang),
        fft_nharm=check_int(fft_nharm, "fft_nharm", 0),
        fft_imaginary=bool(fft_imaginary),
        to_gaussian=bool(to_gaussian),
        reference=ref,
        device=device,
        dtype=dtype,
        progress=False,
        callback=printer,
    )
    with torch.no_grad():
        out = synthesize(target[:1], **options) if B == 1 else _synthesize_batch(target, options)
    assert isinstance(out, torch.Tensor)
    result = _keep_known(to_numpy(out[:, 0]).astype(np.float64), image_target, gmask)
    return result[0] if single and n == 1 else result


def synthesize_signals(
    image_target: Any,
    *,
    reference: Any,
    nstep: int,
    seed: int | None,
    Jmax: int | None,
    edge: bool,
    to_gaussian: bool,
    use_variance: bool,
    n: int,
    input_image: Any,
    grd_mask: Any,
    in_mask: Any,
    steps: int,
    n_up: int,
    printer: ProgressPrinter,
    dtype: torch.dtype,
    device: torch.device,
) -> np.ndarray:
    """foscat's ``synthesis`` of signals (``use_1D``): the target(s) ``(N,)`` or ``(B, N)``,
    through ``texsynth.synthesis.synthesize_1d``.
    """
    mod = optional_module("texsynth.synthesis.signals")
    wav = optional_module("texsynth.wavelets1d")
    target, single = as_batch(image_target, "image_target", "1D", dtype, device)
    B, N = target.shape
    io = _inputs(
        target,
        (N,),
        init_plane=(N,),
        jm=wav.max_J_1d(N),
        too_small=f"image_target of {N} samples is too short: synthesis needs at least 8 samples",
        describe=f"a signal of {N} samples",
        keep_target=True,
        Jmax=Jmax,
        n=n,
        n_up=n_up,
        reference=reference,
        grd_mask=grd_mask,
        in_mask=in_mask,
        input_image=input_image,
        dtype=dtype,
        device=device,
    )
    J, inm, gmask, init, ref = io.J, io.in_mask, io.grd_mask, io.init, io.reference
    options: dict[str, Any] = dict(
        size=N * 2**n_up,
        n=n,
        seed=seed,
        steps=steps,
        levels=_levels(nstep, n_up, J),
        # (cross statistics align the output with the reference pixel by pixel)
        tile=ref is not None or not (edge or inm is not None),
        mask=gmask,
        in_mask=inm,
        init=init,
        J=J,
        use_variance=bool(use_variance),
        to_gaussian=bool(to_gaussian),
        reference=ref,
        device=device,
        dtype=dtype,
        progress=False,
        callback=printer,
    )
    signal = target[None] if B == 1 else target[:, None]  # [C=1, N] or [B, 1, N]
    with torch.no_grad():
        out = mod.synthesize_1d(signal, **accepted_options(mod.synthesize_1d, options))
    result = _keep_known(to_numpy(out[:, 0]).astype(np.float64), image_target, gmask)
    return result[0] if single and n == 1 else result


def synthesize_skies(
    image_target: Any,
    *,
    reference: Any,
    nstep: int,
    seed: int | None,
    Jmax: int | None,
    to_gaussian: bool,
    use_variance: bool,
    n: int,
    input_image: Any,
    grd_mask: Any,
    in_mask: Any,
    iso_ang: bool,
    fft_ang: bool,
    steps: int,
    n_up: int,
    printer: ProgressPrinter,
    L: int,
    K: int,
    dtype: torch.dtype,
    device: torch.device,
) -> np.ndarray:
    """foscat's ``synthesis`` of HEALPix maps (neither ``use_2D`` nor ``use_1D``): full skies
    ``(npix,)`` or ``(B, npix)`` (nested ordering), through
    :func:`texsynth.synthesis.sphere.synthesize_healpix` (a batch of targets: through the
    mean of their statistics, as foscat); ``L`` orientations, stencils of ``K`` pixels.
    """
    target, single = as_batch(image_target, "image_target", "healpix", dtype, device)
    B, npix = target.shape
    nside = sky_layout(npix, None, None, "image_target").nside
    nside_out = nside * 2**n_up
    npix_out = 12 * nside_out**2
    io = _inputs(
        target,
        (npix,),
        init_plane=(npix_out,),
        jm=int(np.log2(nside)),
        too_small="image_target of nside 1 is too coarse: synthesis needs nside >= 2",
        describe=f"a map of nside {nside} (down to nside 2)",
        keep_target=False,
        Jmax=Jmax,
        n=n,
        n_up=n_up,
        reference=reference,
        grd_mask=grd_mask,
        in_mask=in_mask,
        input_image=input_image,
        dtype=dtype,
        device=device,
    )
    J, inm, gmask, init, ref = io.J, io.in_mask, io.grd_mask, io.init, io.reference
    if inm is not None and inm.shape[0] == 1 and B > 1:
        inm = inm.expand(B, 1, npix)
    with torch.no_grad():
        out = synthesize_healpix(
            target[:, None],  # [B, C=1, npix]: a batch of maps of one process
            nside=nside_out,
            n=n,
            seed=seed,
            steps=steps,
            levels=_levels(nstep, n_up, J),
            mask=gmask,
            in_mask=inm,
            init=init,
            J=J,
            iso_ang=bool(iso_ang),
            fft_ang=bool(fft_ang),
            L=L,
            K=K,
            use_variance=bool(use_variance),
            to_gaussian=bool(to_gaussian),
            reference=ref,
            device=device,
            dtype=dtype,
            progress=False,
            callback=printer,
        )
    assert isinstance(out, torch.Tensor)
    result = _keep_known(to_numpy(out[:, 0]).astype(np.float64), image_target, gmask)
    assert result.shape[-1] == npix_out
    return result[0] if single and n == 1 else result


def _keep_known(result: np.ndarray, image_target: Any, gmask: torch.Tensor | None) -> np.ndarray:
    """``result`` (``[n, ...]`` float64) with the pixels ``grd_mask`` keeps (0) copied from
    ``image_target`` at its own precision: the synthesis runs in the operator's dtype
    (float32 by default), which would round a float64 target's kept pixels."""
    if gmask is None:
        return result
    raw = image_target.detach().cpu() if isinstance(image_target, torch.Tensor) else image_target
    target = np.asarray(raw, dtype=np.float64).reshape(-1)
    keep = to_numpy(gmask).reshape(-1) == 0
    if target.size != keep.size or result.size % keep.size:  # (only one target, n_up=0)
        return result
    flat = result.reshape(-1, keep.size)
    flat[:, keep] = target[keep]
    return flat.reshape(result.shape)


class _BatchTargetLoss(TextureLoss):
    """Matches the *mean* statistics of a batch of targets (foscat's ``(B, H, W)`` input).

    :func:`texsynth.synthesize` takes one exemplar; it is given the targets stacked along
    the rows (so its standardisation, Gaussianisation and noise levels see all of them), and
    this loss, rebuilt per level by :meth:`at`, scores against the batch: the terms of
    synthesize's ``"scattering"`` method (scattering covariance, pixel histogram,
    0.3 x power spectrum), each built from the whole batch. The level is recognised by the
    size of the stacked exemplar :meth:`at` is handed.
    """

    def __init__(
        self,
        batch: torch.Tensor,
        in_mask: torch.Tensor | None,
        J: int,
        stacked: tuple[int, int],
        scattering: dict[str, Any],
    ) -> None:
        super().__init__()
        self.batch = batch  # [B, 1, H, W], working space
        self.mask = in_mask  # [B, 1, H, W] or None
        self.J = J
        self.stacked = stacked
        self.scattering = scattering
        self._finest: TextureLoss | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self._finest is None:
            self._finest = self._build(0)
        return self._finest(x)

    def at(self, exemplar: torch.Tensor, **overrides: Any) -> TextureLoss:
        shape = tuple(exemplar.shape[-2:])
        for below in range(self.J):
            if level_shape(self.stacked, below) == shape:
                return self._build(below)
        raise AssertionError(f"no pyramid level of {self.stacked} has shape {shape}")

    def _build(self, below: int) -> TextureLoss:
        H, W = self.batch.shape[-2:]
        shape = level_shape((H, W), below)
        ex = downsample(self.batch, shape)
        inm = common = None
        if self.mask is not None:
            inm = (downsample(self.mask, shape) >= 0.999).to(ex.dtype)
            common = inm.amin(0, keepdim=True)  # the spectrum term takes one mask
            if not bool((common > 0).any()):
                common = None
        return (
            ScatteringLoss(ex, J=self.J - below, in_mask=inm, **self.scattering)
            + HistogramLoss(ex, in_mask=inm)
            + DEFAULT_POWER_SPECTRUM * SpectrumLoss(ex, in_mask=common)
        )


def _synthesize_batch(target: torch.Tensor, options: dict[str, Any]) -> torch.Tensor:
    """:func:`texsynth.synthesize` against the mean statistics of ``target [B, H, W]``."""
    B, H, W = target.shape
    stacked = target.reshape(1, 1, B * H, W)
    inm = options["in_mask"]  # [1|B, 1, H, W] or None
    stacked_mask = None
    if inm is not None:
        inm = inm.expand(B, 1, H, W)
        stacked_mask = inm.reshape(1, 1, B * H, W)
    # the engine's own value transforms, fitted on the same stacked exemplar
    std = Standardizer.fit(stacked, stacked_mask)
    batch = std.forward(target[:, None])
    if options["to_gaussian"]:
        gauss = Gaussianizer.fit(std.forward(stacked), stacked_mask)
        batch = gauss.forward(batch)
    scattering = scattering_options(
        L=options["L"],
        use_variance=options["use_variance"],
        cross_channels=True,
        iso_ang=options["iso_ang"],
        fft_ang=options["fft_ang"],
        fft_nharm=options["fft_nharm"],
        fft_imaginary=options["fft_imaginary"],
    )
    loss = _BatchTargetLoss(batch, inm, options["J"], (B * H, W), scattering)
    out = synthesize(stacked, **{**options, "in_mask": stacked_mask, "loss": loss})
    assert isinstance(out, torch.Tensor)
    # synthesize makes the histogram exact only with its own losses: do it here
    return match_histogram(out, stacked, stacked_mask)
