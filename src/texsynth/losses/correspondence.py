"""Guided-correspondence loss: every output feature patch near some exemplar patch.

Zhou, Chen, Xiao & Huang, "Neural Texture Synthesis with Guided Correspondence" (CVPR 2023)
match each patch of the output's CNN feature maps to its nearest exemplar patch with the
*contextual* similarity of Mechrez, Talmi & Zelnik-Manor ("The Contextual Loss for Image
Transformation with Non-Aligned Data", ECCV 2018), and add an *occurrence* penalty so that
the output uses the whole exemplar about equally instead of repeating a few good patches.
Unlike the global statistics of :mod:`texsynth.losses.features` (Gram matrices, sliced
Wasserstein), the loss is low only when every local piece of the output exists in the
exemplar, which keeps joints, borders and stripes continuous on structured textures.

For output patch ``i`` and exemplar patch ``j`` (feature patches centred on the exemplar's
mean patch), with cosine distance ``d_ij = (1 - cos) / 2``::

    o_j   = (number of output patches whose nearest exemplar patch is j) / (N / M)
    D_ij  = d_ij + occurrence * o_j                 (o_j: no gradient)
    z_ij  = (1 - D_ij / min_k D_ik) / h
    loss  = mean_i log sum_j exp(z_ij)              (= -mean_i log max_j CX_ij)

``CX_ij = exp(z_ij) / sum_k exp(z_ik)`` is the contextual similarity; its maximum is at the
nearest patch (``z = 0``), so a patch scores 0 when it is much nearer its match than any
other exemplar patch (an exact copy) and ``log M`` when all ``M`` exemplar patches are equally
far (noise).

Cost control (the naive loss is ``N x M`` distances of ``9 C``-dimensional patches per layer):

* the default layers are VGG19 ``conv3_1`` and ``conv4_1`` (finer detail comes from the
  engine's histogram and spectrum terms and from the coarse-to-fine pyramid);
* at most ``max_patches`` exemplar patches per layer, a random subset fixed by ``seed``;
* patches are compared in the exemplar patches' first ``n_components`` principal directions
  plus one coordinate, the norm of the part outside them: cosines of these vectors are exact
  for exemplar patches and an upper bound for others, and an output patch with energy the
  exemplar lacks is still penalised;
* the distances are computed in row chunks and recomputed in the backward pass, so memory
  stays ``O(chunk x M)`` at any output size.

On CPU ``exp`` of the very negative ``z`` of far patches produces subnormal floats, which
slowed every iteration several times: weights below ``exp(-40)`` are set to 0 and the
contextual part runs with ``torch.set_flush_denormal(True)``, restoring the caller's state.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import torch
import torch.nn.functional as F

from .._checks import check_mask, size_text
from ..errors import TexsynthError
from ..features import LearnedFeatures, RandomFeatures, VGG19Features
from .feature_maps import layer_mask, receptive_radius
from .features import FeatureLoss

__all__ = ["GuidedCorrespondenceLoss"]

#: contextual weights ``exp(z)`` with ``z`` below ``-_ZMAX`` are set to 0 (no subnormals)
_ZMAX = 40.0
#: ``D / (min D + _EPS)``: the contextual normalisation of Mechrez et al.
_EPS = 1e-5


def flush_denormal_enabled() -> bool:
    """Whether CPU arithmetic currently flushes subnormal floats to zero."""
    return bool(torch.tensor([1e-40], dtype=torch.float32).mul(1.0).item() == 0.0)


@contextmanager
def _flush_denormal() -> Iterator[None]:
    """``torch.set_flush_denormal(True)`` for the block, then the previous state."""
    previous = flush_denormal_enabled()
    torch.set_flush_denormal(True)
    try:
        yield
    finally:
        torch.set_flush_denormal(previous)


#: distance blocks are kept from the forward to the backward pass up to this many entries
_CACHE = 2**23


def _raw_distances(v: torch.Tensor, s: torch.Tensor, offset: torch.Tensor) -> torch.Tensor:
    """``offset + (1 - v s^T) / 2``: cosine distances ``[n, M]`` of unit rows, plus ``offset``."""
    return torch.addmm(offset[None], v, s.T, alpha=-0.5)


def _contextual(
    d: torch.Tensor, h: float
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Row losses ``log sum_j exp(z_ij)``, weights ``p = softmax(z)``, row minima, positions.

    ``z = (1 - d / (min d + eps)) / h`` is floored at ``-40`` (weights of 4e-18 instead of
    subnormal floats; they change no sum).
    """
    m, idx = d.min(1, keepdim=True)
    m = m.clamp_min(0) + _EPS
    w = torch.mul(d, -1.0 / (h * m)).add_(1.0 / h).clamp_min_(-_ZMAX).exp_()
    total = w.sum(1, keepdim=True)  # >= 1: the minimum's weight is exp(0)
    return total.log()[:, 0], w.div_(total), m, idx


