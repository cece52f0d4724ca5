"""foscat's ``SynthHalfUNet2D`` module over texsynth's generator.

``from foscat.SynthHalfUNet2D import SynthHalfUNet2D, train_synth_unet, generate_samples``
becomes ``from texsynth.compat.foscat.SynthHalfUNet2D import ...``. The network is
:class:`texsynth.generators.SynthHalfUNet2D` (foscat's decoder, periodic: samples tile),
trained by :func:`texsynth.generators.train_synth_unet` with foscat's parameter names; its
microcanonical loss is finite (foscat 2026.6.1's gives NaN after one step).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from ... import generators
from ...errors import TexsynthError
from ._common import as_tensor, check_int, warn_compat

__all__ = ["ConvBlock2D", "SynthHalfUNet2D", "generate_samples", "train_synth_unet"]

ConvBlock2D = generators.ConvBlock2D
"""Two rounds of Conv3x3 -> InstanceNorm2d -> LeakyReLU (texsynth's; circular padding)."""


def _orientations(scat_op: Any) -> int:
    """Number of orientations of a foscat-style operator (``NORIENT`` or ``L``; default 4)."""
    if scat_op is None:
        return 4
    if getattr(scat_op, "use_1D", False):
        raise TexsynthError("SynthHalfUNet2D needs a 2D operator (use_2D=True), got a 1D one")
    L = getattr(scat_op, "NORIENT", getattr(scat_op, "L", 4))
    return check_int(L, "scat_op.NORIENT", 1)


class SynthHalfUNet2D(generators.SynthHalfUNet2D):
    """Decoder-only U-Net for fast scattering-covariance texture synthesis (as foscat's).

    Parameters
    ----------
    scat_op
        A 2D operator (``scat_cov2D.funct(...)``); only its ``NORIENT`` is used (the skip
        wavelets are texsynth's, in the Fourier domain).
    Jmax
        Decoder depth: the coarsest level is ``2**Jmax`` times smaller.
    channel_list
        Channels per level, coarsest first (``Jmax + 1`` values); default
        ``[min(32 * 2**(Jmax - j), 256) for j in 0..Jmax]``, foscat's.
    out_channels
        Output channels.
    **options
        Other :class:`texsynth.generators.SynthHalfUNet2D` options (``tile``, ``width``...).

    Notes
    -----
    ``model(z)`` returns the network's (standardised) units; :func:`generate_samples`
    returns the training target's units. Any ``H, W`` from ``2**Jmax + 1`` work, not only
    multiples of ``2**Jmax``.
    """

    def __init__(
        self,
        scat_op: Any,
        Jmax: int,
        channel_list: list[int] | None = None,
        out_channels: int = 1,
        **options: Any,
    ) -> None:
        options.setdefault("L", _orientations(scat_op))
        options.setdefault("width", 32)
        super().__init__(Jmax, channel_list, out_channels, **options)
        self.norient = self.L
        self.kernelsz = getattr(scat_op, "KERNELSZ", 3)

    @property
    def Jmax(self) -> int:
        """foscat's name of the decoder depth (texsynth's :attr:`depth`)."""
        return self.depth

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> generators.SynthHalfUNet2D:
        """Rebuild an (untrained) texsynth generator from its ``config``."""
        return generators.SynthHalfUNet2D.from_config(config)

    @classmethod
    def from_texsynth(
        cls, model: generators.SynthHalfUNet2D, scat_op: Any = None
    ) -> SynthHalfUNet2D:
        """The same network (weights, buffers, mode, device) as this class."""
        config = dict(model.config)
        for key in ("architecture", "width"):
            config.pop(key, None)
        Jmax, channels, out = (
            config.pop("depth"),
            config.pop("channel_list"),
            config.pop("out_channels"),
        )
        with torch.random.fork_rng(devices=[]):  # (initial weights are overwritten)
            new = cls(scat_op, Jmax, channels, out, **config)
        new.load_state_dict(model.state_dict())
        p = next(model.parameters())
        new.to(device=p.device, dtype=p.dtype)
        new.train(model.training)
        return new


def train_synth_unet(
    target_image: Any,
    scat_op: Any,
    Jmax: int,
    n_samples: int = 4,
    channel_list: list[int] | None = None,
    out_channels: int = 1,
    lr: float = 0.001,
    n_epochs: int = 2000,
    eval_frequency: int = 100,
    norm: str = "auto",
    Jmax_scat: int | None = None,
    edge: bool = False,
    iso_ang: bool = False,
    fft_ang: bool = False,
    fft_nharm: int = 1,
    fft_imaginary: bool = True,
    microcanonical: bool = True,
    sigma_synth: bool = True,
    micro_eps: float = 1e-06,
    device: str | None = None,
    **options: Any,
) -> SynthHalfUNet2D:
    """Train a :class:`SynthHalfUNet2D` to reproduce the scattering covariance of a target.

    foscat's parameters and defaults, on :func:`texsynth.generators.train_synth_unet`:
    ``target_image`` ``[H, W]`` or ``[1, H, W]`` (torch or NumPy); ``n_epochs`` Adam steps on
    ``n_samples`` fresh noise images of the target's size (cosine learning rate from
    ``lr``); a loss line is printed every ``eval_frequency`` epochs (``<= 0``: never);
    ``Jmax_scat`` scales in the loss; ``edge`` scores samples as non-periodic;
    ``iso_ang``/``fft_ang``/``fft_nharm``/``fft_imaginary`` reduce the orientations;
    ``microcanonical``, ``sigma_synth``, ``micro_eps`` select foscat's loss (finite here).
    ``norm`` other than ``'auto'`` warns (texsynth always normalises by the target's S2).
    ``device``: default the operator's (CUDA when available, as foscat). ``options`` go to
    :func:`texsynth.generators.train_generator` (``seed``, ``histogram``...).

    Returns
    -------
    SynthHalfUNet2D
        The trained network, in eval mode.
    """
    if norm != "auto":
        warn_compat(
            f"norm={norm!r}: texsynth always normalises the statistics by the target's S2 "
            "(norm='auto', done correctly); training uses that"
        )
    L = _orientations(scat_op)
    if device is None:
        device = getattr(scat_op, "device", None)
        if device is None:
            device = "cuda" if torch.cuda.is_available() else "cpu"
    dtype = torch.float32
    target = as_tensor(target_image, "target_image", dtype, torch.device(device))
    if target.dim() == 2:
        target = target[None]
    if target.dim() != 3:
        raise TexsynthError(
            f"target_image must be [H, W] or [{out_channels}, H, W], got {tuple(target.shape)}"
        )
    if not isinstance(eval_frequency, int) or isinstance(eval_frequency, bool):
        raise TexsynthError(f"eval_frequency must be an integer, got {eval_frequency!r}")
    n_epochs = check_int(n_epochs, "n_epochs", 1)
    printer = _EpochPrinter(eval_frequency, n_epochs)
    options.setdefault("progress", False)
    options.setdefault("callback", printer)
    model = generators.train_synth_unet(
        target,
        _Orientations(L),
        Jmax=Jmax,
        n_samples=n_samples,
        channel_list=channel_list,
        out_channels=out_channels,
        lr=lr,
        n_epochs=n_epochs,
        eval_frequency=max(eval_frequency, 1),
        norm="auto",
        Jmax_scat=Jmax_scat,
        edge=edge,
        iso_ang=iso_ang,
        fft_ang=fft_ang,
        fft_nharm=fft_nharm,
        fft_imaginary=fft_imaginary,
        microcanonical=microcanonical,
        sigma_synth=sigma_synth,
        micro_eps=micro_eps,
        device=str(device),
        **options,
    )
    out = SynthHalfUNet2D.from_texsynth(model, scat_op)
    out.eval()
    return out


class _Orientations:
    """Stand-in operator that tells :func:`texsynth.generators.train_synth_unet` ``L``."""

    def __init__(self, L: int) -> None:
        self.L = L


class _EpochPrinter:
    """foscat's ``Epoch   100/2000  loss=...`` lines through the training callback."""

    def __init__(self, every: int, total: int) -> None:
        self.every = every
        self.total = total

    def __call__(self, step: int, loss: float, model: Any) -> bool:
        epoch = step + 1  # foscat counts from 1
        if self.every > 0 and (epoch % self.every == 0 or epoch == 1):
            print(f"Epoch {epoch:5d}/{self.total}  loss={loss:.6f}")
        return False


def generate_samples(
    model: generators.SynthHalfUNet2D,
    n_samples: int,
    H: int,
    W: int,
    device: str | None = None,
    seed: int | None = None,
) -> torch.Tensor:
    """Draw ``n_samples`` textures ``[n_samples, out_channels, H, W]`` (torch) from a model.

    The samples are in the training target's units (with its histogram). ``seed`` seeds
    only this call's noise: the global torch RNG is not touched (foscat calls
    ``torch.manual_seed``). ``device``: default the model's.
    """
    if isinstance(H, (np.integer,)):
        H = int(H)
    if isinstance(W, (np.integer,)):
        W = int(W)
    return generators.generate_samples(model, n_samples, H, W, device=device, seed=seed)
