"""Synthesis of 1-D signals (time series): coarse-to-fine L-BFGS on scattering statistics.

The 1-D twin of :func:`texsynth.synthesize`, with the same options and the same engine
(:func:`texsynth.synthesis.engine.optimise`): read -> standardise -> (Gaussianise) -> build the
loss per pyramid level -> optimise from noise coarse to fine -> undo the transforms.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch

from ..arrays import accepts_arrays
from ..errors import TexsynthError
from ..losses import TextureLoss, build_loss_1d
from ..methods import DEFAULT_POWER_SPECTRUM
from ..presets import level_budget
from ..pyramid import downsample, fourier_resize
from ..seeds import resolve_seeds
from ..stats.scattering1d import as_signal_batch, check_signal_mask
from ..transforms import match_histogram
from ..wavelets1d import check_scales_1d
from .arguments import count, weight
from .drive import RunControl, Working, optimise_levels
from .engine import Callback, Cancel, SynthesisReport, autograd_enabled
from .levels import (
    SIGNAL_LEVELS,
    Generators,
    Shape,
    choose_scales,
    default_levels,
)
from .prepare import InputRules, one_input, working_masks
from .values import SAMPLES, ValueTransforms
from .walks import (
    cumulate,
    first_valid_value,
    looks_like_random_walk,
    spectrum_shaped_noise,
    walk_increments,
)

__all__ = [
    "SynthesisReport1D",
    "downsample_1d",
    "fourier_resize_1d",
    "synthesize_1d",
]


@dataclass
class SynthesisReport1D(SynthesisReport):
    """:class:`~texsynth.synthesis.SynthesisReport` of :func:`synthesize_1d` (``levels``
    holds ``(length,)`` tuples), with the choices made from the signal."""

    stationary: bool = True  # treated as stationary (else: a random walk)
    histogram: float = 1.0  # weight of the histogram term used
    increments: bool = False  # the increments were synthesised, then cumulated
    remap: bool = True  # the values (or increments) were rank-remapped onto the exemplar's


def downsample_1d(x: torch.Tensor, n: int) -> torch.Tensor:
    """Area-average ``[B, C, N]`` down to ``n`` samples (no ringing, any signal)."""
    return downsample(x, (n,))


def fourier_resize_1d(x: torch.Tensor, n: int) -> torch.Tensor:
    """Band-limited periodic resize of ``[B, C, N]`` to ``n`` samples (zero-pad or crop the
    spectrum): upsampling adds no blur and keeps the signal periodic."""
    return fourier_resize(x, (n,))


@accepts_arrays("signal", "mask", "in_mask", "init", "reference", like="signal", ndim=1)
@autograd_enabled
def synthesize_1d(
    signal: torch.Tensor,
    *,
    size: int | None = None,
    n: int = 1,
    seed: int | Sequence[int] | None = None,
    steps: int = 100,
    levels: int | None = None,
    tile: bool = True,
    mask: torch.Tensor | None = None,
    in_mask: torch.Tensor | None = None,
    init: torch.Tensor | None = None,
    n_up: int = 0,
    J: int | None = None,
    use_variance: bool = True,
    cross_channels: bool = True,
    to_gaussian: bool = False,
    reference: torch.Tensor | None = None,
    histogram: float | None = None,
    power_spectrum: float | None = None,
    stationary: bool | None = None,
    increments: bool | None = None,
    tol: float = 1e-2,
    device: str | torch.device | None = None,
    dtype: torch.dtype = torch.float32,
    progress: bool = True,
    callback: Callback | None = None,
    cancel: Cancel | None = None,
    report: bool = False,
    exact_members: bool = True,
) -> torch.Tensor | tuple[torch.Tensor, SynthesisReport1D]:
    """Synthesise ``n`` new signals with the scattering statistics of ``signal``.

    Parameters
    ----------
    signal
        ``[N]``, ``[C, N]`` or ``[B, C, N]`` exemplar in its own units (``B > 1``: several
        exemplars of one process, whose statistics are averaged).
    size
        Output length in samples (default: the exemplar's, times ``2**n_up``; or ``init``'s).
    n
        Number of independent signals (``synthesised_N``), optimised together.
    seed
        Seed of the initial noise (``None``: a fresh one, recorded in the report); the same
        seed on the same device gives the same result. Output ``k`` uses the seed
        :func:`texsynth.seeds.member_seed` ``(seed, k)`` and equals a run with ``n=1`` and
        that seed; a list of ``n`` seeds gives each output its own.
    steps
        Maximum L-BFGS iterations at the coarsest level (``NUM_EPOCHS``); each finer level
        gets a third of the previous one's (at least 10). A level also stops when it
        converges (see ``tol``).
    levels
        Coarse-to-fine levels (``nstep``); default: halve while the output keeps at least
        256 samples (at most 4 levels).
    tile
        Periodic output (its end joins its start smoothly; default). ``False``: a crop of a
        longer periodic signal, with no wrap-around. Ignored with ``mask``. For a walk
        synthesised through its increments (``increments``), the increments are periodic:
        copies of the output, each shifted to start where the previous one ends plus one
        step, continue it seamlessly.
    mask
        Inpainting (``grd_mask``): 1 where samples are synthesised, 0 where they are kept
        from ``init`` (default ``init``: the exemplar itself, whose masked samples then do
        not shape the target statistics). Unmasked samples are kept exactly.
    in_mask
        Exemplar samples to ignore (0) when computing the target statistics (gaps, glitches).
    init
        Warm start (``input_image``), ``[C, N]`` or ``[n, C, N]``.
    n_up
        Output ``2**n_up`` times as long as the exemplar (when ``size`` is not given).
    J
        Number of scales at the exemplar's length (``Jmax``; default as many as the
        exemplar and the output allow).
    use_variance
        Weight each coefficient by the exemplar's standard error.
    cross_channels
        Several channels: also match the scattering cross statistics of every pair of
        (decorrelated) channels, which ties their structures together in time.
    to_gaussian
        Gaussianise the exemplar's values first, invert at the end.
    reference
        Second signal for cross-synthesis (``[N]`` or ``[C, N]``, the exemplar's length,
        which is then the output's): the output's cross statistics with ``reference`` match
        the exemplar's.
    histogram
        Weight of the value-histogram loss (0 disables it). When on (and not inpainting),
        the output's value distribution is also made exact at the end by a rank remapping.
        With ``increments`` it applies to the increments. Default ``None``: 1.0 for a
        stationary signal, 0 for a walk synthesised directly (see ``stationary``), and for
        the increments of a walk no loss term but the exact final remapping: the histogram
        term made their large values come in same-sign runs, too heavy-tailed at lag 4.
    power_spectrum
        Weight of the log-binned power-spectrum loss (default 0.3; 0 disables it).
    stationary
        Whether the signal's level is stationary, so that its value distribution, mean and
        standard deviation are properties of the process. ``None`` (default): detected by
        :func:`looks_like_random_walk`. For a random walk (fractional Brownian motion,
        prices...) they belong to the realisation: the histogram term is off by default
        and S0 is not matched, only the wavelet statistics. Matching them distorted the
        increments of fractional Brownian motions (docs/signals-1d.md).
    increments
        Synthesise a random walk through its increments: the increments ``diff(signal)``
        (a stationary process) are synthesised as a stationary signal (S0, spectrum, exact
        final histogram; see ``histogram``), then cumulated from the exemplar's first (valid)
        value, or ``init``'s. ``None`` (default): for random walks (``stationary``
        False) unless inpainting (``mask``), which keeps the direct synthesis because the
        cumulated increments cannot keep frozen samples. It makes the increments'
        distributions and their volatility clustering closer to the process's (a
        multifractal random walk: docs/signals-1d.md). ``init``, ``reference`` and
        ``in_mask`` are differenced the same way; ``callback`` then sees increments.
    tol
        Stop a level when the loss decreased by less than this fraction over 5 iterations.
    device, dtype
        Where and in what precision to compute (default: the signal's device).
    progress
        Show a progress bar.
    callback
        ``callback(level, iteration, loss, x)`` after each iteration (``x`` is
        ``[n, C', N_level]`` in the standardised working space); return ``True`` to stop
        the current level.
    cancel
        Cancels the whole run: a ``threading.Event`` (set it from another thread) or a
        function returning ``True``; checked at every iteration, it raises
        :class:`~texsynth.synthesis.Cancelled` and returns nothing (a callback may raise
        it too).
    report
        Also return a :class:`SynthesisReport1D` (``levels`` holds ``(length,)`` tuples;
        ``stationary``, ``histogram``, ``increments`` and ``remap`` record the choices
        made).
    exact_members
        Evaluate the ``n`` outputs one by one, so that output ``k`` equals bit for bit a
        run of ``n=1`` with its seed (default). ``False`` evaluates them in one batched
        call: faster for short signals (4 signals of 4096 samples: about 3x on 2 CPU
        cores), and the outputs then equal their runs alone only up to rounding.

    Returns
    -------
    torch.Tensor
        ``[n, C, N_out]`` signals in the exemplar's units (and the report if asked).

    Examples
    --------
    >>> import torch
    >>> from texsynth import synthesize_1d
    >>> walk = torch.cumsum(torch.randn(1024), 0)
    >>> out = synthesize_1d(walk, n=2, seed=0, steps=20, progress=False)
    >>> tuple(out.shape)
    (2, 1, 1024)
    >>> bool(out[0, 0, 0] == walk[0])  # the walk's increments, cumulated from its start
    True
    """
    call = dict(locals())  # this call's arguments, for the run on the increments
    start_time = time.perf_counter()
    n = count(n, "n")
    steps = count(steps, "steps")
    n_up = count(n_up, "n_up", minimum=0)
    power_spectrum = weight(
        DEFAULT_POWER_SPECTRUM if power_spectrum is None else power_spectrum, "power_spectrum"
    )
    if histogram is not None:
        histogram = weight(histogram, "histogram")
    ex = as_signal_batch(signal, "signal")
    dev = torch.device(device) if device is not None else ex.device
    ex = ex.to(dev, dtype)
    B, _, Ne = ex.shape
    check_scales_1d(Ne, None, "an exemplar", "give a longer exemplar")

    inm, init_t, gmask = working_masks(ex, in_mask=in_mask, init=init, mask=mask, rules=_RULES)

    if stationary is None:  # (judged on the samples that shape the target statistics)
        stationary = not looks_like_random_walk(ex, inm)

    default_len = init_t.shape[-1] if init_t is not None else Ne * 2**n_up
    if size is None:
        n_out = default_len
    else:
        if not isinstance(size, int) or isinstance(size, bool):
            raise TexsynthError(f"size must be an int (a length in samples), got {size!r}")
        n_out = size
    if n_out < 8:
        raise TexsynthError(f"the output must have at least 8 samples, got {n_out}")
    if gmask is not None and n_out != init_t.shape[-1]:  # type: ignore[union-attr]
        raise TexsynthError("with a mask (inpainting) the output has the length of init")
    if init_t is not None and init_t.shape[0] not in (1, n):
        raise TexsynthError(f"init has a batch of {init_t.shape[0]}, expected 1 or n={n}")

    if increments is None:
        increments = not stationary and gmask is None
    elif not isinstance(increments, bool):
        raise TexsynthError(f"increments must be True, False or None, got {increments!r}")
    if increments:
        if gmask is not None:
            raise TexsynthError(
                "increments=True cannot keep the frozen samples of inpainting (mask); use "
                "increments=False (the default with a mask)"
            )
        if Ne < 9 or n_out < 9:
            raise TexsynthError(
                f"increments=True needs an exemplar and output of at least 9 samples (8 "
                f"increments), got {Ne} and {n_out}; use increments=False or longer signals"
            )
        d_ex = walk_increments(ex)
        d_inm = None if inm is None else walk_increments(inm, valid=True)
        # the same call on the increments, as a stationary signal of the output's length
        increments_call: dict[str, Any] = {
            **call,
            "signal": d_ex,
            "size": n_out,
            "in_mask": d_inm,
            "init": None if init_t is None else walk_increments(init_t),
            "reference": (
                None
                if reference is None
                else walk_increments(as_signal_batch(reference, "reference"))
            ),
            "histogram": 0.0 if histogram is None else histogram,
            "stationary": True,
            "increments": False,
            "device": dev,
            "report": True,
        }
        inc, rep = synthesize_1d(**increments_call)
        if histogram is None:  # exact increment distribution, without the loss term
            valid = SAMPLES.pooled(d_inm.expand(B, 1, Ne)) if d_inm is not None else None
            matched = match_histogram(SAMPLES.as_image(inc), SAMPLES.pooled(d_ex), valid)
            inc = SAMPLES.back(matched)
        start = init_t[..., :1] if init_t is not None else first_valid_value(ex, inm)
        out = cumulate(inc, start)
        rep.stationary, rep.increments = bool(stationary), True
        rep.remap = histogram is None or histogram > 0
        rep.seconds = time.perf_counter() - start_time
        return (out, rep) if report else out

    # value transforms: standardise (+ channel PCA), optionally Gaussianise
    values = ValueTransforms.fit(ex, inm, to_gaussian=to_gaussian, layout=SAMPLES)
    ref_s = None
    if reference is not None:
        ref_t = one_input(reference, "reference", ex, _RULES)
        if ref_t.shape[-1] != Ne or n_out != Ne:
            raise TexsynthError(
                f"cross-synthesis needs the reference ({ref_t.shape[-1]} samples), the exemplar "
                f"({Ne}) and the output ({n_out}) to have the same length"
            )
        if not tile and gmask is None:
            raise TexsynthError(
                "reference (cross-synthesis) aligns the output with the reference sample by "
                "sample; use tile=True"
            )
        ref_s = values.reference(ref_t, decorrelate=False)

    work = Working.of(values, inm, init_t, gmask)
    if histogram is None:
        histogram = 1.0 if stationary else 0.0

    # scales and levels (an output shorter than the exemplar cannot hold its largest scales)
    J_full, n_levels = choose_scales(
        J,
        levels,
        (
            ("an exemplar", (Ne,), "give a longer exemplar"),
            ("an output", (n_out,), "use a longer size"),
        ),
        describe=lambda shape: f"{shape[0]} samples",
        check_small=lambda shape, what, fix: check_scales_1d(shape[0], None, what, fix),
        default_levels=lambda j: default_levels(n_out, Ne, j, SIGNAL_LEVELS),
    )

    margin = 0
    if not tile and gmask is None:
        margin = min(3 * 2 ** (J_full - 1), n_out // 2)
    canvas = n_out + 2 * margin

    def build_loss(
        k: int, ex_k: torch.Tensor, inm_k: torch.Tensor | None, shape: Shape, J_k: int
    ) -> TextureLoss:
        return build_loss_1d(
            ex_k,
            J=J_k,
            in_mask=inm_k,
            reference=downsample(ref_s, shape) if ref_s is not None else None,
            edge=gmask is not None,
            use_variance=use_variance,
            cross_channels=cross_channels,
            histogram=histogram,
            power_spectrum=power_spectrum,
            match_s0=bool(stationary),
        )

    _, seeds = resolve_seeds(seed, n)

    def first_batch(ex_k: torch.Tensor, shape: Shape, gens: Generators) -> torch.Tensor:
        if work.start is not None and gmask is None:
            return downsample(work.start, shape).expand(n, -1, -1).clone()
        return spectrum_shaped_noise(ex_k, shape[0], gens)

    rep = SynthesisReport1D(
        stationary=bool(stationary),
        histogram=float(histogram),
        remap=histogram > 0 and gmask is None,
        seeds=seeds,
    )
    out = optimise_levels(
        work,
        RunControl(seeds, tol, progress, callback, cancel, exact_members),
        canvas=(canvas,),
        levels=(n_levels, J_full),
        build_loss=build_loss,
        start=first_batch,
        budget=lambda k: level_budget(steps, 3, k),
        report=rep,
        remap=rep.remap,
        crop=(margin, (n_out,)),
        mirror=True,
    )
    rep.seconds = time.perf_counter() - start_time
    return (out, rep) if report else out


_RULES = InputRules(
    as_signal_batch,
    check_signal_mask,
    "signal",
    "mask covers the whole signal: nothing is left to learn from; give a mask with some 0 "
    "(kept) samples or a separate init",
    "signal",
)
