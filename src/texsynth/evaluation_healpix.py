"""Evaluate HEALPix sky syntheses against their exemplar, relative to real sky.

The sphere twin of :func:`texsynth.evaluate` and :func:`texsynth.evaluate_1d`: every
statistic is compared between each sample and the exemplar, and between real pieces of the
exemplar (the baseline), so that a ratio of 1.0 reads "as close as another real piece of the
same sky". The pieces are

* **one exemplar sky** ``[C, npix]``: its 12 HEALPix base faces (nested pixels
  ``p // nside**2``, each an ``nside x nside`` grid of pixels of one shape). Every face ``j``
  of the exemplar is in turn the reference: the baseline is the mean distance between faces
  ``i != j`` of the exemplar, a sample's value the mean distance between its faces ``i`` and
  the exemplar's faces ``j != i``. Both average the same 132 ordered pairs of different faces,
  so a polar face is compared with an equatorial one as often in either.
* **several exemplar maps** ``[B, C, npix]``, ``B > 1`` (e.g. simulations of one process):
  whole maps. The baseline is the mean distance between exemplar maps ``i != j``, a sample's
  value its mean distance to every exemplar map.

The metrics are those the synthesis (:func:`texsynth.synthesize_healpix`: scattering
covariance on the sphere, value histogram, ``C_ell`` for ``ell <= 8``) does not optimise:
the power spectrum at all scales, the Minkowski functionals of excursion sets (Schmalzing and
Gorski 1998) and peak counts. The one-point distribution and the scattering chi-square are
optimised: their names say so.

The statistics themselves are in :mod:`texsynth.healpix_statistics` and the picture of a
report in :mod:`texsynth.healpix_report`; this module compares them (pairs of pieces, the
copy check, diversity) and re-exports :func:`write_healpix_report`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch

from .arrays import accepts_arrays
from .domains.healpix import healpy_module, nside_of
from .errors import TexsynthError
from .evaluation_report import EvaluationReport, MetricResult, check_channels
from .healpix_report import write_healpix_report
from .healpix_statistics import (
    NU,
    PEAK_EDGES,
    anafast_binned,
    base_faces,
    face_order,
    face_spectrum,
    peak_density,
    standardise,
)
from .metrics.minkowski import minkowski_functionals

__all__ = [
    "NU",
    "anafast_binned",
    "base_faces",
    "evaluate_healpix",
    "face_order",
    "write_healpix_report",
]

MIN_NSIDE = 16
PATCH = 8  # side of the copy check's patches (pixels of a base face)
_Dist = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


# ------------------------------------------------------------------------------ distances
def _mean_abs(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return (a - b).abs().mean((-2, -1))


def _peak_distance(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Sum over heights of |peak density difference| / the reference's peak density."""
    total = b.sum(-1).clamp_min(torch.finfo(b.dtype).tiny)
    return ((a - b).abs().sum(-1) / total).mean(-1)


def _pair_scores(E: torch.Tensor, X: torch.Tensor, dist: _Dist) -> tuple[list[float], float]:
    """Per-sample values and the real baseline of one statistic.

    ``E [B, R, ...]`` is the exemplar's, ``X [S, R, ...]`` the samples': with one exemplar
    map, its ``R = 12`` faces are the pieces (pairs of different faces); with several, the
    maps themselves (``R = 1``).
    """
    if E.shape[0] == 1:
        ref = E[0]  # [R, ...]
        off = ~torch.eye(ref.shape[0], dtype=torch.bool, device=ref.device)
        base = dist(ref[:, None], ref[None, :])[off].mean()
        vals = [dist(x[:, None], ref[None, :])[off].mean() for x in X]
    else:
        maps = E[:, 0]
        off = ~torch.eye(maps.shape[0], dtype=torch.bool, device=maps.device)
        base = dist(maps[:, None], maps[None, :])[off].mean()
        vals = [dist(x[0][None], maps).mean() for x in X]
    return [float(v) for v in vals], float(base)


def _whole(t: torch.Tensor, whole: bool) -> torch.Tensor:
    """Per-face statistics ``[M, 12, ...]`` as the whole map's ``[M, 1, ...]`` (faces have
    equal areas: the mean) when ``whole``."""
    return t.mean(1, keepdim=True) if whole else t


# ------------------------------------------------------------------------------ copies
def _dihedral(faces: torch.Tensor) -> list[torch.Tensor]:
    """The 8 rotations and reflections of images ``[..., n, n]`` (the sky's pixel-preserving
    symmetries act on base faces as these)."""
    out = []
    for t in (faces, faces.transpose(-2, -1)):
        out += [torch.rot90(t, k, (-2, -1)) for k in range(4)]
    return out


