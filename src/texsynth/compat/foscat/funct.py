"""foscat's scattering-covariance operator ``funct``, computed by texsynth.

``funct(...)`` keeps foscat's constructor; :meth:`funct.eval` computes texsynth's scattering
covariance (:class:`texsynth.ScatteringCovariance` for images, ``ScatteringCovariance1D`` for
signals, :class:`~texsynth.stats.healpix.HealpixScatteringCovariance` for HEALPix maps, the
default geometry) and returns a :class:`~texsynth.compat.foscat.statistics.scat_cov` in foscat's
layout; :meth:`funct.synthesis` runs texsynth's engine
(:mod:`texsynth.compat.foscat.synthesis`). :func:`geometry_options` gives the arguments of
the one-geometry operators of ``scat_cov1D`` and ``scat_cov2D``.
"""

from __future__ import annotations

import inspect
import numbers
import time
from typing import Any, cast

import numpy as np
import torch

from ...errors import TexsynthError
from ...stats import ScatteringCovariance
from ...stats.healpix import HealpixScatteringCovariance
from ...stats.scattering_core import ScatteringCore
from ._common import (
    accepted_options,
    check_int,
    device_for,
    dtype_for,
    optional_module,
    to_numpy,
    warn_compat,
)
from .inputs import as_batch, as_eval_mask
from .sky import SkyLayout, check_out_nside, check_spin, sky_layout
from .spin_eval import eval_spin
from .statistics import foscat_orientation, scat_cov
from .synthesis import ProgressPrinter, synthesize_images, synthesize_signals, synthesize_skies

