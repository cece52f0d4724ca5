"""Distribution losses for training the expander beyond the seed's Gram / sliced Wasserstein /
content terms (issue 19): a Fréchet distance, a patch discriminator and the guided
correspondence loss, all scored on the generated border.

* **Fréchet distance** (the seed's replacement for the Transposer's GAN loss): per VGG19
  layer, the Fréchet distance between the Gaussian fitted to the feature vectors at the
  output's border positions and the Gaussian of the real crop's (Heusel et al. 2017, "GANs
  trained by a two time-scale update rule converge to a local Nash equilibrium", FID;
  per-position features of one image as SIFID, Shaham, Dekel & Michaeli 2019, "SinGAN"),
  divided by the real crop's second moment ``tr C + |mu|^2`` so every layer weighs alike.
  :func:`frechet_distance` is differentiable: ``tr (C_a^1/2 C_b C_a^1/2)^1/2`` is computed
  as the sum of the square roots of the eigenvalues of ``L^T C_a L`` (``C_b + eps I = L L^T``,
  a Cholesky factor; the matrix is similar to ``C_a C_b``), in float64. The gradient of a sum
  of eigenvalue functions needs the eigenvectors only (no ``1 / (l_i - l_j)`` terms), so it
  stays finite with repeated eigenvalues, unlike a gradient through ``sqrtm``. The metric
  :func:`texsynth.metrics.features.frechet_distance` (float, no gradient) is the reference.
* **Patch discriminator** (:class:`PatchDiscriminator`, PatchGAN of Isola, Zhu, Zhou & Efros
  2017, "Image-to-image translation with conditional adversarial networks"): a small fully
  convolutional network whose outputs each judge one ~22 px patch, trained alongside the
  expander with the hinge loss (Lim & Ye 2017; Miyato et al. 2018) and its own Adam
  (:class:`AdversarialTerm`); the real crop's patches are real, the output's *border* patches
  fake (its centre is the input, real pixels). Its state goes into the training checkpoints.
* **Guided correspondence** (:class:`~texsynth.losses.correspondence.GuidedCorrespondenceLoss`,
  Zhou et al. 2023, the quality issue's loss that texsynth's optimisation methods use): every
  output feature patch near some patch of the real crop (contextual similarity, no
  occurrence penalty), at VGG19 ``conv3_1`` and ``conv4_1``; patches inside the input box are
  exemplar patches (the real crop contains the input), so the value and gradient come from
  the border and the patches that straddle its edge with the input.

:class:`DistributionLosses` holds the three with their weights (all 0 by default: the seed's
loss alone) for :func:`~texsynth.expander.training.train_expander` and
:func:`~texsynth.expander.trainer.train_expander_file`.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from ..errors import TexsynthError
from ..losses.correspondence import GuidedCorrespondenceLoss
from ..training_files import optimiser_tensors, restore_optimiser
from .protocol import border_mask

__all__ = [
    "FRECHET_LAYERS",
    "AdversarialTerm",
    "DistributionLosses",
    "DistributionWeights",
    "PatchDiscriminator",
    "border_frechet_loss",
    "correspondence_loss",
    "frechet_distance",
    "gaussian_fit",
]

#: VGG19 layers of the Fréchet term: the seed's style layers but ``conv5_2`` (64 positions at
#: a 128 px target, too few for a 512-dimensional covariance)
FRECHET_LAYERS = ("pool1", "pool2", "conv3_3", "conv4_3")
#: the Cholesky factor's ridge, relative to the mean variance
RIDGE = 1e-9


def gaussian_fit(samples: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean ``[D]`` and unbiased covariance ``[D, D]`` (float64) of ``samples [N, D]``,
    ``N >= 2``; differentiable."""
    if samples.dim() != 2 or samples.shape[0] < 2:
        raise TexsynthError(
            f"a Gaussian fit needs [N, D] samples with N >= 2, got {tuple(samples.shape)}"
        )
    x = samples.to(torch.float64)
    mu = x.mean(0)
    c = x - mu
    return mu, c.T @ c / (x.shape[0] - 1)


