r"""Oriented complex wavelets defined in the Fourier domain (periodic boundaries).

The wavelet of scale ``j`` and orientation ``l`` is a real, non-negative Fourier multiplier
supported on one half-plane (so the spatial filter is complex and nearly analytic):

.. math::

    \hat\psi_{j,l}(k) = c_L \, R(\log_2(2^j |k| / \xi)) \, A(\varphi_k - \theta_l),
    \quad R(t) = \cos(\pi t / 2) \text{ for } |t| < 1,
    \quad A(\delta) = \cos^{L-1}(\delta) \text{ for } |\delta| < \pi/2,

with centre frequency ``xi = 3*pi/4`` rad/pixel at ``j = 0`` and orientations
``theta_l = pi * l / L`` (the direction of the wave-vector, measured from the column axis
towards the row axis: ``l = 0`` responds to vertical stripes). The radial windows of
successive scales form a partition of unity (sum of squares is one), the angular windows
too, so the bank covers every frequency band evenly. Each wavelet's support ends at
``2 * xi / 2**j``; coefficients of scale ``j`` are therefore computed exactly on a grid
downsampled by ``2**max(j - 1, 0)`` (see :func:`grid_shape`), which is where the speed of
the scattering statistics comes from.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch

from .domains.grid import PeriodicGrid, max_scales
from .errors import TexsynthError

__all__ = [
    "MIN_SIDE",
    "XI0",
    "FourierWaveletBank",
    "WaveletBank",
    "WaveletLayer",
    "check_J",
    "check_number_of_scales",
    "check_scales",
    "check_scales_for",
    "crop_spectrum",
    "default_J",
    "effective_radius",
    "grid_shape",
    "max_J",
    "wavelet_spectra",
]

XI0 = 3 * math.pi / 4
"""Centre frequency (rad/pixel) of the finest wavelet, ``j = 0``."""


_GRID2 = PeriodicGrid(2)


def max_J(H: int, W: int) -> int:
    """Largest number of scales an ``H x W`` image supports (the coarsest fits 4 times)."""
    return max_scales((H, W))


def default_J(H: int, W: int) -> int:
    """Default number of scales for an ``H x W`` image (same as :func:`max_J`)."""
    return max_J(H, W)


#: smallest side (pixels) of an image the scattering statistics take: one scale (J=1)
#: needs the coarsest wavelet to fit 4 times, 2 ** (1 + 2) = 8 pixels (samples of a signal)
MIN_SIDE = 8

#: how messages word a size, by number of axes: its unit, "too ..." and the extent a
#: number of samples is counted along
_SIZE_WORDS = {1: ("samples", "short", ""), 2: ("pixels", "small", " per side")}


def check_number_of_scales(J: object) -> None:
    """Raise a one-line error unless ``J`` (a number of scales) is a positive integer."""
    if not isinstance(J, int) or isinstance(J, bool) or J < 1:
        raise TexsynthError(f"J (number of scales) must be a positive integer, got {J!r}")


def check_scales_for(
    shape: tuple[int, ...], J: int | None, what: str, fix: str, option: str = "J"
) -> None:
    """Raise a one-line error if ``what`` of ``shape`` (one or two axes) is too small for
    the scattering statistics (under :data:`MIN_SIDE` samples along an axis), or for ``J``
    scales (``None``: as many as fit). ``fix`` is the remedy offered, ``option`` the name
    of the number of scales in the caller's words (``"J"``, ``"--J"``, ``"Jmax"``)."""
    jm = max_scales(shape)
    unit, too, extent = _SIZE_WORDS[len(shape)]
    size = "x".join(str(int(n)) for n in reversed(shape))  # width first, as size_text
    if jm < 1:
        least = "x".join([str(MIN_SIDE)] * len(shape))
        raise TexsynthError(
            f"{what} of {size} {unit} is too {too}: the scattering statistics need at least "
            f"{least} {unit}; {fix}"
        )
    if J is not None and jm < J:
        raise TexsynthError(
            f"{what} of {size} {unit} is too {too} for {option}={J} scales: the coarsest scale "
            f"needs at least {2 ** (J + 2)} {unit}{extent}; use {option}<={jm} or {fix}"
        )


