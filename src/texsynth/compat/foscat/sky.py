"""foscat's HEALPix arguments (``nside``, ``cell_ids``, ``out_nside``, ``spin``) as the full
nested skies and masks texsynth's sphere takes.

foscat's maps are ``(npix,)`` or ``(B, npix)`` in the nested ordering: a full sky
(``npix = 12 nside**2``), or with ``cell_ids`` the values of those nested pixels only (a
partial sky, Delouis et al.'s regional analysis). texsynth computes on full skies; a
partial sky is embedded in one (:meth:`SkyLayout.embed`) and its other pixels are masked
out, so that they influence no statistic.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from ...domains.healpix import check_nside, npix_of, nside_of
from ...errors import TexsynthError

__all__ = ["SkyLayout", "check_out_nside", "check_spin", "sky_layout"]


def check_spin(spin: Any) -> int:
    """foscat's ``spin``: 0 (scalar maps), 1 (U/V vector fields) or 2 (Q/U polarisation),
    the spin-1 and spin-2 maps given as ``(2, npix)``; a one-line error otherwise."""
    if isinstance(spin, bool) or not isinstance(spin, (int, np.integer)) or spin not in (0, 1, 2):
        raise TexsynthError(
            f"spin must be 0 (scalar maps), 1 (U/V vector maps) or 2 (Q/U maps), got {spin!r}"
        )
    return int(spin)


@dataclass(frozen=True)
class SkyLayout:
    """Where foscat's ``npix`` values lie on the full nested sky of ``nside``.

    ``cells`` is ``None`` for a full sky, else the sorted, distinct nested indices of the
    given values (a ``torch.long`` tensor).
    """

    nside: int
    cells: torch.Tensor | None

    @property
    def npix(self) -> int:
        """Pixels of the full sky."""
        return npix_of(self.nside)

    def embed(self, t: torch.Tensor, fill: float = 0.0) -> torch.Tensor:
        """``[..., n_cells]`` values as ``[..., npix]`` full skies (``fill`` elsewhere)."""
        if self.cells is None:
            return t
        out = t.new_full((*t.shape[:-1], self.npix), fill)
        out[..., self.cells.to(t.device)] = t
        return out

    def valid(self, dtype: torch.dtype, device: torch.device) -> torch.Tensor | None:
        """``[npix]`` 1 on the given cells, 0 elsewhere (``None`` for a full sky)."""
        if self.cells is None:
            return None
        return self.embed(torch.ones(len(self.cells), dtype=dtype, device=device))

    def extract(self, t: torch.Tensor) -> torch.Tensor:
        """The given cells of ``[..., npix]`` full skies."""
        return t if self.cells is None else t[..., self.cells.to(t.device)]

    def max_scales(self) -> int:
        """foscat's number of scales for this layout, within texsynth's sphere (down to nside
        2, ``log2(nside)``): a partial sky of ``N`` cells has at most ``log4(N) - 1``."""
        most = int(math.log2(self.nside))
        if self.cells is not None:
            most = min(most, int(math.log(len(self.cells), 4)) - 1)
        return max(most, 1)


def sky_layout(npix: int, nside: Any, cell_ids: Any, name: str = "image1") -> SkyLayout:
    """The layout of maps of ``npix`` values: a full sky (``nside`` inferred, or checked
    against ``npix``), or the ``cell_ids`` (nested indices at ``nside``, required then)."""
    if cell_ids is None:
        if nside is None:
            return SkyLayout(nside_of(npix, name), None)
        ns = check_nside(nside, "nside")
        if npix != npix_of(ns):
            raise TexsynthError(
                f"{name} has {npix} pixels but nside={ns} has 12 * nside**2 = {npix_of(ns)}; "
                "give a full-sky map, or the cell_ids of a partial one"
            )
        return SkyLayout(ns, None)
    if nside is None:
        raise TexsynthError(
            "cell_ids needs the nside they refer to (the input resolution); pass nside=..."
        )
    ns = check_nside(nside, "nside")
    if isinstance(cell_ids, torch.Tensor):
        cell_ids = cell_ids.detach().cpu().numpy()
    ids = np.asarray(cell_ids)
    if ids.ndim != 1 or ids.size == 0 or not np.issubdtype(ids.dtype, np.integer):
        raise TexsynthError(
            f"cell_ids must be a non-empty 1D array of integer nested pixel indices, got "
            f"shape {ids.shape} and dtype {ids.dtype}"
        )
    if ids.size != npix:
        raise TexsynthError(
            f"cell_ids lists {ids.size} pixels but {name} has {npix} values; give one value "
            "per cell"
        )
    if ids.min() < 0 or ids.max() >= npix_of(ns):
        raise TexsynthError(
            f"cell_ids must lie in [0, {npix_of(ns)}) (nested pixels at nside={ns}), got "
            f"{ids.min()} to {ids.max()}"
        )
    if ids.size > 1 and not bool((np.diff(ids) > 0).all()):
        raise TexsynthError(
            "cell_ids must be sorted and distinct (increasing nested indices); sort the "
            "cells and their values together (np.argsort)"
        )
    return SkyLayout(ns, torch.as_tensor(ids.astype(np.int64)))


def check_out_nside(out_nside: Any, nside: int) -> None:
    """foscat's ``out_nside``: a power of two no finer than the map's ``nside``."""
    if out_nside is None:
        return
    ns = check_nside(out_nside, "out_nside")
    if ns > nside:
        raise TexsynthError(
            f"out_nside={ns} is finer than the map (nside={nside}); use out_nside<={nside}"
        )