class _ContextualMatch(torch.autograd.Function):
    """Row losses of unit patch vectors ``v [N, K]`` against ``s [M, K]`` (module formula).

    The occurrence counts come from the same distances (nearest patch before the penalty,
    no gradient). Distance blocks of ``chunk`` rows are cached for the backward pass when
    the whole matrix is small, recomputed otherwise.
    """

    @staticmethod
    def forward(
        ctx: Any,
        v: torch.Tensor,
        s: torch.Tensor,
        occurrence: float,
        h: float,
        chunk: int,
        exact: bool = False,
    ) -> torch.Tensor:
        N, M = v.shape[0], s.shape[0]
        cache = N * M <= _CACHE
        starts = range(0, N, chunk)
        out = v.new_empty(N)
        half = v.new_full((M,), 0.5)
        blocks: list[torch.Tensor] = []
        saved: list[tuple[torch.Tensor, ...]] = []
        with _flush_denormal():
            pen = v.new_zeros(M)
            if occurrence > 0:
                counts = torch.zeros(M, dtype=torch.long, device=v.device)
                for a in starts:
                    d = _raw_distances(v[a : a + chunk], s, half)
                    counts += torch.bincount(d.argmin(1), minlength=M)
                    if cache:
                        blocks.append(d)
                pen = occurrence * counts.to(v.dtype) * (M / N)
            for c, a in enumerate(starts):
                vc = v[a : a + chunk]
                d = blocks[c].add_(pen) if blocks else _raw_distances(vc, s, half + pen)
                loss, p, m, idx = _contextual(d, h)
                if exact:  # minus z at the nearest patch: -log max_j CX_ij exactly
                    loss = loss - (_EPS / (h * m[:, 0]))
                out[a : a + chunk] = loss
                if cache:
                    saved.append((d, p, m, idx))
        ctx.save_for_backward(v, s, pen)
        ctx.h, ctx.chunk, ctx.saved, ctx.exact = h, chunk, saved, exact
        return out

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        v, s, pen = ctx.saved_tensors
        h, chunk = ctx.h, ctx.chunk
        gv = torch.empty_like(v)
        offset = 0.5 + pen
        with _flush_denormal():
            for c, a in enumerate(range(0, v.shape[0], chunk)):
                if ctx.saved:
                    d, p, m, idx = ctx.saved[c]
                else:
                    d = _raw_distances(v[a : a + chunk], s, offset)
                    _, p, m, idx = _contextual(d, h)
                # dL/dD_ik = -p_ik / (h m_i), plus sum_k p_ik D_ik / (h m_i^2) at the minimum
                g = grad[a : a + chunk, None] / (h * m)
                gd = p * -g
                at_min = torch.linalg.vecdot(p, d)[:, None] * g / m
                if ctx.exact:  # d/dd_min of -z_min = -eps / (h m)
                    at_min = at_min + g * (_EPS / m)
                gd.scatter_add_(1, idx, at_min)
                gv[a : a + chunk] = (gd @ s).mul_(-0.5)
        return gv, None, None, None, None, None


