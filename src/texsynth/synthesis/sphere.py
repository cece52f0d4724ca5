"""Synthesis of HEALPix sky maps: coarse-to-fine L-BFGS on scattering statistics on the
sphere.

The sphere twin of :func:`texsynth.synthesize` and :func:`texsynth.synthesize_1d`, with the
same engine (:func:`texsynth.synthesis.engine.optimise`) and loop
(:func:`~texsynth.synthesis.levels.run_levels`): read -> standardise -> (Gaussianise) -> build
the loss per pyramid level (scattering covariance on the sphere,
:class:`~texsynth.losses.healpix.HealpixScatteringLoss`, plus the value histogram) ->
optimise from white noise, ``nside`` doubling per level -> undo the transforms. It is
foscat's spherical ``synthesis`` (Delouis et al. 2022) with per-member losses and seeds.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import torch

from ..arrays import accepts_arrays
from ..domains.healpix import check_nside, npix_of, nside_of
from ..errors import TexsynthError
from ..healpix_kernels import KERNEL_SIZE
from ..healpix_spin import check_spin
from ..losses import TextureLoss
from ..losses.angular_spectrum import AngularSpectrumLoss
from ..losses.healpix import HealpixScatteringLoss
from ..losses.histogram import HistogramLoss1D
from ..losses.multipoles import LOW_LMAX, MultipoleLoss
from ..memory import check_memory
from ..seeds import resolve_seeds
from ..stats.healpix import check_bank
from ..stats.scattering1d import as_signal_batch, check_signal_mask
from .arguments import count, weight
from .drive import RunControl, Working, optimise_levels
from .engine import Callback, Cancel, SynthesisReport, autograd_enabled
from .levels import Generators, Shape
from .prepare import InputRules, one_input, working_masks
from .resampling import SPHERE, member_noise
from .sky_plan import TWO_LEVELS_UP_TO, estimate_healpix_bytes, sky_budget, sky_scales
from .values import SAMPLES, ValueTransforms

__all__ = [
    "SCALAR_SPECTRUM",
    "SPIN_AMPLITUDE",
    "SPIN_SPECTRUM",
    "default_amplitude",
    "default_spectrum",
    "default_to_gaussian",
    "estimate_healpix_bytes",
    "synthesize_healpix",
]


def default_to_gaussian(to_gaussian: bool | None, spin: int = 0) -> bool:
    """``synthesize_healpix``'s ``to_gaussian`` resolved: ``None`` is on for scalar maps
    (``spin=0``) and off for spin-2 ones."""
    return (spin == 0) if to_gaussian is None else bool(to_gaussian)


#: the default ``spectrum`` weight of scalar skies (docs/sphere.md, "The spectrum weight")
SCALAR_SPECTRUM = 100.0
#: the default ``spectrum`` weight of spin-2 skies, with :data:`SPIN_AMPLITUDE`: on the
#: benchmark skies (pure E, E and B, a lognormal-amplitude field at nside 16 and 32), with
#: the amplitude term on, an E/B term of weight 1 left the Gaussian skies' EE spectrum 5-13 %
#: low and weight 10 restores it (docs/sphere.md, "The polarised amplitude"; without the
#: amplitude term weight 1 was enough: "E and B")
SPIN_SPECTRUM = 10.0
#: the default ``amplitude`` weight of spin-2 skies (docs/sphere.md, "The polarised amplitude")
SPIN_AMPLITUDE = 1.0


def default_amplitude(amplitude: float | None) -> float:
    """``synthesize_healpix``'s ``amplitude`` (``spin=2``) resolved: ``None`` is 1
    (:data:`SPIN_AMPLITUDE`); a number is checked and kept."""
    return SPIN_AMPLITUDE if amplitude is None else weight(amplitude, "amplitude")


def default_spectrum(spectrum: float | None, spin: int = 0) -> float:
    """``synthesize_healpix``'s ``spectrum`` resolved: ``None`` is 100 for scalar maps and
    10 for spin-2 ones (:data:`SPIN_SPECTRUM`); a number is checked and kept."""
    if spectrum is None:
        return SPIN_SPECTRUM if spin else SCALAR_SPECTRUM
    return weight(spectrum, "spectrum")


@accepts_arrays("sky", "mask", "in_mask", "init", "reference", like="sky", ndim=1)
@autograd_enabled
def synthesize_healpix(
    sky: torch.Tensor,
    *,
    nside: int | None = None,
    n: int = 1,
    seed: int | Sequence[int] | None = None,
    steps: int = 100,
    fine_steps: int | None = None,
    levels: int | None = None,
    mask: torch.Tensor | None = None,
    in_mask: torch.Tensor | None = None,
    init: torch.Tensor | None = None,
    J: int | None = None,
    L: int = 4,
    K: int = KERNEL_SIZE,
    use_variance: bool = True,
    iso_ang: bool = False,
    fft_ang: bool = False,
    fft_nharm: int = 1,
    fft_imaginary: bool = True,
    cross_channels: bool = True,
    to_gaussian: bool | None = None,
    reference: torch.Tensor | None = None,
    histogram: float = 1.0,
    multipoles: float = 1.0,
    spectrum: float | None = None,
    tol: float = 1e-2,
    device: str | torch.device | None = None,
    dtype: torch.dtype = torch.float32,
    progress: bool = True,
    callback: Callback | None = None,
    cancel: Cancel | None = None,
    report: bool = False,
    exact_members: bool = True,
    max_memory: int | None = None,
    spin: int = 0,
    bank: str | None = None,
    amplitude: float | None = None,
) -> torch.Tensor | tuple[torch.Tensor, SynthesisReport]:
    """Synthesise new HEALPix sky maps whose scattering covariance matches ``sky``'s.

    The maps are full skies in the nested ordering (``npix = 12 nside**2``); the statistics
    are those of :class:`~texsynth.stats.healpix.HealpixScatteringCovariance` (oriented
    Morlet wavelets on a stencil in each pixel's tangent plane, as foscat builds them), plus
    the value histogram. The optimisation runs coarse to fine, ``nside`` doubling per level
    from at least 16 (from ``nside / 2`` by default up to nside 128: see ``levels``).

    Parameters
    ----------
    sky
        The exemplar: ``[npix]``, ``[C, npix]`` (channels, e.g. frequencies) or
        ``[B, C, npix]`` (several maps of one process, statistics averaged); nested
        ordering. A partial sky is a full map with ``in_mask``.
    nside
        The output's ``nside`` (default: the exemplar's). A finer output holds more of the
        texture: the statistics are matched pixel scale by pixel scale, so its structures
        keep their size in pixels, not in degrees.
    n
        Number of maps.
    seed
        Seed (member ``k`` uses :func:`texsynth.seeds.member_seed`), a list of ``n`` seeds,
        or ``None`` for a fresh one (recorded in the report).
    steps
        Loss evaluations at the coarsest level; each finer level (four times the pixels,
        starting from the level below) gets three times fewer, at least 10.
    fine_steps
        Loss evaluations at the finest level when there are several (default: the rule
        of ``steps``): most of the time of a large sky is spent there.
    levels
        Coarse-to-fine levels. Default: for scalar skies up to nside 128 synthesised at the
        exemplar's nside, two (from ``nside / 2``), which brings the Euler characteristic
        (Minkowski V2) of a dust-like sky to a second realisation's (docs/sphere.md, "The
        V2 decision"); otherwise as many as keep ``nside >= 16`` and two scales.
    mask
        Inpainting: ``1`` marks the pixels to synthesise, ``0`` those of ``init`` (or of
        ``sky``) to keep; the masked pixels of ``sky`` do not shape the target statistics.
    in_mask
        Exemplar pixels to use (1) or ignore (0): a partial sky, a galactic cut, bad pixels.
    init
        Warm start ``[C, npix]`` or ``[n, C, npix]`` at the output's nside.
    J, L, K
        Scales (``None``: down to nside 2), orientations and stencil size of the wavelets.
    use_variance
        Weight each coefficient by the exemplar's standard error.
    iso_ang
        Match the statistics averaged over orientations (``iso_mean``): for statistically
        isotropic skies (the orientations are measured from the local east, which carries
        no information there), fewer coefficients and a looser, rotation-free target.
    fft_ang, fft_nharm, fft_imaginary
        Match the statistics' Fourier harmonics over orientations instead (``fft_ang``:
        ``fft_nharm`` harmonics, with their imaginary parts unless ``fft_imaginary`` is
        False); not with ``iso_ang``.
    cross_channels
        Several channels: also match the cross statistics of every pair of channels.
    to_gaussian
        Gaussianise the exemplar's values first, invert at the end (foscat's
        ``to_gaussian``). ``None`` (default): on for scalar maps, off for ``spin=2``. On a
        lognormal (dust-like) sky it brings the peak counts and the Euler characteristic
        (Minkowski V2) of the syntheses close to a second realisation's, where the
        statistics of the standardised values leave the faint background broken into too
        many pieces (docs/sphere.md, "Closing the peaks and V2 gap").
    reference
        A second map of the exemplar's nside (which is then the output's): the output's
        cross statistics with ``reference`` match the exemplar's (cross-synthesis, e.g. a
        dust map correlated with a given one).
    histogram
        Weight of the value-histogram loss (0 disables it); when on (and not inpainting),
        the values are also made exact at the end by a rank remapping.
    multipoles
        Weight of the loss on the angular power spectrum at the largest scales, ``C_ell``
        for ``1 <= ell <= 8``, which the wavelets (down to nside 2) do not reach
        (:class:`~texsynth.losses.multipoles.MultipoleLoss`; 0 disables it). Without it a
        synthesis from white noise gets a dipole tens of times the exemplar's. Used on full
        skies of the exemplar's nside only (not with ``in_mask``, whose cut sky biases the
        low multipoles, nor with a finer output, whose low multipoles are other scales).
    spectrum
        Weight of the loss on the binned angular power spectrum over the whole ``ell``
        range (:class:`~texsynth.losses.angular_spectrum.AngularSpectrumLoss`, above the
        ``ell`` that ``multipoles`` covers; 0 disables it): without it the syntheses have
        ``C_ell`` about 1.6x the exemplar's above ``ell = 2 nside`` and 0.76x near
        ``nside``. Used where ``multipoles`` is. The default (``None``) for scalar maps,
        100, lets it hold band-limited (e.g. beamed CMB-like) skies, whose pixel-scale power
        the scattering terms leave several times too high at weight 1 (docs/sphere.md, "The
        spectrum weight"). With ``spin=2`` it weighs the E and B spectra from ``ell = 2``
        (:class:`~texsynth.losses.spin_spectrum.SpinSpectrumLoss`; default 10), without
        which a pure-E sky's syntheses have as much B as E (docs/sphere.md, "E and B");
        used when the output keeps the exemplar's nside.
    tol
        Stop a level when the loss decreased by less than this fraction over 5 iterations.
    device, dtype
        Where and in what precision to compute (default: the map's device).
    progress, callback, cancel
        As :func:`texsynth.synthesize` (``callback`` sees ``[n, C', npix_level]`` maps in
        the standardised working space; ``cancel`` stops the whole run).
    report
        Also return the :class:`~texsynth.synthesis.SynthesisReport` (levels hold
        ``(npix,)``).
    exact_members
        Evaluate the ``n`` maps one by one (default), so that map ``k`` equals bit for bit
        a run of ``n=1`` with its seed; ``False``: one batched call.
    max_memory
        Refuse, before any work, a run estimated to need more bytes
        (:func:`estimate_healpix_bytes`; default: what the device has).
    spin
        0 (scalar maps) or 2: ``sky`` is one ``(Q, U)`` polarisation field, ``[2, npix]``
        or ``[B, 2, npix]``, matched through the transported statistics of
        :class:`~texsynth.stats.healpix.HealpixScatteringCovariance` (``spin=2``; see
        :mod:`texsynth.synthesis.sphere_spin`); ``histogram``, ``multipoles`` and
        ``cross_channels`` are not used (``spectrum`` holds the E/B spectra), ``mask``,
        ``in_mask``, ``init``, ``reference`` and ``to_gaussian`` are refused.
    bank
        How the wavelets are applied (:class:`~texsynth.stats.healpix.
        HealpixScatteringCovariance`'s ``bank``): ``None`` (``"faces"``, the fast path, for
        scalar maps; ``"stencil"`` for ``spin=2``), ``"faces"`` or ``"stencil"`` (the
        reference).
    amplitude
        ``spin=2`` only: weight of the scalar scattering loss of the polarised amplitude
        ``|Q + i U|`` (:class:`~texsynth.losses.spin_amplitude.PolarisedAmplitudeLoss`;
        0 disables it; ``None``: 1, :data:`SPIN_AMPLITUDE`), which holds how sparse
        ``|P|`` is at each scale where the spin-2 statistics leave it freer (docs/sphere.md,
        "The polarised amplitude"). Refused for scalar maps.

    Returns
    -------
    torch.Tensor
        ``[n, C, 12 nside**2]`` maps in the exemplar's units (and the report if asked).

    Examples
    --------
    >>> import torch
    >>> from texsynth.synthesis.sphere import synthesize_healpix
    >>> sky = torch.randn(12 * 16**2)
    >>> out = synthesize_healpix(sky, n=2, seed=0, steps=10, progress=False)
    >>> tuple(out.shape)
    (2, 1, 3072)
    """
    start_time = time.perf_counter()
    n = count(n, "n")
    steps = count(steps, "steps")
    fine_steps = None if fine_steps is None else count(fine_steps, "fine_steps")
    histogram = weight(histogram, "histogram")
    multipoles = weight(multipoles, "multipoles")
    spectrum = default_spectrum(spectrum, spin)
    if iso_ang and fft_ang:
        raise TexsynthError("iso_ang and fft_ang are two reductions; choose one")
    angular = "iso" if iso_ang else "fft" if fft_ang else None
    to_gaussian = default_to_gaussian(to_gaussian, spin)
    check_bank(bank, check_spin(spin))
    if check_spin(spin):  # Q/U skies: their own loop (texsynth.synthesis.sphere_spin)
        from .sphere_spin import refuse_scalar_options, synthesize_healpix_spin

        refuse_scalar_options(
            mask=mask, in_mask=in_mask, init=init, reference=reference, to_gaussian=to_gaussian
        )
        amplitude = default_amplitude(amplitude)
        return synthesize_healpix_spin(
            sky,
            nside=nside,
            n=n,
            seed=seed,
            steps=steps,
            fine_steps=fine_steps,
            levels=levels,
            J=J,
            L=L,
            K=K,
            use_variance=use_variance,
            angular=angular,
            fft_nharm=fft_nharm,
            fft_imaginary=fft_imaginary,
            spectrum=spectrum,
            amplitude=amplitude,
            tol=tol,
            device=device,
            dtype=dtype,
            progress=progress,
            callback=callback,
            cancel=cancel,
            report=report,
            exact_members=exact_members,
            max_memory=max_memory,
        )
    if amplitude is not None:
        raise TexsynthError(
            "amplitude weighs the statistics of |Q + iU| of spin-2 skies; leave it unset "
            "for scalar maps (or give spin=2)"
        )
    ex = as_signal_batch(sky, "sky")
    dev = torch.device(device) if device is not None else ex.device
    ex = ex.to(dev, dtype)
    B, C, npix_ex = ex.shape
    nside_ex = nside_of(npix_ex, "the exemplar sky")
    nside_out = nside_ex if nside is None else check_nside(nside, "nside")
    npix_out = npix_of(nside_out)
    check_memory(
        estimate_healpix_bytes(
            npix_ex, npix_out, n=n, channels=C, L=L, K=K, bank=check_bank(bank, 0)
        ),
        max_memory,
        device=dev,
        what="synthesize_healpix",
        fix="use a smaller nside, n or L",
        override="max_memory=",
    )

    inm, init_t, gmask = working_masks(ex, in_mask=in_mask, init=init, mask=mask, rules=_RULES)
    if init_t is not None:
        if init_t.shape[-1] != npix_out:
            raise TexsynthError(
                f"init has {init_t.shape[-1]} pixels, the output {npix_out} (nside "
                f"{nside_out}); give init at the output's nside"
            )
        if init_t.shape[0] not in (1, n):
            raise TexsynthError(f"init has a batch of {init_t.shape[0]}, expected 1 or n={n}")
    if gmask is not None and nside_out != nside_ex and init is None:
        raise TexsynthError("inpainting (mask) keeps the exemplar's nside; leave nside unset")

    # value transforms: standardise (+ channel PCA), optionally Gaussianise
    values = ValueTransforms.fit(ex, inm, to_gaussian=to_gaussian, layout=SAMPLES)
    ref_s = None
    if reference is not None:
        ref_t = one_input(reference, "reference", ex, _RULES, pixels=npix_ex)
        if npix_out != npix_ex:
            raise TexsynthError(
                "cross-synthesis (reference) keeps the exemplar's nside; leave nside unset"
            )
        ref_s = values.reference(ref_t, decorrelate=False)
    work = Working.of(values, inm, init_t, gmask)

    J_full, n_levels = sky_scales(J, levels, nside_ex, nside_out)
    if levels is None and n_levels > 2 and nside_out == nside_ex <= TWO_LEVELS_UP_TO:
        J_full, n_levels = sky_scales(J, 2, nside_ex, nside_out)

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
            in_mask=inm_k,
            bank=bank,
            reference=SPHERE.downsample(ref_s, shape) if ref_s is not None else None,
            cross_channels=cross_channels,
        )
        if histogram > 0:
            total = total + histogram * HistogramLoss1D(ex_k, in_mask=inm_k)
        if low_multipoles:
            lmax = min(LOW_LMAX, 3 * nside_of(shape[0]) - 1)
            total = total + multipoles * MultipoleLoss(ex_k, lmax=lmax)
        if full_spectrum:
            lmin = min(LOW_LMAX + 1, 3 * nside_of(shape[0]) - 1) if multipoles > 0 else 1
            total = total + spectrum * AngularSpectrumLoss(ex_k, lmin=lmin)
        return total

    low_multipoles = multipoles > 0 and inm is None and nside_out == nside_ex
    full_spectrum = spectrum > 0 and inm is None and nside_out == nside_ex
    _, seeds = resolve_seeds(seed, n)

    def first_batch(ex_k: torch.Tensor, shape: Shape, gens: Generators) -> torch.Tensor:
        if work.start is not None and gmask is None:
            return SPHERE.downsample(work.start, shape).expand(n, -1, -1).clone()
        noise = member_noise(gens, (ex_k.shape[1], *shape), ex_k.dtype).to(ex_k.device)
        return noise + ex_k.mean((0, 2))[None, :, None]

    rep = SynthesisReport(seeds=seeds)
    out = optimise_levels(
        work,
        RunControl(seeds, tol, progress, callback, cancel, exact_members),
        canvas=(npix_out,),
        levels=(n_levels, J_full),
        build_loss=build_loss,
        start=first_batch,
        budget=sky_budget(steps, n_levels, fine_steps),
        report=rep,
        remap=histogram > 0 and gmask is None,
        resampling=SPHERE,
    )
    rep.seconds = time.perf_counter() - start_time
    return (out, rep) if report else out


def _check_sky(x: torch.Tensor, name: str = "sky") -> torch.Tensor:
    """A ``[B, C, npix]`` full-sky map batch."""
    t = as_signal_batch(x, name)
    nside_of(int(t.shape[-1]), name)
    return t


_RULES = InputRules(
    _check_sky,
    check_signal_mask,
    "sky",
    "mask covers the whole sky: nothing is left to learn from; give a mask with some 0 "
    "(kept) pixels or a separate init",
    "map",
)
