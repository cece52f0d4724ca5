"""Random-phase textures (Galerne, Gousseau & Morel 2011), of any size.

Random phase noise and asymptotic discrete spot noise built on the exemplar's spectrum
re-sampled to the output's size (:func:`texsynth.fourier.exemplar_spectrum`): a cheap
initialisation for synthesis, and a good synthesis on its own for micro-textures.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

from .._checks import parse_size
from ..errors import TexsynthError
from ..fourier import fill_with_mean, pixel_weights, resampled_spectrum, single_exemplar
from ..seeds import member_generators, resolve_seeds
from .levels import member_noise

__all__ = ["random_phase_texture"]


def random_phase_texture(
    exemplar: torch.Tensor,
    size: int | tuple[int, int] | None = None,
    n: int = 1,
    seed: int | Sequence[int] | None = None,
    *,
    kind: str = "rpn",
    in_mask: torch.Tensor | None = None,
    periodic: bool = True,
) -> torch.Tensor:
    """Random-phase textures of Galerne, Gousseau & Morel (2011), of any size.

    ``kind="rpn"`` (random phase noise): the exemplar's re-sampled spectrum
    (:func:`~texsynth.fourier.exemplar_spectrum`) with the phase of a white noise added, one
    phase per frequency shared by the channels (keeps the colour cross-spectra); each output has
    exactly the re-sampled spectrum's modulus, so its spatial variance is the exemplar's.
    ``kind="adsn"`` (asymptotic discrete spot noise): the texton convolved with a Gaussian
    white noise, a stationary Gaussian field with the exemplar's mean and covariance.
    Both are periodic (they tile). A cheap initialisation for synthesis, and a good
    synthesis on its own for micro-textures.

    Parameters
    ----------
    exemplar
        ``[C, H_e, W_e]`` image (or ``[1, C, H_e, W_e]`` / ``[H_e, W_e]``).
    size
        Output ``(H, W)`` or side; ``None``: the exemplar's size.
    n
        Number of textures.
    seed
        Base seed, or one per output (``None``: a fresh one); texture ``k`` uses
        :func:`texsynth.seeds.member_seed` ``(seed, k)`` and equals a run of ``n=1`` with
        that seed. The global RNG is not used.
    kind
        ``"rpn"`` or ``"adsn"``.
    in_mask, periodic
        As in :func:`~texsynth.fourier.exemplar_spectrum`.

    Returns
    -------
    torch.Tensor
        ``[n, C, H, W]`` textures, dtype and device of the exemplar, with the exemplar's
        (valid pixels') mean.

    References
    ----------
    B. Galerne, Y. Gousseau, J.-M. Morel, "Random phase textures: theory and synthesis",
    IEEE Trans. Image Processing 20(1), 257-267, 2011.
    """
    if kind not in ("rpn", "adsn"):
        raise TexsynthError(f"kind must be 'rpn' or 'adsn', got {kind!r}")
    if not isinstance(n, int) or isinstance(n, bool) or n < 1:
        raise TexsynthError(f"n must be a positive integer, got {n!r}")
    ex = single_exemplar(exemplar)
    H, W = parse_size(size, tuple(ex.shape[-2:]))  # type: ignore[arg-type]
    weights = pixel_weights(ex, in_mask)
    filled, mean = fill_with_mean(ex, weights)
    E = resampled_spectrum(filled, weights, mean, (H, W), periodic, include_mean=False)
    # output k from its own seed (texsynth.seeds): it equals a run of n=1 with that seed
    _, seeds = resolve_seeds(seed, n)
    noise = member_noise(member_generators(seeds), (1, H, W), ex.dtype).to(ex.device)
    N = torch.fft.rfft2(noise)
    if kind == "rpn":
        a = N.abs()
        N = torch.where(a > 0, N / a.clamp_min(torch.finfo(ex.dtype).tiny), torch.ones_like(N))
    else:
        N = N / math.sqrt(H * W)
    out = torch.fft.irfft2(E[..., : W // 2 + 1] * N, s=(H, W))
    return out + mean