def check_J(H: int, W: int, J: int) -> None:
    """Raise a one-line error if ``J`` scales do not fit an ``H x W`` image."""
    check_number_of_scales(J)
    check_scales(H, W, J)


def check_scales(
    H: int,
    W: int,
    J: int | None,
    what: str = "image",
    larger: str = "give a larger image",
    option: str = "J",
) -> None:
    """Raise a one-line error if an ``H x W`` ``what`` is too small for the scattering
    statistics (under :data:`MIN_SIDE` pixels a side), or for ``J`` scales (``None``: as
    many as fit). ``larger`` is the fix offered for a small image, ``option`` the name of
    the number of scales in the caller's words (``"J"``, ``"--J"``, ``"Jmax"``); see
    :func:`check_scales_for`."""
    check_scales_for((H, W), J, what, larger, option)


def grid_shape(H: int, W: int, j: int) -> tuple[int, int]:
    """Shape of the grid on which coefficients of scale ``j`` are computed."""
    h, w = _GRID2.scale_shape((H, W), j)
    return h, w


def crop_spectrum(X: torch.Tensor, shape: tuple[int, int]) -> torch.Tensor:
    """Keep the ``shape`` lowest frequencies of an unshifted 2-D spectrum (last two axes).

    Parameters
    ----------
    X
        Spectrum as returned by ``torch.fft.fft2`` (any leading axes).
    shape
        ``(h, w)`` with ``h <= X.shape[-2]`` and ``w <= X.shape[-1]``.
    """
    return _GRID2.crop(X, shape)


class ComplexFilterCache:
    """Mixin for filter banks: filters promoted to complex once, not at every product."""

    def as_complex(
        self, name: str, tensor: torch.Tensor, scale: float, dtype: torch.dtype
    ) -> torch.Tensor:
        """``tensor * scale`` as a complex tensor of ``dtype`` (real tensors of ``dtype``
        are promoted), cached under ``name``: multiplying a complex spectrum by a real
        filter would otherwise copy the filter to complex on every call."""
        cdtype = dtype if dtype.is_complex else (torch.ones((), dtype=dtype) * 1j).dtype
        key = (name, scale, cdtype, tensor.device)
        cache = self.__dict__.setdefault("_complex_cache", {})
        if key not in cache:
            cache[key] = (tensor.to(cdtype) * scale).contiguous()
        return cache[key]


def _angular_constant(L: int) -> float:
    """Normalisation making ``sum_l A(phi - theta_l)^2 = 1`` for the analytic windows."""
    n = L - 1
    return math.sqrt(4**n / (L * math.comb(2 * n, n)))


def wavelet_spectra(
    H: int, W: int, J: int, L: int, *, dtype: torch.dtype = torch.float64
) -> torch.Tensor:
    """Fourier multipliers of the wavelet bank on the full ``H x W`` frequency grid.

    Returns
    -------
    torch.Tensor
        Real tensor ``[J, L, H, W]`` (unshifted frequency layout, as ``fft2``). Frequencies
        above ``0.8 * pi`` along either axis are smoothly tapered to zero at Nyquist, so
        90-degree rotations map the bank onto itself exactly.
    """
    ky = 2 * math.pi * torch.fft.fftfreq(H, dtype=torch.float64)[:, None]
    kx = 2 * math.pi * torch.fft.fftfreq(W, dtype=torch.float64)[None, :]
    radius = torch.sqrt(kx**2 + ky**2)
    angle = torch.atan2(ky, kx)
    safe_r = torch.where(radius > 0, radius, torch.ones_like(radius))
    c = _angular_constant(L)
    angular = []
    for l in range(L):
        delta = torch.remainder(angle - math.pi * l / L + math.pi, 2 * math.pi) - math.pi
        angular.append(torch.where(delta.abs() < math.pi / 2, torch.cos(delta) ** (L - 1), 0.0))
    log_r = torch.log2(safe_r / XI0)
    radial = []
    for j in range(J):
        t = log_r + j  # log2(r 2^j / XI0)
        radial.append(torch.where((t.abs() < 1) & (radius > 0), torch.cos(math.pi * t / 2), 0.0))
    out = c * torch.stack(radial)[:, None] * torch.stack(angular)[None]  # [J, L, H, W]
    # Smoothly taper the finest band to zero at the Nyquist lines: a sharp cut there would
    # make the j = 0 wavelet ring over ~15 pixels; with the taper it is ~6 pixels wide.
    out *= nyquist_taper(H)[:, None] * nyquist_taper(W)[None, :]
    return out.to(dtype)