def _pca_basis(x: torch.Tensor, k: int, generator: torch.Generator) -> torch.Tensor:
    """``[D, k]`` orthonormal principal directions of centred rows ``x [M, D]``.

    A randomised range finder (Halko, Martinsson & Tropp 2011) with two power iterations,
    drawing from ``generator`` only.
    """
    q = min(k + 10, *x.shape)
    omega = torch.randn(x.shape[1], q, generator=generator, dtype=torch.float64)
    xd = x.to(torch.float64)
    basis, _ = torch.linalg.qr(xd @ omega.to(x.device))
    for _ in range(2):
        basis, _ = torch.linalg.qr(xd.T @ basis)
        basis, _ = torch.linalg.qr(xd @ basis)
    _, _, vh = torch.linalg.svd(basis.T @ xd, full_matrices=False)
    return vh[:k].T.to(x.dtype).contiguous()


class GuidedCorrespondenceLoss(FeatureLoss):
    """Guided-correspondence loss (Zhou et al., CVPR 2023) with the contextual similarity of
    Mechrez et al. (ECCV 2018); see the module docstring for the formula.

    Each layer's loss lies in ``[0, log M]`` (``M`` exemplar patches): 0 for output patches
    that are exact, uniquely used copies, about ``log M`` for noise; the result is the
    (weighted) mean over layers. The nearest-patch assignment and occurrence counts carry no
    gradient; the gradient pulls each output patch toward its match and away from the other
    exemplar patches, in proportion to their contextual similarity.

    Parameters
    ----------
    exemplar, extractor, weights_file, transform, in_mask, layer_weights
        As :class:`~texsynth.losses.features.FeatureLoss`. Exemplar patches that touch a
        masked-out position of a layer are never matched.
    layers
        Default: VGG19 ``conv3_1, conv4_1``; random features: their two largest filters;
        learned features: the last convolution of their two deepest stages.
        Every position of these layers is an output patch, so shallow layers cost much
        more (``conv2_1`` has 4x the positions of ``conv3_1``).
    patch_size
        Side of the feature patches (odd; Zhou et al. use patches, 3 keeps it cheap). A layer
        whose exemplar map has no valid patch of that size (a tiny pyramid level) uses 1.
    h
        Contextual bandwidth (Mechrez et al.; 0.5 as Zhou et al.): smaller values weigh the
        nearest patch more sharply against the others.
    occurrence
        Weight of the occurrence penalty (Zhou et al.'s 0.05); 0 turns it off.
    max_patches
        Exemplar patches kept per layer (a random subset fixed by ``seed`` when there are
        more); the cost of a call grows linearly with it.
    n_components
        Principal directions of the exemplar patches in which patches are compared (plus the
        norm of the rest); ``None`` compares the full patch vectors (slow on deep layers).
    stride
        Step between output patches (1: every position); ``None`` picks the smallest stride
        that keeps at most 16 384 output patches per layer and image.
    chunk
        Output patches per block of distances (memory ``chunk x max_patches`` floats).
    seed
        Seed of the patch subset and of the principal-direction solver (the global RNG is
        never touched).
    exact
        Subtract each row's ``z`` at its nearest patch, ``eps / (h (min D + eps))``, so that
        the row loss is exactly Mechrez et al.'s ``-log max_j CX_ij``. The difference is small
        for synthesised patches (``2e-3`` at a distance of 0.01 with ``h = 0.5``), but without
        the option an exact copy (``min D = 0``) scores ``1 / h`` instead of 0 and its gradient
        pushes it away from the copy; the expander, whose outputs are made of copies, uses
        ``True``.

    Notes
    -----
    Output patches wrap around the borders when the extractor pads circularly (periodic,
    tileable outputs); otherwise only patches inside the map are scored. Exemplar patches
    are always taken inside the exemplar's maps.
    """

    _h: float
    _occurrence: float
    _exact: bool
    _generator: torch.Generator
    _building: bool
    periodic: bool

    def __init__(
        self,
        exemplar: torch.Tensor,
        *,
        patch_size: int = 3,
        h: float = 0.5,
        occurrence: float = 0.05,
        max_patches: int = 2048,
        n_components: int | None = 128,
        stride: int | None = None,
        chunk: int = 2048,
        seed: int = 0,
        exact: bool = False,
        **kwargs: Any,
    ) -> None:
        def positive_int(name: str, value: Any, *, odd: bool = False) -> int:
            if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
                raise TexsynthError(f"{name} must be a positive integer, got {value!r}")
            if odd and value % 2 == 0:
                raise TexsynthError(f"{name} must be odd (a centred patch), got {value}")
            return int(value)

        self._patch = positive_int("patch_size", patch_size, odd=True)
        self._max_patches = positive_int("max_patches", max_patches)
        self._chunk = positive_int("chunk", chunk)
        self._components = (
            None if n_components is None else positive_int("n_components", n_components)
        )
        self._stride = None if stride is None else positive_int("stride", stride)
        if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
            raise TexsynthError(f"seed must be an integer, got {seed!r}")
        if isinstance(h, bool) or not isinstance(h, numbers.Real) or not 0 < h < math.inf:
            raise TexsynthError(f"h (contextual bandwidth) must be a number > 0, got {h!r}")
        if (
            isinstance(occurrence, bool)
            or not isinstance(occurrence, numbers.Real)
            or not 0 <= occurrence < math.inf
        ):
            raise TexsynthError(f"occurrence must be a finite weight >= 0, got {occurrence!r}")
        self._h = float(h)
        self._occurrence = float(occurrence)
        self._seed = int(seed)
        self._exact = bool(exact)
        self._generator = torch.Generator().manual_seed(self._seed)
        self._maps: dict[str, torch.Tensor] = {}
        self._layer_patch: list[int] = []
        self._n_patches: list[int] = []
        self._building = True
        super().__init__(exemplar, **kwargs)
        self._building = False
        self._maps.clear()
        self.periodic = getattr(self.extractor, "padding", None) == "circular"
        self.options.update(
            patch_size=self._patch,
            h=self._h,
            occurrence=self._occurrence,
            max_patches=self._max_patches,
            n_components=self._components,
            stride=self._stride,
            chunk=self._chunk,
            seed=self._seed,
            exact=self._exact,
        )

    def _layer_names(self, layers: Any, default: Any) -> list[str]:
        if layers is None and isinstance(self.extractor, VGG19Features):
            layers = ["conv3_1", "conv4_1"]
        elif layers is None and isinstance(self.extractor, RandomFeatures):
            layers = list(self.extractor.default_layers[-2:])
        elif layers is None and isinstance(self.extractor, LearnedFeatures):
            layers = list(self.extractor.correspondence_layers)
        return super()._layer_names(layers, default)

    @property
    def n_patches(self) -> list[int]:
        """Exemplar patches kept per layer (after masking and subsampling)."""
        return list(self._n_patches)

    # ----------------------------------------------------------------- exemplar side
    def _features(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        feats = super()._features(x)
        if self._building:  # FeatureLoss.__init__: _build_layer needs the maps
            self._maps.update(feats)
        return feats

    def _build_layer(self, i: int, samples: torch.Tensor) -> None:
        # FeatureLoss gives flattened valid positions; patches need the maps and the mask
        name = self.layer_names[i]
        f = self._maps[name]
        Be, C, H, W = f.shape
        valid = torch.ones(Be, 1, H, W, dtype=torch.bool, device=f.device)
        in_mask = self.options.get("in_mask")
        if in_mask is not None:
            shape = (Be, self.in_channels, *in_mask.shape[-2:])
            m = check_mask(in_mask, torch.Size(shape), "in_mask").to(f.device)
            v0 = (m.amin(1, keepdim=True) > 0).expand(Be, 1, -1, -1)
            valid = layer_mask(v0, receptive_radius(self.extractor, name), (H, W))
        k = self._patch
        ok = self._patch_ok(valid, k)
        if k > 1 and not bool(ok.any()):
            k = 1
            ok = self._patch_ok(valid, 1)
        patches = F.unfold(f, k).transpose(1, 2).reshape(-1, C * k * k)  # [Be*L, D]
        patches = patches[ok.flatten()]
        if patches.shape[0] > self._max_patches:
            keep = torch.randperm(patches.shape[0], generator=self._generator)
            patches = patches[keep[: self._max_patches].sort().values.to(f.device)]
        mean = patches.mean(0)
        centred = patches - mean
        basis = None
        D = centred.shape[1]
        if self._components is not None and self._components < D:
            basis = _pca_basis(centred, min(self._components, *centred.shape), self._generator)
        self._layer_patch.append(k)
        self._n_patches.append(int(patches.shape[0]))
        self.register_buffer(f"mean{i}", mean)
        self.register_buffer(f"basis{i}", basis)
        self.register_buffer(f"targets{i}", self._embed(centred, basis))

    @staticmethod
    def _patch_ok(valid: torch.Tensor, k: int) -> torch.Tensor:
        """``[Be, L]`` bool: patches of side ``k`` (inside the map) with every position valid."""
        H, W = valid.shape[-2:]
        if H < k or W < k:
            return torch.zeros(valid.shape[0], 0, dtype=torch.bool, device=valid.device)
        bad = F.unfold((~valid).to(torch.float32), k).amax(1)
        return bad == 0

    @staticmethod
    def _embed(centred: torch.Tensor, basis: torch.Tensor | None) -> torch.Tensor:
        """Unit vectors ``[n, K]`` of centred patches: principal coordinates + residual norm."""
        if basis is None:
            v = centred
        else:
            coords = centred @ basis
            rest = centred.pow(2).sum(1, keepdim=True) - coords.pow(2).sum(1, keepdim=True)
            scale = centred.detach().pow(2).mean().clamp_min(1e-30)
            v = torch.cat([coords, (rest.clamp_min(0) + 1e-6 * scale).sqrt()], 1)
        return v / v.norm(dim=1, keepdim=True).clamp_min(1e-12)

    # ----------------------------------------------------------------- output side
    def _stride_for(self, H: int, W: int) -> int:
        if self._stride is not None:
            return self._stride
        s = 1
        while math.ceil(H / s) * math.ceil(W / s) > 16384:
            s += 1
        return s

    def _output_patches(self, f: torch.Tensor, k: int) -> torch.Tensor:
        """``[B, N, C k^2]`` patches of output features ``f``."""
        B, C, H, W = f.shape
        r = k // 2
        if self.periodic and r > 0:
            f = F.pad(f, (r, r, r, r), mode="circular")
        elif H < k or W < k:
            raise TexsynthError(
                f"a {size_text(H, W)} feature map holds no {k}x{k} patch; give larger images or "
                "patch_size=1"
            )
        s = self._stride_for(H, W)
        return F.unfold(f, k, stride=s).transpose(1, 2)

    def _layer_loss(self, i: int, f: torch.Tensor) -> torch.Tensor:
        k = self._layer_patch[i]
        mean = getattr(self, f"mean{i}").to(f)
        basis = getattr(self, f"basis{i}")
        basis = None if basis is None else basis.to(f)
        targets = getattr(self, f"targets{i}").to(f)
        patches = self._output_patches(f, k)
        losses = []
        for b in range(f.shape[0]):
            v = self._embed(patches[b] - mean, basis)
            rows = _ContextualMatch.apply(
                v, targets, self._occurrence, self._h, self._chunk, self._exact
            )
            losses.append(rows.mean())
        return torch.stack(losses)