def _windows(faces: torch.Tensor, step: int) -> torch.Tensor:
    """All ``PATCH``-pixel windows at ``step`` of face images ``[F, C, n, n]``:
    ``[F, positions, C * PATCH**2]``."""
    u = faces.unfold(-2, PATCH, step).unfold(-2, PATCH, step)  # [F, C, a, a, P, P]
    return u.permute(0, 2, 3, 1, 4, 5).flatten(3).flatten(1, 2)


def _nearest(queries: torch.Tensor, pool: torch.Tensor) -> torch.Tensor:
    """RMS distance of each query ``[Q, D]`` to its nearest row of ``pool [P, D]``."""
    best = []
    for chunk in pool.split(8192):
        best.append(torch.cdist(queries, chunk).amin(1))
    return torch.stack(best).amin(0) / math.sqrt(queries.shape[1])


def _copy_scores(
    zex: torch.Tensor, zs: torch.Tensor, seed: int, per_face: int = 16
) -> tuple[list[float], float]:
    """Median distance of sample patches to their nearest exemplar patch, under any of the 8
    symmetries of a base face and any position (standardised maps; ~0 for a copy).

    Sample patches are looked up in the whole exemplar; the baseline looks up the
    exemplar's own patches in the faces (one exemplar) or maps (several) they do not come
    from, a pool of 11 faces instead of 12 (or ``B - 1`` maps instead of ``B``): a slightly
    longer nearest distance, so the ratio errs towards flagging copies.
    """
    n = nside_of(zex.shape[-1])
    step = 1
    while step < 8 and ((n - PATCH) // step + 1) ** 2 > 256:
        step *= 2
    fex, fs = base_faces(zex), base_faces(zs)  # [M, 12, C, n, n]
    g = torch.Generator().manual_seed(seed)

    def queries(faces: torch.Tensor) -> torch.Tensor:
        w = _windows(faces, step)  # [12, positions, D]
        pick = torch.stack([torch.randperm(w.shape[1], generator=g)[:per_face] for _ in w])
        return torch.stack([w[f, pick[f]] for f in range(12)])  # [12, q, D]

    one = zex.shape[0] == 1
    # the pools: one per exemplar face (one exemplar) or per exemplar map (several)
    pools = []
    for m in range(zex.shape[0]):
        for f in range(12) if one else [None]:
            faces = fex[m, f : f + 1] if f is not None else fex[m]
            pools.append(torch.cat([_windows(t, step) for t in _dihedral(faces)], 1).flatten(0, 1))

    def lookup(q: torch.Tensor, exclude: int | None = None, own_face: bool = False) -> torch.Tensor:
        """Nearest distances of ``q [12, k, D]``, skipping pool ``exclude``, or with
        ``own_face`` the pool of each query's own face (the exemplar's own patches)."""
        flat = q.flatten(0, 1)
        d = torch.stack([_nearest(flat, p) for p in pools], 1)  # [12 k, pools]
        if own_face:
            face = torch.arange(12).repeat_interleave(q.shape[1])
            d[torch.arange(len(face)), face] = math.inf
        elif exclude is not None:
            d[:, exclude] = math.inf
        return d.amin(1)

    vals = [float(lookup(queries(fs[s])).median()) for s in range(zs.shape[0])]
    if one:
        base = float(lookup(queries(fex[0]), own_face=True).median())
    else:
        base = sum(float(lookup(queries(fex[m]), m).median()) for m in range(zex.shape[0]))
        base /= zex.shape[0]
    return vals, base


def _diversity(x: torch.Tensor) -> float:
    """Mean pairwise RMS difference of ``[B, C, N]`` over the mean variance (about sqrt(2)
    for independent maps)."""
    v = x.var(-1, unbiased=False).mean().clamp_min(torch.finfo(x.dtype).tiny)
    B = x.shape[0]
    d = [((x[i] - x[j]) ** 2).mean() / v for i in range(B) for j in range(i + 1, B)]
    return float(torch.stack(d).sqrt().mean())


def _scattering_scores(zex: torch.Tensor, zs: torch.Tensor) -> tuple[list[float], float]:
    """Chi-square of the sphere's scattering covariance against each exemplar map in turn
    (its standard errors), averaged: samples, and the other exemplar maps (baseline)."""
    from .stats.healpix import HealpixScatteringCovariance

    B = zex.shape[0]
    vals = torch.zeros(zs.shape[0], dtype=torch.float64)
    base = []
    sc = HealpixScatteringCovariance()
    with torch.no_grad():
        for j in range(B):
            sc.reset_norm()  # normalised by reference j's S2
            sy, sigma = sc(zex[j : j + 1], norm="auto", calc_var=True)
            rest = torch.cat([zs, zex[:j], zex[j + 1 :]])
            d = sc(rest, norm="auto").distance(sy, sigma).double().cpu()
            vals += d[: zs.shape[0]]
            base += d[zs.shape[0] :].tolist()
    return [float(v) for v in vals / B], sum(base) / len(base)


# ------------------------------------------------------------------------------ entry point
@accepts_arrays("exemplar", "samples", like="exemplar", ndim=1, batches=("samples",))
def evaluate_healpix(
    exemplar: torch.Tensor,
    samples: torch.Tensor,
    *,
    seed: int = 0,
    scattering: bool = True,
    progress: Callable[[str], None] | None = None,
) -> EvaluationReport:
    """Measure how well HEALPix ``samples`` reproduce the sky of ``exemplar``.

    Parameters
    ----------
    exemplar
        One sky ``[npix]`` or ``[C, npix]`` (compared face by face), or several maps of one
        process ``[B, C, npix]`` with ``B > 1`` (compared map by map); nested ordering,
        full sky, ``nside >= 16``.
    samples
        ``[S, C, npix]`` syntheses (``[npix]`` for one single-channel map) at the exemplar's
        ``nside``: the metrics compare scales in multipoles, and a synthesis at another
        ``nside`` has its structures at other multipoles.
    seed
        Seed of the patches drawn for the copy check.
    scattering
        With several exemplar maps, also the (optimised) scattering chi-square on the sphere.
    progress
        Called with the name of each metric before it is computed.

    Returns
    -------
    EvaluationReport
        ``crop_shape`` is ``(pixels of one compared piece,)``: ``nside**2`` for faces, ``npix``
        for whole maps; ``exemplar_shape`` is ``(C, npix)`` for one sky, ``(B, C, npix)`` for
        several. ``plots`` holds the full-sky ``C_ell`` (anafast), the Minkowski
        functionals and the peak histograms, and ``plots["compared_on"]`` says what was
        compared.

    Raises
    ------
    TexsynthError
        On shapes that are not full HEALPix skies, an ``nside`` under 16, samples at another
        ``nside`` or with other channels, or a missing healpy.
    """
    healpy_module()
    for name, t, dims in (("exemplar", exemplar, (1, 2, 3)), ("samples", samples, (1, 3))):
        if not isinstance(t, torch.Tensor) or t.dim() not in dims:
            shape = tuple(t.shape) if isinstance(t, torch.Tensor) else "not a tensor"
            want = "[npix], [C, npix] or [B, C, npix]" if name == "exemplar" else "[S, C, npix]"
            raise TexsynthError(f"{name} must be {want} HEALPix maps, got {shape}")
        if not bool(torch.isfinite(t).all()):
            raise TexsynthError(f"{name} holds NaN or Inf; give full skies (no missing pixels)")
    ex = exemplar.double()
    ex = ex.reshape(1, 1, -1) if ex.dim() == 1 else ex[None] if ex.dim() == 2 else ex
    xs = samples.double().to(ex.device)
    xs = xs.reshape(1, 1, -1) if xs.dim() == 1 else xs
    nside = nside_of(int(ex.shape[-1]), "the exemplar")
    nside_s = nside_of(int(xs.shape[-1]), "the samples")
    if nside_s != nside:
        raise TexsynthError(
            f"samples have nside {nside_s} but the exemplar nside {nside}; evaluate samples "
            "at the exemplar's nside (synthesize_healpix without nside=...)"
        )
    if nside < MIN_NSIDE:
        raise TexsynthError(
            f"the maps have nside {nside}; evaluate_healpix needs nside >= {MIN_NSIDE} (a base "
            "face of at least 16x16 pixels)"
        )
    check_channels(ex, xs)
    whole = ex.shape[0] > 1
    zex, zs = standardise(ex), standardise(xs)
    piece = ex.shape[-1] if whole else nside * nside
    ex_shape = tuple(ex.shape) if whole else tuple(ex.shape[1:])
    report = EvaluationReport(ex_shape, tuple(xs.shape[1:]), (piece,))

    def add(name: str, description: str, E: torch.Tensor, X: torch.Tensor, dist: _Dist) -> None:
        if progress is not None:
            progress(name)
        vals, base = _pair_scores(E, X, dist)
        report.metrics.append(MetricResult(name, description, vals, base, "lower"))

    # values in units of the exemplar's: the spectrum and the histogram see amplitude errors
    mu = ex.mean((0, 2), keepdim=True)
    sd = ex.std((0, 2), unbiased=False, keepdim=True).clamp_min(torch.finfo(ex.dtype).tiny)
    vex, vs = (ex - mu) / sd, (xs - mu) / sd
    # the power spectrum at every scale
    if whole:
        _, lex = anafast_binned(ex)
        _, ls = anafast_binned(xs)
        add(
            "spectrum",
            "mean |log C_ell - log C_ell,ex| in half-octave bins, ell >= 2 (anafast)",
            lex[:, None],
            ls[:, None],
            _mean_abs,
        )
    else:
        _, lex = face_spectrum(base_faces(vex))
        _, ls = face_spectrum(base_faces(vs))
        add(
            "spectrum",
            "mean |log P - log P_ex| of base faces, flat-sky Hann-windowed, half octaves",
            lex,
            ls,
            _mean_abs,
        )
    # Minkowski functionals of the excursion sets, per base face (whole maps: their mean)
    mex = _whole(minkowski_functionals(base_faces(zex), NU), whole)  # [M, R, C, 3, T]
    ms = _whole(minkowski_functionals(base_faces(zs), NU), whole)
    what = ("area fraction", "boundary length / 4", "Euler characteristic")
    for k in range(3):
        add(
            f"minkowski V{k}",
            f"mean |V{k} - V{k}_ex| over nu = -3 ... 3 sigma ({what[k]} per pixel)",
            mex[..., k, :],
            ms[..., k, :],
            _mean_abs,
        )
    pex = _whole(peak_density(zex), whole)
    ps = _whole(peak_density(zs), whole)
    add(
        "peaks",
        "sum |peak density - ex's| over heights in sigma / ex's peak density",
        pex,
        ps,
        _peak_distance,
    )
    # the one-point distribution (optimised: the synthesis matches the histogram)
    if whole:
        sex, ss = vex.sort(-1).values[:, None], vs.sort(-1).values[:, None]
    else:
        sex = base_faces(vex).flatten(-2).sort(-1).values
        ss = base_faces(vs).flatten(-2).sort(-1).values
    add(
        "values (optimised)",
        "Wasserstein-1 of values in units of the exemplar's std (the synthesis matches it)",
        sex,
        ss,
        _mean_abs,
    )
    if whole and scattering:
        if progress is not None:
            progress("scattering (optimised)")
        vals, base = _scattering_scores(zex, zs)
        report.metrics.append(
            MetricResult(
                "scattering (optimised)",
                "chi-square of the sphere's scattering covariance (the synthesis matches it)",
                vals,
                base,
                "lower",
            )
        )
    if progress is not None:
        progress("copy")
    vals, base = _copy_scores(zex, zs, seed)
    report.metrics.append(
        MetricResult(
            "copy",
            f"distance of {PATCH}x{PATCH} face patches to the nearest exemplar patch, any "
            "rotation or reflection (low = copied)",
            vals,
            base,
            "higher",
        )
    )
    real = zex if whole else base_faces(zex)[0].flatten(-2)  # [12, C, nside**2]
    report.measure_diversity(
        _diversity,
        zs,
        real,
        "mean pairwise normalised distance between samples (sqrt 2 if uncorrelated)",
        progress,
    )
    report.plots = _plot_data(ex, xs, mex, ms, pex, ps, whole)
    return report


def _plot_data(
    ex: torch.Tensor,
    xs: torch.Tensor,
    mex: torch.Tensor,
    ms: torch.Tensor,
    pex: torch.Tensor,
    ps: torch.Tensor,
    whole: bool,
) -> dict[str, Any]:
    """Full-sky ``C_ell``, Minkowski functionals (the exemplar's pieces' range, their mean,
    the samples' mean) and peak densities, channel 0."""
    ell, lex = anafast_binned(ex)
    _, ls = anafast_binned(xs)
    mink: dict[str, Any] = {"nu": NU.tolist()}
    for k in range(3):
        e = mex[:, :, 0, k].flatten(0, 1)  # the pieces: faces or maps
        mink[f"V{k}"] = {
            "exemplar_low": e.amin(0).tolist(),
            "exemplar_high": e.amax(0).tolist(),
            "exemplar": e.mean(0).tolist(),
            "samples": ms[:, :, 0, k].mean((0, 1)).tolist(),
        }
    return {
        "compared_on": "whole maps" if whole else "the 12 HEALPix base faces",
        "spectrum": {
            "ell": ell.tolist(),
            "exemplar": lex[:, 0].exp().mean(0).tolist(),
            "samples": ls[:, 0].exp().mean(0).tolist(),
        },
        "minkowski": mink,
        "peaks": {
            "edges": list(PEAK_EDGES),
            "exemplar": pex[:, :, 0].mean((0, 1)).tolist(),
            "samples": ps[:, :, 0].mean((0, 1)).tolist(),
        },
    }
