"""Strided grid of output patches: corners, pixel indices, patch extraction and voting.

The output of one pyramid level is covered by ``p x p`` patches whose top-left corners lie
on a grid of stride about a quarter patch (Kwatra et al. 2005, "Texture optimization for
example-based synthesis"); with tiling the patches wrap around the borders.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

__all__ = ["PatchGrid", "extract_patches", "make_grid", "pixel_index", "vote"]


@dataclass
class PatchGrid:
    """Top-left corners of the output patches of one level."""

    ys: torch.Tensor  # [ny] long
    xs: torch.Tensor  # [nx] long
    H: int
    W: int
    tile: bool

    @property
    def n(self) -> int:
        """Number of patches on the grid."""
        return self.ys.numel() * self.xs.numel()


def _axis_positions(size: int, p: int, s: int, tile: bool, device: torch.device) -> torch.Tensor:
    """Corners every ``s`` pixels along a side of ``size``; without tiling, the last patch of
    side ``p`` ends on the border."""
    if tile:
        return torch.arange(0, size, s, device=device)
    pos = list(range(0, size - p + 1, s))
    if pos[-1] != size - p:
        pos.append(size - p)
    return torch.tensor(pos, device=device)


def make_grid(H: int, W: int, p: int, s: int, tile: bool, device: torch.device) -> PatchGrid:
    """The grid of ``p x p`` patches at stride ``s`` over an ``H x W`` output (wrapping
    around the borders when ``tile``)."""
    return PatchGrid(
        _axis_positions(H, p, s, tile, device), _axis_positions(W, p, s, tile, device), H, W, tile
    )


def pixel_index(grid: PatchGrid, p: int) -> torch.Tensor:
    """Flat pixel index ``[Nq, p*p]`` of every output patch (wrapping when tiling)."""
    d = torch.arange(p, device=grid.ys.device)
    yy = (grid.ys[:, None] + d[None]) % grid.H  # [ny, p]
    xx = (grid.xs[:, None] + d[None]) % grid.W  # [nx, p]
    idx = yy[:, None, :, None] * grid.W + xx[None, :, None, :]  # [ny, nx, p, p]
    return idx.reshape(grid.n, p * p)


def extract_patches(x: torch.Tensor, pix: torch.Tensor) -> torch.Tensor:
    """Patches ``[Nq, C*p*p]`` of ``x`` ``[C, H, W]`` (same ordering as ``F.unfold``)."""
    C = x.shape[0]
    return x.reshape(C, -1)[:, pix].permute(1, 0, 2).reshape(pix.shape[0], -1)


def vote(
    src_patches: torch.Tensor, pix: torch.Tensor, weights: torch.Tensor, C: int, H: int, W: int
) -> torch.Tensor:
    """Weighted average of the chosen patches ``[Nq, C*p*p]`` at pixels ``pix``."""
    Nq, P = pix.shape
    vals = src_patches.reshape(Nq, C, P) * weights[:, None, None]
    acc = torch.zeros(C, H * W, dtype=src_patches.dtype, device=src_patches.device)
    acc.index_add_(1, pix.reshape(-1), vals.permute(1, 0, 2).reshape(C, -1))
    wsum = torch.zeros(H * W, dtype=src_patches.dtype, device=src_patches.device)
    wsum.index_add_(0, pix.reshape(-1), weights[:, None].expand(Nq, P).reshape(-1))
    return (acc / wsum.clamp_min(1e-12)).reshape(C, H, W)
