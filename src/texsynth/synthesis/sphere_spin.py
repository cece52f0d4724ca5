"""Synthesis of spin-2 (Q/U polarisation) HEALPix skies: the coarse-to-fine loop of
:func:`~texsynth.synthesis.sphere.synthesize_healpix` on the transported statistics of
:class:`~texsynth.stats.healpix.HealpixScatteringCovariance` (``spin=2``).

The pyramid transports too (:class:`SpinSphereResampling`): a coarse pixel averages its
children turned to its frame, and a fine pixel interpolates its four coarse neighbours
turned to its own (healpy's COSMO convention, :mod:`texsynth.healpix_spin`). The maps are
scaled by one number, the exemplar's RMS of ``|Q + i U| / sqrt(2)`` (the means of Q and U
depend on the frames: they are left alone). The value histogram and low-multipole terms of
scalar skies are not used: they would treat Q and U as scalar maps; their place is taken by
the E and B power spectra (:class:`~texsynth.losses.spin_spectrum.SpinSpectrumLoss`, from
``ell = 2``), which the scattering statistics, blind to a global turn of the polarisation
angles, leave free; and the scalar statistics of the polarised amplitude ``|Q + i U|``
(:class:`~texsynth.losses.spin_amplitude.PolarisedAmplitudeLoss`), whose sparsity they
leave freer.
"""

from __future__ import annotations

import functools
import math
import time
from collections.abc import Sequence

import numpy as np
import torch

from ..domains.healpix import HealpixSphere, check_nside, npix_of, nside_of, upsampling_table
from ..errors import TexsynthError
from ..healpix_kernels import KERNEL_SIZE
from ..healpix_spin import pyramid_phases, transport_angle
from ..losses import TextureLoss
from ..losses.healpix import HealpixScatteringLoss
from ..losses.spin_amplitude import PolarisedAmplitudeLoss
from ..losses.spin_spectrum import SpinSpectrumLoss
from ..memory import check_memory
from ..seeds import resolve_seeds
from ..stats.scattering1d import as_signal_batch
from .engine import Callback, Cancel, SynthesisReport
from .levels import Generators, Shape, run_levels
from .resampling import SphereResampling, member_noise
from .sky_plan import estimate_healpix_bytes, sky_budget, sky_scales

__all__ = [
    "SPIN_SPHERE",
    "SpinSphereResampling",
    "estimate_spin_bytes",
    "refuse_scalar_options",
    "synthesize_healpix_spin",
]


def _complex(x: torch.Tensor) -> torch.Tensor:
    """``[..., 2, npix]`` (Q, U) -> ``[..., npix]`` complex."""
    return torch.complex(x[..., 0, :], x[..., 1, :])


def _real(p: torch.Tensor) -> torch.Tensor:
    """``[..., npix]`` complex -> ``[..., 2, npix]`` (Q, U)."""
    return torch.stack([p.real, p.imag], -2)


@functools.lru_cache(maxsize=8)
def _upsampling_phases(nside: int) -> torch.Tensor:
    """``[npix(2 nside), 4]`` complex128: each coarse interpolation pixel's value turned to
    the fine pixel's frame (``e^{2 i alpha}``)."""
    pix, _ = upsampling_table(nside)
    theta, phi = HealpixSphere.centres(nside)
    tf, pf = HealpixSphere.centres(2 * nside)
    cols = pix.numpy()
    alpha = transport_angle(theta[cols], phi[cols], tf[:, None], pf[:, None])
    return torch.as_tensor(np.exp(2j * alpha))