def nyquist_taper(n: int, start: float = 0.8) -> torch.Tensor:
    """Per-axis window: 1 below ``start * pi``, cosine-squared down to 0 at ``pi``."""
    k = (2 * math.pi * torch.fft.fftfreq(n, dtype=torch.float64)).abs()
    t = ((k - start * math.pi) / ((1 - start) * math.pi)).clamp(0, 1)
    return torch.cos(math.pi / 2 * t) ** 2


def effective_radius(spectrum: torch.Tensor, grid: PeriodicGrid, fraction: float = 0.99) -> int:
    """Radius (samples, periodic Euclidean distance rounded up) holding ``fraction`` of the
    energy of the filter whose unshifted Fourier multiplier is ``spectrum``."""
    shape = grid.shape(spectrum)
    energy = grid.ifft(spectrum.to(torch.complex128)).abs() ** 2
    d2 = torch.zeros(shape, dtype=torch.float64)
    for axis, n in enumerate(shape):
        d = torch.minimum(torch.arange(n), n - torch.arange(n)).double()
        d2 = d2 + d.reshape(*([1] * axis), n, *([1] * (len(shape) - axis - 1))) ** 2
    ring = torch.sqrt(d2).ceil().long().flatten()  # energy binned by radius
    per_ring = torch.bincount(ring, weights=energy.flatten())
    cum = torch.cumsum(per_ring, 0)
    return int(torch.searchsorted(cum, fraction * cum[-1]))


@dataclass
class WaveletLayer:
    """First-layer results of one batch at every scale, as a wavelet bank computes them for
    the scattering core: ``coef[j]`` the coefficients ``[B, C, L, *grid_j]`` (complex),
    ``modulus[j]`` their moduli, and for Fourier banks the data's spectrum and the moduli's
    spectra on each scale's grid (``None``/empty otherwise)."""

    coef: list[torch.Tensor]
    modulus: list[torch.Tensor]
    spectrum: torch.Tensor | None = None
    mod_spectra: list[torch.Tensor] = field(default_factory=list)


