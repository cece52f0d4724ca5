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

The seed's Fréchet-distance term (in place of its GAN loss) is not implemented here.
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
from . import procedural
from .model import TransposerExpander
from .protocol import centre_crop

__all__ = ["STYLE_LAYERS", "TrainResult", "expander_loss", "train_expander"]

STYLE_LAYERS = ("pool1", "pool2", "conv3_3", "conv4_3", "conv5_2")


@dataclass
class TrainResult:
    """What :func:`train_expander` did: the loss per step and the seconds it took."""

    losses: list[float] = field(default_factory=list)
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
) -> torch.Tensor:
    """Style (Gram L1 or sliced Wasserstein) of ``out`` against ``target`` plus the content L1
    of the last style layer against ``inp`` enlarged x2; all ``[B, 3, H, W]``, one mean value.
    With ``model`` (its last forward given ``target``), plus ``selection_weight`` times its
    :attr:`~texsynth.expander.model.TransposerExpander.aux_loss` (selection head). The style
    terms are weighted by ``style_weight``; with it and ``content_weight`` at 0 the VGG19 is
    not run (the selection head's oracle loss alone)."""
    aux = model.aux_loss if model is not None else None
    if not style_weight and not content_weight:
        if aux is None or not selection_weight:
            raise TexsynthError("every term of the expander loss has weight 0")
        return selection_weight * aux
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
    loss = style_weight * total / len(STYLE_LAYERS) + content_weight * content
    if aux is not None and selection_weight:
        loss = loss + selection_weight * aux
    return loss


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
) -> TrainResult:
    """Train ``model`` in place with Adam for ``steps`` steps (or until ``seconds`` pass) on
    procedural textures: inputs ``size``, targets ``2 * size``; step ``k`` uses the textures of
    seed ``seed + k`` (so a run is reproducible and never sees the evaluation textures). The
    selection head also learns from the oracle's choices (``selection_weight``)."""
    if steps < 1 or size < 8 or batch < 1:
        raise TexsynthError(
            f"need steps >= 1, size >= 8 and batch >= 1, got {steps}, {size}, {batch}"
        )
    vgg, _ = feature_extractor("vgg19")  # (loaded even when unused: a cheap, clear failure)
    vgg = vgg.eval().requires_grad_(False)
    # the scalars (temperatures, reaches, the selection's weights) move 20x faster: at the
    # network's rate a few hundred steps leave them where they started
    names = ("beta_logit", "log_reach", "log_tau", "w_sim")
    scalars = [p for n, p in model.named_parameters() if n.endswith(names)]
    ids = {id(p) for p in scalars}
    rest = [p for p in model.parameters() if p.requires_grad and id(p) not in ids]
    groups: list[dict[str, Any]] = [{"params": rest}, {"params": scalars, "lr": 20 * lr}]
    opt = torch.optim.Adam(groups, lr=lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps)
    gen = torch.Generator().manual_seed(seed)
    res = TrainResult()
    t0 = time.perf_counter()
    model.train()
    for k in range(steps):
        target = torch.from_numpy(procedural.batch(seed + k, batch, 2 * size, families))
        inp = centre_crop(target)
        out = model(inp, target=target)
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
        )
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        res.losses.append(float(loss.detach()))
        res.steps = k + 1
        if log is not None:
            log(k, res.losses[-1])
        if seconds is not None and time.perf_counter() - t0 > seconds:
            break
    res.seconds = time.perf_counter() - t0
    model.eval()
    return res
