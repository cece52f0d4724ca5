"""Evaluate syntheses against their exemplar, relative to the spread of real texture.

Every distance is computed twice: between each sample and crop A of the exemplar, and
between crop B and crop A, where A and B are the two halves of the exemplar (the
"second real crop"). The ratio sample / baseline says how far a sample is from the
exemplar compared with another real piece of the same texture: 1.0 means "as close as
real", below 1 closer than real, above 1 further. All crops are cut to one common size so
that every comparison sees the same number of pixels.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

import torch

from ._checks import as_image_batch
from .arrays import accepts_arrays
from .errors import TexsynthError
from .evaluation_report import ComparedPieces, EvaluationReport, MetricResult, check_channels

__all__ = ["evaluate"]


def _halves(ex: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Split ``[1, C, H, W]`` along its longer side into two equal crops A and B."""
    H, W = ex.shape[-2:]
    if W >= H:
        h = W // 2
        return ex[..., :h], ex[..., h : 2 * h]
    h = H // 2
    return ex[..., :h, :], ex[..., h : 2 * h, :]


def _crop(x: torch.Tensor, shape: tuple[int, int]) -> torch.Tensor:
    """Centre crop of the last two axes."""
    H, W = x.shape[-2:]
    h, w = shape
    top, left = (H - h) // 2, (W - w) // 2
    return x[..., top : top + h, left : left + w]


@accepts_arrays("exemplar", "samples", "reference", like="exemplar", batches=("samples",))
def evaluate(
    exemplar: torch.Tensor,
    samples: torch.Tensor,
    *,
    reference: torch.Tensor | None = None,
    features: str = "auto",
    weights: str | None = None,
    seed: int = 0,
    progress: Callable[[str], None] | None = None,
) -> EvaluationReport:
    """Measure how well ``samples`` reproduce the texture of ``exemplar``.

    Parameters
    ----------
    exemplar
        ``[C, H, W]`` image or field.
    samples
        ``[N, C, h, w]`` syntheses (``N >= 1``).
    reference
        Optional ground truth aligned with the samples (``[C, h, w]``), e.g. the original
        of an inpainted image: adds SSIM, MS-SSIM and PSNR.
    features
        Feature extractor for the neural distances: ``"auto"`` (normalised VGG19 when
        installed, random filters otherwise), ``"vgg19"``, ``"random"``, ``"inception"``
        (needs ``weights``), ``"none"``, or the path of a ``.safetensors`` features file
        learned from one's own photos (``texsynth features train``).
    weights
        A torchvision-format VGG19 state-dict file (optional), or with
        ``features="inception"`` a torchvision ``inception_v3`` state-dict file.
    seed
        Seed for everything random (patch sampling, projections).
    progress
        Called with the name of each metric before it is computed.

    Returns
    -------
    EvaluationReport
    """
    from .metrics import image as im
    from .metrics import texture as tx
    from .metrics.copying import copy_score

    ex = as_image_batch(exemplar, "exemplar")
    xs = as_image_batch(samples, "samples")
    if ex.shape[0] != 1:
        raise TexsynthError(f"give one exemplar [C, H, W], got a batch of {ex.shape[0]}")
    check_channels(ex, xs)
    ex = ex.double()
    xs = xs.double().to(ex.device)
    a, b = _halves(ex)
    crop = (min(a.shape[-2], xs.shape[-2]), min(a.shape[-1], xs.shape[-1]))
    if min(crop) < 32:
        raise TexsynthError(
            f"exemplar halves and samples must be at least 32x32 for the comparison, got "
            f"{crop[1]}x{crop[0]}; use a larger exemplar or larger samples"
        )
    A, B, S = _crop(a, crop), _crop(b, crop), _crop(xs, crop)
    report = EvaluationReport(tuple(ex.shape[1:]), tuple(xs.shape[1:]), crop)
    add = partial(report.measure, pieces=ComparedPieces(S, A, [B]), progress=progress)
    add(
        "spectrum", "mean |log P - log P_ex| over radial frequencies", "lower", tx.spectrum_distance
    )
    add("histogram", "Wasserstein-1 of pixel values / exemplar std", "lower", tx.histogram_distance)
    add(
        "autocorrelation",
        "mean |autocorrelation difference| within 16 px",
        "lower",
        tx.autocorrelation_distance,
    )
    add(
        "scattering",
        "chi-square of scattering covariance (exemplar's standard errors)",
        "lower",
        tx.scattering_distance,
    )
    _feature_metrics(add, features, weights, seed, ex.shape[1])

    # copies: nearest exemplar patch of each sample patch (a real crop sets the scale)
    if progress is not None:
        progress("copy")
    copy_vals = [float(v) for v in copy_score(xs, ex, seed=seed)]
    copy_base = float(copy_score(B, A, seed=seed)[0])
    report.metrics.append(
        MetricResult(
            "copy",
            "distance of sample patches to their nearest exemplar patch (low = copied)",
            copy_vals,
            copy_base,
            "higher",
        )
    )
    if progress is not None:
        progress("seam")
    report.metrics.append(
        MetricResult(
            "seam",
            "wrap-around edge jump / interior jump (1 = tiles seamlessly)",
            [float(v) for v in tx.seam_score(xs)],
            float(tx.seam_score(A)[0]),
            "near 1",
        )
    )
    report.measure_diversity(
        tx.diversity,
        S,
        torch.cat([A, B]),
        "mean pairwise normalised distance between samples",
        progress,
    )
    if reference is not None:
        ref = as_image_batch(reference, "reference").double().to(ex.device)
        if ref.shape[-2:] != xs.shape[-2:] or ref.shape[1] != xs.shape[1]:
            raise TexsynthError(
                f"reference has shape {tuple(ref.shape[1:])}, samples {tuple(xs.shape[1:])}: "
                "a pixel-aligned reference must match"
            )
        for name, fn, better in (
            ("ssim", im.ssim, "higher"),
            ("ms-ssim", im.ms_ssim, "higher"),
            ("psnr", im.psnr, "higher"),
        ):
            if progress is not None:
                progress(name)
            try:
                vals = [float(v) for v in fn(xs, ref.expand_as(xs))]
            except TexsynthError:
                continue  # e.g. too small for MS-SSIM
            report.metrics.append(
                MetricResult(name, f"{name} against the reference", vals, None, better)
            )
    report.plots = _plot_data(ex, xs, A)
    return report


