"""Training of the expander on procedural textures (issue 19; losses of D'Orazio's
re-implementation of the Transposer).

Each step draws ``batch`` procedural textures of side ``2s`` (:mod:`~texsynth.expander.
procedural`, a fresh seed per step), takes their centre crops of side ``s`` as inputs, expands
them and scores the output against the real ``2s`` texture through the normalised VGG19:

* ``style="gram"``: L1 between Gram matrices (Gatys et al. 2015) at ``pool1``, ``pool2``,
  ``conv3_3``, ``conv4_3``, ``conv5_2`` (the seed's VGG indices 4, 9, 14, 23, 31), each layer
  divided by the target Gram's mean absolute value;
* ``style="swd"``: sliced Wasserstein distance (Heitz et al. 2021) at the same layers, 32
  random directions per layer and step;
* ``content``: L1 between the last layer's features of the output and of the input enlarged
  bilinearly (the seed's content loss), weight ``content_weight``.

* ``selection``: for the selection head (``ExpanderConfig.head = "select"``), the
  cross-entropy of its per-block choices against the oracle's (the copy closest to the real
  continuation, :func:`~texsynth.expander.selection.oracle_choice`), weight
  ``selection_weight``; the style and content terms reach the head through its
  straight-through estimator.

* ``seam``: for the selection head, the expected minimum-error cut cost of its choices
  against their neighbours' (:func:`~texsynth.expander.seam_loss.seam_loss`), weight
  ``seam_weight`` (a loss on seamless stitching rather than on the real continuation).

Items of a batch can alternate with crops of photographs that installed packages ship
(:mod:`~texsynth.expander.photos`, ``photos=True``).

The seed's Fréchet-distance term (in place of its GAN loss), a patch discriminator and the
guided correspondence loss are in :mod:`~texsynth.expander.distribution_losses`
(``distribution`` of :func:`train_expander`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F

from ..errors import TexsynthError
from ..features import feature_extractor
from ..stats.gram import gram_matrix
from ..stats.sliced_wasserstein import random_directions, sorted_projections
from . import photos as photo_data
from . import procedural
from .distribution_losses import DistributionLosses, DistributionWeights
from .model import TransposerExpander
from .protocol import centre_crop
from .seam_loss import seam_loss

__all__ = ["STYLE_LAYERS", "TrainResult", "expander_loss", "train_expander"]

STYLE_LAYERS = ("pool1", "pool2", "conv3_3", "conv4_3", "conv5_2")


@dataclass
class TrainResult:
    """What :func:`train_expander` did: the loss per step, the selection head's realised
    seam cost per step (with a seam weight) and the seconds it took."""

    losses: list[float] = field(default_factory=list)
    seams: list[float] = field(default_factory=list)
    seconds: float = 0.0
    steps: int = 0


def expander_loss(
    out: torch.Tensor,
    target: torch.Tensor,
    inp: torch.Tensor,
    vgg: torch.nn.Module,
    *,
    style: str = "gram",
    content_weight: float = 0.05,
    generator: torch.Generator | None = None,
    model: TransposerExpander | None = None,
    selection_weight: float = 1.0,
    style_weight: float = 1.0,
    seam_weight: float = 0.0,
    seam_band: int = 4,
    seam_scale_free: bool = False,
) -> torch.Tensor:
    """Style (Gram L1 or sliced Wasserstein) of ``out`` against ``target`` plus the content L1
    of the last style layer against ``inp`` enlarged x2; all ``[B, 3, H, W]``, one mean value.
    With ``model`` (its last forward given ``target``), plus ``selection_weight`` times its
    :attr:`~texsynth.expander.model.TransposerExpander.aux_loss` (selection head). The style
    terms are weighted by ``style_weight``; with it and ``content_weight`` at 0 the VGG19 is
    not run (the selection head's oracle loss alone). ``seam_weight`` adds the selection
    head's expected seam cost (:func:`~texsynth.expander.seam_loss.seam_loss`, cut band
    ``seam_band`` pixels; ``seam_scale_free``: probabilities invariant to the logits' scale)
    of its last training forward."""
    aux = model.aux_loss if model is not None else None
    choices = None
    extra = out.new_zeros(())
    if aux is not None and selection_weight:
        extra = extra + selection_weight * aux
    if model is not None and seam_weight and model.config.head == "select":
        choices = model.selector.last_choices
        if choices is not None:
            seams = seam_loss(
                choices, target, model.config.block, seam_band, scale_free=seam_scale_free
            )[0]
            extra = extra + seam_weight * seams
    if not style_weight and not content_weight:
        if (aux is None or not selection_weight) and choices is None:
            raise TexsynthError("every term of the expander loss has weight 0")
        return extra
    up = F.interpolate(inp, size=out.shape[-2:], mode="bilinear", align_corners=False)
    feats = vgg(torch.cat([out, target, up]), list(STYLE_LAYERS))
    B = out.shape[0]
    total = out.new_zeros(())
    for name in STYLE_LAYERS:
        fo, ft = feats[name][:B], feats[name][B : 2 * B]
        if style == "gram":
            go, gt = gram_matrix(fo), gram_matrix(ft)
            total = (
                total
                + ((go - gt).abs().mean((1, 2)) / gt.abs().mean((1, 2)).clamp_min(1e-8)).mean()
            )
        elif style == "swd":
            d = random_directions(fo.shape[1], 32, generator, device=fo.device, dtype=fo.dtype)
            so, st = sorted_projections(fo, d), sorted_projections(ft, d)
            total = total + ((so - st) ** 2).mean() / (st**2).mean().clamp_min(1e-8)
        else:
            raise TexsynthError(f"style must be 'gram' or 'swd', got {style!r}")
    last = STYLE_LAYERS[-1]
    fo, fu = feats[last][:B], feats[last][2 * B :]
    content = (fo - fu).abs().mean() / fu.abs().mean().clamp_min(1e-8)
    return style_weight * total / len(STYLE_LAYERS) + content_weight * content + extra


def train_expander(
    model: TransposerExpander,
    *,
    steps: int,
    size: int = 32,
    batch: int = 4,
    lr: float = 2e-3,
    style: str = "gram",
    content_weight: float = 0.05,
    selection_weight: float = 1.0,
    style_weight: float = 1.0,
    seed: int = 0,
    families: list[str] | None = None,
    seconds: float | None = None,
    log: Callable[[int, float], None] | None = None,
    seam_weight: float = 0.0,
    seam_band: int = 4,
    photos: bool = False,
    result: TrainResult | None = None,
    seam_scale_free: bool = False,
    scalar_lr_factor: float = 20.0,
    distribution: DistributionWeights | None = None,
    train_cut: bool = False,
) -> TrainResult:
    """Train ``model`` in place with Adam for ``steps`` steps (or until ``seconds`` pass) on
    procedural textures: inputs ``size``, targets ``2 * size``; step ``k`` uses the textures of
    seed ``seed + k`` (so a run is reproducible and never sees the evaluation textures). The
    selection head also learns from the oracle's choices (``selection_weight``) and from
    its seams (``seam_weight``). With ``photos`` every second item of a batch is a crop of
    a packaged photograph (:func:`~texsynth.expander.photos.crops`, seeded by the step;
    all of :data:`~texsynth.expander.photos.PHOTOS`, as ``texsynth train-expander --photos``:
    a missing one is a one-line error, so that a run's data does not depend on the machine).
    ``result``: filled in place (to watch a run from ``log``). The scalars (temperatures,
    reaches, ``tau``, ``w_s``, and the cut-aware choice's ``w_cut`` with ``train_cut``; without
    it ``w_cut`` stays fixed) learn at ``scalar_lr_factor`` times ``lr`` (0: frozen).
    ``distribution`` adds the Fréchet, adversarial and correspondence terms
    (:class:`~texsynth.expander.distribution_losses.DistributionLosses`; the patch
    discriminator is built after the model, from torch's global generator, and takes one
    step per step)."""
    if steps < 1 or size < 8 or batch < 1:
        raise TexsynthError(
            f"need steps >= 1, size >= 8 and batch >= 1, got {steps}, {size}, {batch}"
        )
    vgg, _ = feature_extractor("vgg19")  # (loaded even when unused: a cheap, clear failure)
    vgg = vgg.eval().requires_grad_(False)
    pics = photo_data.require_photos() if photos else ()  # all of them: the same data everywhere
    # the scalars (temperatures, reaches, the selection's weights) move 20x faster: at the
    # network's rate a few hundred steps leave them where they started
    names = ("beta_logit", "log_reach", "log_tau", "w_sim") + (("w_cut",) if train_cut else ())
    # the cut-aware choice's weight stays where it is unless asked (training it costs the cut
    # term in every step, even at 0)
    fixed = [p for n, p in model.named_parameters() if n.endswith("w_cut") and not train_cut]
    for p in fixed:
        p.requires_grad_(False)
    scalars = [p for n, p in model.named_parameters() if n.endswith(names)]
    ids = {id(p) for p in scalars}
    rest = [p for p in model.parameters() if p.requires_grad and id(p) not in ids]
    groups: list[dict[str, Any]] = [{"params": rest}]
    if scalar_lr_factor > 0:
        groups.append({"params": scalars, "lr": scalar_lr_factor * lr})
    else:  # frozen: no gradient, no update
        for p in scalars:
            p.requires_grad_(False)
    opt = torch.optim.Adam(groups, lr=lr)
    extra = None
    if distribution is not None and distribution.active:
        extra = DistributionLosses(distribution, vgg, seed)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps)
    gen = torch.Generator().manual_seed(seed)
    res = result if result is not None else TrainResult()
    t0 = time.perf_counter()
    model.train()
    for k in range(steps):
        arr = procedural.batch(seed + k, batch, 2 * size, families)
        if pics and batch > 1:
            arr[1::2] = photo_data.crops(pics, seed + k, len(arr[1::2]), 2 * size)
        target = torch.from_numpy(arr)
        inp = centre_crop(target)
        out = model(inp, target=target)
        seed_terms = (
            style_weight
            or content_weight
            or (model.aux_loss is not None and selection_weight)
            or (seam_weight and model.config.head == "select")
        )
        loss = out.new_zeros(())
        if seed_terms or extra is None:
            loss = expander_loss(
                out,
                target,
                inp,
                vgg,
                style=style,
                content_weight=content_weight,
                generator=gen,
                model=model,
                selection_weight=selection_weight,
                style_weight=style_weight,
                seam_weight=seam_weight,
                seam_band=seam_band,
                seam_scale_free=seam_scale_free,
            )
        if extra is not None:
            loss = loss + extra.per_item(out, target).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        if extra is not None:
            extra.update(out, target)
        res.losses.append(float(loss.detach()))
        choices = getattr(getattr(model, "selector", None), "last_choices", None)
        if seam_weight and choices is not None:
            with torch.no_grad():
                realised = seam_loss(choices, target, model.config.block, seam_band)[1]
            res.seams.append(float(realised))
        res.steps = k + 1
        if log is not None:
            log(k, res.losses[-1])
        if seconds is not None and time.perf_counter() - t0 > seconds:
            break
    res.seconds = time.perf_counter() - t0
    for p in scalars + fixed:
        p.requires_grad_(True)
    model.eval()
    return res