class FourierWaveletBank(ComplexFilterCache, torch.nn.Module):
    """A bank of Fourier-multiplier wavelets on a periodic grid, cropped to each scale's
    grid and kept as non-persistent buffers (so the bank follows ``.to(device)``).

    This is the wavelet-bank interface the scattering statistics use: the first layer at
    scale ``j`` (:meth:`first_layer_filter`), the filter of scale ``j`` on its grid
    (:meth:`filter`) and its Fourier support (:meth:`support`, :meth:`support_in`), plus
    ``grids``, ``radii`` and ``neff``.

    Parameters
    ----------
    spectra
        Real Fourier multipliers ``[J, L, *shape]`` on the full grid (unshifted).
    grid
        The domain (:class:`~texsynth.domains.PeriodicGrid` of ``len(shape)`` axes).

    Attributes
    ----------
    grids
        ``grids[j]``: the grid shape on which scale ``j`` is computed.
    radii
        ``radii[j]``: radius in full-resolution samples holding 99% of the energy of the
        scale-``j`` wavelet (used to erode masks and borders).
    neff
        ``neff[j]``: effective number of independent samples of a spatial mean at scale
        ``j``, ``(sum |psi|^2)^2 / sum |psi|^4`` over frequencies (exact for the variance of
        S2 of a Gaussian field), used by the standard errors of ``calc_var``.
    """

    def __init__(self, spectra: torch.Tensor, grid: PeriodicGrid) -> None:
        super().__init__()
        self.domain = grid
        self.shape = grid.shape(spectra)
        self.J, self.L = spectra.shape[0], spectra.shape[1]
        self.grids = [grid.scale_shape(self.shape, j) for j in range(self.J)]
        self.radii = [effective_radius(spectra[j, 0], grid) for j in range(self.J)]
        sq = spectra**2
        self.neff = [
            float((sq[j].sum(grid.dims) ** 2 / (sq[j] ** 2).sum(grid.dims)).mean())
            for j in range(self.J)
        ]
        size = grid.size(self.shape)
        # filters[j] on the grid of j (first and second layer both use it), and their support
        for j in range(self.J):
            psi = grid.crop(spectra[j], self.grids[j])
            self.register_buffer(f"psi{j}", psi.float(), persistent=False)
            # first-layer filter with the grid change folded in: the inverse transform on
            # the small grid of crop(fft(x)) * this gives x * psi sampled on that grid
            scale = grid.size(self.grids[j]) / size
            self.register_buffer(f"psi_first{j}", (psi * scale).float(), persistent=False)
            flat = grid.flatten(psi)
            nonzero = flat != 0
            K = int(nonzero.sum(-1).max())
            # indices of each orientation's support, padded with index 0 (DC: always zero)
            order = torch.argsort(nonzero.to(torch.int8), dim=-1, descending=True, stable=True)
            idx = torch.where(
                torch.arange(K)[None, :] < nonzero.sum(-1, keepdim=True), order[:, :K], 0
            )
            self.register_buffer(f"support{j}", idx, persistent=False)
            self.register_buffer(
                f"support_psi{j}", torch.gather(flat, 1, idx).float(), persistent=False
            )

    #: the rows of the scattering Gram matrices can be taken in the Fourier domain
    fourier_rows = True

    @property
    def device(self) -> torch.device:
        """Where the filters are."""
        return next(self.buffers()).device

    # ------------------------------------------------------------------ what the core asks
    def first_layer(self, x: torch.Tensor) -> WaveletLayer:
        """Wavelet coefficients of ``x [B, C, *shape]``, their moduli and the moduli's
        spectra on each scale's grid."""
        grid = self.domain
        X = grid.fft(x)
        coef, modulus, spectra = [], [], []
        for j in range(self.J):
            psi = self.as_complex(f"first{j}", self.first_layer_filter(j), 1.0, x.dtype)
            c = grid.ifft(grid.crop(X, self.grids[j])[:, :, None] * psi)  # [B, C, L, *g]
            m = c.abs()
            coef.append(c)
            modulus.append(m)
            spectra.append(grid.fft(m))
        return WaveletLayer(coef, modulus, X, spectra)

    def rows(self, layer: WaveletLayer, j3: int) -> torch.Tensor:
        """Gram rows on grid ``j3``, ``[B, C, L3, A, P]``: ``c_{j3}``, then
        ``|c_{j2}| * psi_{j3}`` for ``j2 = 0..j3`` (``A = 1 + (j3 + 1) L``)."""
        grid = self.domain
        g3 = self.grids[j3]
        dtype = layer.modulus[0].dtype
        rows = [layer.coef[j3][:, :, :, None]]  # [B, C, L3, 1, *g3]
        for j2 in range(j3 + 1):
            scale = grid.size(g3) / grid.size(self.grids[j2])
            psi3 = self.as_complex(f"filter{j3}", self.filter(j3), scale, dtype)
            M = grid.crop(layer.mod_spectra[j2], g3)[:, :, None] * psi3[:, None]
            rows.append(grid.ifft(M))  # [B, C, L3, L2, *g3]
        return grid.flatten(torch.cat(rows, 3))

    def fourier_rows_of(self, layer: WaveletLayer, j3: int) -> torch.Tensor:
        """Gram rows in the Fourier domain, restricted to each wavelet's support.

        ``[B, C, L3, A, K]``, scaled so that ``sum_k a_k conj(b_k)`` is the spatial mean of
        the product of the corresponding fields (Parseval). Each spectrum is read by one
        gather straight into the rows' shape and scaled by the filter broadcast over its
        rows: few operations per pair of scales, which is most of the time on small inputs.
        """
        grid = self.domain
        assert layer.spectrum is not None
        full = grid.shape(layer.spectrum)
        index, factor = self._row_reads(j3, full, layer.modulus[0].dtype)
        # (advanced indexing: on complex CPU tensors ~10x faster than index_select; one
        # product over the concatenated rows with a full [L3, A, K] factor instead of one
        # per piece made the 2-D forward + backward about 5 % slower)
        X = grid.flatten(layer.spectrum)[..., index[0]]  # [B, C, L3, K]
        rows = [(X * factor[0])[:, :, :, None]]  # [B, C, L3, 1, K]
        for m, i, f in zip(layer.mod_spectra[: j3 + 1], index[1:], factor[1:], strict=True):
            M = grid.flatten(m)[..., i]  # [B, C, L2, L3, K]
            rows.append((M * f).transpose(2, 3))  # [B, C, L3, L2, K]
        return torch.cat(rows, 3)

    def _row_reads(
        self, j3: int, full: tuple[int, ...], dtype: torch.dtype
    ) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        """Where :meth:`fourier_rows_of` reads the rows of scale ``j3`` (flat indices
        ``[L3, K]`` into the flattened spectrum, then into each modulus spectrum
        ``j2 <= j3``) and the factors ``[L3, K]`` that scale each of them: the filter on
        its support, over the size of the spectrum's grid."""
        idx, psi = self.support(j3)  # [L3, K]
        key = (j3, tuple(full), dtype, idx.device)
        cache = self.__dict__.setdefault("_row_cache", {})
        if key not in cache:
            grid = self.domain
            index = [self.support_in(j3, full)]
            factor = [self.as_complex(f"support{j3}", psi, 1 / grid.size(full), dtype)]
            for j2 in range(j3 + 1):
                n2 = grid.size(self.grids[j2])
                index.append(self.support_in(j3, self.grids[j2]))
                factor.append(self.as_complex(f"support{j3}", psi, 1 / n2, dtype))
            cache[key] = (index, factor)
        return cache[key]

    # ------------------------------------------------------------------ filters
    def filter(self, j: int) -> torch.Tensor:
        """Fourier multipliers ``[L, *grids[j]]`` of scale ``j`` on that scale's grid."""
        return getattr(self, f"psi{j}")

    def first_layer_filter(self, j: int) -> torch.Tensor:
        """:meth:`filter` times ``size(grids[j]) / size(shape)``, for the first layer on
        grid ``j``."""
        return getattr(self, f"psi_first{j}")

    def support(self, j: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Flat frequency indices ``[L, K]`` where each scale-``j`` filter is non-zero (on
        grid ``j``, padded with the always-zero DC index) and the filter values there."""
        return getattr(self, f"support{j}"), getattr(self, f"support_psi{j}")

    def support_in(self, j: int, shape: tuple[int, ...]) -> torch.Tensor:
        """:meth:`support` indices of scale ``j`` as flat indices into an unshifted spectrum
        of ``shape`` (at least grid ``j``): one gather replaces a crop and a gather."""
        idx = getattr(self, f"support{j}")
        key = (j, tuple(shape), idx.device)
        cache = self.__dict__.setdefault("_support_cache", {})
        if key not in cache:
            lookup = self.domain.flat_frequencies(self.grids[j], tuple(shape), idx.device)
            cache[key] = lookup[idx]
        return cache[key]


class WaveletBank(FourierWaveletBank):
    """Oriented wavelet bank for one image size (:func:`wavelet_spectra`).

    Parameters
    ----------
    H, W
        Image size in pixels.
    J
        Number of dyadic scales (``j = 0`` finest).
    L
        Number of orientations over ``[0, pi)``.
    """

    def __init__(self, H: int, W: int, J: int, L: int) -> None:
        check_J(H, W, J)
        if not isinstance(L, int) or isinstance(L, bool) or L < 1:
            raise TexsynthError(f"L (number of orientations) must be a positive integer, got {L!r}")
        super().__init__(wavelet_spectra(H, W, J, L), _GRID2)
        self.H, self.W = H, W
