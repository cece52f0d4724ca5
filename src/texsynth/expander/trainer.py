"""Training the expander on folders of images and procedural textures, with checkpoints,
exact resume and several processes (``texsynth train-expander``).

Step ``k`` trains on a global batch of ``batch`` pairs (input = the centre crop of side
``size`` of a ``2 size`` target) that is a pure function of ``(seed, k)``
(:class:`~texsynth.expander.pairs.ExpanderPairs`): random crops of the images in the folders
with the 8 flips and quarter turns (:class:`~texsynth.datasets.PairSampler`), interleaved
one for one with the procedural families of :mod:`~texsynth.expander.procedural` (only these
without folders, only the crops with ``procedural=False``); with ``photos=True`` the crops
alternate between the folders and the photographs that installed packages ship
(:mod:`~texsynth.expander.photos`; the only crops without folders). The loss is the seed's
(:func:`~texsynth.expander.training.expander_loss`); Adam with the per-scale temperatures
and reaches at 20x the learning rate, annealed to 0 along a cosine over ``steps``.

The loss of a step is the mean over its pairs of each pair's own loss (the seed's loss
normalises the content and sliced Wasserstein terms by batch means; item by item, a batch
split over processes has the same loss as the whole batch in one).

A checkpoint ``NAME.ckpt.safetensors`` next to the output (network, Adam's moments, step,
seconds, loss history; the sampler's state is ``(seed, step)``, the random directions of
the sliced Wasserstein loss are drawn from a generator seeded by ``(seed, step)``, and the
learning rate is a function of the step) is written atomically every ``checkpoint_every``
steps, so :func:`train_expander_file` with ``resume=True`` continues bit for bit (same
machine, thread count and number of processes).

The distribution terms (``frechet_weight``, ``adversarial_weight``,
``correspondence_weight``; :mod:`~texsynth.expander.distribution_losses`) are added item by
item; the patch discriminator takes one step per step (its gradients summed over the
processes) and its weights and Adam's state are saved in the checkpoint (``disc.*``).

Under ``torchrun`` (``WORLD_SIZE`` > 1) the network is wrapped in
:class:`torch.nn.parallel.DistributedDataParallel` (gloo; training runs on the CPU): rank
``r`` of ``W`` computes items ``r B/W ... (r+1) B/W - 1`` of each global batch, the
gradients are averaged, and rank 0 alone writes the checkpoints and the file. The global
batches do not depend on ``W``, so 1 and 2 processes train the same network up to rounding.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch

from ..datasets import ImageCollection
from ..errors import TexsynthError
from ..features import feature_extractor
from ..training_files import checkpoint_path
from . import photos as photo_data
from .distribution_losses import DistributionLosses, DistributionWeights
from .model import MULTIPLE, ExpanderConfig, TransposerExpander, save_expander
from .pairs import ExpanderPairs, item_seed
from .train_checkpoints import (
    CHECKPOINT_FORMAT,
    restore_training_checkpoint,
    save_training_checkpoint,
)
from .training import expander_loss

__all__ = [
    "CHECKPOINT_FORMAT",
    "ExpanderPairs",
    "ExpanderTrainResult",
    "ExpanderTrainSettings",
    "distributed",
    "train_expander_file",
]

"""Value of the ``format`` metadata key of the expander's training checkpoints."""

SCALAR_RATE = 20.0  # the per-scale temperatures and reaches learn this much faster
STYLES = ("gram", "swd")
LOSS_ITEM = 2**32  # item j's loss draws are item LOSS_ITEM + j's (data items: 0 ... batch - 1)