class SpinSphereResampling(SphereResampling):
    """The pyramid of spin-2 skies ``[B, 2, npix]`` (``(Q, U)``): children averaged down
    and bilinear interpolation up, with parallel transport between the pixels' frames."""

    def downsample(self, x: torch.Tensor, shape: Shape) -> torch.Tensor:
        """Mean of each coarse pixel's descendants, turned to its frame."""
        n, m = int(x.shape[-1]), int(shape[0])
        if n == m:
            return x
        nside = nside_of(n)
        j = int(round(math.log2(nside / nside_of(m))))
        if j < 0:
            raise TexsynthError(f"cannot downsample a map of {n} pixels to {m}")
        p = _complex(x)
        p = p * pyramid_phases(nside, j, 2).to(p.device, p.dtype)
        return _real(p.unflatten(-1, (m, n // m)).mean(-1)).to(x.dtype)

    def upsample(self, x: torch.Tensor, shape: Shape) -> torch.Tensor:
        """Bilinear interpolation onto the finer sky of ``shape``, each of the four coarse
        values turned to the fine pixel's frame."""
        p = _complex(x)
        while int(p.shape[-1]) < int(shape[0]):
            nside = nside_of(int(p.shape[-1]))
            pix, w = upsampling_table(nside)
            phase = _upsampling_phases(nside).to(p.device)
            p = (p[..., pix.to(p.device)] * (w.to(phase) * phase).to(p.dtype)).sum(-1)
        if int(p.shape[-1]) != int(shape[0]):
            raise TexsynthError(f"cannot upsample a map of {x.shape[-1]} pixels to {shape[0]}")
        return _real(p).to(x.dtype)

    def band_gain(self, ex_hf: torch.Tensor, noise_hf: torch.Tensor) -> torch.Tensor:
        """One gain per member, Q and U pooled (their split depends on the frames)."""
        gain = (ex_hf.pow(2).mean() / noise_hf.pow(2).mean((1, 2)).clamp_min(1e-30)).sqrt()
        return gain[:, None, None].to(noise_hf)


SPIN_SPHERE = SpinSphereResampling()


def estimate_spin_bytes(npix_exemplar: int, npix_out: int, *, n: int, L: int, K: int) -> int:
    """Rough peak memory (bytes) of a spin-2 synthesis of ``n`` ``(Q, U)`` skies: twice
    :func:`~texsynth.synthesis.sky_plan.estimate_healpix_bytes` of one channel (the spin
    bank holds the scalar stencil operators and their spin twins)."""
    return 2 * estimate_healpix_bytes(npix_exemplar, npix_out, n=n, channels=1, L=L, K=K)


def refuse_scalar_options(**options: object) -> None:
    """A one-line error for the options of scalar skies that spin-2 synthesis lacks."""
    for name, value in options.items():
        if value is not None and value is not False:
            raise TexsynthError(
                f"{name} is not supported with spin=2 yet (it acts on scalar maps); leave it unset"
            )


def synthesize_healpix_spin(
    sky: torch.Tensor,
    *,
    nside: int | None = None,
    n: int = 1,
    seed: int | Sequence[int] | None = None,
    steps: int = 100,
    fine_steps: int | None = None,
    levels: int | None = None,
    J: int | None = None,
    L: int = 4,
    K: int = KERNEL_SIZE,
    use_variance: bool = True,
    angular: str | None = None,
    fft_nharm: int = 1,
    fft_imaginary: bool = True,
    spectrum: float = 10.0,
    amplitude: float = 1.0,
    tol: float = 1e-2,
    device: str | torch.device | None = None,
    dtype: torch.dtype = torch.float32,
    progress: bool = True,
    callback: Callback | None = None,
    cancel: Cancel | None = None,
    report: bool = False,
    exact_members: bool = True,
    max_memory: int | None = None,
) -> torch.Tensor | tuple[torch.Tensor, SynthesisReport]:
    """New ``(Q, U)`` skies whose spin-2 scattering covariance matches ``sky``'s.

    ``sky`` is ``[2, npix]`` or ``[B, 2, npix]`` (one polarisation field, nested, healpy's
    COSMO convention); the options are those of
    :func:`~texsynth.synthesis.sphere.synthesize_healpix` (``angular``: ``None``, ``"iso"``
    or ``"fft"``), which calls this with ``spin=2``; ``spectrum`` weighs the E/B spectrum
    loss (:class:`~texsynth.losses.spin_spectrum.SpinSpectrumLoss`, 0 disables it; used
    when the output keeps the exemplar's nside) and ``amplitude`` the scalar scattering
    loss of ``|Q + i U|`` (:class:`~texsynth.losses.spin_amplitude.PolarisedAmplitudeLoss`,
    0 disables it). Returns ``[n, 2, 12 nside**2]``.
    """
    ex = as_signal_batch(sky, "sky")
    dev = torch.device(device) if device is not None else ex.device
    ex = ex.to(dev, dtype)
    if ex.shape[1] != 2:
        raise TexsynthError(
            f"a spin-2 sky is one (Q, U) field, [2, npix] or [B, 2, npix]; got "
            f"{ex.shape[1]} channels"
        )
    npix_ex = int(ex.shape[-1])
    nside_ex = nside_of(npix_ex, "the exemplar sky")
    nside_out = nside_ex if nside is None else check_nside(nside, "nside")
    npix_out = npix_of(nside_out)
    check_memory(
        estimate_spin_bytes(npix_ex, npix_out, n=n, L=L, K=K),
        max_memory,
        device=dev,
        what="synthesize_healpix",
        fix="use a smaller nside, n or L",
        override="max_memory=",
    )
    scale = ex.pow(2).sum(1).mean().div(2).sqrt()
    if not bool(scale > 0):
        raise TexsynthError("the exemplar's Q and U are all zero: nothing to learn from")
    ex_s = ex / scale

    J_full, n_levels = sky_scales(J, levels, nside_ex, nside_out)

    def build_loss(
        k: int, ex_k: torch.Tensor, inm_k: torch.Tensor | None, shape: Shape, J_k: int
    ) -> TextureLoss:
        total: TextureLoss = HealpixScatteringLoss(
            ex_k,
            J=J_k,
            L=L,
            K=K,
            use_variance=use_variance,
            angular=angular,
            fft_nharm=fft_nharm,
            fft_imaginary=fft_imaginary,
            spin=2,
        )
        if full_spectrum:
            total = total + spectrum * SpinSpectrumLoss(ex_k)
        if amplitude > 0:
            total = total + amplitude * PolarisedAmplitudeLoss(
                ex_k, J=J_k, L=L, K=K, use_variance=use_variance, angular=angular
            )
        return total

    full_spectrum = spectrum > 0 and nside_out == nside_ex

    def first_batch(ex_k: torch.Tensor, shape: Shape, gens: Generators) -> torch.Tensor:
        return member_noise(gens, (2, *shape), ex_k.dtype).to(ex_k.device)

    start_time = time.perf_counter()
    _, seeds = resolve_seeds(seed, n)
    rep = SynthesisReport(seeds=seeds)
    x = run_levels(
        exemplar=ex_s,
        in_mask=None,
        canvas=(npix_out,),
        n_levels=n_levels,
        J=J_full,
        build_loss=build_loss,
        start=first_batch,
        seeds=seeds,
        budget=sky_budget(steps, n_levels, fine_steps),
        tol=tol,
        frozen=None,
        free=None,
        progress=progress,
        callback=callback,
        cancel=cancel,
        report=rep,
        exact_members=exact_members,
        resampling=SPIN_SPHERE,
    )
    out = (x * scale).detach()
    rep.seconds = time.perf_counter() - start_time
    return (out, rep) if report else out