def frechet_distance(
    mu_a: torch.Tensor, cov_a: torch.Tensor, mu_b: torch.Tensor, cov_b: torch.Tensor
) -> torch.Tensor:
    """Fréchet distance ``|mu_a - mu_b|^2 + tr(C_a + C_b - 2 (C_a^1/2 C_b C_a^1/2)^1/2)``
    between two Gaussians (Fréchet 1957; Dowson & Landau 1982), a differentiable float64
    scalar.

    ``C_b`` gets a ridge ``eps I`` (``eps = 1e-9`` of its mean variance) so its Cholesky factor
    exists when it is singular; the result is then exactly the distance to ``N(mu_b, C_b +
    eps I)`` (>= 0 up to rounding). Put the fixed distribution (the real texture's) second:
    the gradient reaches ``C_a`` through eigenvalues only, and is finite everywhere.
    """
    mu_a, mu_b = mu_a.to(torch.float64), mu_b.to(torch.float64)
    cov_a, cov_b = cov_a.to(torch.float64), cov_b.to(torch.float64)
    D = cov_b.shape[-1]
    if cov_a.shape != (D, D) or cov_b.shape != (D, D) or mu_a.shape != (D,) or mu_b.shape != (D,):
        raise TexsynthError(
            f"Gaussians of different dimensions: means {tuple(mu_a.shape)}, {tuple(mu_b.shape)}, "
            f"covariances {tuple(cov_a.shape)}, {tuple(cov_b.shape)}"
        )
    eye = torch.eye(D, dtype=torch.float64, device=cov_b.device)
    eps = RIDGE * (cov_b.diagonal().sum() / D).detach().clamp_min(1e-30)
    cov_b = cov_b + eps * eye
    L = torch.linalg.cholesky((cov_b + cov_b.T) / 2)
    m = L.T @ cov_a @ L  # similar to C_a C_b: same eigenvalues, symmetric
    ev = torch.linalg.eigvalsh((m + m.T) / 2)
    tiny = 1e-30 + 1e-12 * ev.abs().max().detach()
    cross = ev.clamp_min(tiny).sqrt().sum()
    diff = mu_a - mu_b
    return diff @ diff + cov_a.diagonal().sum() + cov_b.diagonal().sum() - 2 * cross