@dataclass(frozen=True)
class ExpanderTrainSettings:
    """What a training run computes (a resumed run must have the same, ``steps`` and
    ``checkpoint_every`` aside)."""

    size: int = 32  # input side; targets are 2 * size
    steps: int = 1000
    batch: int = 4  # pairs per step, over all processes
    lr: float = 2e-3
    style: str = "gram"
    content_weight: float = 0.05
    seed: int = 0
    procedural: bool = True  # mix in the procedural families (the only data without folders)
    photos: bool = False  # crops of the packaged photographs too (expander.photos)
    checkpoint_every: int = 100
    config: ExpanderConfig = field(default_factory=ExpanderConfig)
    # the distribution terms (expander.distribution_losses); 0: off
    frechet_weight: float = 0.0
    adversarial_weight: float = 0.0
    correspondence_weight: float = 0.0

    @property
    def distribution(self) -> DistributionWeights:
        """The weights of the distribution terms."""
        return DistributionWeights(
            self.frechet_weight, self.adversarial_weight, self.correspondence_weight
        )

    def check(self) -> None:
        """Raise a one-line :class:`TexsynthError` for an invalid setting."""
        for name in ("steps", "batch", "checkpoint_every"):
            if int(getattr(self, name)) < 1:
                raise TexsynthError(f"{name} must be at least 1, got {getattr(self, name)}")
        if self.size < 2 * MULTIPLE:
            raise TexsynthError(
                f"size must be at least {2 * MULTIPLE} (the expander's smallest input without "
                f"padding), got {self.size}"
            )
        if not (math.isfinite(self.lr) and self.lr > 0):
            raise TexsynthError(f"lr must be > 0, got {self.lr}")
        if not (math.isfinite(self.content_weight) and self.content_weight >= 0):
            raise TexsynthError(f"content_weight must be >= 0, got {self.content_weight}")
        if self.style not in STYLES:
            raise TexsynthError(f"style must be 'gram' or 'swd', got {self.style!r}")
        if self.config.encoder != "conv" and self.config.head != "soft":
            raise TexsynthError(
                f"--encoder {self.config.encoder} needs --head soft: the selection head "
                f"(--head {self.config.head}) has no encoder (it matches its own small features)"
            )
        self.distribution.check()


@dataclass
class ExpanderTrainResult:
    """What a run did: the model, the step reached, whether it reached ``steps`` (and wrote
    the file), the seconds of this run, the steps it ran, and the history
    (``[step, seconds, mean loss]`` at every checkpoint, over the whole training)."""

    model: TransposerExpander
    step: int
    finished: bool
    seconds: float
    steps_run: int
    world_size: int
    history: list[list[float]] = field(default_factory=list)

    @property
    def last_loss(self) -> float:
        """The mean loss of the last checkpoint interval (NaN before the first)."""
        return float(self.history[-1][2]) if self.history else math.nan