def _feature_metrics(
    add: Callable[..., None], features: str, weights: str | None, seed: int, channels: int
) -> None:
    """Gram, GAP and sliced-Wasserstein distances through a feature extractor."""
    if features == "none":
        return
    from .features import feature_extractor
    from .metrics import features as ft

    extractor, layers = feature_extractor(features, weights=weights, seed=seed)
    kind = type(extractor).__name__
    inception = kind.startswith("Inception")
    # InceptionV3: SIFID on an early layer (as Shaham et al.), KID on pool3 (as FID)
    sifid_layer = "mixed_5d" if inception else None
    kid_layer = "pool3" if inception else None

    def rgb(t: torch.Tensor) -> torch.Tensor:
        if (kind.startswith("VGG") or inception) and t.shape[1] == 1:
            return t.expand(-1, 3, -1, -1)
        return t

    add(
        f"gram ({kind})",
        "relative distance of Gram matrices of features",
        "lower",
        lambda x, y: ft.gram_distance(
            rgb(x).float(), rgb(y).float(), extractor=extractor, layers=layers
        ),
    )
    add(
        f"gap ({kind})",
        "relative distance of globally average-pooled features",
        "lower",
        lambda x, y: ft.gap_distance(
            rgb(x).float(), rgb(y).float(), extractor=extractor, layers=layers
        ),
    )
    add(
        f"swd ({kind})",
        "sliced Wasserstein distance of feature distributions",
        "lower",
        lambda x, y: ft.sliced_wasserstein_distance(
            rgb(x).float(), rgb(y).float(), extractor=extractor, layers=layers, seed=seed
        ),
    )
    add(
        f"sifid ({kind})",
        "single-image Frechet distance of per-position features",
        "lower",
        lambda x, y: ft.sifid(
            rgb(x).float(), rgb(y).float(), extractor=extractor, layer=sifid_layer
        ),
    )

    def crop_features(x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Features of random crops of ``x`` (all samples together) and of ``y``."""
        size = max(16, min(x.shape[-2:]) // 2)
        fx = ft.patch_features(rgb(x).float(), extractor, kid_layer, patch=size, n=32, seed=seed)
        fy = ft.patch_features(
            rgb(y).float(), extractor, kid_layer, patch=size, n=32, seed=seed + 1
        )
        return fx, fy

    def patch_fid(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Frechet distance between the crop-feature sets (one value for the set)."""
        value = ft.frechet_distance(*crop_features(x, y))
        return torch.full((x.shape[0],), float(value), dtype=torch.float64)

    def patch_kid(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """KID between the crop-feature sets (one value for the set)."""
        fx, fy = crop_features(x, y)
        value = ft.kid(fx, fy, subset_size=64, n_subsets=50, seed=seed).mean
        return torch.full((x.shape[0],), float(value), dtype=torch.float64)

    add(
        f"fid ({kind})",
        "Frechet distance between features of random crops (one value for the set)",
        "lower",
        patch_fid,
    )

    add(
        f"kid ({kind})",
        "kernel inception distance between features of random crops (one value for the set)",
        "lower",
        patch_kid,
    )


def _plot_data(ex: torch.Tensor, xs: torch.Tensor, A: torch.Tensor) -> dict[str, Any]:
    """Curves for the report: spectra, histograms, S2 per scale."""
    from .metrics import texture as tx
    from .stats import ScatteringCovariance
    from .wavelets import max_J

    k_ex, p_ex = tx.power_spectrum(A)
    k_s, p_s = tx.power_spectrum(xs)
    lo = min(float(ex.min()), float(xs.min()))
    hi = max(float(ex.max()), float(xs.max()))
    bins = 64
    hist_ex = torch.histc(ex.float(), bins, lo, hi) / ex.numel()
    hist_s = torch.histc(xs.float(), bins, lo, hi) / xs.numel()
    J = max(1, min(max_J(*ex.shape[-2:]), max_J(*xs.shape[-2:])))
    sc = ScatteringCovariance(J=J)
    with torch.no_grad():
        t_ex, t_s = sc(ex, edge=True).S2, sc(xs).S2  # [B, C, J, L]
        s2_ex, s2_s = t_ex.mean((0, 1, 3)), t_s.mean((0, 1, 3))  # per scale
        # per orientation, relative to the mean over orientations (1 = isotropic)
        s2o_ex = (t_ex / t_ex.mean(-1, keepdim=True)).mean((0, 1, 2))
        s2o_s = (t_s / t_s.mean(-1, keepdim=True)).mean((0, 1, 2))
    return {
        "spectrum": {
            "k": k_ex.tolist(),
            "exemplar": p_ex.mean((0, 1)).tolist(),
            "k_samples": k_s.tolist(),
            "samples": p_s.mean((0, 1)).tolist(),
        },
        "histogram": {
            "edges": torch.linspace(lo, hi, bins + 1).tolist(),
            "exemplar": hist_ex.tolist(),
            "samples": hist_s.tolist(),
        },
        "s2": {"j": list(range(J)), "exemplar": s2_ex.tolist(), "samples": s2_s.tolist()},
        "s2_orientation": {
            "angle": [180.0 * l / sc.L for l in range(sc.L)],
            "exemplar": s2o_ex.tolist(),
            "samples": s2o_s.tolist(),
        },
    }
