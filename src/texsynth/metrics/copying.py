"""Copy detection: how closely patches of syntheses copy their exemplar.

A synthesis that pastes pieces of its exemplar scores well on every distributional metric of
:mod:`~texsynth.metrics.texture`; :func:`copy_score` flags it by the distance of its patches
to their nearest exemplar patch.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from .._checks import as_image_batch
from ..errors import TexsynthError
from .checks import check_integer, check_min_side, check_spread
from .image import image_pair

__all__ = ["copy_score"]

# exemplar positions searched at once by copy_score (bounds memory to a few tens of MB)
_COPY_CHUNK_ELEMENTS = 1 << 22
# above this many exemplar positions, copy_score searches them on a strided grid
_COPY_MAX_POSITIONS = 1 << 18


def copy_score(
    x: torch.Tensor,
    exemplar: torch.Tensor,
    *,
    patch: int = 16,
    stride: int = 8,
    n_patches: int = 256,
    seed: int | None = 0,
) -> torch.Tensor:
    """How closely patches of ``x`` copy the exemplar; LOW values flag verbatim copying.

    Patches of ``x`` (``patch x patch`` pixels, on a grid of step ``stride``; at most
    ``n_patches`` of them, drawn at random with ``seed``) are each matched to their nearest
    exemplar patch among all positions. The distance is the normalised L2 distance
    ``sqrt(mean((p - q)^2) / var(exemplar))`` (RMS difference in units of the exemplar's
    standard deviation; independent patches give about ``sqrt(2)``), and the score is its
    median over the sampled patches. A piece cut from the exemplar (shifted, cropped) scores
    about 0; a new realisation of the same texture clearly more (often 0.3 to 1, depending on
    the texture and patch size). Higher means more original, so lower is *not* better here.

    Every exemplar position is searched (stride 1) while there are at most 262144 of them
    (e.g. a 512x512 exemplar); beyond that a strided grid keeps the cost bounded, and an exact
    copy may then score slightly above 0. Memory is bounded by processing the exemplar in
    chunks.

    Parameters
    ----------
    x
        Samples ``[B, C, H, W]``, at least ``patch`` pixels per side.
    exemplar
        ``[1, C, H', W']`` (a single image), at least ``patch`` pixels per side.
    patch
        Patch side in pixels.
    stride
        Step of the grid from which the patches of ``x`` are drawn.
    n_patches
        Number of patches of each sample that are matched.
    seed
        Seed of the patch draw (``None``: fresh randomness); the global RNG is not used.

    Returns
    -------
    torch.Tensor
        ``[B]`` median nearest-patch distances.
    """
    xa = as_image_batch(x, "x")
    ex = as_image_batch(exemplar, "exemplar")
    if ex.shape[0] != 1:
        raise TexsynthError(
            f"exemplar must be a single image (batch size 1), got batch size {ex.shape[0]}"
        )
    a, e = image_pair(xa, ex, "x", "exemplar")
    e = e[:1]
    patch = check_integer(patch, "patch", 1)
    stride = check_integer(stride, "stride", 1)
    n_patches = check_integer(n_patches, "n_patches", 1)
    what = f"{patch}x{patch} patches (or lower patch)"
    check_min_side(a, patch, "x", what)
    check_min_side(e, patch, "exemplar", what)
    std = check_spread(e, "exemplar", "copy_score")
    var = std.pow(2).mean()
    B, C, H, W = a.shape
    mean = e.mean((-2, -1), keepdim=True)
    a = a - mean
    e = e - mean

    # queries: patches of x on the stride grid, drawn per sample
    gen = torch.Generator()
    if seed is None:
        gen.seed()
    else:
        gen.manual_seed(seed)
    rows = torch.arange(0, H - patch + 1, stride)
    cols = torch.arange(0, W - patch + 1, stride)
    n_grid = rows.numel() * cols.numel()
    k = min(n_patches, n_grid)
    queries = []
    for i in range(B):
        pick = torch.randperm(n_grid, generator=gen)[:k]
        queries.append(_patches(a[i], rows[pick // cols.numel()], cols[pick % cols.numel()], patch))
    qs = torch.cat(queries)  # [B*k, d]

    # search every exemplar position (row bands bound the memory) in float32 for speed ...
    He, We = e.shape[-2:]
    n_pos = (He - patch + 1) * (We - patch + 1)
    estride = 1
    while n_pos / estride**2 > _COPY_MAX_POSITIONS:
        estride += 1
    out_rows = list(range(0, He - patch + 1, estride))
    n_cols = (We - patch) // estride + 1
    d = qs.shape[1]
    band = max(1, _COPY_CHUNK_ELEMENTS // max(1, n_cols * max(d, qs.shape[0])))
    q32 = qs.float()
    q2 = q32.pow(2).sum(1)
    e32 = e.float()
    best = torch.full((qs.shape[0],), math.inf, device=a.device)
    best_r = torch.zeros(qs.shape[0], dtype=torch.long, device=a.device)
    best_c = torch.zeros_like(best_r)
    for s in range(0, len(out_rows), band):
        r0 = out_rows[s]
        r1 = out_rows[min(s + band, len(out_rows)) - 1]
        cand = F.unfold(e32[:, :, r0 : r1 + patch, :], patch, stride=estride)[0]  # [d, n]
        dist = q2[:, None] + cand.pow(2).sum(0)[None, :] - 2 * (q32 @ cand)
        vals, idx = dist.min(1)
        better = vals < best
        best = torch.where(better, vals, best)
        best_r = torch.where(better, r0 + (idx // n_cols) * estride, best_r)
        best_c = torch.where(better, (idx % n_cols) * estride, best_c)
    # ... then measure the distance to the best match exactly, in the input precision
    match = _patches(e[0], best_r, best_c, patch)
    dist2 = (qs - match).pow(2).sum(1)
    score = (dist2 / (d * var)).sqrt()
    return score.reshape(B, k).median(1).values


def _patches(img: torch.Tensor, r: torch.Tensor, c: torch.Tensor, patch: int) -> torch.Tensor:
    """Flattened patches ``[k, C * patch**2]`` of ``img [C, H, W]`` at top-left ``(r, c)``."""
    offs = torch.arange(patch, device=img.device)
    ii = r.to(img.device)[:, None] + offs  # [k, p]
    jj = c.to(img.device)[:, None] + offs
    q = img[:, ii[:, :, None], jj[:, None, :]]  # [C, k, p, p]
    return q.permute(1, 0, 2, 3).reshape(r.numel(), -1)
