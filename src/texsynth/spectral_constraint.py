"""Fourier-spectrum constraint (Liu, Gousseau & Xia 2016) and random-phase textures.

The spectrum constraint measures how far an image is from the set of images that have the
exemplar's Fourier modulus::

    L(x) = || x - P(x) ||^2 / (H W sum_c var_c)

where ``P(x)`` is the nearest such image. For colour images the set is the one used by the
random-phase-noise model of Galerne, Gousseau & Morel: the images ``IFFT(E_c(w) e^{i phi(w)})``
with the exemplar's spectra ``E_c`` and *one phase shift per frequency shared by all
channels*, which keeps the exemplar's colour cross-spectra ``E_c conj(E_d)``. The nearest
point of that set is::

    P(x)_c = IFFT( E_c Z / |Z| ),   Z(w) = sum_c X_c(w) conj(E_c(w))   (Z = 0: phase 1)

(maximising ``Re(e^{-i phi} Z)`` per frequency). ``||x - P(x)||^2`` is the squared distance
to that set, whose gradient is ``2 (x - P(x))`` wherever the nearest point is unique
(Danskin's theorem); :class:`SpectralConstraintLoss` returns ``(x - P(x).detach())^2``
summed, which has exactly that gradient.

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

Normalisation, mean and masks
-----------------------------
The loss is divided by ``H W sum_c var_c`` (the number of pixels times the exemplar's total
variance), so it is dimensionless and independent of the image size and units: 0 on the
constraint set, about 1-2 for an unrelated image of the exemplar's variance. The mean is
part of the constraint by default: the zero frequency of ``P(x)`` is the exemplar's mean
(not phase-shifted, since the only "phase" of a real mean is a sign flip that would invert
it); ``include_mean=False`` compares zero-mean images and leaves the mean to other losses.
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
import operator
from collections.abc import Callable
from typing import Any

import torch

from ._checks import as_image_batch, check_mask, size_text
from .errors import TexsynthError
from .losses import TextureLoss

__all__ = [
    "SpectralConstraintLoss",
    "exemplar_spectrum",
    "periodic_component",
    "random_phase_texture",
    "spectrum_projection",
]

MIN_SIZE = 8
"""Smallest image side (pixels) the spectrum constraint accepts."""

_CACHE_SIZE = 8


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


def _parse_size(size: int | tuple[int, int] | None, default: tuple[int, int]) -> tuple[int, int]:
    if size is None:
        return default
    try:
        pair = (size, size) if not isinstance(size, (tuple, list)) else tuple(size)
        if len(pair) != 2 or any(isinstance(v, bool) for v in pair):
            raise TypeError
        h, w = (operator.index(v) for v in pair)
    except TypeError:
        raise TexsynthError(f"size must be an int or a pair (H, W) of ints, got {size!r}") from None
    _check_size((h, w), "output size")
    return h, w


def _check_size(shape: tuple[int, int], name: str) -> None:
    if min(shape) < MIN_SIZE:
        raise TexsynthError(
            f"{name} is {size_text(*shape)} pixels; the spectrum constraint needs at least "
            f"{MIN_SIZE}x{MIN_SIZE} (use a larger image or fewer pyramid levels)"
        )


def _one_exemplar(exemplar: torch.Tensor) -> torch.Tensor:
    ex = as_image_batch(exemplar, "exemplar")
    if ex.shape[0] != 1:
        raise TexsynthError(f"give one exemplar [C, H, W], got a batch of {ex.shape[0]}")
    _check_size(tuple(ex.shape[-2:]), "exemplar")  # type: ignore[arg-type]
    return ex


def _pixel_weights(ex: torch.Tensor, in_mask: torch.Tensor | None) -> torch.Tensor:
    """``[1, 1, H, W]`` weights in [0, 1]: a pixel counts as much as its least valid channel."""
    if in_mask is None:
        return torch.ones(1, 1, *ex.shape[-2:], dtype=ex.dtype, device=ex.device)
    m = check_mask(in_mask, ex.shape, "in_mask").to(ex.device, ex.dtype)
    return m.amin(1, keepdim=True)[:1]


def _fill(ex: torch.Tensor, weights: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Blend invalid pixels into the valid mean: returns the filled image and the mean
    ``[1, C, 1, 1]``."""
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


def _spectrum_from_filled(
    filled: torch.Tensor,
    weights: torch.Tensor,
    mean: torch.Tensor,
    size: tuple[int, int],
    periodic: bool,
    include_mean: bool,
) -> torch.Tensor:
    """Full complex spectrum ``[1, C, H, W]`` of the (filled) exemplar re-sampled to ``size``."""
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
    ex = _one_exemplar(exemplar)
    size = _parse_size(size, tuple(ex.shape[-2:]))  # type: ignore[arg-type]
    weights = _pixel_weights(ex, in_mask)
    filled, mean = _fill(ex, weights)
    return _spectrum_from_filled(filled, weights, mean, size, periodic, include_mean)


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


