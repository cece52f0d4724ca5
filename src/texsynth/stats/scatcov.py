"""The ``ScatCov`` container: scattering-covariance statistics with their own index.

Shapes (``B`` images, ``C`` channels, ``J`` scales, ``L`` orientations)::

    S0   [B, C, 2]                 real     (mean, standard deviation)
    S1   [B, C, J, L]              real     <|x * psi_{j,l}|>
    S2   [B, C, J, L]              real     <|x * psi_{j,l}|^2>
    S3   [B, C, NS3, L, L]         complex  scale pairs (j2 <= j3), axes (l2, l3)
    S3P  [B, C, NS3, L, L]         complex  (cross statistics only)
    S4   [B, C, NS4, L, L, L]      complex  scale triples (j1 <= j2 <= j3), axes (l1, l2, l3)

``NS3 = J(J+1)/2`` pairs ordered j3 outer, then j2; ``NS4 = J(J+1)(J+2)/6`` triples
ordered j3, then j2, then j1 (the order of foscat's ``scat_cov``). :meth:`ScatCov.iso_mean` and
:meth:`ScatCov.fft_ang` reduce the orientation axes as foscat documents.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import torch

from ..errors import TexsynthError

__all__ = ["ScatCov", "s3_index", "s4_index"]

_FIELDS = ("S0", "S1", "S2", "S3", "S3P", "S4")


def s3_index(J: int) -> list[tuple[int, int]]:
    """Scale pairs ``(j2, j3)`` of S3, in storage order."""
    return [(j2, j3) for j3 in range(J) for j2 in range(j3 + 1)]


def s4_index(J: int) -> list[tuple[int, int, int]]:
    """Scale triples ``(j1, j2, j3)`` of S4, in storage order."""
    return [(j1, j2, j3) for j3 in range(J) for j2 in range(j3 + 1) for j1 in range(j2 + 1)]


def _angular_basis(L: int, nharm: int, imaginary: bool, dtype: torch.dtype) -> torch.Tensor:
    """Projection basis ``[L, nout]``: ``1/L``, then ``cos(2 pi h l / L)`` (and ``sin``)."""
    if not isinstance(nharm, int) or nharm < 0:
        raise TexsynthError(f"nharm must be a non-negative integer, got {nharm!r}")
    l = torch.arange(L, dtype=torch.float64)
    cols = [torch.full((L,), 1.0 / L, dtype=torch.float64)]
    for h in range(1, nharm + 1):
        cols.append(torch.cos(2 * math.pi * h * l / L))
        if imaginary:
            cols.append(torch.sin(2 * math.pi * h * l / L))
    return torch.stack(cols, 1).to(dtype)


def _relative(t: torch.Tensor, n_axes: int) -> torch.Tensor:
    """Re-index the last ``n_axes`` orientation axes to (l1, l2 - l1, l3 - l1, ...) mod L."""
    L = t.shape[-1]
    l1 = torch.arange(L, device=t.device)
    if n_axes == 2:
        idx = (l1[:, None] + torch.arange(L, device=t.device)[None, :]) % L  # [l1, d]
        return torch.gather(t, -1, idx.expand(*t.shape[:-2], L, L))
    if n_axes == 3:
        d = torch.arange(L, device=t.device)
        i2 = (l1[:, None, None] + d[None, :, None]) % L  # [l1, d12, d13]
        i3 = (l1[:, None, None] + d[None, None, :]) % L
        return t[..., l1[:, None, None], i2, i3]
    raise AssertionError(n_axes)


def _project(t: torch.Tensor, n_axes: int, basis: torch.Tensor) -> torch.Tensor:
    """Project the absolute orientation axis onto ``basis``; keep relative axes.

    ``[..., L]`` -> ``[..., nout]``; ``[..., L, L]`` -> ``[..., L, nout]``;
    ``[..., L, L, L]`` -> ``[..., L, L, nout]``.
    """
    basis = basis.to(device=t.device, dtype=t.real.dtype if t.is_complex() else t.dtype)
    if t.is_complex():
        basis = basis.to(t.dtype)
    if n_axes == 1:
        return t @ basis
    r = _relative(t, n_axes)  # [..., l1, rel...]
    r = r.movedim(-n_axes, -1)  # [..., rel..., l1]
    return r @ basis


@dataclass
class ScatCov:
    """Scattering-covariance statistics of a batch of images (see module docstring).

    Attributes
    ----------
    S0, S1, S2, S3, S4, S3P
        The statistics; ``S3P`` is ``None`` for auto statistics.
    J, L
        Number of scales and orientations they were computed with.
    angular
        ``"full"`` (orientation axes as computed), ``"iso"`` after :meth:`iso_mean`, or
        ``"fft"`` after :meth:`fft_ang`.
    harmonics
        Names of the harmonic components after :meth:`fft_ang` (e.g. ``("dc", "cos1",
        "sin1")``); empty otherwise.
    """

    S0: torch.Tensor
    S1: torch.Tensor
    S2: torch.Tensor
    S3: torch.Tensor
    S4: torch.Tensor
    S3P: torch.Tensor | None = None
    J: int = 0
    L: int = 0
    angular: str = "full"
    harmonics: tuple[str, ...] = ()

    # ------------------------------------------------------------------ basic access
    def fields(self) -> Iterator[tuple[str, torch.Tensor]]:
        """Yield ``(name, tensor)`` for every statistic that is present."""
        for name in _FIELDS:
            value = getattr(self, name)
            if value is not None:
                yield name, value

    @property
    def batch_size(self) -> int:
        """Number of images ``B``."""
        return self.S0.shape[0]

    @property
    def channels(self) -> int:
        """Number of channels ``C``."""
        return self.S0.shape[1]

    def _with_stats(
        self,
        stats: Mapping[str, torch.Tensor | None],
        *,
        angular: str | None = None,
        harmonics: tuple[str, ...] | None = None,
    ) -> ScatCov:
        """A copy with the statistics named in ``stats`` replaced (the others kept) and,
        where given, new ``angular`` and ``harmonics``; only ``S3P`` may be ``None``."""

        def stat(name: str) -> torch.Tensor:
            value = stats.get(name, getattr(self, name))
            if value is None:
                raise TexsynthError(f"ScatCov needs a {name} tensor; only S3P may be None")
            return value

        return dataclasses.replace(
            self,
            S0=stat("S0"),
            S1=stat("S1"),
            S2=stat("S2"),
            S3=stat("S3"),
            S4=stat("S4"),
            S3P=stats.get("S3P", self.S3P),
            angular=self.angular if angular is None else angular,
            harmonics=self.harmonics if harmonics is None else harmonics,
        )

    def map(self, fn: Callable[[torch.Tensor], torch.Tensor]) -> ScatCov:
        """Apply ``fn`` to every statistic tensor; ``None`` stays ``None``."""
        kw: dict[str, torch.Tensor | None] = {}
        for name in _FIELDS:
            value = getattr(self, name)
            kw[name] = None if value is None else fn(value)
        return self._with_stats(kw)

    def detach(self) -> ScatCov:
        """Statistics detached from the autograd graph."""
        return self.map(torch.Tensor.detach)

    def to(self, *args: Any, **kwargs: Any) -> ScatCov:
        """Move/cast every statistic like :meth:`torch.Tensor.to` (complex stay complex)."""

        def move(t: torch.Tensor) -> torch.Tensor:
            if t.is_complex():
                dev = [a for a in args if not isinstance(a, torch.dtype)]
                return t.to(*dev, **{k: v for k, v in kwargs.items() if k != "dtype"})
            return t.to(*args, **kwargs)

        return self.map(move)

    def mean_batch(self) -> ScatCov:
        """Mean over the batch axis, keeping it with size 1."""
        return self.map(lambda t: t.mean(0, keepdim=True))

    def __repr__(self) -> str:
        shapes = ", ".join(f"{n}={tuple(v.shape)}" for n, v in self.fields())
        return f"ScatCov(J={self.J}, L={self.L}, angular={self.angular!r}, {shapes})"

    # ------------------------------------------------------------------ arithmetic
    def _binary(self, other: Any, op: Callable[[Any, Any], Any]) -> ScatCov:
        if isinstance(other, ScatCov):
            self._check_compatible(other)
            kw: dict[str, torch.Tensor | None] = {}
            for n in _FIELDS:
                a, b = getattr(self, n), getattr(other, n)
                kw[n] = None if a is None or b is None else op(a, b)
            return self._with_stats(kw)
        if isinstance(other, (int, float)) or (
            isinstance(other, torch.Tensor) and other.dim() == 0
        ):
            return self.map(lambda t: op(t, other))
        return NotImplemented

    def _check_compatible(self, other: ScatCov) -> None:
        if (self.J, self.L, self.angular, self.harmonics) != (
            other.J,
            other.L,
            other.angular,
            other.harmonics,
        ):
            raise TexsynthError(
                "cannot combine statistics computed with different settings: "
                f"(J={self.J}, L={self.L}, {self.angular}) vs "
                f"(J={other.J}, L={other.L}, {other.angular})"
            )

    def __add__(self, o: Any) -> ScatCov:
        return self._binary(o, lambda a, b: a + b)

    def __radd__(self, o: Any) -> ScatCov:
        return self._binary(o, lambda a, b: b + a)

    def __sub__(self, o: Any) -> ScatCov:
        return self._binary(o, lambda a, b: a - b)

    def __rsub__(self, o: Any) -> ScatCov:
        return self._binary(o, lambda a, b: b - a)

    def __mul__(self, o: Any) -> ScatCov:
        return self._binary(o, lambda a, b: a * b)

    def __rmul__(self, o: Any) -> ScatCov:
        return self._binary(o, lambda a, b: b * a)

    def __truediv__(self, o: Any) -> ScatCov:
        return self._binary(o, lambda a, b: a / b)

    def __rtruediv__(self, o: Any) -> ScatCov:
        return self._binary(o, lambda a, b: b / a)

    def __neg__(self) -> ScatCov:
        return self.map(torch.neg)

    # ------------------------------------------------------------------ orientation reductions
    def _reduce(
        self, basis: torch.Tensor, squeeze: bool, square: bool
    ) -> dict[str, torch.Tensor | None]:
        if self.angular != "full":
            raise TexsynthError(
                f"orientation axes are already reduced ({self.angular!r}); "
                "apply iso_mean/fft_ang to full statistics only"
            )
        b = basis**2 if square else basis
        axes = {"S1": 1, "S2": 1, "S3": 2, "S3P": 2, "S4": 3}
        kw: dict[str, torch.Tensor | None] = {}
        for name, n_axes in axes.items():
            t = getattr(self, name)
            if t is None:
                kw[name] = None
                continue
            if square:
                out = _project(t.abs() ** 2 if t.is_complex() else t**2, n_axes, b).sqrt()
            else:
                out = _project(t, n_axes, b)
            kw[name] = out.squeeze(-1) if squeeze else out
        return kw

    def iso_mean(self) -> ScatCov:
        """Average over absolute orientation, keeping relative orientations (foscat's ``iso_mean``).

        S1, S2 ``[..., L]`` -> ``[...]``; S3, S3P ``[..., L, L]`` -> ``[..., L]`` indexed by
        ``dl = l3 - l2 (mod L)``; S4 ``[..., L, L, L]`` -> ``[..., L, L]`` indexed by
        ``(l2 - l1, l3 - l1) (mod L)``.
        """
        basis = _angular_basis(self.L, 0, False, torch.float64)
        return self._with_stats(self._reduce(basis, True, False), angular="iso")

    def iso_mean_sigma(self) -> ScatCov:
        """Standard deviations propagated through :meth:`iso_mean` (independent errors)."""
        basis = _angular_basis(self.L, 0, False, torch.float64)
        return self._with_stats(self._reduce(basis, True, True), angular="iso")

    def _harmonic_names(self, nharm: int, imaginary: bool) -> tuple[str, ...]:
        names = ["dc"]
        for h in range(1, nharm + 1):
            names += [f"cos{h}", f"sin{h}"] if imaginary else [f"cos{h}"]
        return tuple(names)

    def fft_ang(self, nharm: int = 1, imaginary: bool = False) -> ScatCov:
        """Project the absolute orientation axis onto its first Fourier harmonics (``fft_ang``).

        The basis is ``phi_0 = 1/L`` (so component 0 equals :meth:`iso_mean`), then
        ``cos(2 pi h l / L)`` and, with ``imaginary=True``, ``sin(2 pi h l / L)`` for
        ``h = 1..nharm``. S1, S2 ``[..., L]`` -> ``[..., nout]``; S3, S3P ``[..., L, L]`` ->
        ``[..., L, nout]``; S4 ``[..., L, L, L]`` -> ``[..., L, L, nout]``, where the relative
        axes are those of :meth:`iso_mean`. With ``imaginary=True`` the amplitude
        ``sqrt(cos_h^2 + sin_h^2)`` is invariant to rotations by multiples of ``pi / L``.
        """
        basis = _angular_basis(self.L, nharm, imaginary, torch.float64)
        return self._with_stats(
            self._reduce(basis, False, False),
            angular="fft",
            harmonics=self._harmonic_names(nharm, imaginary),
        )

    def fft_ang_sigma(self, nharm: int = 1, imaginary: bool = False) -> ScatCov:
        """Standard deviations propagated through :meth:`fft_ang`.

        For ``y_k = sum_j A_jk x_j`` with independent errors, ``sigma_y_k =
        sqrt(sum_j A_jk^2 sigma_j^2)``; apply to the ``sigma`` returned with
        ``calc_var=True``.
        """
        basis = _angular_basis(self.L, nharm, imaginary, torch.float64)
        return self._with_stats(
            self._reduce(basis, False, True),
            angular="fft",
            harmonics=self._harmonic_names(nharm, imaginary),
        )

    # ------------------------------------------------------------------ flatten and labels
    def _angular_axes(self, name: str) -> list[tuple[str, int]]:
        """Names and sizes of the orientation axes of statistic ``name``."""
        L = self.L
        n_axes = {"S1": 1, "S2": 1, "S3": 2, "S3P": 2, "S4": 3}[name]
        if self.angular == "full":
            names = {1: ["l"], 2: ["l2", "l3"], 3: ["l1", "l2", "l3"]}[n_axes]
            return [(a, L) for a in names]
        rel = {1: [], 2: ["dl"], 3: ["dl12", "dl13"]}[n_axes]
        axes = [(a, L) for a in rel]
        if self.angular == "fft":
            axes.append(("harmonic", len(self.harmonics)))
        return axes

    def flatten(self) -> tuple[torch.Tensor, list[dict[str, Any]]]:
        """All coefficients as a real ``[B, K]`` tensor, and one label per column.

        Complex statistics contribute their real parts, then their imaginary parts. Each
        label is a dict with keys ``stat``, ``part`` (``"re"``/``"im"``, or ``""`` for real
        statistics), ``channel``, ``j`` (the scale tuple, empty for S0), and one key per
        orientation axis (``l``, ``l1``, ``dl``, ``harmonic`` ...).
        """
        cols: list[torch.Tensor] = []
        labels: list[dict[str, Any]] = []
        B = self.batch_size
        for name, t in self.fields():
            parts = [("re", t.real), ("im", t.imag)] if t.is_complex() else [("", t)]
            for part, values in parts:
                cols.append(values.reshape(B, -1))
                labels.extend(self._labels_for(name, part))
        return torch.cat(cols, 1), labels

    def _labels_for(self, name: str, part: str) -> list[dict[str, Any]]:
        C = self.channels
        if name == "S0":
            return [
                {"stat": "S0", "part": part, "channel": c, "j": (), "moment": m}
                for c in range(C)
                for m in ("mean", "std")
            ]
        scales: list[tuple[int, ...]]
        if name in ("S1", "S2"):
            scales = [(j,) for j in range(self.J)]
        elif name in ("S3", "S3P"):
            scales = list(s3_index(self.J))
        else:
            scales = list(s4_index(self.J))
        axes = self._angular_axes(name)
        out = []
        for c in range(C):
            for js in scales:
                for idx in _product([n for _, n in axes]):
                    lab: dict[str, Any] = {"stat": name, "part": part, "channel": c, "j": js}
                    for (axis, _), i in zip(axes, idx, strict=True):
                        lab[axis] = self.harmonics[i] if axis == "harmonic" else i
                    out.append(lab)
        return out

    # ------------------------------------------------------------------ distance
    def distance(
        self,
        other: ScatCov,
        sigma: ScatCov | None = None,
        *,
        grouped: bool = False,
        sigma_floor: float = 0.0,
    ) -> torch.Tensor:
        """Mean squared (optionally sigma-weighted) difference, one value per batch item.

        ``D = mean_k |self_k - other_k|^2 / sigma_k^2``, the mean running over every
        coefficient (a complex coefficient counts once). ``other`` (and ``sigma``) may have
        batch size 1.

        Parameters
        ----------
        grouped
            Average within each statistic (S0, S1, ...) first, then over statistics, so
            that every statistic counts equally however many coefficients it has.
        sigma_floor
            Adds ``(sigma_floor * rms(other))^2`` to each ``sigma^2``, with ``rms`` taken over
            that statistic's coefficients: no coefficient weighs more than one measured to
            that fraction of its statistic's typical size.
        """
        self._check_compatible(other)
        sums, counts = [], []
        for name, a in self.fields():
            b = getattr(other, name)
            if b is None:
                continue
            b = b.to(a)
            d = (a - b).abs() ** 2
            if sigma is not None:
                s = getattr(sigma, name).to(d)
                floor = sigma_floor * b.abs().pow(2).mean().sqrt()
                d = d / (s**2 + floor**2).clamp_min(torch.finfo(d.dtype).tiny)
            sums.append(d.reshape(d.shape[0], -1).sum(1))
            counts.append(d[0].numel())
        if grouped:
            return sum(t / n for t, n in zip(sums, counts, strict=True)) / len(sums)
        return sum(sums) / sum(counts)


def _product(sizes: list[int]) -> Iterator[tuple[int, ...]]:
    """Row-major product of ``range(n)`` for each ``n`` in ``sizes``."""
    if not sizes:
        yield ()
        return
    for i in range(sizes[0]):
        for rest in _product(sizes[1:]):
            yield (i, *rest)
