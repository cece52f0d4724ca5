"""Exemplar Fourier spectra at any size, and the projection onto such a spectrum.

The Fourier utilities of the spectrum constraint of Liu, Gousseau & Xia (2016)
(:class:`texsynth.losses.spectral_constraint.SpectralConstraintLoss`) and of the random-phase
textures of Galerne, Gousseau & Morel (2011)
(:func:`texsynth.synthesis.random_phase.random_phase_texture`).

For colour images the set of images with the exemplar's spectrum is the one of the
random-phase-noise model of Galerne et al.: the images ``IFFT(E_c(w) e^{i phi(w)})`` with the
exemplar's spectra ``E_c`` and *one phase shift per frequency shared by all channels*, which
keeps the exemplar's colour cross-spectra ``E_c conj(E_d)``. The nearest point of that set
(:func:`spectrum_projection`) is::

    P(x)_c = IFFT( E_c Z / |Z| ),   Z(w) = sum_c X_c(w) conj(E_c(w))   (Z = 0: phase 1)

(maximising ``Re(e^{-i phi} Z)`` per frequency).

Exemplar spectrum at any size
-----------------------------
The exemplar's spectrum is re-sampled to the size of the scored images
(:func:`exemplar_spectrum`): the exemplar is replaced by its periodic component (Moisan's
periodic + smooth decomposition, :func:`periodic_component`, so the wrap-around seam of a
photo does not add a spurious "+" to its spectrum), its mean is removed and it is divided by
``sqrt(h w)`` (the "texton" of Galerne et al. 2011); along an axis where the output is
*larger* the texton is embedded in zeros (which samples its Fourier transform on the finer
frequency grid, with the same power per unit frequency), and along an axis where the output
is *smaller* a centred crop of the exemplar is used instead (its periodogram is the spectrum
seen at the coarser frequency resolution; sampling the full exemplar's transform on a coarser
grid would instead miss narrow spectral peaks). The crop is taken before the periodic
component, so it is seamless too. Before zero-embedding, the texton is tapered along the
enlarged axes by a Tukey window (raised-cosine ramps over a quarter of each end, rescaled to
unit RMS): a plain zero-embedding (Galerne et al.) interpolates the spectrum with the
Dirichlet kernel, whose sidelobes add spurious high-frequency power (several times the true
level for peaky spectra); the taper removes most of it at the cost of broadening spectral
peaks by about one exemplar frequency bin. At the exemplar's own size nothing is re-sampled:
the target is exactly the exemplar's (periodic component's) spectrum.

Masked exemplar pixels (``in_mask``) are excluded by a smooth spectral window (see
:func:`exemplar_spectrum`) rather than a hard mean fill, whose step edges around holes
would add broadband power.

References
----------
* G. Liu, Y. Gousseau, G.-S. Xia, "Texture synthesis through convolutional neural networks
  and spectrum constraints", ICPR 2016.
* B. Galerne, Y. Gousseau, J.-M. Morel, "Random phase textures: theory and synthesis",
  IEEE Trans. Image Processing 20(1), 2011.
* L. Moisan, "Periodic plus smooth image decomposition", J. Math. Imaging Vision 39, 2011.
"""

from __future__ import annotations

import math

import torch

from ._checks import as_image_batch, check_mask, parse_size, size_text
from .errors import TexsynthError

__all__ = [
    "MIN_SIZE",
    "check_spectrum_size",
    "exemplar_spectrum",
    "fill_with_mean",
    "periodic_component",
    "pixel_weights",
    "project_half_spectrum",
    "resampled_spectrum",
    "single_exemplar",
    "spectrum_projection",
]

MIN_SIZE = 8
"""Smallest image side (pixels) the spectrum constraint accepts."""


