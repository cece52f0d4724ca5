"""The public driver :func:`synthesize_patches`: input checks, the exemplar pyramid, the
schedule of levels and patch sizes, lattice detection, and one optimisation per output."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F

from .._checks import as_image_batch, check_mask, size_text
from ..cancellation import Cancel
from ..errors import TexsynthError
from ..progress import OnProgress, Progress
from ..seeds import resolve_seeds
from .lattice import Lattice, lattice_periods, warn_lattice_seam
from .levels import ExemplarLevel, level_features
from .optimisation import COARSE_MULT, synthesize_one

__all__ = ["synthesize_patches"]

_QUALITY = {
    # pyramid levels, EM iterations per level, PatchMatch sweeps per iteration,
    # extra final stage with smaller patches
    "fast": (4, 3, 2, False),
    "default": (4, 6, 3, False),
    "best": (4, 10, 3, True),
}


def _as_size(size: object, default: tuple[int, int]) -> tuple[int, int]:
    if size is None:
        return default
    if isinstance(size, bool):
        raise TexsynthError(f"size must be an int or (H, W), got {size!r}")
    if isinstance(size, int):
        hw = (size, size)
    elif isinstance(size, (tuple, list)) and len(size) == 2:
        hw = tuple(size)
    else:
        raise TexsynthError(f"size must be an int or (H, W), got {size!r}")
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in hw):
        raise TexsynthError(f"size must hold integers, got {size!r}")
    if min(hw) <= 0:
        raise TexsynthError(f"size must be positive, got {size!r}; give e.g. size=256")
    return int(hw[0]), int(hw[1])


def synthesize_patches(
    exemplar: torch.Tensor,
    *,
    size: int | tuple[int, int] | None = None,
    n: int = 1,
    seed: int | Sequence[int] | None = None,
    tile: bool = True,
    mask: torch.Tensor | None = None,
    init: torch.Tensor | None = None,
    quality: str = "default",
    patch_size: int | None = None,
    lattice: bool = True,
    progress: bool = True,
    callback: Callable[[int, int, torch.Tensor], None] | None = None,
    cancel: Cancel | None = None,
    on_progress: OnProgress | None = None,
) -> torch.Tensor:
    """Synthesise textures by multi-resolution patch search and voting.

    Texture optimisation (Kwatra et al. 2005) over a box pyramid with a vectorised PatchMatch
    search (Barnes et al. 2009; coherent candidates after Ashikhmin 2001), an occurrence
    penalty (Kaspar et al. 2015) and a coherence limit that bounds verbatim copies; the last
    pass copies exemplar pixels (no blur). Suited to structured textures (bricks, tiles,
    cells, pebbles, stripes). No weights, no gradients.

    Parameters
    ----------
    exemplar
        ``[H, W]``, ``[C, H, W]`` or ``[1, C, H, W]`` float image in its own units (any
        number of channels).
    size
        Output size, an int or ``(H, W)``; default the exemplar's (or ``init``'s) size. May
        exceed the exemplar.
    n
        Number of outputs. Member ``k`` uses the seed
        :func:`texsynth.seeds.member_seed` ``(seed, k)`` and equals a run with ``n=1`` and
        that seed.
    seed
        Base seed, or one seed per output (``None``: a fresh one, :mod:`texsynth.seeds`).
        The global RNG is never used.
    tile
        ``True``: periodic output that tiles seamlessly (patches wrap around the borders).
        ``False``: patches stay inside the output (no wrap).
    mask
        Inpainting mask of the output's size, 1 = synthesise, 0 = keep from ``init``
        (default: the exemplar itself, whose patches overlapping the hole are then not used
        as sources). Kept pixels are returned exactly.
    init
        Warm start ``[H, W]``, ``[C, H, W]`` or ``[1|n, C, H, W]`` of the output's size.
    quality
        ``"fast"``, ``"default"`` or ``"best"`` (more levels, iterations, and a final pass
        with smaller patches).
    patch_size
        Patch side at every level (default 8; at least 3, at most half the exemplar's
        shorter side).
    lattice
        Detect a regular lattice in the exemplar (tiles, chequerboards, grids: a strong
        repeat of its autocorrelation, see :func:`lattice_periods`) and place every piece in
        phase with it, so that the lattice never shears or breaks. Irregular textures are
        unaffected. With ``tile=True`` the output wraps without a seam only when its size is
        a multiple of the period.
    progress
        Show a ``tqdm`` progress bar.
    callback
        Called as ``callback(level, iteration, x)`` after every iteration, ``level`` 0 being
        the finest and ``x`` the current ``[1, C, h, w]`` image in exemplar units.
    cancel
        Cancels the whole run (a ``threading.Event`` or a function returning ``True``,
        checked at every iteration): :class:`~texsynth.synthesis.Cancelled` is raised.
    on_progress
        Called with a :class:`texsynth.progress.Progress` after every iteration (stage of
        the pyramid, iteration, output being made), as for every method.

    Returns
    -------
    torch.Tensor
        ``[n, C, H, W]`` in the exemplar's units, dtype and device.

    Raises
    ------
    TexsynthError
        For bad inputs or options.
    """
    return _synthesize_patches(
        exemplar,
        size=size,
        n=n,
        seed=seed,
        tile=tile,
        mask=mask,
        init=init,
        quality=quality,
        patch_size=patch_size,
        lattice=lattice,
        progress=progress,
        callback=callback,
        cancel=cancel,
        on_progress=on_progress,
    )


def _synthesize_patches(
    exemplar: torch.Tensor,
    *,
    size: int | tuple[int, int] | None,
    n: int,
    seed: int | Sequence[int] | None,
    tile: bool,
    mask: torch.Tensor | None,
    init: torch.Tensor | None,
    quality: str,
    patch_size: int | None,
    progress: bool,
    callback: Callable[[int, int, torch.Tensor], None] | None,
    lattice: bool = True,
    record: list[torch.Tensor] | None = None,
    cancel: Cancel | None = None,
    on_progress: OnProgress | None = None,
) -> torch.Tensor:
    """:func:`synthesize_patches`; ``record`` (if given) receives, per output, the ``[2, H, W]``
    exemplar coordinates (row, column) each output pixel was copied from."""
    ex = as_image_batch(exemplar, "exemplar")
    if ex.shape[0] != 1:
        raise TexsynthError(
            f"exemplar must be a single image, got batch size {ex.shape[0]}; pass exemplar[k]"
        )
    if not isinstance(lattice, bool):
        raise TexsynthError(f"lattice must be True or False, got {lattice!r}")
    if quality not in _QUALITY:
        raise TexsynthError(
            f"unknown quality {quality!r}; choose one of {', '.join(map(repr, _QUALITY))}"
        )
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise TexsynthError(f"n must be an integer >= 1, got {n!r}")
    _, seeds = resolve_seeds(seed, n)
    if callback is not None and not callable(callback):
        raise TexsynthError("callback must be callable as callback(level, iteration, x)")
    _, C, h, w = ex.shape
    p = 8 if patch_size is None else patch_size
    if isinstance(p, bool) or not isinstance(p, int) or p < 3:
        raise TexsynthError(f"patch_size must be an integer >= 3, got {patch_size!r}")
    if p > min(h, w) // 2:
        if patch_size is not None:
            raise TexsynthError(
                f"patch_size={p} is too big for the {h}x{w} exemplar; give at most "
                f"{min(h, w) // 2} (half its shorter side) or a larger exemplar"
            )
        p = min(h, w) // 2
        if p < 3:
            raise TexsynthError(
                f"exemplar of {h}x{w} pixels is too small for patch synthesis; give at least 6x6"
            )
    dt, dev = ex.dtype, ex.device

    init_b = None
    if init is not None:
        init_b = as_image_batch(init, "init").to(dtype=dt, device=dev)
        if init_b.shape[1] != C:
            raise TexsynthError(
                f"init has {init_b.shape[1]} channels but the exemplar has {C}; give matching "
                "channels"
            )
        if init_b.shape[0] not in (1, n):
            raise TexsynthError(f"init must have batch size 1 or n={n}, got {init_b.shape[0]}")
    if size is None:
        if init_b is not None:
            default_hw = tuple(init_b.shape[-2:])
        elif mask is not None and isinstance(mask, torch.Tensor) and mask.dim() >= 2:
            default_hw = tuple(mask.shape[-2:])
        else:
            default_hw = (h, w)
    else:
        default_hw = (h, w)
    H, W = _as_size(size, default_hw)  # type: ignore[arg-type]
    if min(H, W) < p:
        raise TexsynthError(f"size {H}x{W} is smaller than patch_size={p}; give a larger size")
    if init_b is not None and tuple(init_b.shape[-2:]) != (H, W):
        raise TexsynthError(
            f"init is {size_text(*init_b.shape[-2:])} pixels but the output is "
            f"{size_text(H, W)}; give init of the output's size",
            cli=f"--init is {size_text(*init_b.shape[-2:])} pixels but the output is "
            f"{size_text(H, W)}; give --init of the output's size",
        )
    hole_ex = None
    mask_b = None
    if mask is not None:
        mask_b = check_mask(mask, torch.Size((n, C, H, W))).to(dtype=dt, device=dev)
        if mask_b.shape[1] != 1:
            mask_b = mask_b.amax(1, keepdim=True)
        if init_b is None:
            if (H, W) != (h, w):
                raise TexsynthError(
                    f"mask is {size_text(H, W)} pixels but the exemplar is {size_text(h, w)}; "
                    "with a mask and no init the exemplar is inpainted, so give a mask of its "
                    "size (or pass init=...)",
                    cli=f"--mask is {size_text(H, W)} pixels but the exemplar is "
                    f"{size_text(h, w)}; give a mask of the exemplar's size (or the image to "
                    "fill with --init)",
                )
            init_b = ex
            if mask_b.shape[0] != 1:
                raise TexsynthError(
                    "with mask and no init, give a single [H, W] mask (the exemplar's hole)"
                )
            hole_ex = mask_b[0, 0] > 0

    # normalisation used for matching only (outputs hold exemplar values)
    mean = ex.mean(dim=(2, 3), keepdim=True)
    std = ex.std().clamp_min(1e-12)
    exn = ((ex - mean) / std)[0]

    levels_max, iters, sweeps, extra = _QUALITY[quality]
    levels = 1
    while (
        levels < levels_max and min(h, w) // 2**levels >= 3 * p and min(H, W) // 2**levels >= 2 * p
    ):
        levels += 1
    stages: list[tuple[int, int]] = [(lvl, p) for lvl in range(levels - 1, -1, -1)]
    if extra:
        stages.append((0, max(3, (p * 3) // 4)))

    # pyramids (box filter); hole of the exemplar: max-pooled so any hole pixel excludes
    ex_pyr = [level_features(exn, lvl) for lvl in range(levels)]
    hole_pyr = [hole_ex]
    for _ in range(1, levels):
        hole_pyr.append(
            None
            if hole_pyr[-1] is None
            else F.max_pool2d(hole_pyr[-1][None, None].to(dt), 2)[0, 0] > 0
        )
    level_cache: dict[tuple[int, int], ExemplarLevel] = {}
    # regular lattices (tiles, grids): every piece is placed in phase with the lattice
    periods = lattice_periods(exn) if lattice else (None, None)
    if tile:
        warn_lattice_seam(periods, (H, W))

    def get_level(lvl: int, ps: int) -> ExemplarLevel:
        key = (lvl, ps)
        if key not in level_cache:
            level_cache[key] = ExemplarLevel(ex_pyr[lvl], ps, hole_pyr[lvl])
        return level_cache[key]

    total = n * (len(stages) - 1 + COARSE_MULT) * iters  # (the coarsest stage runs longer)
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=total, desc="patch synthesis", leave=False)

    outs = []
    sources: list[torch.Tensor] = []
    try:
        for k in range(n):
            gen = torch.Generator(device=dev)
            gen.manual_seed(seeds[k])
            ini = None if init_b is None else init_b[min(k, init_b.shape[0] - 1)]
            msk = None if mask_b is None else mask_b[min(k, mask_b.shape[0] - 1), 0]
            report = _stage_reporter(callback, on_progress, len(stages), iters, k, n)
            out, srcs = synthesize_one(
                ex[0],
                exn,
                mean[0],
                std,
                ex_pyr,
                get_level,
                stages,
                iters,
                sweeps,
                (H, W),
                tile,
                ini,
                msk,
                gen,
                bar,
                report,
                None if periods == (None, None) else Lattice(periods),
                cancel,
            )
            outs.append(out)
            sources.append(srcs)
    finally:
        if bar is not None:
            bar.close()
    if record is not None:
        record.extend(sources)
    return torch.stack(outs)


def _stage_reporter(
    callback: Callable[[int, int, torch.Tensor], None] | None,
    on_progress: OnProgress | None,
    n_stages: int,
    iters: int,
    member: int,
    members: int,
) -> Callable[[int, int, torch.Tensor], None] | None:
    """The per-iteration callback of one output: the caller's ``callback``, and
    ``on_progress`` with the stage counted (a stage restarts its iterations at 0)."""
    if on_progress is None:
        return callback
    stage = [0]

    def report(lvl: int, it: int, x: torch.Tensor) -> None:
        if callback is not None:
            callback(lvl, it, x)
        if it == 0:
            stage[0] += 1
        steps = iters * COARSE_MULT if stage[0] == 1 else iters
        on_progress(Progress(stage[0], n_stages, it + 1, steps, lambda: x, member, members))

    return report
