"""foscat's statistics object, ``scat_cov``, over :class:`texsynth.ScatCov`.

The fields ``S0, S1, S2, S3, S3P, S4`` in foscat's layout (``[B, N_mask, ...]``), their
arithmetic and orientation reductions (``iso_mean``, ``iso_std``, ``fft_ang``), and the
conversion of texsynth's orientation order to foscat's (:func:`foscat_orientation`).
``docs/foscat-compat.md`` lists every difference with foscat 2026.6.1.
"""

from __future__ import annotations

import dataclasses
import numbers
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from ...errors import TexsynthError
from ...stats import ScatCov
from ...stats.scatcov import s3_index, s4_index
from ._common import check_int, to_numpy

__all__ = ["foscat_orientation", "scat_cov"]

_FIELDS = ("S0", "S1", "S2", "S3", "S3P", "S4")
_ORIENT_AXES = {"S1": 1, "S2": 1, "S3": 2, "S3P": 2, "S4": 3}


def foscat_orientation(s: ScatCov, complex_too: bool = True) -> ScatCov:
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


def _repeat_iso(iso: ScatCov, L: int) -> dict[str, Any]:
    """Broadcast ``iso_mean`` results back to full orientation axes (foscat's ``repeat``):
    the statistics (tensors or None) by field name, keyword arguments of ``replace``."""
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


def _numpy(x: Any) -> np.ndarray:
    """``x`` (a tensor, array or nested sequence) as a NumPy array."""
    return x if isinstance(x, np.ndarray) else to_numpy(torch.as_tensor(x))


class scat_cov:  # noqa: N801 (foscat's name)
    """foscat's statistics object: fields ``S0, S1, S2, S3, S4, S3P`` and their reductions.

    Layout (``B`` images, ``N_mask`` masks, ``J`` scales, ``L`` orientations), as foscat::

        S0   [B, N_mask, 2]                 (mean, standard deviation)
        S1   [B, N_mask, J, L]              S2 [B, N_mask, J, L]
        S3   [B, N_mask, J(J+1)/2, L, L]    complex, axes (l2, l3); S3P (cross only) the same
        S4   [B, N_mask, J(J+1)(J+2)/6, L, L, L]   complex, axes (l1, l2, l3), l3 shared

    Spin-2 maps (``eval(..., spin=2)``) have one more axis, ``fields``, after ``N_mask``:
    ``S1 [B, N_mask, F, J, L]`` and so on, ``F`` polarisation fields (one complex channel
    ``Q + i U`` each, where foscat has an (E, B) pair: docs/foscat-compat.md).

    The fields are torch tensors on the operator's device (NumPy after :meth:`numpy`). The
    constructor keeps foscat's signature; ``J``, ``L``, ``angular`` and ``harmonics``
    (inferred when omitted) describe the orientation axes, ``fields`` the size of the field
    axis of spin-2 statistics (``None``: no such axis). :meth:`to_texsynth` gives the
    underlying :class:`texsynth.ScatCov` (the mask and field axes merged into its channels,
    mask-major).
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
        fields: int | None = None,
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
        self.fields = fields
        shape = tuple(np.shape(s2))
        if fields is not None:  # (B, N_mask, F, J, L): the field axis out of the way
            shape = shape[:2] + shape[3:]
        self.J = J if J is not None else (shape[2] if len(shape) > 2 else 1)
        if L is None:
            L = shape[3] if angular == "full" and len(shape) > 3 else 1
        self.L = L
        self.angular = angular
        self.harmonics = tuple(harmonics)

    # ------------------------------------------------------------------ conversions
    @classmethod
    def from_texsynth(
        cls, s: Any, *, use_1D: bool = False, backend: Any = None, fields: int | None = None
    ) -> scat_cov:
        """Wrap a :class:`texsynth.ScatCov` (its tensors are shared, not copied). With
        ``fields``, its channels ``N_mask * fields`` (mask-major) are split into the mask and
        field axes of spin-2 statistics."""

        def split(t: Any) -> Any:
            if fields is None or t is None:
                return t
            return t.unflatten(1, (-1, fields))

        return cls(
            split(s.S0),
            split(s.S2),
            split(s.S3),
            split(s.S4),
            s1=split(s.S1),
            s3p=split(s.S3P),
            backend=backend,
            use_1D=use_1D,
            J=getattr(s, "J", None),
            L=getattr(s, "L", None),
            angular=getattr(s, "angular", "full"),
            harmonics=tuple(getattr(s, "harmonics", ())),
            fields=fields,
        )

    def to_texsynth(self) -> ScatCov:
        """The statistics as a :class:`texsynth.ScatCov` (foscat's orientation order; spin-2
        statistics with their mask and field axes merged into its channels)."""
        kw: dict[str, Any] = {}
        for n in _FIELDS:
            t = getattr(self, n)
            if t is not None:
                t = torch.as_tensor(t)
                if self.fields is not None:
                    t = t.flatten(1, 2)
            kw[n] = t
        return ScatCov(**kw, J=self.J, L=self.L, angular=self.angular, harmonics=self.harmonics)

    def _wrap(self, s: ScatCov) -> scat_cov:
        return scat_cov.from_texsynth(
            s, use_1D=self.use_1D, backend=self.backend, fields=self.fields
        )

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
            fields=self.fields,
        )

    def get_np(self, x: Any) -> np.ndarray | None:
        """``x`` as a NumPy array (``None`` stays ``None``)."""
        return None if x is None else _numpy(x)

    def __repr__(self) -> str:
        shapes = ", ".join(
            f"{n}={tuple(np.shape(getattr(self, n)))}"
            for n in _FIELDS
            if getattr(self, n) is not None
        )
        spin = "" if self.fields is None else f", fields={self.fields}"
        return f"scat_cov(J={self.J}, L={self.L}, angular={self.angular!r}{spin}, {shapes})"

    # ------------------------------------------------------------------ accessors
    def get_S0(self) -> Any:
        """The ``S0`` statistics (foscat's accessor)."""
        return self.S0

    def get_S1(self) -> Any:
        """The ``S1`` statistics (foscat's accessor)."""
        return self.S1

    def get_S2(self) -> Any:
        """The ``S2`` statistics (foscat's accessor)."""
        return self.S2

    def get_S3(self) -> Any:
        """The ``S3`` statistics (foscat's accessor)."""
        return self.S3

    def get_S3P(self) -> Any:
        """The ``S3P`` statistics (foscat's accessor)."""
        return self.S3P

    def get_S4(self) -> Any:
        """The ``S4`` statistics (foscat's accessor)."""
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
            float(np.abs(_numpy(getattr(self, n))).sum())
            for n in _FIELDS
            if getattr(self, n) is not None
        )
        return total / max(self.numel, 1)

    def std(self) -> float:
        """foscat's summary spread: RMS of the per-statistic standard deviations of ``|S|``."""
        names = [n for n in ("S0", "S1", "S3", "S3P", "S4", "S2") if getattr(self, n) is not None]
        v = sum(float(np.abs(_numpy(getattr(self, n))).std()) ** 2 for n in names)
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