def periodic_component(x: torch.Tensor) -> torch.Tensor:
    """Periodic component of Moisan's periodic + smooth decomposition (last two axes).

    ``x = p + s`` where ``s`` is smooth (harmonic inside the image) and ``p`` is periodic:
    ``p`` has (almost) no jump across the wrap-around borders, so its discrete Fourier
    transform has no spurious horizontal/vertical "cross" from a non-periodic image's
    borders. ``p`` keeps the mean of ``x`` and its discrete Laplacian at interior pixels.

    Parameters
    ----------
    x
        Real tensor ``[..., H, W]`` (``H, W >= 2``).

    Returns
    -------
    torch.Tensor
        ``p``, same shape, dtype and device as ``x``.

    References
    ----------
    L. Moisan, "Periodic plus smooth image decomposition", J. Math. Imaging Vision 39(2),
    161-179, 2011.
    """
    if not isinstance(x, torch.Tensor) or x.dim() < 2:
        raise TexsynthError(
            "periodic_component needs a tensor [..., H, W] of at least 2 dimensions, got "
            f"{type(x).__name__ if not isinstance(x, torch.Tensor) else tuple(x.shape)}"
        )
    if x.is_complex() or not x.is_floating_point():
        x = x.real if x.is_complex() else x.to(torch.get_default_dtype())
    H, W = x.shape[-2:]
    if H < 2 or W < 2:
        raise TexsynthError(f"periodic_component needs H, W >= 2, got {size_text(H, W)}")
    # boundary image v: the jumps across the wrap-around borders
    v = torch.zeros_like(x)
    dr = x[..., -1, :] - x[..., 0, :]
    v[..., 0, :] += dr
    v[..., -1, :] -= dr
    dc = x[..., :, -1] - x[..., :, 0]
    v[..., :, 0] += dc
    v[..., :, -1] -= dc
    q = torch.arange(H, dtype=x.dtype, device=x.device)
    r = torch.arange(W // 2 + 1, dtype=x.dtype, device=x.device)
    denom = (
        2 * torch.cos(2 * math.pi * q / H)[:, None] + 2 * torch.cos(2 * math.pi * r / W)[None] - 4
    )
    denom[0, 0] = 1.0
    S = torch.fft.rfft2(v) / denom
    S[..., 0, 0] = 0.0
    return x - torch.fft.irfft2(S, s=(H, W))


def check_spectrum_size(shape: tuple[int, int], name: str) -> None:
    """Refuse an image side below :data:`MIN_SIZE` (``name``: what the caller calls it)."""
    if min(shape) < MIN_SIZE:
        raise TexsynthError(
            f"{name} is {size_text(*shape)} pixels; the spectrum constraint needs at least "
            f"{MIN_SIZE}x{MIN_SIZE} (use a larger image or fewer pyramid levels)"
        )


def single_exemplar(exemplar: torch.Tensor) -> torch.Tensor:
    """One exemplar as ``[1, C, H, W]`` (from ``[C, H, W]``, ``[H, W]`` or a batch of one),
    at least :data:`MIN_SIZE` pixels a side."""
    ex = as_image_batch(exemplar, "exemplar")
    if ex.shape[0] != 1:
        raise TexsynthError(f"give one exemplar [C, H, W], got a batch of {ex.shape[0]}")
    check_spectrum_size(tuple(ex.shape[-2:]), "exemplar")  # type: ignore[arg-type]
    return ex


def pixel_weights(ex: torch.Tensor, in_mask: torch.Tensor | None) -> torch.Tensor:
    """``[1, 1, H, W]`` weights in [0, 1]: a pixel counts as much as its least valid channel."""
    if in_mask is None:
        return torch.ones(1, 1, *ex.shape[-2:], dtype=ex.dtype, device=ex.device)
    m = check_mask(in_mask, ex.shape, "in_mask").to(ex.device, ex.dtype)
    return m.amin(1, keepdim=True)[:1]


def fill_with_mean(ex: torch.Tensor, weights: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Blend invalid pixels into the valid mean (``weights``: :func:`pixel_weights`): returns
    the filled image and the mean ``[1, C, 1, 1]``."""
    mean = (ex * weights).sum((-2, -1), keepdim=True) / weights.sum()
    return weights * ex + (1 - weights) * mean, mean


def _taper(weights: torch.Tensor) -> torch.Tensor:
    """Spectral window for a masked exemplar: the mask weights times a raised-cosine ramp
    from 0 at invalid pixels to 1 at ``r`` pixels from them (``r = min(H, W) // 16`` within
    [2, 8]), so the holes' edges add no broadband power to the spectrum (a hard mean-filled
    hole would). Without invalid pixels: the weights unchanged."""
    valid = (weights > 0).to(weights.dtype)
    if bool(valid.all()):
        return weights
    r = max(2, min(8, min(weights.shape[-2:]) // 16))
    d, depth = valid, valid.clone()
    for _ in range(r):  # depth = 1 + number of 3x3 erosions a valid pixel survives
        d = -torch.nn.functional.max_pool2d(-d, 3, stride=1, padding=1)
        depth = depth + d
    ramp = torch.sin(0.5 * math.pi * depth / (r + 1)) ** 2
    return weights * ramp


def _tukey(n: int, like: torch.Tensor, alpha: float = 0.5) -> torch.Tensor:
    """Tukey window of ``n`` points: flat, with raised-cosine tapers over ``alpha / 2`` of
    each end (non-zero at the ends)."""
    t = (torch.arange(n, dtype=like.dtype, device=like.device) + 0.5) / n
    edge = torch.minimum(t, 1 - t) / (alpha / 2)
    return torch.where(edge < 1, torch.sin(0.5 * math.pi * edge) ** 2, torch.ones_like(t))


def resampled_spectrum(
    filled: torch.Tensor,
    weights: torch.Tensor,
    mean: torch.Tensor,
    size: tuple[int, int],
    periodic: bool,
    include_mean: bool,
) -> torch.Tensor:
    """Full complex spectrum ``[1, C, H, W]`` of the (filled) exemplar re-sampled to ``size``.

    ``filled``, ``mean``: :func:`fill_with_mean`; ``weights``: :func:`pixel_weights`; the
    re-sampling is described in the module docstring (:func:`exemplar_spectrum` is this
    from the raw exemplar).
    """
    He, We = filled.shape[-2:]
    H, W = size
    h, w = min(H, He), min(W, We)
    y0, x0 = (He - h) // 2, (We - w) // 2
    crop = filled[..., y0 : y0 + h, x0 : x0 + w]
    mask_win = _taper(weights)[..., y0 : y0 + h, x0 : x0 + w]
    if float(mask_win.sum()) <= 0:
        raise TexsynthError(
            f"in_mask leaves no usable pixel in the central {size_text(h, w)} crop of the exemplar "
            f"used for {size_text(H, W)} outputs; mark more pixels valid or synthesise a larger "
            "output"
        )
    win = mask_win
    if H > He:
        win = win * _tukey(He, filled)[:, None]
    if W > We:
        win = win * _tukey(We, filled)[None, :]
    p = periodic_component(crop) if periodic else crop
    centred = p - (p * win).sum((-2, -1), keepdim=True) / win.sum()
    texton = centred * win / math.sqrt(h * w * float(win.pow(2).mean()))
    if win is not mask_win:
        # the Tukey taper weighs the texton's centre more: give each channel back the
        # variance it has without it (the variance is estimated from all the pixels used)
        c0 = p - (p * mask_win).sum((-2, -1), keepdim=True) / mask_win.sum()
        ref = (c0 * mask_win).pow(2).sum((-2, -1), keepdim=True) / (h * w * mask_win.pow(2).mean())
        cur = texton.pow(2).sum((-2, -1), keepdim=True)
        tiny = torch.finfo(cur.dtype).tiny
        texton = texton * torch.where(cur > tiny, (ref / cur.clamp_min(tiny)).sqrt(), 0.0)
    canvas = torch.zeros(*filled.shape[:-2], H, W, dtype=filled.dtype, device=filled.device)
    ty, tx = (H - h) // 2, (W - w) // 2
    canvas[..., ty : ty + h, tx : tx + w] = texton
    spec = torch.fft.fft2(canvas) * math.sqrt(H * W)
    spec[..., 0, 0] = (mean[..., 0, 0] * (H * W)) if include_mean else 0.0
    return spec


def exemplar_spectrum(
    exemplar: torch.Tensor,
    size: int | tuple[int, int] | None = None,
    *,
    in_mask: torch.Tensor | None = None,
    periodic: bool = True,
    include_mean: bool = True,
) -> torch.Tensor:
    """The exemplar's complex Fourier spectrum re-sampled to an ``H x W`` output.

    An image ``x`` of size ``H x W`` whose FFT has this modulus has the exemplar's power
    per frequency (``|FFT x|^2 / (H W)`` equals the exemplar's, interpolated or seen at a
    coarser resolution) and so its variance; the phases carry the exemplar's colour
    cross-spectra. See the module docstring for the re-sampling.

    Parameters
    ----------
    exemplar
        ``[C, H_e, W_e]`` (or ``[1, C, H_e, W_e]`` / ``[H_e, W_e]``) image.
    size
        Output ``(H, W)`` or side; ``None``: the exemplar's size.
    in_mask
        Exemplar pixels to use (1) or ignore (0), e.g. a hole. The zero-mean exemplar is
        multiplied by a window that is 0 on ignored pixels and rises smoothly (raised
        cosine over a few pixels) to 1 away from them, and the spectrum is divided by the
        window's RMS, so the valid pixels' variance is kept and the holes' edges add no
        broadband power (a hard mean-filled hole would add a step edge around it).
    periodic
        Use the exemplar's periodic component (default; ``False`` for an exemplar that
        already tiles).
    include_mean
        Put the exemplar's mean in the zero-frequency term (``mean * H * W``); else 0.

    Returns
    -------
    torch.Tensor
        Complex ``[1, C, H, W]`` spectrum (``torch.fft.fft2`` layout).
    """
    ex = single_exemplar(exemplar)
    size = parse_size(size, tuple(ex.shape[-2:]))  # type: ignore[arg-type]
    weights = pixel_weights(ex, in_mask)
    filled, mean = fill_with_mean(ex, weights)
    return resampled_spectrum(filled, weights, mean, size, periodic, include_mean)


def _as_spectrum(spectrum: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Half (``rfft2``) layout of a full ``[.., C, H, W]`` spectrum, checked against ``x``."""
    if not isinstance(spectrum, torch.Tensor):
        raise TexsynthError(
            f"spectrum must be a torch.Tensor, got {type(spectrum).__name__}; "
            "build it with exemplar_spectrum(exemplar, size)"
        )
    s = spectrum
    if s.dim() == 2:
        s = s[None, None]
    elif s.dim() == 3:
        s = s[None]
    B, C, H, W = x.shape
    if s.dim() != 4 or tuple(s.shape[-2:]) != (H, W) or s.shape[1] != C or s.shape[0] not in (1, B):
        raise TexsynthError(
            f"spectrum of shape {tuple(spectrum.shape)} does not fit images of shape "
            f"{tuple(x.shape)}; give [C, H, W] = [{C}, {H}, {W}] "
            "(exemplar_spectrum(exemplar, size=(H, W)))"
        )
    cdtype = torch.complex128 if x.dtype == torch.float64 else torch.complex64
    return s[..., : W // 2 + 1].to(x.device, cdtype)


def project_half_spectrum(y: torch.Tensor, E: torch.Tensor) -> torch.Tensor:
    """Projection of real ``y [B, C, H, W]`` given the half (``rfft2``) spectrum
    ``E [1|B, C, H, W//2+1]`` (see :func:`spectrum_projection`); no checks, keeps autograd."""
    H, W = y.shape[-2:]
    Y = torch.fft.rfft2(y)
    Z = (Y * E.conj()).sum(1, keepdim=True)
    a = Z.abs()
    tiny = torch.finfo(y.dtype).tiny
    U = torch.where(a > tiny, Z / a.clamp_min(tiny), torch.ones_like(Z))
    U[..., 0, 0] = 1.0  # the mean: no phase freedom (a sign flip would invert it)
    return torch.fft.irfft2(E * U, s=(H, W))


def spectrum_projection(x: torch.Tensor, spectrum: torch.Tensor) -> torch.Tensor:
    """Nearest image to ``x`` whose FFT is ``spectrum`` up to one phase per frequency.

    ``P(x)_c = IFFT(E_c Z / |Z|)`` with ``Z = sum_c FFT(x_c) conj(E_c)`` (``Z = 0``: phase
    1): the phase shift is shared by the channels, so ``P(x)`` has each channel's modulus
    ``|E_c|`` *and* the cross-spectra ``E_c conj(E_d)`` (the colour correlations) of
    ``spectrum``. The zero frequency is not phase-shifted: ``P(x)`` has the mean encoded
    in ``spectrum`` (``E(0) / (H W)``). ``P`` is idempotent. Computed without gradient.

    Parameters
    ----------
    x
        Real images ``[B, C, H, W]`` (or ``[C, H, W]`` / ``[H, W]``).
    spectrum
        Complex target ``[1|B, C, H, W]`` in ``torch.fft.fft2`` layout, e.g.
        :func:`exemplar_spectrum` ``(exemplar, size=(H, W))``; a real modulus also works
        (it gives every channel the same phase).

    Returns
    -------
    torch.Tensor
        ``P(x)``, same shape, dtype and device as ``x``.

    References
    ----------
    G. Liu, Y. Gousseau, G.-S. Xia, ICPR 2016; B. Galerne, Y. Gousseau, J.-M. Morel, IEEE
    TIP 2011 (colour random phase noise).
    """
    y = as_image_batch(x, "x")
    E = _as_spectrum(spectrum, y)
    with torch.no_grad():
        p = project_half_spectrum(y.detach(), E)
    return p.reshape(x.shape)