__all__ = ["funct", "geometry_options"]


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
    ``use_2D=True`` is accepted, unlike foscat); on HEALPix maps ``KERNELSZ`` is the size of
    the wavelets' stencil (``K`` of :class:`~texsynth.stats.healpix.
    HealpixScatteringCovariance`). ``use_median``, ``mask_thres``, ``InitWave``, ``DODIV``,
    ``isMPI`` and a ``BACKEND`` other than ``'torch'`` are accepted with a
    :class:`~texsynth.compat.foscat.FoscatCompatWarning`; ``return_data=True`` raises.
    ``use_2D`` selects images, ``use_1D`` signals, neither (foscat's default) HEALPix maps
    (full skies ``(npix,)`` or ``(B, npix)`` in the nested ordering).
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
        self.geometry = "2D" if use_2D else "1D" if use_1D else "healpix"
        self.silent = silent
        self.mpi_size = mpi_size
        self.mpi_rank = mpi_rank
        self._sc: ScatteringCore | None = None
        self._spin_ops: dict[tuple[int, int], HealpixScatteringCovariance] = {}

    # ------------------------------------------------------------------ operator state
    def _operator(self) -> ScatteringCore:
        """The texsynth statistics module (built on first use, holds the ``'auto'`` cache)."""
        if self._sc is None:
            if self.use_1D:
                mod = optional_module("texsynth.stats.scattering1d")
                cls = mod.ScatteringCovariance1D
                self._sc = cls(**accepted_options(cls, {"J": None}))
            elif self.geometry == "healpix":
                self._sc = HealpixScatteringCovariance(J=None, L=self.NORIENT, K=self.KERNELSZ)
            else:
                self._sc = ScatteringCovariance(J=None, L=self.NORIENT)
            self._sc.to(self.device)
        return self._sc

    def _spin_operator(self, spin: int, k: int) -> HealpixScatteringCovariance:
        """The spin-``spin`` statistics module of mask ``k`` (one per mask, so that each
        keeps its own ``'auto'`` reference S2, as foscat's per-mask cache)."""
        if (spin, k) not in self._spin_ops:
            op = HealpixScatteringCovariance(J=None, L=self.NORIENT, K=self.KERNELSZ, spin=spin)
            self._spin_ops[spin, k] = op.to(self.device)
        return self._spin_ops[spin, k]

    def clean_norm(self) -> None:
        """Forget the reference S2 cached by ``norm='auto'``."""
        if self._sc is not None:
            self._sc.reset_norm()
        for op in self._spin_ops.values():
            op.reset_norm()

    def to_numpy(self, x: Any) -> np.ndarray:
        """``x`` (tensor or array) as a NumPy array."""
        return x if isinstance(x, np.ndarray) else to_numpy(torch.as_tensor(x))

    def _healpix_only(self, **values: Any) -> None:
        for name, value in values.items():
            if value is not None and not (name == "spin" and value == 0):
                raise TexsynthError(
                    f"{name}={value!r} is a HEALPix option but this operator is "
                    f"{self.geometry}; use scat_cov.funct() (neither use_2D nor use_1D) for "
                    "HEALPix maps"
                )

    def _layout(
        self, x: torch.Tensor, nside: Any, cell_ids: Any, out_nside: Any, spin: Any
    ) -> SkyLayout | None:
        """The sky layout of HEALPix inputs ``x [B, npix]`` (``None`` for other geometries,
        which refuse the HEALPix options)."""
        if self.geometry != "healpix":
            self._healpix_only(out_nside=out_nside, nside=nside, cell_ids=cell_ids, spin=spin)
            return None
        layout = sky_layout(int(x.shape[-1]), nside, cell_ids)
        check_out_nside(out_nside, layout.nside)
        return layout

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
            ``(H, W)`` or ``(B, H, W)`` images (``(N,)`` or ``(B, N)`` with ``use_1D``;
            HEALPix maps ``(npix,)`` or ``(B, npix)``, nested ordering), NumPy or torch
            (autograd flows through).
        mask
            ``(N_mask, H, W)`` (or ``(H, W)``; ``(N_mask, npix)`` on HEALPix) non-negative
            weights; each mask gives its own statistics along axis 1 of the results.
        norm
            ``None`` (raw), ``'auto'`` (divide by the S2 of the first call after
            :meth:`clean_norm`) or ``'self'`` (by this image's own S2).
        calc_var
            Also return the standard errors of the coefficients, as a second ``scat_cov``.
        Jmax
            Number of scales (default: as many as the size allows; on HEALPix down to nside
            2, ``log2(nside)``, and for ``N`` cells at most ``log4(N) - 1``, as foscat).
        edge
            Non-periodic images (default, as foscat): reflect padding, and coefficients near
            the border are left out of the means. ``False``: periodic. No effect on HEALPix
            maps (a sphere has no edge; a partial sky's border is handled as a mask's).
        cmat, cmat2
            foscat's orientation-steering matrices: ignored, with a warning.
        nside
            HEALPix: the maps' resolution (default: from ``npix``; required with
            ``cell_ids``).
        cell_ids
            HEALPix partial sky: the sorted, distinct nested indices (at ``nside``) of the
            ``npix`` given values; the other pixels are masked out.
        out_nside
            HEALPix: checked (a power of two ``<= nside``), no effect: foscat uses it only
            to coarsen the per-pixel maps of ``return_data=True``.
        spin
            HEALPix: ``0`` (scalar maps), ``2`` (Q/U polarisation maps ``(2, npix)`` or
            ``(B, 2, npix)``, healpy's COSMO convention) or ``1`` (U/V vector fields, the
            same layout, healpy's spin-1 maps), computed by
            ``HealpixScatteringCovariance(spin=spin)``; the results then have one more axis
            after ``N_mask``, the fields (one complex channel ``Q + i U`` each, where foscat
            has an (E, B) pair).

        Returns
        -------
        scat_cov or (scat_cov, scat_cov)
            The statistics in foscat's layout (see :class:`scat_cov`), and their standard
            errors with ``calc_var``.
        """
        if cmat is not None or cmat2 is not None:
            warn_compat(
                "cmat/cmat2 (foscat's per-pixel orientation-steering matrices, from "
                "stat_cfft) are not supported; ignored: the orientations stay fixed"
            )
        if norm not in (None, "auto", "self"):
            raise TexsynthError(f"norm must be None, 'auto' or 'self', got {norm!r}")
        geometry, dtype, device = self.geometry, self.dtype, self.device
        if geometry == "healpix" and (s := check_spin(spin)) != 0:
            return eval_spin(
                self._spin_operator,
                (image1, image2, mask),
                norm=norm,
                calc_var=bool(calc_var),
                Jmax=Jmax,
                sky=(out_nside, nside, cell_ids),
                spin=s,
                dtype=self.dtype,
                device=self.device,
            )
        x, _ = as_batch(image1, "image1", geometry, dtype, device)
        y = None
        if image2 is not None:
            y, _ = as_batch(image2, "image2", geometry, dtype, device)
            if y.shape != x.shape:
                raise TexsynthError(
                    f"image2 has shape {tuple(y.shape)} but image1 has {tuple(x.shape)}; "
                    "cross statistics need arrays of the same shape"
                )
        layout = self._layout(x, nside, cell_ids, out_nside, spin)
        m = as_eval_mask(mask, tuple(x.shape[1:]), dtype, device)
        if layout is not None:  # HEALPix: partial skies embedded in full ones, masked
            x = layout.embed(x)
            y = None if y is None else layout.embed(y)
            valid = layout.valid(dtype, device)
            if valid is not None:  # (the user's mask is per cell: 0 off the cells)
                m = valid[None, None] if m is None else layout.embed(m)
            if Jmax is None:
                Jmax = layout.max_scales()
        n_mask = 1 if m is None else m.shape[1]
        xb = x[:, None].expand(-1, n_mask, *x.shape[1:])
        yb = None if y is None else y[:, None].expand(-1, n_mask, *y.shape[1:])
        op = self._operator()
        kwargs = dict(mask=m, norm=norm, calc_var=bool(calc_var), J=Jmax, edge=bool(edge))
        if self.use_1D:
            kwargs = accepted_options(op.forward, kwargs)
        out = op(xb, yb, **kwargs)
        if calc_var:
            stats, sigma = out
            return self._wrap(stats), self._wrap(sigma, complex_too=False)
        return self._wrap(out)

    def _wrap(self, s: Any, complex_too: bool = True) -> scat_cov:
        if self.use_1D:
            return scat_cov.from_texsynth(s, use_1D=True)
        if self.geometry == "healpix":  # texsynth's orientation order (see the docs)
            return scat_cov.from_texsynth(s)
        return scat_cov.from_texsynth(foscat_orientation(s, complex_too))

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
            total = cast(torch.Tensor, sum(t.sum() for _, t in s.fields()))  # S0 at least
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

        Runs :func:`texsynth.synthesize` (1D: ``texsynth.synthesis.synthesize_1d``; HEALPix:
        :func:`texsynth.synthesis.sphere.synthesize_healpix`).
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

        HEALPix maps (full skies ``(npix,)`` or ``(B, npix)``, nested ordering): ``n_up``
        multiplies the output's ``nside`` by ``2**n_up``, ``KERNELSZ`` is the stencil size,
        ``edge`` has no effect (a sphere has no edge), and ``iso_ang``/``fft_ang`` raise.

        Returns
        -------
        numpy.ndarray
            float64, ``image_target.shape`` for one output (``synthesised_N=1``) of a single
            ``(H, W)`` target, else ``(synthesised_N, H, W)``; spatial sizes times
            ``2**n_up`` (HEALPix: ``(npix,)`` or ``(synthesised_N, npix)``, ``nside`` times
            ``2**n_up``).
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
        printer = ProgressPrinter(int(EVAL_FREQUENCY))
        start = time.perf_counter()
        if self.geometry == "healpix":
            out = synthesize_skies(
                image_target, reference=reference, nstep=nstep, seed=seed, Jmax=Jmax,
                to_gaussian=to_gaussian, use_variance=use_variance, n=n, input_image=input_image,
                grd_mask=grd_mask, in_mask=in_mask, iso_ang=iso_ang, fft_ang=fft_ang,
                steps=steps, n_up=n_up, printer=printer, L=self.NORIENT, K=self.KERNELSZ,
                dtype=self.dtype, device=self.device,
            )  # fmt: skip
        elif self.use_1D:
            out = synthesize_signals(
                image_target, reference=reference, nstep=nstep, seed=seed, Jmax=Jmax, edge=edge,
                to_gaussian=to_gaussian, use_variance=use_variance, n=n, input_image=input_image,
                grd_mask=grd_mask, in_mask=in_mask, steps=steps, n_up=n_up, printer=printer,
                dtype=self.dtype, device=self.device,
            )  # fmt: skip
        else:
            out = synthesize_images(
                image_target, reference=reference, nstep=nstep, seed=seed, Jmax=Jmax, edge=edge,
                to_gaussian=to_gaussian, use_variance=use_variance, n=n, input_image=input_image,
                grd_mask=grd_mask, in_mask=in_mask, iso_ang=iso_ang, fft_ang=fft_ang,
                fft_nharm=fft_nharm, fft_imaginary=fft_imaginary, steps=steps, n_up=n_up,
                printer=printer, L=self.NORIENT, dtype=self.dtype, device=self.device,
            )  # fmt: skip
        if printer.every > 0:
            print(f"Total computation {time.perf_counter() - start:.2f}s")
        return out


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
