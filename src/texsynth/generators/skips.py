"""Frozen inputs of the decoder: a pyramid of white noise and its oriented-wavelet skips.

White noise ``z [N, 1, H, W]`` is 2x2 average-pooled, level by level (:func:`halve_noise`,
unit variance at every level). Each level is filtered, in the Fourier domain (so
periodically), by ``L`` oriented complex wavelets of texsynth's own bank
(:func:`texsynth.wavelets.wavelet_spectra`), scaled so that each real and imaginary part
has unit variance on white noise (:func:`skip_multipliers`). Nothing here is learned.
"""

from __future__ import annotations

import functools
import math

import torch
import torch.nn.functional as F

from ..wavelets import wavelet_spectra

__all__ = ["halve_noise", "skip_multipliers"]


@functools.lru_cache(maxsize=16)
def _wavelet_gain(L: int) -> tuple[float, ...]:
    """Per-orientation factor giving unit-variance real and imaginary parts on white noise.

    For white noise of unit variance, ``Var Re(psi * z) = Var Im(psi * z) = mean_k psi(k)^2
    / 2`` (the multipliers live on one half-plane). The mean is taken on a 128 x 128 grid,
    where it has converged (it is within 3% of that from 8 x 8 up), so the filter is the
    same function at every level and every image size.
    """
    psi = wavelet_spectra(128, 128, 1, L)[0]
    return tuple(float(v) for v in torch.sqrt(2.0 / (psi**2).mean((-2, -1))))


def skip_multipliers(h: int, w: int, L: int) -> torch.Tensor:
    """Complex multipliers ``[2L, h, w // 2 + 1]`` of the rfft2 layout giving the real then
    the imaginary parts of the scale-0 wavelets applied to a real ``h x w`` field."""
    psi = wavelet_spectra(h, w, 1, L)[0]  # [L, h, w] float64, real, half-plane support
    psi = psi * torch.tensor(_wavelet_gain(L), dtype=psi.dtype)[:, None, None]
    # psi(-k): flip then roll by one so index 0 (k = 0) stays in place
    psi_neg = torch.roll(torch.flip(psi, (-2, -1)), (1, 1), (-2, -1))
    even = (psi + psi_neg) / 2  # Re(psi * z) = ifft(Z * even)
    odd = (psi - psi_neg) / 2  # Im(psi * z) = ifft(Z * (-i) * odd)
    m = torch.cat([even.to(torch.complex128), -1j * odd.to(torch.complex128)])
    return m[..., : w // 2 + 1].contiguous()


def halve_noise(z: torch.Tensor) -> torch.Tensor:
    """Next (coarser) noise level, ``ceil(h / 2) x ceil(w / 2)``, times 2: unit variance.

    A 2x2 mean pool; an odd side is first extended periodically by one pixel (its first
    row or column is repeated after the last), so every output pixel averages exactly four
    input pixels (variance exactly 1/4, then multiplied by 2); the two cells on either
    side of the wrap-around seam share one pixel (a slight correlation, not a
    discontinuity). A side of length 1 is not pooled (factor ``sqrt(2)`` instead of 2)."""
    h, w = z.shape[-2:]
    kh, kw = (2 if h > 1 else 1), (2 if w > 1 else 1)
    ph, pw = h % kh, w % kw
    if ph or pw:
        z = F.pad(z, (0, pw, 0, ph), mode="circular")
    return F.avg_pool2d(z, (kh, kw)) * math.sqrt(kh * kw)
