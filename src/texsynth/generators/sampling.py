"""Drawing textures from a trained generator: batches, seeds, memory budget, output kinds.

One forward pass of :class:`~texsynth.generators.SynthHalfUNet2D` per batch of white-noise
images, in inference mode; each sample's noise is drawn on the CPU from its own stream
position, so a seed gives the same textures on every device and with any batching.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from .._checks import check_device, check_int_at_least, size_text
from ..arrays import TENSOR, Kind, to_user
from ..errors import TexsynthError
from ..memory import BATCH_BYTES, check_memory, estimate_sampling_bytes
from ..seeds import member_generators, resolve_seeds
from .network import SynthHalfUNet2D

__all__ = ["activation_bytes", "generate_samples"]


def _model_device_dtype(model: nn.Module) -> tuple[torch.device, torch.dtype]:
    """Device and dtype of the parameters of ``model``."""
    p = next(model.parameters())
    return p.device, p.dtype


def activation_bytes(model: SynthHalfUNet2D, H: int, W: int) -> int:
    """Rough peak activation memory (bytes) of one ``H x W`` sample in inference mode.

    At decoder level ``j`` (``h*w`` pixels, ``c_in = C + 2L + 1`` input and ``c_out``
    output channels) the live tensors are about the concatenated input and its padded
    copy, the upsampled features, and two ``c_out`` maps: ``(3 c_in + 2 c_out) h w``
    values. The estimate is the maximum over levels (the finest usually dominates), times
    the element size.
    """
    _, dtype = _model_device_dtype(model)
    itemsize = torch.empty((), dtype=dtype).element_size()
    C, skip = model.channel_list, 2 * model.L + 1
    sizes = model.level_sizes(H, W)
    peak = (3 * skip + 2 * C[0]) * sizes[-1][0] * sizes[-1][1]
    for k in range(model.depth):
        h, w = sizes[model.depth - 1 - k]
        peak = max(peak, (3 * (C[k] + skip) + 2 * C[k + 1]) * h * w)
    return peak * itemsize


def generate_samples(
    model: SynthHalfUNet2D,
    n_samples: int,
    H: int,
    W: int,
    device: str | torch.device | None = None,
    seed: int | Sequence[int] | None = None,
    *,
    match_histogram: bool = True,
    raw: bool = False,
    batch_size: int | None = None,
    generator: torch.Generator | None = None,
    output: str = "tensor",
    max_memory: int | None = None,
) -> Any:
    """Draw ``n_samples`` textures of ``H x W`` pixels from a trained generator.

    Parameters
    ----------
    model
        A :class:`SynthHalfUNet2D` (it is run in eval mode; its previous mode is restored).
    n_samples
        Number of textures.
    H, W
        Size in pixels (any size whose coarsest level has >= 2 pixels).
    device
        Where to run; default the model's device. If given, the model is moved there.
    seed
        Seed of the noise (drawn on the CPU, so a seed gives the same textures on every
        device): sample ``k`` draws its noise from its own generator seeded with
        :func:`texsynth.seeds.member_seed` ``(seed, k)``, as output ``k`` of
        :func:`texsynth.synthesize` does, so sample ``k`` is the same whatever
        ``n_samples``, the batching or a chunked loop (pass the members' seeds as a
        list: one per sample). None draws a fresh seed. The global RNG is never touched.
    match_histogram
        Apply the stored quantile table (see :meth:`SynthHalfUNet2D.to_output`).
    raw
        Return the network output ``[n_samples, out_channels, H, W]`` as is.
    batch_size
        Samples per forward pass; default the most that keep the activations under about
        1 GiB (:func:`activation_bytes`: ~0.3 GB per 512 x 512 sample for the default
        width 32, as measured, so batches of 3 at 512^2 and 57 at 128^2). Each sample's
        noise is drawn separately, so the result does not depend on the batching (up to
        float rounding) nor on ``n_samples``.
    generator
        A CPU ``torch.Generator`` to draw every sample's noise from, one after the other,
        instead of ``seed`` (which must then be None). It advances by the samples drawn, so
        consecutive calls continue one sequence: two calls of ``n`` samples give the
        samples of one call of ``2 n`` with the same generator.
    output
        ``"tensor"`` (default), ``"numpy"`` (a float32 array ``[n, H, W, C]``, or
        ``[n, H, W]`` for one channel) or ``"pil"`` (8-bit Pillow images of values in
        [0, 1]: one image for one sample, else a list).
    max_memory
        Memory limit in bytes (default: what is available). Draws whose estimated peak,
        results included, exceeds it are refused before any work.

    Returns
    -------
    torch.Tensor
        ``[n_samples, image_channels, H, W]`` in the exemplar's units (``raw``: network
        units, ``out_channels``), on ``device``; or the kind ``output`` asks for.
    """
    kinds = {"tensor": TENSOR, "numpy": Kind("numpy", np.float32, 2), "pil": Kind("pil")}
    if output not in kinds:
        raise TexsynthError(f"output must be 'tensor', 'numpy' or 'pil', got {output!r:.40}")
    modes = {1: "L", 3: "RGB", 4: "RGBA"}
    if output == "pil" and (raw or getattr(model, "image_channels", 0) not in modes):
        raise TexsynthError(
            "output='pil' needs images of 1, 3 or 4 channels (and raw=False); use output='numpy'"
        )
    if not isinstance(model, SynthHalfUNet2D):
        raise TexsynthError(
            f"model must be a SynthHalfUNet2D, got {type(model).__name__}; load one with "
            "load_generator"
        )
    n_samples = check_int_at_least(n_samples, "n_samples", 1, "ask for at least one sample")
    H = check_int_at_least(H, "H (height)", 1, "give the output size in pixels")
    W = check_int_at_least(W, "W (width)", 1, "give the output size in pixels")
    if not model.min_size_ok(H, W):
        f = 2**model.depth
        raise TexsynthError(
            f"{size_text(H, W)} pixels is too small for this generator (depth={model.depth}): the "
            f"coarsest level needs at least 2 pixels; give H or W > {f}"
        )
    device = check_device(device)
    seeds = None if generator is not None else resolve_seeds(seed, n_samples)[1]
    # the whole result stays in memory (n_samples images) besides one batch's activations
    result_bytes = 4 * n_samples * H * W * max(model.out_channels, model.image_channels)
    check_memory(
        estimate_sampling_bytes(model.config, n_samples, (H, W)) + result_bytes,
        max_memory,
        device=device if device is not None else _model_device_dtype(model)[0],
        what="generate_samples",
        fix="ask for fewer or smaller samples",
        override="max_memory=",
    )
    if batch_size is None:
        batch_size = max(1, BATCH_BYTES // max(activation_bytes(model, H, W), 1))
    batch_size = min(check_int_at_least(batch_size, "batch_size", 1, "e.g. 1"), n_samples)
    if device is not None:
        model.to(device)
    device, dtype = _model_device_dtype(model)
    if generator is not None:
        if seed is not None:
            raise TexsynthError("give seed or generator, not both")
        if not isinstance(generator, torch.Generator) or generator.device.type != "cpu":
            raise TexsynthError(
                "generator must be a CPU torch.Generator (the noise is drawn on the CPU)"
            )
        gens = [generator] * n_samples
    else:
        assert seeds is not None
        gens = member_generators(seeds)

    was_training = model.training
    model.eval()
    out = []
    try:
        with torch.inference_mode():
            for start in range(0, n_samples, batch_size):
                n = min(batch_size, n_samples - start)
                # one draw per sample: the noise does not depend on the batching
                z = torch.cat(
                    [torch.randn(1, 1, H, W, generator=g) for g in gens[start : start + n]]
                )
                y = model(z.to(device=device, dtype=dtype))
                out.append(y if raw else model.to_output(y, match_histogram=match_histogram))
    finally:
        model.train(was_training)
    # outside inference mode: a normal tensor (inference tensors refuse in-place edits)
    result = torch.cat(out)
    kind = kinds[output]
    if kind.kind == "tensor":
        return result
    C = result.shape[1]
    if kind.kind == "numpy" and C == 1:
        kind = Kind("numpy", np.float32, None)
    if kind.kind == "pil":
        kind = Kind("pil", None, None, modes[C])
    return to_user(result.float(), kind)