@contextlib.contextmanager
def distributed() -> Iterator[tuple[int, int]]:
    """``(rank, world_size)`` of this process: ``(0, 1)`` alone; under ``torchrun``
    (``WORLD_SIZE`` > 1) the default process group is set up from its environment (gloo on
    the CPU: the training runs there) for the duration, unless one already is."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        yield 0, 1
        return
    import torch.distributed as dist

    own = not dist.is_initialized()
    if own:
        dist.init_process_group("gloo")
    try:
        yield dist.get_rank(), dist.get_world_size()
    finally:
        if own:
            dist.destroy_process_group()


def _identity(settings: ExpanderTrainSettings, data: str) -> dict[str, Any]:
    doc = {k: v for k, v in asdict(settings).items() if k not in ("steps", "checkpoint_every")}
    for k in ("frechet_weight", "adversarial_weight", "correspondence_weight", "photos"):
        if not doc[k]:  # off: the identity of the checkpoints written before these terms
            del doc[k]
    return json.loads(json.dumps({"settings": doc, "data": data}, sort_keys=True))


def _param_groups(model: TransposerExpander, lr: float) -> list[dict[str, Any]]:
    """Adam's groups: the per-scale scalars (``beta_logit``, ``log_reach``) at 20x ``lr``
    (at the network's rate a few hundred steps leave them where they started)."""
    scalars = [p for n, p in model.named_parameters() if n.endswith(("beta_logit", "log_reach"))]
    ids = {id(p) for p in scalars}
    rest = [p for p in model.parameters() if p.requires_grad and id(p) not in ids]
    return [{"params": rest, "lr": lr}, {"params": scalars, "lr": SCALAR_RATE * lr}]


def train_expander_file(
    folders: Sequence[str | os.PathLike[str]],
    output: str | os.PathLike[str],
    settings: ExpanderTrainSettings = ExpanderTrainSettings(),
    *,
    resume: bool = False,
    stop_after: int | None = None,
    progress: Callable[[str], None] | None = None,
    bar: bool = False,
    collection: ImageCollection | None = None,
) -> ExpanderTrainResult:
    """Train an expander on the images of ``folders``, procedural textures and (with
    ``settings.photos``) the packaged photographs; write ``output`` (a
    :func:`~texsynth.expander.model.save_expander` file) at the end.

    Parameters
    ----------
    folders
        Folders of images (recursive) or image files; empty: procedural textures (and the
        photographs) only.
    output
        The expander file to write (``.safetensors``), atomically, once ``steps`` are done;
        its checkpoint (:func:`~texsynth.training_files.checkpoint_path`) is kept, so that a
        later ``resume`` with more steps may train on.
    settings
        Sizes, steps, batch, learning rate, loss, seed, data mix (``procedural``, ``photos``:
        all of :data:`~texsynth.expander.photos.PHOTOS` or a one-line error), network
        configuration.
    resume
        Continue from the checkpoint up to ``settings.steps``.
    stop_after
        Stop after this many steps of this run (checkpoint written, no output file): for
        time-limited jobs, continued with ``resume``.
    progress
        Called (on rank 0) with one line per checkpoint.
    bar
        Show a ``tqdm`` progress bar (rank 0; off when stderr is not a terminal).
    collection
        The images, already read (default: read ``folders``).

    Returns
    -------
    ExpanderTrainResult
    """
    settings.check()
    if not os.fspath(output).lower().endswith(".safetensors"):
        raise TexsynthError(f"the expander file must end in .safetensors, got {str(output)!r}")
    out = Path(output)
    if not out.parent.is_dir():
        raise TexsynthError(f"folder {str(out.parent)!r} of the output does not exist")
    if stop_after is not None and stop_after < 1:
        raise TexsynthError(f"stop_after must be at least 1, got {stop_after}")
    crop = 2 * settings.size
    if collection is None and folders:
        collection = ImageCollection.from_folders(
            folders,
            min_size=crop,
            small_fix=f"use a smaller --size (the targets are 2 x {settings.size} = {crop} "
            "pixels) or remove them",
        )
    pics = photo_data.require_photos() if settings.photos else None
    data = ExpanderPairs(
        collection, settings.size, settings.batch, settings.seed, settings.procedural, pics
    )
    summary = collection.summary() if collection is not None else None
    digest = summary["sha256"] if summary else "procedural"
    if pics is not None:  # (without photos: the identity of the runs before them)
        summary = {**(summary or {}), "photos": photo_data.photos_summary(pics)}
        digest = f"{digest}+photos:{summary['photos']['sha256']}"
    identity = _identity(settings, digest)
    with distributed() as (rank, world):
        if settings.batch % world:
            raise TexsynthError(
                f"--batch {settings.batch} must be a multiple of the {world} processes"
            )
        return _run(out, settings, data, summary, identity, resume, stop_after, progress, bar,
                    rank, world)  # fmt: skip


def _run(
    out: Path,
    settings: ExpanderTrainSettings,
    data: ExpanderPairs,
    summary: dict[str, Any] | None,
    identity: dict[str, Any],
    resume: bool,
    stop_after: int | None,
    progress: Callable[[str], None] | None,
    bar: bool,
    rank: int,
    world: int,
) -> ExpanderTrainResult:
    """The loop of :func:`train_expander_file` on one process of ``world``."""
    import torch.distributed as dist

    torch.manual_seed(settings.seed)  # the initial weights, the same on every rank
    model = TransposerExpander(settings.config)
    groups = _param_groups(model, settings.lr)
    rates = [g["lr"] for g in groups]
    opt = torch.optim.Adam(groups, lr=settings.lr)
    vgg, _ = feature_extractor("vgg19")
    vgg = vgg.eval().requires_grad_(False)
    extra = None  # the discriminator, if any, is drawn after the model: the same on every rank
    if settings.distribution.active:
        extra = DistributionLosses(settings.distribution, vgg, settings.seed)
    ckpt = checkpoint_path(out)
    step, seconds = 0, 0.0
    history: list[list[float]] = []
    if resume:
        step, seconds, history = restore_training_checkpoint(ckpt, model, opt, identity, extra)
        if step > settings.steps:
            raise TexsynthError(
                f"the checkpoint is at step {step}, past --steps {settings.steps}; give more steps"
            )
    net: torch.nn.Module = model
    if world > 1:
        net = torch.nn.parallel.DistributedDataParallel(model)
    per = settings.batch // world
    mine = range(rank * per, (rank + 1) * per)
    end = settings.steps if stop_after is None else min(settings.steps, step + stop_after)
    first = step
    losses: list[float] = []
    model.train()
    start = time.perf_counter()
    show = None
    if bar and rank == 0:
        from tqdm.auto import tqdm

        show = tqdm(total=settings.steps, initial=step, desc="training", disable=None)
    try:
        while step < end:
            factor = 0.5 * (1 + math.cos(math.pi * step / settings.steps))
            for g, rate in zip(opt.param_groups, rates, strict=True):
                g["lr"] = rate * factor
            inp, target = data.pairs(step, mine)
            pred = net(inp)
            loss = pred.new_zeros(())
            for i, j in enumerate(mine):  # item by item: the same sum whatever the split
                gen = torch.Generator().manual_seed(item_seed(settings.seed, step, LOSS_ITEM + j))
                loss = loss + expander_loss(
                    pred[i : i + 1],
                    target[i : i + 1],
                    inp[i : i + 1],
                    vgg,
                    style=settings.style,
                    content_weight=settings.content_weight,
                    generator=gen,
                )
            if extra is not None:
                loss = loss + extra.per_item(pred, target).sum()
            loss = loss / per
            if not torch.isfinite(loss):
                raise TexsynthError(
                    f"training diverged (non-finite loss) at step {step + 1}; lower --lr "
                    f"(now {settings.lr:g}); the last checkpoint is {str(ckpt)!r}"
                )
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            if extra is not None:  # the discriminator's step, gradients summed over ranks
                extra.update(pred, target, scale=per / settings.batch, world=world)
            value = loss.detach().clone()
            if world > 1:
                dist.all_reduce(value)
                value /= world
            losses.append(float(value))
            step += 1
            if show is not None:
                show.update(1)
                show.set_postfix(loss=f"{losses[-1]:.4g}")
            if step % settings.checkpoint_every == 0 or step == end:
                spent = seconds + time.perf_counter() - start
                history.append([step, round(spent, 3), sum(losses) / len(losses)])
                losses = []
                if rank == 0:
                    save_training_checkpoint(
                        ckpt, model, opt, step, spent, history, identity, extra
                    )
                    if progress is not None:
                        progress(
                            f"step {step}/{settings.steps}  loss {history[-1][2]:.4f}  "
                            f"{spent:.0f} s"
                        )
                if world > 1:
                    dist.barrier()
    finally:
        if show is not None:
            show.close()
    model.eval()
    ran = time.perf_counter() - start
    finished = step >= settings.steps
    if finished and rank == 0:
        training = {
            "data": summary if summary is not None else "procedural",
            "procedural": settings.procedural,
            "settings": json.loads(json.dumps(asdict(settings))),
            "processes": world,
            "seconds": round(seconds + ran, 3),
            "history": history,
        }
        save_expander(model, out, extra={"training": training})
    if world > 1:
        dist.barrier()
    return ExpanderTrainResult(model, step, finished, ran, step - first, world, history)
