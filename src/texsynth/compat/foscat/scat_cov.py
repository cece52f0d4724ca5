"""foscat's ``scat_cov`` module over texsynth: the ``scat_cov`` statistics object and ``funct``.

``funct(...)`` keeps foscat's constructor; ``funct.eval`` computes texsynth's scattering
covariance (:class:`texsynth.ScatteringCovariance`) and returns a :class:`scat_cov` with
foscat's layout (``[B, N_mask, ...]``, foscat's orientation order); ``funct.synthesis`` runs
:func:`texsynth.synthesize` and returns NumPy with foscat's shapes. 2D images
(``use_2D=True``) and 1D signals (``use_1D=True``, on ``texsynth.synthesis.signals``) are
supported; HEALPix maps are not. See ``docs/foscat-compat.md`` for every difference.
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import logging
import numbers
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from ..._checks import size_text
from ...errors import TexsynthError
from ...losses import HistogramLoss, ScatteringLoss, SpectrumLoss, TextureLoss
from ...methods import DEFAULT_POWER_SPECTRUM, scattering_options
from ...pyramid import downsample, level_shape
from ...stats import ScatCov, ScatteringCovariance
from ...stats.scatcov import s3_index, s4_index
from ...synthesis import synthesize
from ...transforms import Gaussianizer, Standardizer, match_histogram
from ...wavelets import max_J
from ._common import (
    FoscatCompatWarning,
    as_tensor,
    check_int,
    device_for,
    dtype_for,
    to_numpy,
    warn_compat,
)

__all__ = ["FoscatCompatWarning", "funct", "scat_cov"]

log = logging.getLogger(__name__)

_FIELDS = ("S0", "S1", "S2", "S3", "S3P", "S4")
_ORIENT_AXES = {"S1": 1, "S2": 1, "S3": 2, "S3P": 2, "S4": 3}


# --------------------------------------------------------------------------- orientations
def _foscat_orientation(s: ScatCov, complex_too: bool = True) -> ScatCov:
    """Reorder texsynth's orientation axes to foscat's convention.

    foscat's orientation ``k`` responds to wave-vectors at angle ``(k + 1) pi / L`` (mod pi)
    from the column axis, texsynth's ``l`` at ``l pi / L``: index ``k`` is texsynth's
    ``(k + 1) mod L`` (every orientation axis is rolled by one). foscat's wavelets for
    ``k < L - 1`` also sit on the opposite frequency half-plane, which conjugates the complex
    coefficients of a real image: S3, S3P and S4 are conjugated where their second-layer
    orientation (the last axis) is ``< L - 1`` (``complex_too``).
    """
    L = s.L
    if s.angular != "full" or L <= 1:
        return s
    flip = torch.arange(L) < L - 1
    kw: dict[str, Any] = {}
    for name, n_axes in _ORIENT_AXES.items():
        t = getattr(s, name)
        if t is None:
            continue
        t = torch.roll(t, shifts=(-1,) * n_axes, dims=tuple(range(-n_axes, 0)))
        if complex_too and t.is_complex() and name != "S1" and name != "S2":
            sign = torch.where(flip, -1.0, 1.0).to(device=t.device, dtype=t.real.dtype)
            t = torch.complex(t.real, t.imag * sign)
        kw[name] = t
    return dataclasses.replace(s, **kw)


def _repeat_iso(iso: ScatCov, L: int) -> dict[str, torch.Tensor | None]:
    """Broadcast ``iso_mean`` results back to full orientation axes (foscat's ``repeat``)."""
    out: dict[str, torch.Tensor | None] = {"S0": iso.S0}
    for name, n_axes in _ORIENT_AXES.items():
        t = getattr(iso, name)
        if t is None:
            out[name] = None
            continue
        a = torch.arange(L, device=t.device)
        if n_axes == 1:
            out[name] = t[..., None].expand(*t.shape, L)
        elif n_axes == 2:  # full[l2, l3] = iso[(l3 - l2) % L]
            out[name] = t[..., (a[None, :] - a[:, None]) % L]
        else:  # full[l1, l2, l3] = iso[(l2 - l1) % L, (l3 - l1) % L]
            i12 = (a[None, :, None] - a[:, None, None]) % L
            i13 = (a[None, None, :] - a[:, None, None]) % L
            out[name] = t[..., i12, i13]
    return out


# --------------------------------------------------------------------------- scat_cov
class scat_cov:  # noqa: N801 (foscat's name)
    """foscat's statistics object: fields ``S0, S1, S2, S3, S4, S3P`` and their reductions.

    Layout (``B`` images, ``N_mask`` masks, ``J`` scales, ``L`` orientations), as foscat::

        S0   [B, N_mask, 2]                 (mean, standard deviation)
        S1   [B, N_mask, J, L]              S2 [B, N_mask, J, L]
        S3   [B, N_mask, J(J+1)/2, L, L]    complex, axes (l2, l3); S3P (cross only) the same
        S4   [B, N_mask, J(J+1)(J+2)/6, L, L, L]   complex, axes (l1, l2, l3), l3 shared

    The fields are torch tensors on the operator's device (NumPy after :meth:`numpy`). The
    constructor keeps foscat's signature; ``J``, ``L``, ``angular`` and ``harmonics``
    (inferred when omitted) describe the orientation axes. :meth:`to_texsynth` gives the
    underlying :class:`texsynth.ScatCov`.
    """

    def __init__(
        self,
        s0: Any,
        s2: Any,
        s3: Any,
        s4: Any,
        s1: Any = None,
        s3p: Any = None,
        backend: Any = None,
        use_1D: bool = False,
        return_data: bool = False,
        *,
        J: int | None = None,
        L: int | None = None,
        angular: str = "full",
        harmonics: tuple[str, ...] = (),
    ) -> None:
        if return_data:
            raise TexsynthError(
                "return_data=True (per-pixel maps) is not supported by texsynth.compat.foscat; "
                "use the spatially averaged statistics"
            )
        self.S0 = s0
        self.S2 = s2
        self.S3 = s3
        self.S4 = s4
        self.S1 = s1
        self.S3P = s3p
        self.backend = backend
        self.idx1 = None
        self.idx2 = None
        self.use_1D = use_1D
        shape = tuple(np.shape(s2))
        self.J = J if J is not None else (shape[2] if len(shape) > 2 else 1)
        if L is None:
            L = shape[3] if angular == "full" and len(shape) > 3 else 1
        self.L = L
        self.angular = angular
        self.harmonics = tuple(harmonics)

    # ------------------------------------------------------------------ conversions
    @classmethod
    def from_texsynth(cls, s: Any, *, use_1D: bool = False, backend: Any = None) -> scat_cov:
        """Wrap a :class:`texsynth.ScatCov` (its tensors are shared, not copied)."""
        return cls(
            s.S0,
            s.S2,
            s.S3,
            s.S4,
            s1=s.S1,
            s3p=s.S3P,
            backend=backend,
            use_1D=use_1D,
            J=getattr(s, "J", None),
            L=getattr(s, "L", None),
            angular=getattr(s, "angular", "full"),
            harmonics=tuple(getattr(s, "harmonics", ())),
        )

    def to_texsynth(self) -> ScatCov:
        """The statistics as a :class:`texsynth.ScatCov` (foscat's orientation order)."""
        kw = {
            n: None if getattr(self, n) is None else torch.as_tensor(getattr(self, n))
            for n in _FIELDS
        }
        return ScatCov(**kw, J=self.J, L=self.L, angular=self.angular, harmonics=self.harmonics)

    def _wrap(self, s: ScatCov) -> scat_cov:
        return scat_cov.from_texsynth(s, use_1D=self.use_1D, backend=self.backend)

    def numpy(self) -> scat_cov:
        """The same statistics with NumPy arrays as fields."""
        return self._map(lambda t: to_numpy(torch.as_tensor(t)))

    def _map(self, fn: Callable[[Any], Any]) -> scat_cov:
        kw = {n: None if getattr(self, n) is None else fn(getattr(self, n)) for n in _FIELDS}
        return scat_cov(
            kw["S0"],
            kw["S2"],
            kw["S3"],
            kw["S4"],
            s1=kw["S1"],
            s3p=kw["S3P"],
            backend=self.backend,
            use_1D=self.use_1D,
            J=self.J,
            L=self.L,
            angular=self.angular,
            harmonics=self.harmonics,
        )

    def get_np(self, x: Any) -> np.ndarray | None:
        """``x`` as a NumPy array (``None`` stays ``None``)."""
        if x is None:
            return None
        return x if isinstance(x, np.ndarray) else to_numpy(torch.as_tensor(x))

    def __repr__(self) -> str:
        shapes = ", ".join(
            f"{n}={tuple(np.shape(getattr(self, n)))}"
            for n in _FIELDS
            if getattr(self, n) is not None
        )
        return f"scat_cov(J={self.J}, L={self.L}, angular={self.angular!r}, {shapes})"

    # ------------------------------------------------------------------ accessors
    def get_S0(self) -> Any:
        return self.S0

    def get_S1(self) -> Any:
        return self.S1

    def get_S2(self) -> Any:
        return self.S2

    def get_S3(self) -> Any:
        return self.S3

    def get_S3P(self) -> Any:
        return self.S3P

    def get_S4(self) -> Any:
        return self.S4

    def reset_S2(self) -> None:
        """Set S2 to zero (as foscat)."""
        self.S2 = 0 * self.S2

    def get_nscale(self) -> int:
        """Number of scales ``J``."""
        return self.J

    def get_norient(self) -> int:
        """Number of orientations ``L``."""
        return self.L

    def get_j_idx(self) -> tuple[np.ndarray, np.ndarray]:
        """Scales ``(j2, j3)`` of each entry of S3's scale axis."""
        idx = np.array(s3_index(self.J), dtype=int).reshape(-1, 2)
        return idx[:, 0], idx[:, 1]

    def get_js4_idx(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Scales ``(j1, j2, j3)`` of each entry of S4's scale axis."""
        idx = np.array(s4_index(self.J), dtype=int).reshape(-1, 3)
        return idx[:, 0], idx[:, 1], idx[:, 2]

    @property
    def numel(self) -> int:
        """Number of coefficients (a complex one counts once)."""
        return sum(
            int(np.prod(np.shape(getattr(self, n))))
            for n in _FIELDS
            if getattr(self, n) is not None
        )

    def flatten(self) -> torch.Tensor:
        """All coefficients as a real ``[B, K]`` tensor (real parts, then imaginary parts)."""
        return self.to_texsynth().flatten()[0]

    def mean(self) -> float:
        """Mean absolute value of all coefficients (foscat's summary number)."""
        total = sum(
            float(np.abs(self.get_np(getattr(self, n))).sum())
            for n in _FIELDS
            if getattr(self, n) is not None
        )
        return total / max(self.numel, 1)

    def std(self) -> float:
        """foscat's summary spread: RMS of the per-statistic standard deviations of ``|S|``."""
        names = [n for n in ("S0", "S1", "S3", "S3P", "S4", "S2") if getattr(self, n) is not None]
        v = sum(float(np.abs(self.get_np(getattr(self, n))).std()) ** 2 for n in names)
        return float(np.sqrt(v / 4))

    # ------------------------------------------------------------------ arithmetic
    def _binary(self, other: Any, op: Callable[[Any, Any], Any]) -> scat_cov:
        a = self.to_texsynth()
        if isinstance(other, scat_cov):
            b: Any = other.to_texsynth()
        elif isinstance(other, numbers.Number) and not isinstance(other, bool):
            b = torch.tensor(other)
        else:
            raise TexsynthError(
                f"cannot combine scat_cov with {type(other).__name__}; use a number or a scat_cov"
            )
        return self._wrap(op(a, b))

    def __add__(self, o: Any) -> scat_cov:
        return self._binary(o, lambda a, b: a + b)

    def __radd__(self, o: Any) -> scat_cov:
        return self._binary(o, lambda a, b: a + b)

    def __sub__(self, o: Any) -> scat_cov:
        return self._binary(o, lambda a, b: a - b)

    def __rsub__(self, o: Any) -> scat_cov:
        return self._binary(o, lambda a, b: -a + b)

    def __mul__(self, o: Any) -> scat_cov:
        return self._binary(o, lambda a, b: a * b)

    def __rmul__(self, o: Any) -> scat_cov:
        return self._binary(o, lambda a, b: a * b)

    def __truediv__(self, o: Any) -> scat_cov:
        return self._binary(o, lambda a, b: a / b)

    def __rtruediv__(self, o: Any) -> scat_cov:
        return self._wrap(self.to_texsynth().map(lambda t: t.reciprocal())) * o

    def __neg__(self) -> scat_cov:
        return self._wrap(-self.to_texsynth())

    def sqrt(self) -> scat_cov:
        """Element-wise square root (complex for complex fields)."""
        return self._wrap(self.to_texsynth().map(torch.sqrt))

    # ------------------------------------------------------------------ orientation reductions
    def iso_mean(self, repeat: bool = False) -> scat_cov:
        """Mean over the absolute orientation, keeping relative orientations.

        S1, S2 ``[..., L]`` -> ``[...]``; S3, S3P ``[..., L, L]`` -> ``[..., L]`` indexed by
        ``l3 - l2 (mod L)``; S4 ``[..., L, L, L]`` -> ``[..., L, L]`` indexed by
        ``(l2 - l1, l3 - l1) (mod L)``. The weight is ``1/L`` for every ``L`` (foscat
        2026.6.1 uses 0.25 for S3, wrong unless ``L = 4``). ``repeat=True`` broadcasts the
        result back to the full shapes.
        """
        iso = self.to_texsynth().iso_mean()
        if not repeat:
            return self._wrap(iso)
        full = dataclasses.replace(iso, **_repeat_iso(iso, self.L), angular="full")
        return self._wrap(full)

    def iso_std(self, repeat: bool = False) -> scat_cov:
        """Standard deviation over the absolute orientation (``sqrt(iso_mean|S - mean|^2)``)."""
        s = self.to_texsynth()
        centred = s - self.iso_mean(repeat=True).to_texsynth()
        var = centred.map(lambda t: t.abs() ** 2 if t.is_complex() else t**2)
        return self._wrap(var).iso_mean(repeat=repeat).sqrt()

    def fft_ang(self, nharm: int = 1, imaginary: bool = False) -> scat_cov:
        """Project the absolute orientation axis onto its first ``nharm`` Fourier harmonics.

        ``nout = 1 + nharm`` (``1 + 2 nharm`` with ``imaginary``): S1, S2 ``[..., L]`` ->
        ``[..., nout]``; S3, S3P ``[..., L, L]`` -> ``[..., L, nout]``; S4 ``[..., L, L, L]``
        -> ``[..., L, L, nout]`` (relative axes as in :meth:`iso_mean`; component 0 equals
        it).
        """
        return self._wrap(self.to_texsynth().fft_ang(check_int(nharm, "nharm", 0), bool(imaginary)))

    def fft_ang_sigma(self, nharm: int = 1, imaginary: bool = False) -> scat_cov:
        """Standard deviations propagated through :meth:`fft_ang`, ``sqrt(sum A^2 sigma^2)``."""
        s = self.to_texsynth()
        return self._wrap(s.fft_ang_sigma(check_int(nharm, "nharm", 0), bool(imaginary)))


# --------------------------------------------------------------------------- funct
def _optional(module: str) -> Any:
    """Import a texsynth module that newer releases have, or raise a one-line error."""
    try:
        return importlib.import_module(module)
    except ImportError:
        raise TexsynthError(
            f"funct(use_1D=True) needs {module}, which this texsynth installation lacks; "
            "upgrade texsynth (pip install -U texsynth)"
        ) from None


def _accepted(fn: Callable[..., Any], kwargs: dict[str, Any]) -> dict[str, Any]:
    """The entries of ``kwargs`` that ``fn`` accepts (all of them if it takes ``**kwargs``)."""
    params = inspect.signature(fn).parameters
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return kwargs
    return {k: v for k, v in kwargs.items() if k in params}


def _changed(value: Any, default: Any) -> bool:
    """Whether an option differs from foscat's default (``None`` defaults: anything given)."""
    if default is None:
        return value is not None
    return not (type(value) is type(default) and value == default)


class funct:  # noqa: N801 (foscat's name)
    """foscat's scattering-covariance operator, computed by texsynth.

    Every foscat 2026.6.1 constructor parameter is accepted. ``NORIENT`` is the number of
    orientations ``L``; ``all_type`` the precision; ``gpupos`` the GPU used when CUDA is
    available (as foscat). ``KERNELSZ``, ``LAMBDA``, ``slope``, ``padding``, ``nstep_max``,
    ``mask_norm``, ``TEMPLATE_PATH``, ``silent``, ``mpi_size`` and ``mpi_rank`` have no
    effect: texsynth's wavelets are exact Fourier-domain filters (``KERNELSZ=3`` with
    ``use_2D=True`` is accepted, unlike foscat). ``use_median``, ``mask_thres``, ``InitWave``,
    ``DODIV``, ``isMPI`` and a ``BACKEND`` other than ``'torch'`` are accepted with a
    :class:`FoscatCompatWarning`; ``return_data=True`` raises. One of ``use_2D`` (images) or
    ``use_1D`` (signals) must be set: HEALPix maps are not supported.
    """

    def __init__(
        self,
        NORIENT: int = 4,
        LAMBDA: float = 1.2,
        KERNELSZ: int = 3,
        slope: float = 1.0,
        all_type: str = "float32",
        nstep_max: int = 20,
        padding: str = "SAME",
        gpupos: int = 0,
        mask_thres: float | None = None,
        mask_norm: bool = False,
        isMPI: bool = False,
        TEMPLATE_PATH: str | None = None,
        BACKEND: str = "torch",
        use_2D: bool = False,
        use_1D: bool = False,
        return_data: bool = False,
        DODIV: bool = False,
        use_median: bool = False,
        InitWave: Any = None,
        silent: bool = True,
        mpi_size: int = 1,
        mpi_rank: int = 0,
    ) -> None:
        if use_2D and use_1D:
            raise TexsynthError("use_2D and use_1D exclude each other; set one of them")
        if not use_2D and not use_1D:
            raise TexsynthError(
                "HEALPix maps (use_2D=False, use_1D=False) are not supported by "
                "texsynth.compat.foscat yet; use use_2D=True for images or use_1D=True for signals"
            )
        if return_data:
            raise TexsynthError(
                "return_data=True (per-pixel maps) is not supported by texsynth.compat.foscat; "
                "use the spatially averaged statistics"
            )
        for name, value, default in (
            ("use_median", use_median, False),
            ("mask_thres", mask_thres, None),
            ("InitWave", InitWave, None),
            ("DODIV", DODIV, False),
            ("isMPI", isMPI, False),
            ("BACKEND", BACKEND, "torch"),
        ):
            if _changed(value, default):
                warn_compat(
                    f"{name}={value!r} has no effect in texsynth.compat.foscat (texsynth has one "
                    "torch implementation, with exact Fourier-domain wavelets); it is ignored"
                )
        self.NORIENT = check_int(NORIENT, "NORIENT", 1)
        self.L = self.NORIENT
        self.LAMBDA = LAMBDA
        self.KERNELSZ = check_int(KERNELSZ, "KERNELSZ", 1)
        self.slope = slope
        self.all_type = all_type
        self.dtype = dtype_for(all_type)
        self.nstep_max = nstep_max
        self.padding = padding
        self.gpupos = gpupos
        self.device = device_for(gpupos)
        self.mask_thres = mask_thres
        self.mask_norm = mask_norm
        self.BACKEND = "torch"
        self.use_2D = bool(use_2D)
        self.use_1D = bool(use_1D)
        self.silent = silent
        self.mpi_size = mpi_size
        self.mpi_rank = mpi_rank
        self._sc: torch.nn.Module | None = None

    # ------------------------------------------------------------------ operator state
    def _operator(self) -> torch.nn.Module:
        """The texsynth statistics module (built on first use, holds the ``'auto'`` cache)."""
        if self._sc is None:
            if self.use_1D:
                mod = _optional("texsynth.stats.scattering1d")
                cls = mod.ScatteringCovariance1D
                self._sc = cls(**_accepted(cls, {"J": None}))
            else:
                self._sc = ScatteringCovariance(J=None, L=self.NORIENT)
            self._sc.to(self.device)
        return self._sc

    def clean_norm(self) -> None:
        """Forget the reference S2 cached by ``norm='auto'``."""
        if self._sc is not None:
            self._sc.reset_norm()

    def to_numpy(self, x: Any) -> np.ndarray:
        """``x`` (tensor or array) as a NumPy array."""
        return x if isinstance(x, np.ndarray) else to_numpy(torch.as_tensor(x))

    # ------------------------------------------------------------------ inputs
    def _data(self, x: Any, name: str) -> tuple[torch.Tensor, bool]:
        """``[B, H, W]`` images (or ``[B, N]`` signals) and whether the input had no batch axis."""
        t = as_tensor(x, name, self.dtype, self.device)
        if self.use_1D:
            if t.dim() not in (1, 2):
                raise TexsynthError(
                    f"{name} must be a signal (N,) or a batch (B, N) for a 1D operator "
                    f"(use_1D=True), got shape {tuple(t.shape)}"
                )
            return (t[None] if t.dim() == 1 else t), t.dim() == 1
        if t.dim() == 1:
            raise TexsynthError(
                f"{name} of shape {tuple(t.shape)} is 1D but this operator is 2D (use_2D=True); "
                "use scat_cov1D.funct for signals, or pass an (H, W) image"
            )
        if t.dim() not in (2, 3):
            raise TexsynthError(
                f"{name} must be an image (H, W) or a batch (B, H, W), got shape {tuple(t.shape)}"
            )
        return (t[None] if t.dim() == 2 else t), t.dim() == 2

    @staticmethod
    def _healpix_only(**values: Any) -> None:
        for name, value in values.items():
            if value is not None and not (name == "spin" and value == 0):
                raise TexsynthError(
                    f"{name}={value!r} is a HEALPix option; HEALPix maps are not supported by "
                    "texsynth.compat.foscat yet"
                )

    # ------------------------------------------------------------------ eval
    def eval(
        self,
        image1: Any,
        image2: Any = None,
        mask: Any = None,
        norm: str | None = None,
        calc_var: bool = False,
        cmat: Any = None,
        cmat2: Any = None,
        Jmax: int | None = None,
        out_nside: int | None = None,
        edge: bool = True,
        nside: int | None = None,
        cell_ids: Any = None,
        spin: int = 0,
    ) -> scat_cov | tuple[scat_cov, scat_cov]:
        """Scattering covariance of ``image1`` (cross statistics with ``image2``).

        Parameters
        ----------
        image1, image2
            ``(H, W)`` or ``(B, H, W)`` images (``(N,)`` or ``(B, N)`` with ``use_1D``),
            NumPy or torch (autograd flows through).
        mask
            ``(N_mask, H, W)`` (or ``(H, W)``) non-negative weights; each mask gives its own
            statistics along axis 1 of the results.
        norm
            ``None`` (raw), ``'auto'`` (divide by the S2 of the first call after
            :meth:`clean_norm`) or ``'self'`` (by this image's own S2).
        calc_var
            Also return the standard errors of the coefficients, as a second ``scat_cov``.
        Jmax
            Number of scales (default: as many as the size allows).
        edge
            Non-periodic images (default, as foscat): reflect padding, and coefficients near
            the border are left out of the means. ``False``: periodic.
        cmat, cmat2, out_nside, nside, cell_ids, spin
            HEALPix options: ``cmat``/``cmat2`` are ignored (with a warning), the others raise.

        Returns
        -------
        scat_cov or (scat_cov, scat_cov)
            The statistics in foscat's layout (see :class:`scat_cov`), and their standard
            errors with ``calc_var``.
        """
        self._healpix_only(out_nside=out_nside, nside=nside, cell_ids=cell_ids, spin=spin)
        if cmat is not None or cmat2 is not None:
            warn_compat(
                "cmat/cmat2 (HEALPix orientation matrices) have no effect on images; ignored"
            )
        if norm not in (None, "auto", "self"):
            raise TexsynthError(f"norm must be None, 'auto' or 'self', got {norm!r}")
        x, _ = self._data(image1, "image1")
        y = None
        if image2 is not None:
            y, _ = self._data(image2, "image2")
            if y.shape != x.shape:
                raise TexsynthError(
                    f"image2 has shape {tuple(y.shape)} but image1 has {tuple(x.shape)}; "
                    "cross statistics need arrays of the same shape"
                )
        m = self._eval_mask(mask, tuple(x.shape[1:]))
        n_mask = 1 if m is None else m.shape[1]
        xb = x[:, None].expand(-1, n_mask, *x.shape[1:])
        yb = None if y is None else y[:, None].expand(-1, n_mask, *y.shape[1:])
        op = self._operator()
        kwargs = dict(mask=m, norm=norm, calc_var=bool(calc_var), Jmax=Jmax, edge=bool(edge))
        if self.use_1D:
            kwargs = _accepted(op.forward, kwargs)
        out = op(xb, yb, **kwargs)
        if calc_var:
            stats, sigma = out
            return self._wrap(stats), self._wrap(sigma, complex_too=False)
        return self._wrap(out)

    def _wrap(self, s: Any, complex_too: bool = True) -> scat_cov:
        if self.use_1D:
            return scat_cov.from_texsynth(s, use_1D=True)
        return scat_cov.from_texsynth(_foscat_orientation(s, complex_too))

    def _eval_mask(self, mask: Any, spatial: tuple[int, ...]) -> torch.Tensor | None:
        """foscat's ``(N_mask, *spatial)`` mask as ``[1, N_mask, *spatial]`` weights in [0, 1]."""
        if mask is None:
            return None
        m = as_tensor(mask, "mask", self.dtype, self.device)
        if m.dim() == len(spatial):
            m = m[None]
        if m.dim() != len(spatial) + 1 or tuple(m.shape[1:]) != spatial:
            raise TexsynthError(
                f"mask must have shape (N_mask, {', '.join(map(str, spatial))}), "
                f"got {tuple(m.shape)}"
            )
        if bool((m < 0).any()):
            raise TexsynthError("mask weights must be non-negative")
        peak = m.flatten(1).amax(1)
        if bool((peak <= 0).any()):
            raise TexsynthError("a mask excludes every pixel; each mask needs some weight > 0")
        # foscat's weights may exceed 1; a weighted mean does not depend on their scale
        m = m / peak.reshape(-1, *([1] * len(spatial)))
        return m[None]

    # ------------------------------------------------------------------ distances and batches
    def reduce_distance(
        self, x: scat_cov, y: scat_cov, sigma: scat_cov | None = None
    ) -> torch.Tensor:
        """``mean_k |y_k - x_k|^2 / sigma_k^2`` over all coefficients (complex ones count once)."""
        a, b = x.to_texsynth(), y.to_texsynth()
        s = None if sigma is None else sigma.to_texsynth()
        return a.distance(b, s).mean()

    def reduce_mean_batch(self, x: scat_cov | Any) -> scat_cov | Any:
        """Mean over the batch axis (kept with size 1; foscat drops it)."""
        if isinstance(x, scat_cov):
            return x._wrap(x.to_texsynth().mean_batch())
        return torch.as_tensor(x).mean(0)

    def reduce_mean(self, x: scat_cov | Any) -> torch.Tensor:
        """Mean of every coefficient (a complex one counts once)."""
        if isinstance(x, scat_cov):
            s = x.to_texsynth()
            total = sum(t.sum() for _, t in s.fields())
            return total / x.numel
        return torch.as_tensor(x).mean()

    # ------------------------------------------------------------------ synthesis
    def synthesis(
        self,
        image_target: Any,
        reference: Any = None,
        nstep: int = 4,
        seed: int = 1234,
        Jmax: int | None = None,
        edge: bool = False,
        to_gaussian: bool = False,
        use_variance: bool = True,
        synthesised_N: int = 1,
        input_image: Any = None,
        grd_mask: Any = None,
        in_mask: Any = None,
        iso_ang: bool = False,
        fft_ang: bool = False,
        fft_nharm: int = 1,
        fft_imaginary: bool = True,
        EVAL_FREQUENCY: int = 100,
        NUM_EPOCHS: int = 300,
        scat_cov_method: str = "eval",
        n_up: int = 0,
    ) -> np.ndarray:
        """Synthesise fields whose scattering covariance matches ``image_target``'s.

        Runs :func:`texsynth.synthesize` (1D: ``texsynth.synthesis.synthesize_1d``).
        ``nstep`` -> ``levels`` (capped so the coarsest level keeps one scale), ``NUM_EPOCHS``
        -> ``steps`` (the coarsest level's budget; finer levels get fewer),
        ``synthesised_N`` -> ``n``, ``grd_mask`` -> ``mask`` (pixels with 0 are kept from
        ``image_target``, exactly), ``input_image`` -> ``init``, ``edge=True`` (or an
        ``in_mask``) -> ``tile=False``, ``Jmax`` -> ``J``; ``seed``, ``in_mask``,
        ``reference``, ``to_gaussian``, ``use_variance``, ``iso_ang``, ``fft_ang``,
        ``fft_nharm``, ``fft_imaginary`` and ``n_up`` keep their names. A loss line is
        printed every ``EVAL_FREQUENCY`` iterations (``<= 0``: never). The output keeps the
        target's units (standardise it first, as foscat asks).

        A batch ``(B, H, W)`` of targets is matched, as foscat, through the mean of their
        statistics.

        Returns
        -------
        numpy.ndarray
            float64, ``image_target.shape`` for one output (``synthesised_N=1``) of a single
            ``(H, W)`` target, else ``(synthesised_N, H, W)``; spatial sizes times
            ``2**n_up``.
        """
        if scat_cov_method != "eval":
            warn_compat(
                f"scat_cov_method={scat_cov_method!r} selects foscat's legacy statistics; "
                "texsynth has one implementation, used whatever this says"
            )
        if iso_ang and fft_ang:
            raise TexsynthError("iso_ang and fft_ang cannot be combined; choose one")
        nstep = check_int(nstep, "nstep", 0)
        n = check_int(synthesised_N, "synthesised_N", 1)
        steps = check_int(NUM_EPOCHS, "NUM_EPOCHS", 1)
        n_up = check_int(n_up, "n_up", 0)
        if not isinstance(EVAL_FREQUENCY, numbers.Integral) or isinstance(EVAL_FREQUENCY, bool):
            raise TexsynthError(f"EVAL_FREQUENCY must be an integer, got {EVAL_FREQUENCY!r}")
        if seed is not None:
            seed = check_int(seed, "seed", 0)
        printer = _Printer(int(EVAL_FREQUENCY))
        start = time.perf_counter()
        if self.use_1D:
            out = self._synthesis_1d(
                image_target, reference, nstep, seed, Jmax, edge, to_gaussian, use_variance,
                n, input_image, grd_mask, in_mask, steps, n_up, printer,
            )  # fmt: skip
        else:
            out = self._synthesis_2d(
                image_target, reference, nstep, seed, Jmax, edge, to_gaussian, use_variance,
                n, input_image, grd_mask, in_mask, iso_ang, fft_ang, fft_nharm, fft_imaginary,
                steps, n_up, printer,
            )  # fmt: skip
        if printer.every > 0:
            print(f"Total computation {time.perf_counter() - start:.2f}s")
        return out

    def _levels(self, nstep: int, n_up: int, J: int) -> int:
        levels = max(1, min(nstep + n_up, J))
        if levels != nstep + n_up:
            log.info("nstep=%d (n_up=%d) capped to %d levels (J=%d scales)", nstep, n_up, levels, J)
        return levels

    def _synthesis_2d(
        self,
        image_target: Any,
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
        printer: _Printer,
    ) -> np.ndarray:
        target, single = self._data(image_target, "image_target")
        B, H, W = target.shape
        jm = max_J(H, W)
        if jm < 1:
            raise TexsynthError(
                f"image_target of {size_text(H, W)} pixels is too small: synthesis needs at least "
                "8x8 pixels"
            )
        J = jm if Jmax is None else check_int(Jmax, "Jmax", 1)
        if J > jm:
            raise TexsynthError(
                f"Jmax={J} is more scales than a {size_text(H, W)} image_target supports; use "
                f"Jmax<={jm}"
            )
        levels = self._levels(nstep, n_up, J)
        size = (H * 2**n_up, W * 2**n_up)
        inm = self._plane(in_mask, "in_mask", (H, W), B)
        gmask = self._plane(grd_mask, "grd_mask", (H, W), 1)
        init = self._init(input_image, (H, W), n)
        ref = self._plane(reference, "reference", (H, W), 1)
        if gmask is not None:
            if B > 1:
                raise TexsynthError(
                    f"grd_mask (inpainting) needs a single image_target (H, W), got a batch of {B}"
                )
            if n_up > 0:
                raise TexsynthError("grd_mask (inpainting) cannot be combined with n_up > 0")
            if init is not None:
                warn_compat(
                    "with grd_mask, input_image is not used: the free pixels start from noise "
                    "and the others keep image_target's values"
                )
            init = target[None]  # frozen pixels: image_target's values, exactly
        if ref is not None and (n_up > 0 or B > 1):
            raise TexsynthError(
                "reference (cross-synthesis) needs one image_target of the reference's size "
                "(no batch, n_up=0)"
            )
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
            L=self.NORIENT,
            use_variance=bool(use_variance),
            iso_ang=bool(iso_ang),
            fft_ang=bool(fft_ang),
            fft_nharm=check_int(fft_nharm, "fft_nharm", 0),
            fft_imaginary=bool(fft_imaginary),
            to_gaussian=bool(to_gaussian),
            reference=ref,
            device=self.device,
            dtype=self.dtype,
            progress=False,
            callback=printer,
        )
        with torch.no_grad():
            if B == 1:
                out = synthesize(target[:1], **options)
            else:
                out = _synthesize_batch(target, options)
        assert isinstance(out, torch.Tensor)
        result = to_numpy(out[:, 0]).astype(np.float64)
        return result[0] if single and n == 1 else result

    def _plane(
        self, value: Any, name: str, spatial: tuple[int, ...], batch: int
    ) -> torch.Tensor | None:
        """A per-pixel array ``(*spatial)`` or ``(1|batch, *spatial)`` as ``[1|batch, 1, ...]``."""
        if value is None:
            return None
        t = as_tensor(value, name, self.dtype, self.device)
        if t.dim() == len(spatial):
            t = t[None]
        if (
            t.dim() != len(spatial) + 1
            or tuple(t.shape[1:]) != spatial
            or t.shape[0] not in (1, batch)
        ):
            dims = ", ".join(map(str, spatial))
            raise TexsynthError(
                f"{name} must have image_target's shape ({dims}) or (1, {dims}), "
                f"got {tuple(t.shape)}"
            )
        return t[:, None]

    def _init(self, input_image: Any, spatial: tuple[int, ...], n: int) -> torch.Tensor | None:
        """``input_image`` ``(*spatial)``, ``(1|n, *spatial)`` as ``[1|n, 1, *spatial]``."""
        if input_image is None:
            return None
        t = as_tensor(input_image, "input_image", self.dtype, self.device)
        if t.dim() == len(spatial):
            t = t[None]
        if t.dim() != len(spatial) + 1 or t.shape[0] not in (1, n):
            raise TexsynthError(
                f"input_image must have image_target's shape or (synthesised_N={n}, ...), got "
                f"{tuple(t.shape)}"
            )
        return t[:, None]

    def _synthesis_1d(
        self,
        image_target: Any,
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
        printer: _Printer,
    ) -> np.ndarray:
        mod = _optional("texsynth.synthesis.signals")
        wav = _optional("texsynth.wavelets1d")
        target, single = self._data(image_target, "image_target")
        B, N = target.shape
        jm = wav.max_J_1d(N)
        if jm < 1:
            raise TexsynthError(
                f"image_target of {N} samples is too short: synthesis needs at least 8 samples"
            )
        J = jm if Jmax is None else check_int(Jmax, "Jmax", 1)
        if J > jm:
            raise TexsynthError(
                f"Jmax={J} is more scales than a signal of {N} samples supports; use Jmax<={jm}"
            )
        inm = self._plane(in_mask, "in_mask", (N,), B)
        gmask = self._plane(grd_mask, "grd_mask", (N,), 1)
        init = self._init(input_image, (N,), n)
        ref = self._plane(reference, "reference", (N,), 1)
        if gmask is not None:
            if n_up > 0 or B > 1:
                raise TexsynthError("grd_mask (inpainting) needs one image_target and n_up=0")
            init = target[None]
        options: dict[str, Any] = dict(
            size=N * 2**n_up,
            n=n,
            seed=seed,
            steps=steps,
            levels=self._levels(nstep, n_up, J),
            # (cross statistics align the output with the reference pixel by pixel)
            tile=ref is not None or not (edge or inm is not None),
            mask=gmask,
            in_mask=inm,
            init=init,
            J=J,
            use_variance=bool(use_variance),
            to_gaussian=bool(to_gaussian),
            reference=ref,
            device=self.device,
            dtype=self.dtype,
            progress=False,
            callback=printer,
        )
        signal = target[None] if B == 1 else target[:, None]  # [C=1, N] or [B, 1, N]
        with torch.no_grad():
            out = mod.synthesize_1d(signal, **_accepted(mod.synthesize_1d, options))
        result = to_numpy(out[:, 0]).astype(np.float64)  # [n, N_out]
        return result[0] if single and n == 1 else result


class _Printer:
    """foscat-style progress lines through :func:`texsynth.synthesize`'s ``callback``."""

    def __init__(self, every: int) -> None:
        self.every = every
        self.level = -1
        self.tic = time.perf_counter()

    def __call__(self, level: int, iteration: int, loss: float, x: torch.Tensor) -> bool:
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


# --------------------------------------------------------------------------- batch of targets
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


#: flag -> (module, dimension, data it is for)
_GEOMETRIES = {
    "use_1D": ("scat_cov1D", "1D", "1D signals"),
    "use_2D": ("scat_cov2D", "2D", "images"),
}


def geometry_options(flag: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
    """:class:`funct`'s arguments, by name, for the operator of the module of one geometry
    (``flag``: ``"use_1D"`` or ``"use_2D"``), which sets ``flag`` and refuses the other."""
    module, dim, _ = _GEOMETRIES[flag]
    other = "use_2D" if flag == "use_1D" else "use_1D"
    other_module, _, other_data = _GEOMETRIES[other]
    try:
        bound = inspect.signature(funct.__init__).bind_partial(None, *args, **kwargs)
    except TypeError as err:
        raise TexsynthError(f"{module}.funct: {err}") from None
    options = dict(bound.arguments)
    options.pop("self")
    if options.get(other):
        raise TexsynthError(
            f"{module}.funct is the {dim} operator; use {other_module}.funct for {other_data}"
        )
    if options.get(flag, True) is False:
        raise TexsynthError(
            f"{module}.funct is the {dim} operator ({flag}=True); use scat_cov.funct for "
            "other geometries"
        )
    options[flag] = True
    return options