def _project_half(y: torch.Tensor, E: torch.Tensor) -> torch.Tensor:
    """Projection of real ``y [B, C, H, W]`` given the half spectrum ``E [1|B, C, H, W//2+1]``."""
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
        p = _project_half(y.detach(), E)
    return p.reshape(x.shape)


def random_phase_texture(
    exemplar: torch.Tensor,
    size: int | tuple[int, int] | None = None,
    n: int = 1,
    seed: int | None = None,
    *,
    kind: str = "rpn",
    in_mask: torch.Tensor | None = None,
    periodic: bool = True,
) -> torch.Tensor:
    """Random-phase textures of Galerne, Gousseau & Morel (2011), of any size.

    ``kind="rpn"`` (random phase noise): the exemplar's re-sampled spectrum
    (:func:`exemplar_spectrum`) with the phase of a white noise added, one phase per
    frequency shared by the channels (keeps the colour cross-spectra); each output has
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
        Seed of a private ``torch.Generator`` (``None``: random); the global RNG is not used.
    kind
        ``"rpn"`` or ``"adsn"``.
    in_mask, periodic
        As in :func:`exemplar_spectrum`.

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
    ex = _one_exemplar(exemplar)
    H, W = _parse_size(size, tuple(ex.shape[-2:]))  # type: ignore[arg-type]
    weights = _pixel_weights(ex, in_mask)
    filled, mean = _fill(ex, weights)
    E = _spectrum_from_filled(filled, weights, mean, (H, W), periodic, include_mean=False)
    gen = torch.Generator()
    if seed is None:
        gen.seed()
    else:
        gen.manual_seed(int(seed))
    noise = torch.randn(n, 1, H, W, generator=gen, dtype=ex.dtype).to(ex.device)
    N = torch.fft.rfft2(noise)
    if kind == "rpn":
        a = N.abs()
        N = torch.where(a > 0, N / a.clamp_min(torch.finfo(ex.dtype).tiny), torch.ones_like(N))
    else:
        N = N / math.sqrt(H * W)
    out = torch.fft.irfft2(E[..., : W // 2 + 1] * N, s=(H, W))
    return out + mean


class SpectralConstraintLoss(TextureLoss):
    """Spectrum constraint of Liu, Gousseau & Xia (2016): squared distance to the images
    with the exemplar's Fourier modulus (colour: one phase per frequency for all channels).

    For images ``x [B, C, H, W]`` (any ``H, W >= 8``), with ``y = transform(x)``::

        loss_b = sum_{c, pixels} (y_b - P(y_b))^2 / (H W sum_c var_c)

    with ``P`` the projection of :func:`spectrum_projection` onto the exemplar's spectrum
    re-sampled to ``H x W`` (:func:`exemplar_spectrum`, cached per size) and ``var_c`` the
    exemplar's per-channel variance (valid pixels, after ``transform``). So the loss is
    dimensionless: 0 for the exemplar (its periodic component if ``periodic``; the raw
    exemplar then scores a little above 0), any circular shift of it, or any image with
    its modulus and a common random phase (:func:`random_phase_texture`); between 0 and 2 for
    an image of the exemplar's mean and variance (``1 + 1 - 2 <y, P(y)> / norm``, with
    ``<y, P(y)> >= 0``; white noise against a low-pass exemplar: about 1.5-1.8) and larger
    when the variance or mean is off. Its gradient is ``2 (y - P(y)) / norm``
    (the gradient of a squared distance to a set), obtained by detaching ``P``.

    Parameters
    ----------
    exemplar
        ``[C, H_e, W_e]`` (or ``[1, C, H_e, W_e]``) exemplar, ``H_e, W_e >= 8``.
    in_mask
        Exemplar pixels to use (1) or ignore (0): the spectrum is that of the exemplar
        seen through a smooth window that is 0 on ignored pixels, divided by the window's
        RMS (see :func:`exemplar_spectrum`). The mean and variance in the normaliser are
        those of the valid pixels.
    periodic
        Use the exemplar's periodic component (Moisan), default; ``False`` if it tiles.
    transform
        Optional callable applied to the exemplar and to every scored batch first (e.g.
        the inverse of the engine's standardisation, to constrain the spectrum in the
        exemplar's own colour space). It must be differentiable for gradients to flow.
    include_mean
        Include the mean in the constraint (default): ``P(y)`` has the exemplar's mean
        (the zero frequency is fixed, not phase-shifted), so a wrong mean adds
        ``sum_c (mean_c(y) - mean_c)^2 / sum_c var_c``. ``False`` compares zero-mean
        images only (leave the mean to a histogram loss).

    References
    ----------
    G. Liu, Y. Gousseau, G.-S. Xia, "Texture synthesis through convolutional neural
    networks and spectrum constraints", ICPR 2016, 3234-3239.
    """

    def __init__(
        self,
        exemplar: torch.Tensor,
        *,
        in_mask: torch.Tensor | None = None,
        periodic: bool = True,
        transform: Callable[[torch.Tensor], torch.Tensor] | None = None,
        include_mean: bool = True,
    ) -> None:
        super().__init__()
        if transform is not None and not callable(transform):
            raise TexsynthError(
                f"transform must be a callable (a tensor -> tensor function), got "
                f"{type(transform).__name__}"
            )
        ex = _one_exemplar(exemplar)
        self.options: dict[str, Any] = dict(
            in_mask=in_mask, periodic=periodic, transform=transform, include_mean=include_mean
        )
        weights = _pixel_weights(ex, in_mask)
        if transform is not None:
            with torch.no_grad():
                ex = transform(ex)
            if not isinstance(ex, torch.Tensor) or ex.dim() != 4:
                raise TexsynthError(
                    "transform must map [B, C, H, W] images to [B, C', H, W] tensors"
                )
        filled, mean = _fill(ex.detach(), weights.to(ex))
        var = (((filled - mean) ** 2) * weights.to(ex)).sum((-2, -1)) / weights.sum()
        total_var = float(var.sum())
        if not total_var > 0:
            raise TexsynthError(
                "exemplar has zero variance (a constant image); the spectrum constraint "
                "needs a textured exemplar"
            )
        self.register_buffer("filled", filled)
        self.register_buffer("weights", weights.to(ex))
        self.register_buffer("mean", mean)
        self.total_var = total_var
        self._cache: dict[tuple[Any, ...], torch.Tensor] = {}

    @property
    def channels(self) -> int:
        """Number of channels the scored images have (after ``transform``)."""
        return int(self.filled.shape[1])

    def at(self, exemplar: torch.Tensor, **overrides: Any) -> SpectralConstraintLoss:
        kw = {k: v for k, v in {**self.options, **overrides}.items() if k in self.options}
        return SpectralConstraintLoss(exemplar, **kw)

    def target(
        self, size: tuple[int, int], dtype: torch.dtype | None = None, device: Any = None
    ) -> torch.Tensor:
        """The complex ``[1, C, H, W]`` target spectrum for ``size`` (cached)."""
        dtype = dtype or self.filled.dtype
        device = torch.device(device) if device is not None else self.filled.device
        key = (tuple(size), dtype, device, self.filled.device, self.filled.dtype)
        spec = self._cache.get(key)
        if spec is None:
            _check_size(tuple(size), "images")  # type: ignore[arg-type]
            with torch.no_grad():
                spec = _spectrum_from_filled(
                    self.filled,
                    self.weights,
                    self.mean,
                    tuple(size),  # type: ignore[arg-type]
                    bool(self.options["periodic"]),
                    bool(self.options["include_mean"]),
                )
            cdtype = torch.complex128 if dtype == torch.float64 else torch.complex64
            spec = spec.to(device, cdtype)
            if len(self._cache) >= _CACHE_SIZE:
                self._cache.pop(next(iter(self._cache)))
            self._cache[key] = spec
        return spec

    def project(self, x: torch.Tensor) -> torch.Tensor:
        """``P(transform(x))``: the nearest image (in the transformed space) with the
        exemplar's spectrum; no gradient."""
        with torch.no_grad():
            y = self._prepare(x)
            return _project_half(y, self._half(y))

    def _prepare(self, x: torch.Tensor) -> torch.Tensor:
        if not isinstance(x, torch.Tensor):
            raise TexsynthError(f"images must be a torch.Tensor, got {type(x).__name__}")
        if x.dim() == 2:
            x = x[None, None]
        elif x.dim() == 3:
            x = x[None]
        elif x.dim() != 4:
            raise TexsynthError(
                f"images must have shape [B, C, H, W] (or [C, H, W], [H, W]), got {tuple(x.shape)}"
            )
        _check_size(tuple(x.shape[-2:]), "images")  # type: ignore[arg-type]
        y = self.options["transform"](x) if self.options["transform"] is not None else x
        if y.shape[1] != self.channels:
            raise TexsynthError(
                f"images have {y.shape[1]} channels (after transform), the exemplar "
                f"{self.channels}; give images with the exemplar's channels"
            )
        if not bool(self.options["include_mean"]):
            y = y - y.mean((-2, -1), keepdim=True)
        return y

    def _half(self, y: torch.Tensor) -> torch.Tensor:
        H, W = y.shape[-2:]
        return self.target((H, W), y.dtype, y.device)[..., : W // 2 + 1]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self._prepare(x)
        with torch.no_grad():
            p = _project_half(y.detach(), self._half(y))
        H, W = y.shape[-2:]
        return ((y - p) ** 2).sum((1, 2, 3)) / (H * W * self.total_var)