def _border_positions(f: torch.Tensor) -> torch.Tensor:
    """``[N, C]`` feature vectors of ``f [C, H, W]`` outside the centred half-size box."""
    H, W = f.shape[-2:]
    keep = border_mask(H, W, H // 2, W // 2).to(f.device)
    return f[:, keep].T


def border_frechet_loss(out_feats: torch.Tensor, target_feats: torch.Tensor) -> torch.Tensor:
    """Relative Fréchet distance of one layer, ``[B]``: the Gaussian of each output's border
    positions (outside the centred half-size box) against that of its real crop's every
    position, divided by the real crop's ``tr C + |mu|^2``."""
    out = []
    for fo, ft in zip(out_feats, target_feats, strict=True):
        mu_o, cov_o = gaussian_fit(_border_positions(fo))
        mu_t, cov_t = gaussian_fit(ft.flatten(1).T.detach())
        scale = (cov_t.diagonal().sum() + mu_t @ mu_t).clamp_min(1e-30)
        out.append(frechet_distance(mu_o, cov_o, mu_t, cov_t) / scale)
    return torch.stack(out).to(out_feats.dtype)


def correspondence_loss(
    out: torch.Tensor, target: torch.Tensor, vgg: torch.nn.Module, seed: int = 0
) -> torch.Tensor:
    """Guided-correspondence loss (Zhou et al. 2023) of each output against its own real crop,
    ``[B]``: VGG19 ``conv3_1`` and ``conv4_1``, 3 x 3 feature patches, contextual bandwidth 0.5,
    no occurrence penalty (0 for an output equal to its crop)."""
    losses = []
    for o, t in zip(out, target, strict=True):
        loss = GuidedCorrespondenceLoss(
            t[None].detach(), extractor=vgg, occurrence=0.0, stride=1, seed=seed, exact=True
        )
        losses.append(loss(o[None])[0])
    return torch.stack(losses)


class PatchDiscriminator(torch.nn.Module):
    """PatchGAN (Isola et al. 2017): ``depth`` 4 x 4 stride-2 convolutions (``width``, ``2
    width``, ... channels, leaky ReLU 0.2, group normalisation after the first) and a 4 x 4
    convolution to one logit per patch; images in [0, 1], logits ``[B, 1, ~H/2^depth,
    ~W/2^depth]``. Receptive field 22 px (``depth = 2``), 46 px (3)."""

    def __init__(self, width: int = 32, depth: int = 2, channels: int = 3) -> None:
        super().__init__()
        if width < 1 or depth < 1:
            raise TexsynthError(f"width and depth must be >= 1, got {width}, {depth}")
        layers: list[torch.nn.Module] = []
        c_in = channels
        for i in range(depth):
            c_out = width * 2**i
            layers.append(torch.nn.Conv2d(c_in, c_out, 4, stride=2, padding=1))
            if i:
                layers.append(torch.nn.GroupNorm(min(8, c_out), c_out))
            layers.append(torch.nn.LeakyReLU(0.2))
            c_in = c_out
        layers.append(torch.nn.Conv2d(c_in, 1, 4, stride=1, padding=1))
        self.net = torch.nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Per-patch logits of images ``x [B, C, H, W]`` (real: large)."""
        return self.net(2 * x - 1)


def _border_logits(logits: torch.Tensor) -> torch.Tensor:
    """The logits of ``[B, 1, h, w]`` outside the centred half-size box, ``[B, n]``."""
    h, w = logits.shape[-2:]
    keep = border_mask(h, w, h // 2, w // 2).to(logits.device)
    return logits[:, 0][:, keep]


class AdversarialTerm:
    """A :class:`PatchDiscriminator` and its Adam (``betas = (0.5, 0.999)``, Radford et al.
    2016), trained with the hinge loss: ``relu(1 - D(real)) + relu(1 + D(fake))`` over the real
    crop's patches and the output's border patches; the expander's term is ``-D(fake)`` on its
    border patches. The network is built from torch's global generator (seed it first)."""

    def __init__(self, lr: float = 2e-4, width: int = 32, depth: int = 2) -> None:
        if not (math.isfinite(lr) and lr > 0):
            raise TexsynthError(f"the discriminator's learning rate must be > 0, got {lr}")
        self.net = PatchDiscriminator(width, depth)
        self.opt = torch.optim.Adam(self.net.parameters(), lr=lr, betas=(0.5, 0.999))

    def generator_loss(self, out: torch.Tensor) -> torch.Tensor:
        """``[B]``: minus the mean logit of each output's border patches (the discriminator's
        weights get no gradient from it)."""
        self.net.requires_grad_(False)
        try:
            return -_border_logits(self.net(out)).mean(1)
        finally:
            self.net.requires_grad_(True)

    def discriminator_loss(self, out: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """``[B]`` hinge loss of the discriminator on real crops ``target`` and outputs ``out``
        (detached)."""
        real = self.net(target).flatten(1)
        fake = _border_logits(self.net(out.detach()))
        return F.relu(1 - real).mean(1) + F.relu(1 + fake).mean(1)

    def step(
        self, out: torch.Tensor, target: torch.Tensor, *, scale: float = 1.0, world: int = 1
    ) -> float:
        """One Adam step on the mean hinge loss over the batch (times ``scale``: the local
        share of a batch split over ``world`` processes, whose gradients are summed); returns
        the local loss."""
        loss = self.discriminator_loss(out, target).mean() * scale
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        if world > 1:
            import torch.distributed as dist

            for p in self.net.parameters():
                if p.grad is not None:
                    dist.all_reduce(p.grad)
        self.opt.step()
        return float(loss.detach())

    def state_tensors(self, prefix: str = "disc.") -> dict[str, torch.Tensor]:
        """Weights (``{prefix}net.*``) and Adam's state (``{prefix}adam.*``), for checkpoints."""
        out = {f"{prefix}net.{k}": v for k, v in self.net.state_dict().items()}
        out.update(optimiser_tensors(self.opt, prefix=f"{prefix}adam."))
        return out

    def load_state_tensors(self, tensors: dict[str, torch.Tensor], prefix: str = "disc.") -> None:
        """Restore what :meth:`state_tensors` wrote (a :class:`TexsynthError` if absent)."""
        net = {k[len(prefix) + 4 :]: v for k, v in tensors.items() if k.startswith(prefix + "net.")}
        if not net:
            raise TexsynthError("the checkpoint holds no discriminator")
        try:
            self.net.load_state_dict(net)
        except RuntimeError as exc:
            raise TexsynthError(
                f"the checkpoint's discriminator does not fit ({str(exc).splitlines()[0][:80]})"
            ) from None
        restore_optimiser(self.opt, tensors, prefix=f"{prefix}adam.")


def _weight(name: str, value: object) -> float:
    if (
        isinstance(value, bool)
        or not isinstance(value, numbers.Real)
        or not 0 <= float(value) < math.inf
    ):
        raise TexsynthError(f"{name} must be a finite number >= 0, got {value!r}")
    return float(value)


@dataclass(frozen=True)
class DistributionWeights:
    """Weights of the distribution terms (0: off) and the discriminator's learning rate."""

    frechet: float = 0.0
    adversarial: float = 0.0
    correspondence: float = 0.0
    disc_lr: float = 2e-4

    def check(self) -> None:
        """Raise a one-line :class:`TexsynthError` for a negative or non-finite weight."""
        for name in ("frechet", "adversarial", "correspondence"):
            _weight(f"{name}_weight", getattr(self, name))
        lr = self.disc_lr
        if isinstance(lr, bool) or not isinstance(lr, numbers.Real) or not 0 < float(lr) < math.inf:
            raise TexsynthError(f"disc_lr must be > 0, got {self.disc_lr!r}")

    @property
    def active(self) -> bool:
        """Whether any term is on."""
        return bool(self.frechet or self.adversarial or self.correspondence)


class DistributionLosses:
    """The weighted distribution terms of a training run.

    Parameters
    ----------
    weights
        :class:`DistributionWeights`; the discriminator is built (from torch's global
        generator) only when ``adversarial > 0``.
    vgg
        The frozen normalised VGG19 (:func:`~texsynth.features.feature_extractor`).
    seed
        Seed of the correspondence loss's patch subsets.
    """

    def __init__(
        self,
        weights: DistributionWeights,
        vgg: torch.nn.Module,
        seed: int = 0,
        layers: Sequence[str] = FRECHET_LAYERS,
    ) -> None:
        weights.check()
        self.weights, self.vgg, self.seed, self.layers = weights, vgg, int(seed), tuple(layers)
        self.adversarial = AdversarialTerm(weights.disc_lr) if weights.adversarial else None
        self.last: dict[str, float] = {}

    def per_item(self, out: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """``[B]``: the weighted sum of the active terms for outputs ``out`` and their real
        crops ``target`` (both ``[B, 3, H, W]``); the parts' batch means go to :attr:`last`."""
        w = self.weights
        total = out.new_zeros(out.shape[0])
        if w.frechet:
            fo = self.vgg(out, list(self.layers))
            with torch.no_grad():
                ft = self.vgg(target, list(self.layers))
            fd = torch.stack([border_frechet_loss(fo[n], ft[n]) for n in self.layers]).mean(0)
            self.last["frechet"] = float(fd.detach().mean())
            total = total + w.frechet * fd
        if w.adversarial:
            assert self.adversarial is not None
            adv = self.adversarial.generator_loss(out)
            self.last["adversarial"] = float(adv.detach().mean())
            total = total + w.adversarial * adv
        if w.correspondence:
            cor = correspondence_loss(out, target, self.vgg, self.seed)
            self.last["correspondence"] = float(cor.detach().mean())
            total = total + w.correspondence * cor
        return total

    def update(
        self, out: torch.Tensor, target: torch.Tensor, *, scale: float = 1.0, world: int = 1
    ) -> None:
        """The discriminator's step on this batch (nothing without the adversarial term)."""
        if self.adversarial is not None:
            self.last["discriminator"] = self.adversarial.step(
                out.detach(), target, scale=scale, world=world
            )
